/**
 * The poller's per-queue concurrency (`pollerConcurrency`, `npm start -- --concurrency N`): N
 * receive→batch→invoke loops on one real fauxqs queue, as Lambda runs several batches of a queue.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { LocalInvoke } from '../../infra/local/lambda.ts';
import { start, useRunners, waitFor } from './helpers.ts';

useRunners();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sendAll(
  runner: Awaited<ReturnType<typeof start>>['runner'],
  queueId: string,
  bodies: { body: string; group?: string; dedup?: string }[],
) {
  for (let i = 0; i < bodies.length; i += 10) {
    const res = await runner.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: runner.queues[queueId]!.url,
        Entries: bodies.slice(i, i + 10).map((b, j) => ({
          Id: String(j),
          MessageBody: b.body,
          ...(b.group ? { MessageGroupId: b.group, MessageDeduplicationId: b.dedup ?? b.body } : {}),
        })),
      }),
    );
    expect(res.Failed ?? []).toEqual([]);
  }
}

describe('poller concurrency', () => {
  it('with N=3 three batches of one queue are in flight at once, and stop drains all of them', async () => {
    let inFlight = 0;
    let most = 0;
    let finished = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const worker: LocalInvoke = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await gate;
      await sleep(50);
      inFlight--;
      finished++;
      return { batchItemFailures: [] };
    };
    // rdesk here: batches of 10, no batching window (helpers' MECHANICS_TABLE).
    const { runner } = await start({ functions: { worker }, pollerConcurrency: 3, pollers: false });
    await sendAll(
      runner,
      'rdesk',
      Array.from({ length: 40 }, (_, i) => ({ body: `m${i}` })),
    );
    runner.startPollers();
    await waitFor(() => inFlight === 3 || undefined, 'three batches in flight');
    await sleep(300);
    // Three loops, three batches held at the gate: no fourth.
    expect(most).toBe(3);
    expect(runner.pollerStats()['rdesk']).toMatchObject({ inFlight: 3, maxInFlight: 3, batches: 3, received: 30 });

    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await sleep(300);
    expect(stopped).toBe(false); // the batches in flight hold the stop
    release();
    await stopping;
    expect(finished).toBe(3); // every batch in flight finished before stop resolved
    expect(inFlight).toBe(0);
    const s = runner.pollerStats()['rdesk']!;
    expect(s).toMatchObject({ state: 'stopped', inFlight: 0, maxInFlight: 3, batches: 3, received: 30, deleted: 30, failed: 0 });
  });

  it('default concurrency is 1: one batch at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const worker: LocalInvoke = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(100);
      inFlight--;
      return undefined;
    };
    const { runner } = await start({ functions: { worker }, pollers: false });
    await sendAll(
      runner,
      'rdesk',
      Array.from({ length: 30 }, (_, i) => ({ body: `m${i}` })),
    );
    runner.startPollers();
    await waitFor(() => (runner.pollerStats()['rdesk']!.deleted === 30 ? true : undefined), 'all deleted');
    expect(most).toBe(1);
    expect(runner.pollerStats()['rdesk']!.maxInFlight).toBe(1);
  });

  it('FIFO: with N=3 groups run side by side, each group strictly in order, never two batches holding one group', async () => {
    const seen: { group: string; seq: number }[] = [];
    const holding = new Map<string, number>(); // group → batches holding it now
    let overlap = 0;
    let inFlight = 0;
    let most = 0;
    const worker: LocalInvoke = async (event) => {
      inFlight++;
      most = Math.max(most, inFlight);
      const msgs = (event as SQSEvent).Records.map((r) => JSON.parse(r.body) as { group: string; seq: number });
      for (const m of msgs) {
        if (holding.get(m.group)) overlap++;
        holding.set(m.group, (holding.get(m.group) ?? 0) + 1);
      }
      await sleep(20 + Math.floor(Math.random() * 30));
      for (const m of msgs) {
        seen.push(m);
        holding.set(m.group, holding.get(m.group)! - 1);
      }
      inFlight--;
      return undefined;
    };
    const { runner } = await start({ functions: { worker }, pollerConcurrency: 3, pollers: false });
    // More groups than a batch holds (10): one receive takes at most one message per group, so
    // with fewer groups one batch would lock them all and leave the other loops nothing.
    const groups = Array.from({ length: 25 }, (_, i) => `g${i}`);
    const per = 5;
    const bodies = [];
    for (let seq = 0; seq < per; seq++) for (const group of groups) bodies.push({ body: JSON.stringify({ group, seq }), group });
    await sendAll(runner, 'chat-in', bodies);
    runner.startPollers();
    await waitFor(() => (seen.length === groups.length * per ? true : undefined), 'every message handled', 20_000);
    expect(overlap).toBe(0);
    for (const g of groups) expect(seen.filter((m) => m.group === g).map((m) => m.seq)).toEqual(Array.from({ length: per }, (_, i) => i));
    expect(most).toBeGreaterThan(1); // the concurrency was used
    // The poller deletes a batch after its invocation returns: the last batch's delete may still be on its way.
    await waitFor(
      () => (runner.pollerStats()['chat-in']?.deleted === groups.length * per ? true : undefined),
      'every message deleted',
      5_000,
    );
    expect(runner.pollerStats()['chat-in']).toMatchObject({ deleted: groups.length * per, failed: 0, inFlight: 0 });
  });

  it('refuses a concurrency that is not a positive whole number', async () => {
    await expect(start({ pollerConcurrency: 0 })).rejects.toThrow(/pollerConcurrency must be a positive whole number/);
  });
});
