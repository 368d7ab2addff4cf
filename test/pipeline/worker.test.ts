/**
 * The worker handler (functions/worker.ts → lib/aws/sqs-batch.ts) against real stand-ins: fauxqs
 * for SQS and DynamoDB Local for the DLQ index. Records are received from fauxqs and shaped as
 * Lambda delivers them, so receipt handles, attributes and ARNs are real.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, depsFromEnv, type WorkerDeps } from '../../functions/worker.ts';
import { sqsEvent } from '../../infra/local/lambda.ts';
import { defineRouteTable, dlqName, queueName } from '../../lib/routes.ts';
import type { QueuesConfig } from '../../lib/aws/queues-config.ts';
import { aggregatingSink } from '../../lib/common/metrics-sink.ts';
import { RecordingMetrics } from '../../lib/ingest/metrics.ts';
import { silentLog, type Log } from '../../lib/common/log.ts';
import { DeferError, ok, PermanentError, RetryableError } from '../../lib/pipeline/outcome.ts';
import type { RouteProcessor } from '../../lib/pipeline/registry.ts';
import { DynamoDlqIndex } from '../../lib/store/dlq-index.ts';
import { DynamoFifoLedger } from '../../lib/store/fifo-ledger.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { startQueues, type FauxqsQueues } from '../support/fauxqs-queues.ts';
import { envelope } from './fixtures.ts';

const table = defineRouteTable({
  routes: [
    {
      id: 'r-std',
      description: 'std',
      method: 'POST',
      path: '/std/{token}',
      contentTypes: ['application/json'],
      bodyLimitBytes: 100,
      target: { kind: 'queue', queue: 'std-q' },
      auth: 'none',
      ack: { status: 200, body: '{}' },
    },
    {
      id: 'r-fifo',
      description: 'fifo',
      method: 'POST',
      path: '/fifo',
      contentTypes: ['application/json'],
      bodyLimitBytes: 100,
      target: { kind: 'queue', queue: 'fifo-q' },
      auth: 'none',
      ack: { status: 200, body: '{}' },
      // The worker reads the group from SQS, not from these keys (the messages here are sent directly).
      fifo: { groupId: [{ body: 'conversation' }], dedupId: [{ body: 'id' }] },
    },
    {
      id: 'r-fifo-small',
      description: 'fifo with few receives',
      method: 'POST',
      path: '/fifo-small',
      contentTypes: ['application/json'],
      bodyLimitBytes: 100,
      target: { kind: 'queue', queue: 'fifo-small' },
      auth: 'none',
      ack: { status: 200, body: '{}' },
      // The worker reads the group from SQS, not from these keys (the messages here are sent directly).
      fifo: { groupId: [{ body: 'conversation' }], dedupId: [{ body: 'id' }] },
    },
  ],
  queues: [
    { id: 'std-q', description: 'std', batchSize: 10, maxAttempts: 3, visibilityTimeoutSeconds: 60, consumer: 'worker' },
    { id: 'fifo-q', description: 'fifo', fifo: true, batchSize: 10, maxAttempts: 3, visibilityTimeoutSeconds: 60, consumer: 'worker' },
    {
      id: 'fifo-small',
      description: "fifo whose SQS redrive comes after 6 receives (the worker's net must act first)",
      fifo: true,
      batchSize: 10,
      maxAttempts: 3,
      maxReceiveCount: 6,
      visibilityTimeoutSeconds: 60,
      consumer: 'worker',
    },
  ],
  functions: [{ id: 'worker', description: 'w', entry: 'functions/worker.ts', timeoutSeconds: 30 }],
  schedules: [],
});

let fq: FauxqsServer;
let sqs: SQSClient;
let ddb: TestTable;
let queues: QueuesConfig;
let world: FauxqsQueues | undefined;
const ctx = {} as Context; // the batch handler reads nothing from the context

beforeAll(async () => {
  world = await startQueues(table, { redrive: true });
  ({ fq, sqs, queues } = world);
  ddb = await createTestTable('worker');
});
afterAll(async () => {
  await world?.stop();
});

function capture(): { log: Log; lines: Array<{ level: string; message: string; attrs: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; attrs: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, attrs: Record<string, unknown> = {}) =>
      lines.push({ level, message, attrs });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function deps(over: Partial<WorkerDeps> = {}): WorkerDeps {
  return {
    sqs,
    dlqIndex: new DynamoDlqIndex({ doc: ddb.doc, tableName: ddb.tableName, queueIds: ['std-q', 'fifo-q', 'fifo-small'] }),
    fifoLedger: new DynamoFifoLedger({ doc: ddb.doc, tableName: ddb.tableName }),
    queues,
    logger: silentLog,
    table,
    random: () => 0.999_999,
    ...over,
  };
}

async function sendAll(queueId: string, bodies: string[], group?: (i: number) => string): Promise<void> {
  const url = (queues[queueId] as QueuesConfig[string]).url;
  for (const [i, body] of bodies.entries()) {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: body,
        ...(group ? { MessageGroupId: group(i), MessageDeduplicationId: `d-${Date.now()}-${i}-${Math.random()}` } : {}),
      }),
    );
  }
}

async function receiveAll(url: string, max = 10): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: Math.min(10, max - out.length),
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        VisibilityTimeout: 30,
      }),
    );
    if (!r.Messages?.length) return out;
    out.push(...r.Messages);
    if (out.length >= max) return out;
  }
}

async function batchFrom(queueId: string, n: number): Promise<SQSEvent> {
  const q = queues[queueId] as QueuesConfig[string];
  const msgs = await receiveAll(q.url, n);
  expect(msgs).toHaveLength(n);
  return sqsEvent(msgs, q.arn, 'us-east-1');
}

const bodyOf = (env: ReturnType<typeof envelope>) => JSON.stringify(env);
// Received now: the deferral cap measures age from receivedAt.
const env = (tag: string, over: Parameters<typeof envelope>[0] = {}) =>
  envelope(
    { requestId: tag, params: { token: 'secret-path-token' }, receivedAt: Date.now(), ...over },
    `{"tag":"${tag}"}`,
    over.route ?? 'r-std',
  );

/** Processor that picks its outcome from the body's tag. */
const byTag: RouteProcessor = async (_e, c) => {
  const tag = (JSON.parse(c.body.toString('utf8')) as { tag: string }).tag;
  if (tag.startsWith('ok')) return ok();
  if (tag.startsWith('retry')) throw new RetryableError(`upstream 503 for secret-path-token`);
  if (tag.startsWith('crash')) throw new TypeError('cannot read x of undefined');
  if (tag.startsWith('defer')) throw new DeferError('rate-budget', 4);
  if (tag.startsWith('perm')) throw new PermanentError('invalid-payload', 'no booking id');
  return ok();
};

