/**
 * The HTTP front: one request pipeline — fault → block → auth → limiter → route — on node:http.
 * Admin (`/_sandbox/*`) skips all of it; amojo (`/v2/origin/custom/*`) gets faults but neither the
 * account block nor OAuth nor the REST limiter (it is a separate service with its own signing).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from './core.ts';
import { restCtx } from './core.ts';
import { blockedPage, gatewayError, internalError, methodNotAllowed, notFound, tooManyRequests, unauthorized } from './errors.ts';
import { parseQuery } from './http-util.ts';
import type { SbRequest, SbResponse } from './types.ts';

export type AdminHttp = (req: SbRequest) => Promise<SbResponse>;

const MAX_BODY = 20 * 1024 * 1024;

/** `lost`: the status the request got before its answer was thrown away (the lost-answer fault). */
type Outcome =
  | { kind: 'response'; res: SbResponse; label: string | null }
  | { kind: 'hold'; label: string; lost?: number }
  | { kind: 'drop'; label: string; lost?: number };

export function createListener(
  core: Core,
  admin: AdminHttp,
): { listener: (req: IncomingMessage, res: ServerResponse) => void; closeHeld(): void } {
  const held = new Set<ServerResponse>();

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > MAX_BODY) throw new Error('body too large');
      chunks.push(b);
    }
    return Buffer.concat(chunks);
  }

  function labelOf(req: SbRequest): string {
    if (req.path === '/oauth') return '/oauth';
    if (req.path === '/oauth2/access_token') return '/oauth2/access_token';
    if (req.path.startsWith('/v2/origin/custom/')) return '/v2/origin/custom/*';
    if (req.path.startsWith('/api/v4/') || req.path.startsWith('/api/v2/')) {
      const m = core.router.match(req.method, req.path);
      // `{entity}` is one of three words: spell it out so counters tell leads from contacts.
      if (m.kind === 'ok') return m.route.template.replace('{entity}', m.params.entity ?? '{entity}');
      return m.kind === 'method' ? m.template : '<unknown /api/v4 path>';
    }
    return '<unknown path>';
  }

  async function pipeline(req: SbRequest, faulted = false): Promise<Outcome> {
    if (req.path.startsWith('/_sandbox/amojo/') || req.path === '/_sandbox/amojo') {
      return { kind: 'response', res: (await core.amojo.adminRoute(req)) ?? notFound(req.method, req.path), label: null };
    }
    if (req.path === '/_sandbox' || req.path.startsWith('/_sandbox/')) return { kind: 'response', res: await admin(req), label: null };
    const label = labelOf(req);
    // 1. fault
    const fault = faulted ? { kind: 'none' as const, latencyMs: 0 } : core.faults.decide(req.method, req.path);
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.kind === 'drop') return { kind: 'drop', label };
    if (fault.kind === 'hold') return { kind: 'hold', label };
    if (fault.kind === 'error' && fault.status === 429) {
      core.limiter.refuseInjected();
      return { kind: 'response', res: tooManyRequests(core.settings.retryAfterSeconds, core.settings.format429), label };
    }
    if (fault.kind === 'error')
      return { kind: 'response', res: fault.status === 500 ? internalError(randomUUID()) : gatewayError(fault.status), label };
    if (fault.kind === 'lost') {
      // Lost answer: the rest of the pipeline runs (a write is applied), then the answer is thrown away.
      const out = await pipeline(req, true);
      return { kind: fault.then, label, ...(out.kind === 'response' ? { lost: out.res.status } : {}) };
    }
    if (req.path.startsWith('/v2/origin/custom/'))
      return { kind: 'response', res: (await core.amojo.route(req)) ?? notFound(req.method, req.path), label };
    // 2. block: every request to the account, the token endpoint included (docs/amocrm-protocol.md#blocking, amocrm-api-php #563).
    if (core.limiter.block) {
      if (label === '/oauth2/access_token') core.oauth.recordBlocked(req);
      return { kind: 'response', res: blockedPage(), label };
    }
    if (label === '/oauth' && req.method === 'GET') return { kind: 'response', res: core.oauth.authorize(req), label };
    if (label === '/oauth2/access_token') {
      return { kind: 'response', res: req.method === 'POST' ? core.oauth.token(req) : methodNotAllowed(req.method, req.path), label };
    }
    // /api/v2/ only for the legacy catalog_elements delete (resources/catalogs.ts); same Bearer auth and limits.
    if (!req.path.startsWith('/api/v4/') && !req.path.startsWith('/api/v2/'))
      return { kind: 'response', res: notFound(req.method, req.path), label };
    // 3. auth
    const auth = core.oauth.checkBearer(req.headers.authorization);
    if (!auth.ok) return { kind: 'response', res: unauthorized(), label };
    // 4. limiter
    const admit = core.limiter.admit(auth.pair.clientId);
    if (!admit.ok) return { kind: 'response', res: tooManyRequests(core.settings.retryAfterSeconds, core.settings.format429), label };
    // 5. route
    const m = core.router.match(req.method, req.path);
    if (m.kind === 'none') return { kind: 'response', res: notFound(req.method, req.path), label };
    if (m.kind === 'method') return { kind: 'response', res: methodNotAllowed(req.method, req.path), label };
    const ctx = restCtx(core, req, m.params, parseQuery(req), auth.pair.userId, auth.pair.clientId);
    return { kind: 'response', res: await m.route.handler(ctx), label };
  }

  function send(res: ServerResponse, out: SbResponse): void {
    const headers: Record<string, string | number> = { ...(out.headers ?? {}) };
    const body = out.body === undefined ? undefined : Buffer.isBuffer(out.body) ? out.body : Buffer.from(out.body, 'utf8');
    if (out.status !== 204 && out.status !== 304) headers['content-length'] = body ? body.length : 0;
    res.writeHead(out.status, headers);
    res.end(out.status === 204 || out.status === 304 ? undefined : body);
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const started = performance.now();
      let sbReq: SbRequest | undefined;
      try {
        const body = await readBody(req);
        const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        sbReq = { method: (req.method ?? 'GET').toUpperCase(), path: url.pathname, query: url.searchParams, headers, body };
        const out = await pipeline(sbReq);
        if (out.kind === 'drop') {
          core.counters.add(sbReq.method, out.label, 'dropped');
          core.log(`${sbReq.method} ${sbReq.path} → ${out.lost !== undefined ? `processed (${out.lost}), then ` : ''}dropped (fault)`);
          req.socket.destroy();
          return;
        }
        if (out.kind === 'hold') {
          core.counters.add(sbReq.method, out.label, 'timeout');
          core.log(
            `${sbReq.method} ${sbReq.path} → ${out.lost !== undefined ? `processed (${out.lost}), then ` : ''}held without answer (fault)`,
          );
          held.add(res);
          res.on('close', () => held.delete(res));
          return;
        }
        if (out.label !== null) {
          core.counters.add(sbReq.method, out.label, out.res.status);
          core.log(`${sbReq.method} ${sbReq.path} ${out.res.status} ${Math.round(performance.now() - started)}ms`);
        }
        send(res, out.res);
      } catch (e) {
        const traceId = randomUUID();
        core.log(
          `sandbox error ${traceId} on ${sbReq?.method ?? req.method} ${sbReq?.path ?? ''}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        );
        if (!res.headersSent) send(res, internalError(traceId));
        else res.destroy();
      }
    })();
  };

  return {
    listener,
    closeHeld: () => {
      for (const r of held) r.destroy();
      held.clear();
    },
  };
}
