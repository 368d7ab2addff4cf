/**
 * Never lose a message: replay and purge against fauxqs with faults injected into the SQS client
 * (a send or a delete that fails midway), --limit, and a FIFO queue (group and deduplication ids).
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { defineRouteTable, routeTable, type RouteTableInput } from '../../lib/routes.ts';
import { purgeParked, replayParked, type RunEvent } from '../../lib/aws/dlq-ops.ts';
import { ok, PermanentError } from '../../lib/pipeline/outcome.ts';
import type { RouteProcessor } from '../../lib/pipeline/registry.ts';
import type { LocalRunner } from '../../infra/local/runner.ts';
import { opsDeps, post, startRunner, useRunners, waitFor } from './support.ts';

useRunners();

/** An SQS client on the runner's fauxqs whose n-th call of `command` throws. */
function faultySqs(r: LocalRunner, command: string, failOn: (n: number) => boolean): SQSClient {
  const sqs = new SQSClient({ endpoint: r.sqsEndpoint, region: r.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  let n = 0;
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === command && failOn(++n)) throw new Error(`injected: ${command} #${n} failed (connection reset)`);
      return next(args);
    },
    { step: 'initialize', name: 'faultInjection' },
  );
  return sqs;
}

/** A runner whose zdrav-mc flow parks everything until `fix()`; `processed` lists what got through. */
async function parkedWorld(count: number) {
  const state = { fixed: false, processed: [] as string[] };
  const mc: RouteProcessor = async (env) => {
    if (!state.fixed) throw new PermanentError('bad-payload', 'no bookings');
    state.processed.push(Buffer.from(env.body, 'base64').toString('utf8'));
    return ok();
  };
  const r = await startRunner({ processors: { 'zdrav-mc': mc } });
  for (let i = 0; i < count; i++) await post(r, '/zdrav/mc/t0k', `["m${i}"]`);
  await waitFor(async () => (await r.dlqIndex.list()).length === count && r.depth('rdesk').dlq === count, `${count} parked`);
  return { r, state, fix: () => (state.fixed = true) };
}

