import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildEnvelope } from '../../lib/envelope.ts';
import { createMirror } from '../../lib/mirror/mirror.ts';

interface Got {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

async function receiver(answer: (req: IncomingMessage) => { status: number; delayMs?: number }) {
  const got: Got[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      const a = answer(req);
      setTimeout(() => {
        res.statusCode = a.status;
        res.end('{}');
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    url,
    got,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

const route = { id: 'amocrm-hook', method: 'POST' as const, path: '/hooks/amocrm/{token}' };
const body = Buffer.from('leads%5Bstatus%5D%5B0%5D%5Bid%5D=1&account%5Bsubdomain%5D=%D1%82%D0%B5%D1%81%D1%82+x%2By', 'latin1');
const env = buildEnvelope(
  {
    routeId: 'amocrm-hook',
    pathParams: { token: 'PRIMARY-SECRET' },
    query: { a: '1' },
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Amocrm-Requestid': 'req-1', 'User-Agent': 'amoCRM-Webhooks/3.0' },
    body,
    receivedAt: 1,
    requestId: 'r',
    sourceIp: '1.2.3.4',
  },
  ['content-type', 'user-agent', 'x-amocrm-requestid'],
);

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

describe('mirror mode', () => {
  it("sends the exact bytes and headers, with the mirror's own route token", async () => {
    const r = await receiver(() => ({ status: 200 }));
    closers.push(r.close);
    const m = createMirror({ baseUrl: `${r.url}/prod/`, tokens: { 'amocrm-hook': 'MIRROR-TOKEN' } });
    expect(await m.send(env, route)).toEqual({ status: 'sent', httpStatus: 200 });
    expect(r.got).toHaveLength(1);
    const g = r.got[0]!;
    expect(g.url).toBe('/prod/hooks/amocrm/MIRROR-TOKEN?a=1');
    expect(g.url).not.toContain('PRIMARY-SECRET');
    expect(g.body.equals(body)).toBe(true);
    expect(g.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(g.headers['x-amocrm-requestid']).toBe('req-1');
    expect(g.headers['user-agent']).toBe('amoCRM-Webhooks/3.0');
  });

  it('counts failures (HTTP error, timeout, connection refused, missing token) and never throws', async () => {
    const bad = await receiver(() => ({ status: 502 }));
    const slow = await receiver(() => ({ status: 200, delayMs: 2000 }));
    closers.push(bad.close, slow.close);
    const m1 = createMirror({ baseUrl: bad.url, tokens: { 'amocrm-hook': 't' } });
    expect(await m1.send(env, route)).toMatchObject({ status: 'failed', reason: 'http', httpStatus: 502 });
    const m2 = createMirror({ baseUrl: slow.url, tokens: { 'amocrm-hook': 't' }, timeoutMs: 200 });
    expect(await m2.send(env, route)).toMatchObject({ status: 'failed', reason: 'timeout' });
    const m3 = createMirror({ baseUrl: 'http://127.0.0.1:1', tokens: { 'amocrm-hook': 't' } });
    expect(await m3.send(env, route)).toMatchObject({ status: 'failed', reason: 'network' });
    const m4 = createMirror({ baseUrl: bad.url });
    expect(await m4.send(env, route)).toEqual({ status: 'failed', reason: 'no-token' });
    expect(m1.counters).toEqual({ sent: 0, failed: 1, skipped: 0 });
    expect(m4.counters.failed).toBe(1);
  });

  it('skips routes not selected', async () => {
    const m = createMirror({ baseUrl: 'http://127.0.0.1:1', routes: ['zdrav-mc'] });
    expect(await m.send(env, route)).toEqual({ status: 'skipped' });
  });
});
