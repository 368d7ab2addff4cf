/**
 * `dlq purge` racing a concurrent `dlq show` / `dlq list --scan`, for real: two CLI runs at once
 * against the runner's fauxqs and table. The holder reaches fauxqs through a pass-through proxy
 * (a real socket) that keeps its "let go" call (ChangeMessageVisibilityBatch) waiting until the
 * purge is over, so the holder's messages are invisible for the whole purge, as they would be
 * when an operator's scan of a large DLQ overlaps another operator's purge.
 *
 * The purge must not take a message it cannot see for a message that is gone: the held messages
 * and their index entries survive. Entries whose message really is gone are still removed — in a
 * DLQ nobody else holds at once, and in the held one by the next purge once the hold is over.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalRunner } from '../../infra/local/runner.ts';
import { PermanentError } from '../../lib/pipeline/outcome.ts';
import { cli, post, runnerEnv, startRunner, useRunners, waitFor, type CliResult } from './support.ts';

useRunners();

/** A proxy in front of fauxqs that holds back the release calls while `gate` is closed. */
async function holdingProxy(target: string): Promise<{ url: string; open(): void; held: () => number; close(): Promise<void> }> {
  let open!: () => void;
  const gate = new Promise<void>((res) => (open = res));
  let held = 0;
  const t = new URL(target);
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      // JSON protocol (x-amz-target) or query protocol (Action=…): either way the operation's name is in there.
      const op = String(req.headers['x-amz-target'] ?? '') + body.toString('utf8').slice(0, 200);
      if (op.includes('ChangeMessageVisibility')) {
        held++;
        await gate;
      }
      const fwd = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      fwd.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => open(),
    held: () => held,
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

let proxy: Awaited<ReturnType<typeof holdingProxy>> | undefined;
afterEach(async () => {
  proxy?.open();
  await proxy?.close();
  proxy = undefined;
});

const HOUR = 3_600_000;

/** Three live parked messages in rdesk's DLQ; one stale entry (no message) in rdesk and one in amojo. */
async function world(): Promise<{ r: LocalRunner; live: string[]; staleRdesk: string; staleAmojo: string }> {
  const r = await startRunner({
    processors: {
      'zdrav-mc': async () => {
        throw new PermanentError('bad-payload', 'no bookings');
      },
    },
  });
  for (let i = 0; i < 3; i++) await post(r, '/zdrav/mc/t0k', `["m${i}"]`);
  await waitFor(async () => (await r.dlqIndex.list()).length === 3 && r.depth('rdesk').dlq === 3, 'three parked');
  const live = (await r.dlqIndex.list()).map((e) => `rdesk/${e.id}`);
  const stale = (queueId: string, messageKey: string) =>
    r.dlqIndex.put({
      queueId,
      messageKey,
      route: 'zdrav-mc',
      reason: 'bad-payload',
      lastError: 'x',
      attempts: 1,
      firstSeenAt: Date.now() - 2 * HOUR,
      requestId: 'req',
      parkedAt: Date.now() - HOUR,
    });
  const a = await stale('rdesk', 'gone-rdesk');
  const b = await stale('amojo', 'gone-amojo');
  return { r, live, staleRdesk: `rdesk/${a.id}`, staleAmojo: `amojo/${b.id}` };
}

function inflight(r: LocalRunner, queueId: string): number {
  return r.fauxqs.inspectQueue(r.queues[queueId]!.dlqName)!.messages.inflight.length;
}

async function refs(r: LocalRunner): Promise<string[]> {
  return (await r.dlqIndex.list()).map((e) => `${e.queueId}/${e.id}`).sort();
}

describe('dlq purge racing a reader that holds messages invisible', () => {
  for (const holder of ['list --scan', 'show'] as const) {
    it(`${holder} holding every message of a DLQ while purge --reason runs: nothing live is deleted; stale entries still go`, async () => {
      const { r, live, staleRdesk, staleAmojo } = await world();
      proxy = await holdingProxy(r.sqsEndpoint);
      const viaProxy = { ...runnerEnv(r), AMO_SQS_ENDPOINT: proxy.url };
      const argv = holder === 'show' ? ['dlq', 'show', live[0]!] : ['dlq', 'list', '--scan', '--queue', 'rdesk'];
      const reading: Promise<CliResult> = cli(argv, viaProxy);
      // The reader has received all three and holds them (its let-go waits at the proxy).
      await waitFor(() => inflight(r, 'rdesk') === 3 && proxy!.held() > 0, `${holder} holding the three messages`);

      const purge = await cli(['dlq', 'purge', '--reason', 'bad-payload', '--yes', '--progress', 'lines'], runnerEnv(r));
      expect(purge.code, purge.err.join('\n')).toBe(0);
      // Other readers during the hold say "held elsewhere", not "gone".
      const peek = await cli(['dlq', 'show', live[1]!], runnerEnv(r));
      expect(peek.code).toBe(1);
      expect(peek.text).toMatch(/not found in the DLQ of "rdesk": 3 of its messages are held by another reader right now/);
      const scan = await cli(['dlq', 'list', '--scan', '--queue', 'rdesk'], runnerEnv(r));
      expect(scan.code).toBe(0);
      expect(scan.text).not.toMatch(/has no message in its DLQ/);
      expect(scan.text).toMatch(/rdesk: 4 index entries without a message seen: 3 message\(s\) of its DLQ were held by another reader/);

      proxy.open();
      const read = await reading;
      expect(read.code, read.err.join('\n')).toBe(0);

      // Nothing live was deleted: the three messages are back in the DLQ, their entries kept.
      await waitFor(() => r.depth('rdesk').dlq === 3 && inflight(r, 'rdesk') === 0, 'the three messages visible again');
      const left = await refs(r);
      for (const ref of live) expect(left).toContain(ref);
      // amojo's DLQ was not held by anyone: its stale entry is gone. rdesk's could not be proven
      // stale while rdesk's DLQ had messages in flight elsewhere, so it is kept and reported.
      expect(left).not.toContain(staleAmojo);
      expect(left).toContain(staleRdesk);
      expect(purge.text).toMatch(/removed 1 of 1 index entry whose message was no longer in the DLQ/);
      expect(purge.text).toMatch(/rdesk: 3 message\(s\) in flight elsewhere .*: 4 index entries without a message seen were kept/);

      // Once the hold is over, the next purge proves the stale entry and removes it (and only it).
      const again = await cli(['dlq', 'purge', '--id', staleRdesk, '--yes'], runnerEnv(r));
      expect(again.code, again.err.join('\n')).toBe(0);
      expect(await refs(r)).toEqual([...live].sort());
      expect(r.depth('rdesk').dlq).toBe(3);
    });
  }
});