describe('worker handler: standard queue', () => {
  it('deletes ok, re-sends retry/defer with counters and delays, parks permanent and bad envelopes, indexes them', async () => {
    const { log, lines } = capture();
    const handler = createHandler(deps({ processors: { 'r-std': byTag }, logger: log }));
    await sendAll('std-q', [
      bodyOf(env('ok-1')),
      bodyOf(env('retry-1')),
      bodyOf(env('defer-1')),
      bodyOf(env('perm-1')),
      'not an envelope',
      bodyOf(env('crash-1', { attempt: 2 })),
    ]);
    const event = await batchFrom('std-q', 6);
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([]);

    // Re-sent copies wait in the main queue, delayed.
    const main = fq.inspectQueue(queueName(table.queues[0]!))!;
    const resent = main.messages.delayed.map((m) => JSON.parse(m.body) as ReturnType<typeof envelope>);
    expect(resent.map((e) => e.requestId).sort()).toEqual(['defer-1', 'retry-1']);
    const retried = resent.find((e) => e.requestId === 'retry-1')!;
    expect(retried.attempt).toBe(1);
    expect(retried.lastError).toBe('RetryableError: upstream 503 for [redacted]');
    const deferred = resent.find((e) => e.requestId === 'defer-1')!;
    expect(deferred.deferrals).toBe(1);
    expect(deferred.attempt).toBeUndefined();
    const delays = main.messages.delayed.map((m) => Math.round(((m.delayUntil ?? 0) - m.sentTimestamp) / 1000)).sort();
    expect(delays).toEqual([2, 4]); // retry: full jitter of 2 at random≈1; defer: its own 4 s

    // Parked: perm-1, the bad envelope, and crash-1 (its third failure: maxAttempts 3).
    const dlq = fq.inspectQueue(dlqName(table.queues[0]!))!;
    expect(dlq.messages.ready).toHaveLength(3);
    const parkedRaw = dlq.messages.ready.find((m) => m.body === 'not an envelope');
    expect(parkedRaw?.messageAttributes['dlq-reason']?.StringValue).toBe('bad-envelope');
    const parkedCrash = dlq.messages.ready
      .map((m) => m.body)
      .filter((b) => b.includes('"crash-1"'))
      .map((b) => JSON.parse(b) as ReturnType<typeof envelope>)[0];
    expect(parkedCrash).toMatchObject({ attempt: 3, lastError: 'TypeError: cannot read x of undefined' });

    const index = await deps().dlqIndex.list({ queue: 'std-q' });
    expect(index.map((e) => [e.reason, e.route, e.attempts]).sort()).toEqual([
      ['bad-envelope', '(not an envelope)', 1],
      ['invalid-payload', 'r-std', 1],
      ['out-of-attempts', 'r-std', 3],
    ]);
    for (const m of dlq.messages.ready) expect(index.map((e) => e.id)).toContain(m.messageAttributes['dlq-index-id']?.StringValue);

    // One line per message, never the body or the path token.
    const msgLines = lines.filter((l) => l.message === 'message');
    expect(msgLines).toHaveLength(6);
    expect(msgLines.map((l) => l.attrs.outcome).sort()).toEqual(['defer', 'ok', 'park', 'park', 'retry', 'retry']);
    expect(msgLines.map((l) => l.attrs.action).sort()).toEqual(['delete', 'park', 'park', 'park', 'resend', 'resend']);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('secret-path-token');
    expect(text).not.toContain('"tag');
    expect(text).not.toContain('not an envelope');
    expect(msgLines.find((l) => l.attrs.outcome === 'ok')?.attrs).toMatchObject({
      queue: 'std-q',
      route: 'r-std',
      bytes: 14,
      action: 'delete',
    });

    fq.reset();
  });

  it('reports a record failed when its SQS call fails, and only that record', async () => {
    const broken = {
      ...queues,
      'std-q': { ...(queues['std-q'] as QueuesConfig[string]), dlqUrl: `${(queues['std-q'] as QueuesConfig[string]).dlqUrl}-missing` },
    };
    const { log, lines } = capture();
    const handler = createHandler(deps({ processors: { 'r-std': byTag }, queues: broken, logger: log }));
    await sendAll('std-q', [bodyOf(env('ok-2')), bodyOf(env('perm-2')), bodyOf(env('ok-3'))]);
    const event = await batchFrom('std-q', 3);
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    const permId = event.Records.find((r) => r.body.includes('perm-2'))!.messageId;
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: permId }]);
    const err = lines.find((l) => l.level === 'error');
    expect(err?.attrs).toMatchObject({ reported: 'failed', route: 'r-std' });
    expect(String(err?.attrs.error)).toMatch(/could not park/);
    fq.reset();
  });

  it('a DLQ index write that fails after the DLQ send is logged (redacted) and counted, and the record is done: one DLQ copy (unindexed), no redelivery', async () => {
    const { log, lines } = capture();
    const metrics = new RecordingMetrics();
    const handler = createHandler(
      deps({
        processors: { 'r-std': byTag },
        logger: log,
        metrics,
        dlqIndex: new DynamoDlqIndex({ doc: ddb.doc, tableName: 'missing-table', queueIds: [] }),
      }),
    );
    await sendAll('std-q', [bodyOf(env('perm-3'))]);
    const event = await batchFrom('std-q', 1);
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([]);
    const dlq = fq.inspectQueue(dlqName(table.queues[0]!))!.messages.ready;
    expect(dlq).toHaveLength(1);
    const line = lines.find((l) => l.message.startsWith('dlq index write failed'));
    expect(line).toMatchObject({
      level: 'error',
      attrs: {
        queue: 'std-q',
        messageId: event.Records[0]!.messageId,
        reason: 'invalid-payload',
        dlqIndex: 'unindexed',
        indexId: dlq[0]!.messageAttributes['dlq-index-id']?.StringValue,
      },
    });
    expect(String(line?.attrs.error)).toMatch(/DlqIndexError/);
    expect(JSON.stringify(lines)).not.toContain('secret-path-token');
    expect(metrics.total('DlqIndexWriteFailed')).toBe(1);
    expect(metrics.total('Parked', { reason: 'invalid-payload' })).toBe(1);
    fq.reset();
  });

  it('counts each deferral (Deferred by reason, DeferredMessageAge in seconds) and parks a message deferred past the cap as deferred-too-long, indexed and counted', async () => {
    const metrics = new RecordingMetrics();
    const now = Date.now();
    const handler = createHandler(deps({ processors: { 'r-std': byTag }, metrics, now: () => now }));
    const young = env('defer-young', { receivedAt: now - 90_000, deferrals: 3 });
    const old = env('defer-old', { receivedAt: now - 25 * 3600_000, deferrals: 40 });
    await sendAll('std-q', [bodyOf(young), bodyOf(old)]);
    const res = (await handler(await batchFrom('std-q', 2), ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([]);

    // The young one is re-sent (4th deferral); the old one is parked, not re-sent.
    const delayed = fq
      .inspectQueue(queueName(table.queues[0]!))!
      .messages.delayed.map((m) => JSON.parse(m.body) as ReturnType<typeof envelope>);
    expect(delayed.map((e) => [e.requestId, e.deferrals])).toEqual([['defer-young', 4]]);
    const dlq = fq.inspectQueue(dlqName(table.queues[0]!))!.messages.ready;
    expect(dlq.map((m) => [JSON.parse(m.body).requestId, m.messageAttributes['dlq-reason']?.StringValue])).toEqual([
      ['defer-old', 'deferred-too-long'],
    ]);
    const [entry] = (await deps().dlqIndex.list({ queue: 'std-q', reason: 'deferred-too-long' })).filter(
      (e) => e.requestId === 'defer-old',
    );
    expect(entry).toMatchObject({
      route: 'r-std',
      lastError: 'still deferred 25 h 0 min after it was received (cap 24 h 0 min); last deferral: rate-budget',
    });

    expect(metrics.total('Deferred', { reason: 'rate-budget' })).toBe(1);
    expect(metrics.values('DeferredMessageAge', { reason: 'rate-budget' })).toEqual([90]);
    expect(metrics.total('Parked', { reason: 'deferred-too-long' })).toBe(1);
    fq.reset();
  });

  it('counts done messages as Processed by queue, summed by the Lambda sink and emitted once when the batch ends', async () => {
    const recorded = new RecordingMetrics();
    const sink = aggregatingSink(recorded);
    const handler = createHandler(deps({ processors: { 'r-std': byTag }, metrics: sink }));
    await sendAll('std-q', [bodyOf(env('ok-p1')), bodyOf(env('ok-p2')), bodyOf(env('ok-p3'))]);
    const res = (await handler(await batchFrom('std-q', 3), ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([]);
    expect(recorded.counts).toEqual([{ name: 'Processed', dimensions: { queue: 'std-q' }, value: 3 }]);
    fq.reset();
  });

  it('the deferral cap is configurable (WorkerDeps.deferral): a lower count cap parks sooner', async () => {
    const metrics = new RecordingMetrics();
    const handler = createHandler(deps({ processors: { 'r-std': byTag }, metrics, deferral: { maxDeferrals: 2 } }));
    await sendAll('std-q', [bodyOf(env('defer-c1', { deferrals: 1 })), bodyOf(env('defer-c2', { deferrals: 2 }))]);
    await handler(await batchFrom('std-q', 2), ctx);
    expect(fq.inspectQueue(queueName(table.queues[0]!))!.messages.delayed.map((m) => JSON.parse(m.body).requestId)).toEqual(['defer-c1']);
    expect(fq.inspectQueue(dlqName(table.queues[0]!))!.messages.ready.map((m) => m.messageAttributes['dlq-reason']?.StringValue)).toEqual([
      'deferred-too-long',
    ]);
    expect(metrics.total('Deferred')).toBe(1);
    expect(metrics.total('Parked', { reason: 'deferred-too-long' })).toBe(1);
    fq.reset();
  });

  it('a deferral whose re-send failed is not counted (it comes back and is counted then)', async () => {
    const broken = {
      ...queues,
      'std-q': { ...(queues['std-q'] as QueuesConfig[string]), url: `${(queues['std-q'] as QueuesConfig[string]).url}-missing` },
    };
    const metrics = new RecordingMetrics();
    const handler = createHandler(deps({ processors: { 'r-std': byTag }, queues: broken, metrics }));
    await sendAll('std-q', [bodyOf(env('defer-lost'))]);
    const event = await batchFrom('std-q', 1);
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
    expect(metrics.counts).toEqual([]);
    fq.reset();
  });

  it('fails records from a queue it does not know, without touching them', async () => {
    const handler = createHandler(deps());
    await sendAll('std-q', [bodyOf(env('ok-4'))]);
    const event = await batchFrom('std-q', 1);
    for (const r of event.Records) r.eventSourceARN = 'arn:aws:sqs:us-east-1:000000000000:elsewhere';
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[0]!.messageId]);
    fq.reset();
  });
});