describe('replay never loses a message', () => {
  it('a send that fails midway leaves that message in the DLQ (visible again, indexed); the next replay finishes the job', async () => {
    const { r, state, fix } = await parkedWorld(3);
    fix();
    const events: RunEvent['kind'][] = [];
    const sqs = faultySqs(r, 'SendMessageCommand', (n) => n === 2);
    const report = await replayParked(opsDeps(r, { sqs, concurrency: 1 }), { onEvent: (e) => events.push(e.kind) });
    expect(report.done).toBe(2);
    expect(report.failed).toEqual([
      {
        ref: expect.stringMatching(/^rdesk\//),
        stage: 'send',
        error: expect.stringContaining('injected: SendMessageCommand #2 failed'),
        inDlq: true,
        inMainQueue: false,
      },
    ]);
    expect(events.filter((k) => k === 'failed')).toHaveLength(1);
    // The failed one is back in the DLQ at once (let go, not waiting out the hold) with its entry.
    const dlq = r.fauxqs.inspectQueue(r.queues.rdesk!.dlqName)!.messages;
    expect(dlq.ready).toHaveLength(1);
    expect(dlq.inflight).toHaveLength(0);
    const left = await r.dlqIndex.list();
    expect(left.map((e) => `rdesk/${e.id}`)).toEqual([report.failed[0]!.ref]);
    await waitFor(() => state.processed.length === 2, 'two processed');

    const again = await replayParked(opsDeps(r));
    expect(again).toMatchObject({ done: 1, failed: [], skipped: 0 });
    await waitFor(() => state.processed.length === 3, 'all three processed');
    expect(state.processed.sort()).toEqual(['["m0"]', '["m1"]', '["m2"]']);
    expect(r.depth('rdesk').dlq).toBe(0);
    expect(await r.dlqIndex.list()).toEqual([]);
    sqs.destroy();
  });

  it('a delete that fails after a good send is reported as in both queues; the index entry stays until purged', async () => {
    const { r, state, fix } = await parkedWorld(1);
    fix();
    const sqs = faultySqs(r, 'DeleteMessageCommand', (n) => n === 1);
    const report = await replayParked(opsDeps(r, { sqs }));
    expect(report.done).toBe(0);
    expect(report.failed).toEqual([expect.objectContaining({ stage: 'delete', inDlq: true, inMainQueue: true })]);
    await waitFor(() => state.processed.length === 1, 'processed from the main queue');
    expect(r.depth('rdesk').dlq).toBe(1);
    expect(await r.dlqIndex.list()).toHaveLength(1);
    const purge = await purgeParked(opsDeps(r), { ids: [report.failed[0]!.ref] });
    expect(purge).toMatchObject({ done: 1, failed: [] });
    expect(r.depth('rdesk').dlq).toBe(0);
    expect(await r.dlqIndex.list()).toEqual([]);
    sqs.destroy();
  });

  it('a purge whose delete fails keeps the message and its entry', async () => {
    const { r } = await parkedWorld(1);
    const sqs = faultySqs(r, 'DeleteMessageCommand', () => true);
    const report = await purgeParked(opsDeps(r, { sqs }));
    expect(report).toMatchObject({ done: 0, failed: [expect.objectContaining({ stage: 'delete', inDlq: true, inMainQueue: false })] });
    expect(r.depth('rdesk').dlq).toBe(1);
    expect(r.fauxqs.inspectQueue(r.queues.rdesk!.dlqName)!.messages.ready).toHaveLength(1);
    expect(await r.dlqIndex.list()).toHaveLength(1);
    sqs.destroy();
  });

  it('--limit stops after n and says so; a dry run moves nothing', async () => {
    const { r, state, fix } = await parkedWorld(3);
    const dry = await replayParked(opsDeps(r), { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, done: 3, failed: [] });
    expect(r.depth('rdesk').dlq).toBe(3);
    fix();
    const report = await replayParked(opsDeps(r), { limit: 2 });
    expect(report).toMatchObject({ done: 2, limitReached: true, stale: [] });
    await waitFor(() => state.processed.length === 2, 'two processed');
    expect(r.depth('rdesk').dlq).toBe(1);
    expect(await r.dlqIndex.list()).toHaveLength(1);
  });
});

describe('a pass longer than its hold', () => {
  it('meets its own skipped messages again, stops, says it is incomplete, and judges no index entry stale', async () => {
    const { r } = await parkedWorld(3);
    // Deletes take longer than the 1 s hold: the skipped messages come back during the pass.
    const sqs = new SQSClient({
      endpoint: r.sqsEndpoint,
      region: r.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteMessageCommand') await new Promise((res) => setTimeout(res, 1300));
        return next(args);
      },
      { step: 'initialize', name: 'slowDelete' },
    );
    const [first] = await r.dlqIndex.list();
    const report = await purgeParked(opsDeps(r, { sqs, holdSeconds: 1 }), { queue: 'rdesk', ids: [`rdesk/${first!.id}`] });
    expect(report).toMatchObject({ done: 1, skipped: 2, incomplete: true, stale: [], failed: [] });
    expect(r.depth('rdesk').dlq).toBe(2);
    expect(await r.dlqIndex.list()).toHaveLength(2);
    sqs.destroy();
  });
});

describe('FIFO queues', () => {
  it('replay keeps the message group and deduplicates a repeated replay of the same DLQ message', async () => {
    const input: RouteTableInput = {
      routes: [
        ...routeTable.routes,
        {
          id: 'chat-send',
          description: 'test: outgoing chat messages, in order per conversation',
          method: 'POST',
          path: '/chat/messages',
          contentTypes: ['application/json'],
          bodyLimitBytes: 64 * 1024,
          target: { kind: 'queue', queue: 'chat-out' },
          auth: 'api-key',
          headers: ['content-type'],
          ack: { status: 202, body: '{"status":"queued"}' },
          fifo: { groupId: [{ body: 'conversation' }], dedupId: [{ body: 'id' }] },
        },
      ],
      queues: [
        ...routeTable.queues,
        {
          id: 'chat-out',
          description: 'test FIFO queue',
          fifo: true,
          batchSize: 10,
          maxAttempts: 3,
          visibilityTimeoutSeconds: 180,
          consumer: 'worker',
        },
      ],
      functions: routeTable.functions,
      schedules: routeTable.schedules,
    };
    const table = defineRouteTable(input);
    let fixed = false;
    const processed: string[] = [];
    const chat: RouteProcessor = async (env) => {
      if (!fixed) throw new PermanentError('unknown-conversation');
      processed.push(Buffer.from(env.body, 'base64').toString('utf8'));
      return ok();
    };
    const r = await startRunner({ table, processors: { 'chat-send': chat } });
    const res = await fetch(`${r.url}/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"conversation":"c1","id":"m1","text":"one"}',
    });
    expect(res.status).toBe(202);
    await waitFor(async () => (await r.dlqIndex.list({ queue: 'chat-out' })).length === 1, 'the FIFO park');
    expect(r.queues['chat-out']!.dlqUrl).toMatch(/\.fifo$/);
    fixed = true;
    const deps = opsDeps(r);
    expect(deps.queues.find((q) => q.id === 'chat-out')?.fifo).toBe(true);
    // First replay: sent, but the DLQ delete fails → the message is in both queues.
    const sqs = faultySqs(r, 'DeleteMessageCommand', (n) => n === 1);
    const first = await replayParked({ ...deps, sqs }, { queue: 'chat-out' });
    expect(first.failed).toEqual([expect.objectContaining({ stage: 'delete', inMainQueue: true })]);
    await waitFor(() => processed.length === 1, 'processed');
    expect(r.depth('chat-out').dlq).toBe(1);
    // Second replay within SQS's 5-minute window: the send is deduplicated, the DLQ copy goes.
    const report = await replayParked(deps, { queue: 'chat-out' });
    expect(report).toMatchObject({ done: 1, failed: [] });
    await new Promise((res) => setTimeout(res, 1500)); // a poll or two
    expect(processed).toEqual(['{"conversation":"c1","id":"m1","text":"one"}']);
    expect(r.depth('chat-out')).toEqual({ visible: 0, delayed: 0, inFlight: 0, dlq: 0 });
    sqs.destroy();
    expect(await r.dlqIndex.list({ queue: 'chat-out' })).toEqual([]);
  });
});
