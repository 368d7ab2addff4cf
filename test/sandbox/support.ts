/** Shared helpers for the sandbox conformance suite: a manual clock, a started sandbox, a tiny HTTP client and a hook receiver. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../infra/local/sandbox/index.ts';
import type { SbClock } from '../../infra/local/sandbox/types.ts';

export class ManualClock implements SbClock {
  constructor(public t = Date.UTC(2026, 0, 15, 9, 0, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const INTEG = { clientId: 'gw-client-uuid', clientSecret: 'gw-client-secret', redirectUri: 'https://gw.example/oauth/callback' };

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test convenience: bodies are asserted field by field
  json: any;
}

export async function call(url: string, init: RequestInit = {}): Promise<Res> {
  const r = await fetch(url, { redirect: 'manual', ...init });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

export interface World {
  sb: Sandbox;
  clock: ManualClock;
  /** Authorize + exchange a code: a fresh token pair. */
  login(clientId?: string): Promise<{ access_token: string; refresh_token: string; expires_in: number }>;
  token(body: Record<string, unknown>, form?: boolean): Promise<Res>;
  api(method: string, path: string, token: string, body?: unknown, headers?: Record<string, string>): Promise<Res>;
}

export async function world(opts: SandboxOptions = {}): Promise<World> {
  const clock = (opts.clock as ManualClock | undefined) ?? new ManualClock();
  const sb = await startSandbox({ integrations: [INTEG], ...opts, clock });
  const token = (body: Record<string, unknown>, form = false): Promise<Res> =>
    call(`${sb.url}/oauth2/access_token`, {
      method: 'POST',
      headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body),
    });
  return {
    sb,
    clock,
    token,
    async login(clientId = INTEG.clientId) {
      const integ = (opts.integrations ?? [INTEG]).find((i) => i.clientId === clientId) ?? INTEG;
      const { code } = sb.admin.mintCode({ clientId });
      const r = await token({
        client_id: clientId,
        client_secret: integ.clientSecret,
        grant_type: 'authorization_code',
        code,
        redirect_uri: integ.redirectUri,
      });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
      return r.json;
    },
    api(method, path, tok, body, headers = {}) {
      return call(`${sb.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${tok}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    },
  };
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local HTTP receiver for webhooks and the disconnect hook. */
export async function receiver(
  status = 200,
): Promise<{ url: string; got: Received[]; setStatus(s: number): void; close(): Promise<void> }> {
  const got: Received[] = [];
  let answer = status;
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer).end('ok');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    got,
    setStatus: (s) => {
      answer = s;
    },
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/** A small account most REST tests share: two pipelines, typed lead fields, two users. */
export function seedBasic(sb: Sandbox) {
  return sb.admin.seed({
    users: [
      { id: 11, name: 'Admin', is_admin: true },
      { id: 12, name: 'Manager' },
    ],
    pipelines: [
      {
        id: 100,
        name: 'Main',
        is_main: true,
        statuses: [
          { id: 1000, name: 'Unsorted', type: 1 },
          { id: 1001, name: 'New' },
          { id: 1002, name: 'Booked' },
        ],
      },
      {
        id: 200,
        name: 'Second',
        statuses: [
          { id: 2001, name: 'First' },
          { id: 2002, name: 'Second' },
        ],
      },
    ],
    customFields: {
      leads: [
        { id: 301, name: 'Text', type: 'text', code: 'TXT' },
        { id: 302, name: 'Num', type: 'numeric' },
        {
          id: 303,
          name: 'Sel',
          type: 'select',
          enums: [
            { id: 3031, value: 'One', code: 'ONE' },
            { id: 3032, value: 'Two' },
          ],
        },
        {
          id: 304,
          name: 'Multi',
          type: 'multiselect',
          enums: [
            { id: 3041, value: 'A' },
            { id: 3042, value: 'B' },
          ],
        },
        { id: 305, name: 'When', type: 'date' },
        { id: 306, name: 'Flag', type: 'checkbox' },
        { id: 307, name: 'Link', type: 'url' },
        { id: 308, name: 'At', type: 'date_time' },
      ],
    },
  });
}