describe('worker handler: FIFO queue', () => {
  const fifoArn = () => (queues['fifo-q'] as QueuesConfig[string]).arn;
  // fauxqs hands out one message per group at a time (real SQS gives several of a group in one
  // batch), so the multi-record batch is built by hand in Lambda's shape.
  const record = (i: number, tag: string, group: string): SQSRecord => ({
    messageId: `m-${i}`,
    receiptHandle: `h-${i}`,
    body: bodyOf(env(tag, { route: 'r-fifo' })),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1',
      SenderId: '000000000000',
      ApproximateFirstReceiveTimestamp: '1',
      MessageGroupId: group,
      MessageDeduplicationId: `d-${i}`,
      SequenceNumber: String(i),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: fifoArn(),
    awsRegion: 'us-east-1',
  });

  it('keeps group order: after a failure its group-mates are reported failed unprocessed; other groups go on; no re-send', async () => {
    const seen: string[] = [];
    const recording: RouteProcessor = async (e, c) => {
      seen.push((JSON.parse(c.body.toString('utf8')) as { tag: string }).tag);
      return byTag(e, c);
    };
    const handler = createHandler(deps({ processors: { 'r-fifo': recording } }));
    const tags = ['ok-a1', 'ok-b1', 'retry-a2', 'ok-b2', 'ok-a3', 'perm-b3', 'ok-b4'];
    const event: SQSEvent = { Records: tags.map((t, i) => record(i, t, t.includes('-a') ? 'A' : 'B')) };
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-2' }, { itemIdentifier: 'm-4' }]);
    expect(seen).not.toContain('ok-a3');
    expect(seen.filter((t) => t.includes('-b'))).toEqual(['ok-b1', 'ok-b2', 'perm-b3', 'ok-b4']);
    // Nothing re-sent to the FIFO queue; the permanent one parked in the FIFO DLQ, in its group.
    const main = fq.inspectQueue(queueName(table.queues[1]!))!;
    expect(main.messages.ready.length + main.messages.delayed.length).toBe(0);
    const dlq = fq.inspectQueue(dlqName(table.queues[1]!))!;
    expect(dlq.messages.ready.map((m) => m.messageGroupId)).toEqual(['B']);
    fq.reset();
  });

  it('a FIFO deferral (reported failed, visibility = its delay) is counted with its age', async () => {
    const metrics = new RecordingMetrics();
    const now = Date.now();
    const handler = createHandler(deps({ processors: { 'r-fifo': byTag }, metrics, now: () => now }));
    const r = record(1, 'defer-f', 'F');
    r.body = bodyOf(env('defer-f', { route: 'r-fifo', receivedAt: now - 30_000 }));
    r.attributes.ApproximateReceiveCount = '2';
    const res = (await handler({ Records: [r] }, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(metrics.counts).toEqual([
      { name: 'Deferred', dimensions: { queue: 'fifo-q', reason: 'rate-budget' }, value: 1 },
      { name: 'DeferredMessageAge', dimensions: { queue: 'fifo-q', reason: 'rate-budget' }, value: 30 },
    ]);
    fq.reset();
  });

  it("sets a failed record's visibility to its backoff, and parks it at maxAttempts counted by the ledger", async () => {
    const handler = createHandler(deps({ processors: { 'r-fifo': byTag } }));
    await sendAll('fifo-q', [bodyOf(env('retry-x', { route: 'r-fifo' }))], () => 'X');
    const event = await batchFrom('fifo-q', 1); // received with a 30 s visibility
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toHaveLength(1);
    const inflight = fq.inspectQueue(queueName(table.queues[1]!))!.messages.inflight;
    expect(inflight).toHaveLength(1);
    expect(inflight[0]!.visibilityDeadline - Date.now()).toBeLessThan(3000); // 2 s backoff at random≈1
    // Second try fails too; the third (maxAttempts 3) → parked, not failed.
    event.Records[0]!.attributes.ApproximateReceiveCount = '2';
    expect(((await handler(event, ctx)) as SQSBatchResponse).batchItemFailures).toHaveLength(1);
    event.Records[0]!.attributes.ApproximateReceiveCount = '3';
    const res3 = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res3.batchItemFailures).toEqual([]);
    expect(fq.inspectQueue(dlqName(table.queues[1]!))!.messages.ready).toHaveLength(1);
    fq.reset();
  });
});

describe('worker handler: FIFO deferrals on a real FIFO queue (fauxqs, SQS redrive on)', () => {
  /**
   * What Lambda's event source mapping does: receive a batch, invoke, delete what was not reported
   * failed. Then time is fast-forwarded: each failed message's visibility (what the worker chose,
   * in whole seconds, is pushed to `held`) is cut to 0, as if its delay had passed.
   */
  async function pump(queueId: string, handler: ReturnType<typeof createHandler>, maxRounds: number, held: number[] = []): Promise<number> {
    const q = queues[queueId] as QueuesConfig[string];
    const name = q.url.split('/').pop()!;
    let rounds = 0;
    for (; rounds < maxRounds; rounds++) {
      const msgs = await receiveAll(q.url, 10);
      if (msgs.length === 0) {
        const left = fq.inspectQueue(name)!.messages;
        if (left.ready.length + left.delayed.length + left.inflight.length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const event = sqsEvent(msgs, q.arn, 'us-east-1');
      const res = (await handler(event, ctx)) as SQSBatchResponse;
      const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
      const inflight = fq.inspectQueue(name)!.messages.inflight;
      for (const m of msgs) {
        if (!failed.has(m.MessageId!)) {
          await sqs.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle! }));
          continue;
        }
        const still = inflight.find((i) => i.receiptHandle === m.ReceiptHandle);
        held.push(still ? Math.round((still.visibilityDeadline - Date.now()) / 1000) : 0);
        // (A 0 s hold already put it back: its receipt handle is spent.)
        if (still)
          await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
      }
    }
    return rounds;
  }

  /** Records every try by tag; the head named in `script` gets the outcomes listed, in turn, then ok. */
  function scripted(script: Record<string, Array<'defer' | 'retry'>>, seen: string[]): RouteProcessor {
    const left = new Map(Object.entries(script).map(([k, v]) => [k, [...v]]));
    return async (_e, c) => {
      const tag = (JSON.parse(c.body.toString('utf8')) as { tag: string }).tag;
      seen.push(tag);
      const next = left.get(tag)?.shift();
      if (next === 'defer') throw new DeferError('rate-budget', 0);
      if (next === 'retry') throw new RetryableError('upstream 503');
      return ok();
    };
  }
  const fifoEnv = (tag: string, route = 'r-fifo') => bodyOf(env(tag, { route }));

  it('a group whose head is deferred 30 times keeps its order, nothing is parked, and the other group is not held up', async () => {
    const seen: string[] = [];
    const metrics = new RecordingMetrics();
    const handler = createHandler(deps({ processors: { 'r-fifo': scripted({ a1: Array(30).fill('defer') }, seen) }, metrics }));
    await sendAll(
      'fifo-q',
      ['a1', 'a2', 'a3', 'a4'].map((t) => fifoEnv(t)),
      () => 'A',
    );
    await sendAll(
      'fifo-q',
      ['b1', 'b2', 'b3'].map((t) => fifoEnv(t)),
      () => 'B',
    );
    await pump('fifo-q', handler, 200);

    expect(seen.filter((t) => t.startsWith('a'))).toEqual([...Array(31).fill('a1'), 'a2', 'a3', 'a4']);
    expect(seen.filter((t) => t.startsWith('b'))).toEqual(['b1', 'b2', 'b3']);
    // B finished while A's head was still being deferred.
    expect(seen.indexOf('b3')).toBeLessThan(seen.lastIndexOf('a1'));
    expect(fq.inspectQueue(dlqName(table.queues[1]!))!.messages.ready).toHaveLength(0);
    const indexed = await deps().dlqIndex.list({ queue: 'fifo-q' });
    expect(indexed.filter((e) => /^[ab]\d$/.test(e.requestId))).toEqual([]);
    expect(metrics.total('Deferred', { reason: 'rate-budget' })).toBe(30);
    // Each deferral is reported with its own number (the ledger's, not SQS's receive count).
    fq.reset();
  });

  it('a retry still counts attempts and parks after maxAttempts, however many deferrals came first; the group then goes on in order', async () => {
    const seen: string[] = [];
    const handler = createHandler(
      deps({
        processors: { 'r-fifo': scripted({ c1: [...Array(8).fill('defer'), 'retry', 'retry', 'retry', 'retry'] }, seen) },
        retry: { baseSeconds: 0 },
      }),
    );
    await sendAll(
      'fifo-q',
      ['c1', 'c2'].map((t) => fifoEnv(t)),
      () => 'C',
    );
    await pump('fifo-q', handler, 100);

    // 8 deferrals + 3 retries (maxAttempts 3): parked at the third retry, not at the third receive.
    expect(seen).toEqual([...Array(11).fill('c1'), 'c2']);
    const entries = (await deps().dlqIndex.list({ queue: 'fifo-q' })).filter((e) => e.requestId.startsWith('c'));
    expect(entries.map((e) => [e.requestId, e.reason, e.attempts])).toEqual([['c1', 'out-of-attempts', 3]]);
    const parked = fq.inspectQueue(dlqName(table.queues[1]!))!.messages.ready;
    expect(parked.map((m) => [JSON.parse(m.body).requestId, m.messageAttributes['dlq-reason']?.StringValue])).toEqual([
      ['c1', 'out-of-attempts'],
    ]);
    fq.reset();
  });

  it("deferrals cannot walk a message into the DLQ behind the worker's back: on the last receive SQS grants, the worker parks it with its reason", async () => {
    const seen: string[] = [];
    const held: number[] = [];
    const handler = createHandler(deps({ processors: { 'r-fifo-small': scripted({ d1: Array(50).fill('defer') }, seen) } }));
    await sendAll(
      'fifo-small',
      ['d1', 'd2'].map((t) => fifoEnv(t, 'r-fifo-small')),
      () => 'D',
    );
    await pump('fifo-small', handler, 100, held);
    // The first receive of the quarter is free (its own 0 s delay); after it the rest are paced
    // over the 24 h age cap, at most 900 s each.
    expect(held).toEqual([0, 900, 900, 900, 900]);

    // maxReceiveCount 6: five deferrals, then parked by the worker on receive 6 (SQS would have
    // moved it, unindexed, on receive 7); d2 follows in order.
    expect(seen).toEqual([...Array(6).fill('d1'), 'd2']);
    const parked = fq.inspectQueue(dlqName(table.queues[2]!))!.messages.ready;
    expect(parked).toHaveLength(1);
    expect(parked[0]!.messageAttributes['dlq-reason']?.StringValue).toBe('deferred-too-long');
    const entry = (await deps().dlqIndex.list({ queue: 'fifo-small' })).find((e) => e.requestId === 'd1');
    expect(entry?.lastError).toMatch(/receive 6 of the queue's maxReceiveCount 6/);
    fq.reset();
  });

  it("gives the head's visibility to its followers in the batch, so the group comes back together", async () => {
    const handler = createHandler(deps({ processors: { 'r-fifo': byTag } }));
    // fauxqs hands out one message of a group at a time; real SQS gives a batch several. Two
    // groups received for real (real receipt handles), then labelled one group as SQS would.
    await sendAll('fifo-q', [fifoEnv('defer-h'), fifoEnv('ok-f')], (i) => `G${i}`);
    const event = await batchFrom('fifo-q', 2);
    for (const r of event.Records) r.attributes.MessageGroupId = 'G';
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toHaveLength(2);
    const inflight = fq.inspectQueue(queueName(table.queues[1]!))!.messages.inflight;
    // Received with 30 s; both now come back after the head's 4 s deferral.
    expect(inflight.map((m) => Math.round((m.visibilityDeadline - Date.now()) / 1000))).toEqual([4, 4]);
    fq.reset();
  });

  it('parks a follower held for as many receives as SQS grants (receive-limit), unprocessed, rather than let SQS move it silently', async () => {
    const seen: string[] = [];
    const handler = createHandler(deps({ processors: { 'r-fifo-small': scripted({ h: ['retry'] }, seen) } }));
    await sendAll('fifo-small', [fifoEnv('h', 'r-fifo-small'), fifoEnv('f', 'r-fifo-small')], (i) => `H${i}`);
    const event = await batchFrom('fifo-small', 2);
    for (const r of event.Records) r.attributes.MessageGroupId = 'H';
    event.Records[1]!.attributes.ApproximateReceiveCount = '6';
    const res = (await handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[0]!.messageId]);
    expect(seen).toEqual(['h']);
    const entry = (await deps().dlqIndex.list({ queue: 'fifo-small' })).find((e) => e.requestId === 'f');
    expect(entry).toMatchObject({ reason: 'receive-limit', route: 'r-fifo-small' });
    expect(entry?.lastError).toMatch(/held behind its group's failed head for 6 receives/);
    fq.reset();
  });
});

describe('worker configuration', () => {
  it('refuses QUEUES that lack a consumed queue, and an incomplete environment', () => {
    expect(() => createHandler(deps({ queues: { 'std-q': queues['std-q']! } }))).toThrow(/QUEUES lacks .*fifo-q/);
    expect(() => depsFromEnv({ QUEUES: '{}' }, silentLog)).toThrow(/TABLE_NAME is not set/);
    expect(() => depsFromEnv({ TABLE_NAME: 't' }, silentLog)).toThrow(/QUEUES is not set/);
    expect(() => depsFromEnv({ TABLE_NAME: 't', QUEUES: '{"a":{"arn":"x"}}' }, silentLog)).toThrow(/QUEUES is invalid/);
  });

  it('the exported handler fails every invocation with the reason when the environment is incomplete', async () => {
    const mod = await import('../../functions/worker.ts');
    await expect(mod.handler({ Records: [] } as SQSEvent, ctx, { signal: new AbortController().signal })).rejects.toThrow(
      /TABLE_NAME is not set/,
    );
  });
});
