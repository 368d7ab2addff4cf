/**
 * The operator's console under `/_console` on the runner's HTTP server (infra/local/http.ts hands
 * it every request under that prefix, before the route table: a route path cannot start with
 * `/_console`, lib/routes.ts). Read-only pages and a JSON view, plus POST actions that are CLI
 * commands (infra/local/console/actions.ts).
 *
 * Protection. The runner binds loopback, but a web page the operator has open elsewhere runs in
 * the same browser, so loopback alone does not stop it:
 * - every request must come from a loopback address and name the runner itself in `Host`
 *   (`127.0.0.1:<port>`, `localhost:<port>`, `[::1]:<port>`) — a DNS-rebinding page sends its own
 *   host name and is refused, so it can neither read the page nor learn the form token;
 * - a POST must carry an `Origin` equal to the runner's own (browsers send it with every form
 *   POST), must not be `Sec-Fetch-Site: cross-site`/`same-site`, must be a urlencoded form, and must
 *   carry the per-run token (random at every start, embedded in the console's forms only);
 * - pages forbid framing (`frame-ancestors 'none'`, `X-Frame-Options: DENY`) against clickjacking,
 *   and run no inline script (`script-src 'self'`).
 */
import { mediaType } from '../../../lib/common/media-type.ts';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeErrorDescription } from '../../../lib/common/errors.ts';
import type { LocalLog } from '../log.ts';
import { dlqOpsDeps, runAction, type ActionResult, type ConsoleAction } from './actions.ts';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.ts';
import { CONSOLE_PATH, renderError, renderPage, renderPurgeConfirm, renderSections } from './render.ts';
import { ConsoleStateReader, type ConsoleSources } from './state.ts';

export { CONSOLE_PATH } from './render.ts';

export interface ConsoleDeps extends ConsoleSources {
  sqs: SQSClient;
  log: LocalLog;
  /** The per-run form token (tests may fix it); random by default. */
  csrfToken?: string;
}

export interface Console {
  /** Serves a request whose path is `/_console` or below it. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  reader: ConsoleStateReader;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

const FORM_LIMIT_BYTES = 8 * 1024;
const RESULTS_KEPT = 20;

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

function isLoopback(address: string | undefined): boolean {
  const a = (address ?? '').replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > FORM_LIMIT_BYTES) return undefined;
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createConsole(deps: ConsoleDeps): Console {
  const csrf = deps.csrfToken ?? randomBytes(24).toString('base64url');
  const reader = new ConsoleStateReader(deps);
  const ops = dlqOpsDeps(deps.sqs, deps.dlqIndex, deps.queues);
  const results = new Map<string, ActionResult>();
  let resultSeq = 0;
  // One action at a time: two replays of the same DLQ side by side would hide messages from each other.
  let running: Promise<unknown> = Promise.resolve();

  const allowedHosts = (): Set<string> => {
    const port = new URL(deps.url()).port;
    return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, new URL(deps.url()).host]);
  };

  const refuse = (res: ServerResponse, status: number, message: string) =>
    send(res, status, 'text/html; charset=utf-8', renderError(status, message));

  async function act(req: IncomingMessage, res: ServerResponse, action: ConsoleAction, host: string): Promise<void> {
    const origin = req.headers.origin;
    if (!origin || origin !== `http://${host}`) return refuse(res, 403, 'Cross-site request refused: the Origin is not this console.');
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return refuse(res, 403, 'Cross-site request refused.');
    if (mediaType(req.headers['content-type']) !== 'application/x-www-form-urlencoded')
      return refuse(res, 415, 'The console takes form posts only.');
    const form = await readForm(req);
    if (!form) return refuse(res, 413, 'Form too large.');
    if (!sameToken(form.get('csrf') ?? '', csrf))
      return refuse(res, 403, 'The form token is not this run’s: reload the console and try again.');
    const id = form.get('id') || undefined;
    const queue = form.get('queue') || undefined;
    if (action === 'purge' && form.get('yes') !== '1') return refuse(res, 400, 'A purge needs its confirmation (the CLI’s --yes).');
    const job = running.then(() => runAction(ops, action, { ...(id ? { id } : {}), ...(queue ? { queue } : {}) }));
    running = job.catch(() => undefined);
    let result: ActionResult;
    try {
      result = await job;
    } catch (e) {
      result = { ok: false, message: `${action} failed: ${safeErrorDescription(e)}` };
    }
    deps.log.line('console', `dlq ${action}`, { ...(id ? { id } : {}), ...(queue ? { queue } : {}), result: result.message });
    const key = String(++resultSeq);
    results.set(key, result);
    for (const k of results.keys()) if (results.size > RESULTS_KEPT) results.delete(k);
    res.writeHead(303, { ...SECURITY_HEADERS, location: `${CONSOLE_PATH}?r=${key}#parked`, 'content-length': '0' });
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    if (!isLoopback(req.socket.remoteAddress)) return refuse(res, 403, 'The console answers loopback clients only.');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts().has(host)) return refuse(res, 403, 'Unknown Host: open the console by the runner’s own address.');
    const sub = url.pathname.slice(CONSOLE_PATH.length) || '/';

    if (method === 'POST') {
      if (sub === '/dlq/replay') return act(req, res, 'replay', host);
      if (sub === '/dlq/purge') return act(req, res, 'purge', host);
      return refuse(res, 404, 'No such action.');
    }
    if (method !== 'GET' && method !== 'HEAD') return refuse(res, 405, 'Method not allowed.');

    switch (sub) {
      case '/': {
        if (url.pathname.endsWith('/')) {
          res.writeHead(308, { ...SECURITY_HEADERS, location: CONSOLE_PATH, 'content-length': '0' });
          res.end();
          return;
        }
        const state = await reader.read();
        const flash = results.get(url.searchParams.get('r') ?? '');
        return send(res, 200, 'text/html; charset=utf-8', renderPage(state, csrf, flash));
      }
      case '/state.json': {
        const state = await reader.read();
        const body = url.searchParams.get('sections') ? { state, sections: renderSections(state, csrf) } : state;
        return send(res, 200, 'application/json', JSON.stringify(body));
      }
      case '/console.css':
        return send(res, 200, 'text/css; charset=utf-8', CONSOLE_CSS);
      case '/console.js':
        return send(res, 200, 'text/javascript; charset=utf-8', CONSOLE_JS);
      case '/dlq/purge': {
        const id = url.searchParams.get('id') || undefined;
        const queue = url.searchParams.get('queue') || undefined;
        if (!id && !queue) return refuse(res, 400, 'Nothing to purge: give an id or a queue.');
        const rows = (await reader.parked()).filter((p) => p.inDlq && (id ? p.ref === id : p.queue === queue));
        return send(
          res,
          200,
          'text/html; charset=utf-8',
          renderPurgeConfirm({ ...(id ? { id } : {}), ...(queue ? { queue } : {}) }, rows, csrf),
        );
      }
      default:
        return refuse(res, 404, 'No such console page.');
    }
  }

  return { handle, reader };
}
