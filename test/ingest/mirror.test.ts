/**
 * Mirror mode in the worker: every received request of the mirrored routes goes, as received, to
 * a second receiver (standing in for another deployment) — after the ack, alongside processing,
 * never changing the outcome. Through the local runner with the sandbox.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FlowRegistry } from '../../lib/ingest/index.ts';
import { METRIC } from '../../lib/metrics.ts';
import { RetryableError } from '../../lib/pipeline/outcome.ts';
import { startWorld, useWorlds, waitFor } from '../e2e/support.ts';

useWorlds();

interface Got {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function receiver(status: () => number): Promise<{ url: string; got: Got[] }> {
  const got: Got[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.statusCode = status();
      res.end('{"status":"ok"}');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, got };
}

const MIRROR_TOKEN = 'mirror-side-hook-token-1b2c3d4e';

describe('mirror mode (a second local receiver)', () => {
  it("sends every received request of the mirrored routes as received, with the mirror's own token, once, alongside processing", async () => {
    const r = await receiver(() => 200);
    let failOnce = true;
    const flows = new FlowRegistry().on('lead.status', 'flaky', async () => {
      if (failOnce) {
        failOnce = false;
        throw new RetryableError('transient');
      }
    });
    const w = await startWorld({
      random: () => 0,
      amocrm: {
        flows,
        mirror: { baseUrl: `${r.url}/prod`, tokens: { 'amocrm-hook': { secret: 'mirror/amocrm-hook' } }, timeoutMs: 2000 },
        extraSecrets: { 'mirror/amocrm-hook': MIRROR_TOKEN },
      },
    });
    await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    // Retried once (the flow failed), then done: mirrored on the first try only.
    await waitFor(() => w.runner.pollerStats()['amocrm-hooks']?.deleted === 2, 'the retry done', 10_000);
    const hook = w.sent.hooks()[0]!;
    const mirrored = r.got.filter((g) => g.url.includes('/hooks/amocrm/'));
    expect(mirrored).toHaveLength(1);
    const m = mirrored[0]!;
    expect(m.method).toBe('POST');
    expect(m.url).toBe(`/prod/hooks/amocrm/${MIRROR_TOKEN}`);
    expect(m.body.equals(hook.body)).toBe(true);
    expect(m.headers['x-amocrm-requestid']).toBe(hook.headers['x-amocrm-requestid']);
    expect(m.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(m.headers['user-agent']).toBe(hook.headers['user-agent']);
    expect(m.headers['x-amo-gateway-mirror']).toBe('1');
    // Our own token never leaves for the mirror.
    const ownToken = decodeURIComponent((await w.amo.hookUrl()).split('/').pop() ?? '');
    expect(JSON.stringify(r.got.map((g) => [g.url, g.headers]))).not.toContain(ownToken);
    expect(w.amo.bus.events.map((e) => e.detailType)).toEqual(['amocrm.lead.status', 'amocrm.lead.update']);

    // Other queue routes are mirrored too by default (a route without a {token}; the RDESK routes carry one, and
    // without an rdesk section no token is ours: not mirrored).
    const res = await fetch(`${w.runner.url}/chat/amojo/scope-7`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[{"id":7}]',
    });
    expect(res.status).toBe(200);
    const rd = await waitFor(() => r.got.find((g) => g.url === '/prod/chat/amojo/scope-7'), 'the amojo mirror');
    expect(rd.body.toString()).toBe('[{"id":7}]');
    await fetch(`${w.runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
    await waitFor(() => w.runner.pollerStats().rdesk?.deleted === 1, 'rdesk processed');
    expect(r.got.some((g) => g.url.includes('/zdrav/'))).toBe(false);
    expect(w.amo.metrics.total(METRIC.mirrorFailed)).toBe(0);
  });

  it('a {token} route is mirrored only once its path token matched one of our accounts: a forged token is parked bad-token and NOT sent (the mirror would add its own valid token)', async () => {
    const r = await receiver(() => 200);
    const w = await startWorld({
      amocrm: {
        mirror: {
          baseUrl: `${r.url}/prod`,
          routes: ['amocrm-hook'],
          tokens: { 'amocrm-hook': { secret: 'mirror/amocrm-hook' } },
          timeoutMs: 2000,
        },
        extraSecrets: { 'mirror/amocrm-hook': MIRROR_TOKEN },
      },
    });
    // A well-formed webhook body under a token that is none of ours.
    const forged = await fetch(`${w.runner.url}/hooks/amocrm/garbage-token-0000`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'leads%5Bstatus%5D%5B0%5D%5Bid%5D=8001&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=142&account%5Bsubdomain%5D=sandbox',
    });
    expect(forged.status).toBe(200);
    await waitFor(() => w.runner.pollerStats()['amocrm-hooks']?.deleted === 1, 'the forged webhook handled');
    expect((await w.runner.dlqIndex.list({})).map((e) => e.reason)).toEqual(['bad-token']);
    expect(w.amo.metrics.total(METRIC.badToken)).toBe(1);
    expect(r.got).toEqual([]);
    // Our own token: mirrored (with the mirror's token), once.
    await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    await waitFor(() => w.runner.pollerStats()['amocrm-hooks']?.deleted === 2, 'the real webhook handled');
    expect(r.got.map((g) => g.url)).toEqual([`/prod/hooks/amocrm/${MIRROR_TOKEN}`]);
    expect(w.amo.metrics.total(METRIC.mirrorFailed)).toBe(0);
  });

  it('a failing or unreachable mirror never changes the outcome; failures are only counted (MirrorFailed)', async () => {
    const bad = await receiver(() => 502);
    const w = await startWorld({
      amocrm: {
        mirror: { baseUrl: bad.url, routes: ['amocrm-hook'], tokens: { 'amocrm-hook': { secret: 'mirror/t' } }, timeoutMs: 500 },
        extraSecrets: { 'mirror/t': 'x-token' },
      },
    });
    await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    await waitFor(() => w.runner.pollerStats()['amocrm-hooks']?.deleted === 1, 'processed');
    expect(bad.got).toHaveLength(1);
    expect(w.amo.bus.events).toHaveLength(2);
    expect(w.amo.metrics.total(METRIC.mirrorFailed)).toBe(1);
    expect(w.lines.some((l) => /WARN mirror send failed route=amocrm-hook reason=http httpStatus=502/.test(l))).toBe(true);
    expect(w.lines.some((l) => /worker +message .*route=amocrm-hook .*outcome=ok action=delete/.test(l))).toBe(true);
    // Not a mirrored route: not sent.
    await fetch(`${w.runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
    await waitFor(() => w.runner.pollerStats().rdesk?.deleted === 1, 'rdesk processed');
    expect(bad.got).toHaveLength(1);

    // Nobody listening at all (connection refused): still ok, counted.
    // No chat channel in this world (chat: false), so amojo-callback has no processor.
    const w2 = await startWorld({
      amocrm: { chat: false, mirror: { baseUrl: 'http://127.0.0.1:1', routes: ['amojo-callback'], timeoutMs: 500 } },
    });
    await fetch(`${w2.runner.url}/chat/amojo/scope-1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
    await waitFor(() => w2.runner.pollerStats().amojo?.deleted === 1, 'amojo processed');
    expect(w2.amo.metrics.total(METRIC.mirrorFailed)).toBe(1);
    // amojo-callback without a processor: mirrored (attempted), then parked no-processor — never acknowledged.
    expect((await w2.runner.dlqIndex.list({})).map((e) => [e.route, e.reason])).toEqual([['amojo-callback', 'no-processor']]);
  });
});
