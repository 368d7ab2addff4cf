/**
 * No silent drops: EVERY queue route of the shipped route table is walked through the real
 * worker wiring (functions/worker.ts createHandler; fauxqs for SQS, DynamoDB Local for the DLQ
 * index and idempotency), with and without the ingest deps. A message on a route that has no
 * processor must be parked `no-processor` — in its DLQ, in the DLQ index (`dlq list` shows it),
 * counted as Parked — never deleted. A route may only see its message deleted when it is in
 * ROUTES_WITH_PROCESSORS (a flow that lands adds its route there, with the test of its own).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type WorkerDeps } from '../../functions/worker.ts';
import { sqsEvent } from '../../infra/local/lambda.ts';
import type { QueuesConfig } from '../../lib/aws/queues-config.ts';
import { WORKER_FUNCTION_ID } from '../../lib/aws/worker-runtime.ts';
import { buildEnvelope } from '../../lib/envelope.ts';
import { RecordingBus } from '../../lib/events/bus.ts';
import { RecordingMetrics } from '../../lib/ingest/metrics.ts';
import { METRIC } from '../../lib/metrics.ts';
import { PARK_REASONS } from '../../lib/pipeline/outcome.ts';
import { routeQueueId } from '../../lib/pipeline/registry.ts';
import { dlqName, queueName, routeTable, type RouteTable } from '../../lib/routes.ts';
import { DynamoDlqIndex } from '../../lib/store/dlq-index.ts';
import { DynamoFifoLedger } from '../../lib/store/fifo-ledger.ts';
import { createDynamoIdempotency } from '../../lib/store/idempotency.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { startQueues, type FauxqsQueues } from '../support/fauxqs-queues.ts';
import { rdeskSchema } from '../../lib/flows/rdesk/config.ts';
import { captureLog, fixtureConfig, TestSecrets } from '../ingest/support.ts';

/** Routes whose processor the worker registers (with the ingest deps). Nothing else may delete. */
const ROUTES_WITH_PROCESSORS: ReadonlySet<string> = new Set(['amocrm-hook', 'zdrav-mc', 'zdrav-booked']);

/** A route whose messages reach a queue: a queue route, or a function route feeding one (the forms ingress). */
type QueueRoute = RouteTable['routes'][number] & { target: { queue: string } };
const consumed = new Set(routeTable.queues.filter((q) => q.consumer === WORKER_FUNCTION_ID).map((q) => q.id));
const queueRoutes = routeTable.routes.filter((r): r is QueueRoute => {
  const q = routeQueueId(r);
  return q !== undefined && consumed.has(q);
});

let fq: FauxqsServer;
let sqs: SQSClient;
let ddb: TestTable;
let queues: QueuesConfig;
let world: FauxqsQueues | undefined;
const ctx = {} as Context;

beforeAll(async () => {
  world = await startQueues(routeTable);
  ({ fq, sqs, queues } = world);
  ddb = await createTestTable('nodrop');
});
afterAll(async () => {
  await world?.stop();
});
beforeEach(() => fq.reset());

/** An envelope as the edge builds it for `route`: every path parameter filled, a body of its first content type. */
function envelopeFor(route: QueueRoute, requestId: string): string {
  const params = Object.fromEntries([...route.path.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map((m) => [m[1] as string, `value-of-${m[1]}`]));
  // A function feeding a queue enqueues what it built (the forms ingress: a submission as JSON).
  const contentType = route.target.kind === 'function' ? 'application/json' : (route.contentTypes[0] ?? 'application/json');
  const body = contentType === 'application/json' ? '[{"id":1}]' : 'a=1';
  return JSON.stringify(
    buildEnvelope(
      {
        routeId: route.id,
        pathParams: params,
        query: {},
        headers: { 'content-type': contentType, 'user-agent': 'walk' },
        body: Buffer.from(body),
        receivedAt: Date.now(),
        requestId,
        sourceIp: '127.0.0.1',
      },
      route.headers,
    ),
  );
}

async function receiveOne(url: string): Promise<Message> {
  const r = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
      VisibilityTimeout: 30,
    }),
  );
  const m = r.Messages?.[0];
  if (!m) throw new Error(`nothing to receive from ${url}`);
  return m;
}

interface Walked {
  route: string;
  failed: boolean;
  /** Left in the main queue (visible or delayed) after the delivery. */
  leftInQueue: number;
  dlqReasons: string[];
  indexReasons: string[];
  outcome: unknown;
  action: unknown;
}

/** One delivery of one message per queue route through the worker `deps` builds. */
async function walk(deps: WorkerDeps, lines: Array<{ message: string; attrs: Record<string, unknown> }>): Promise<Walked[]> {
  const handler = createHandler(deps);
  const index = deps.dlqIndex;
  const out: Walked[] = [];
  for (const route of queueRoutes) {
    const q = routeTable.queues.find((x) => x.id === route.target.queue)!;
    const ep = queues[q.id]!;
    const requestId = `walk-${route.id}-${Math.random().toString(36).slice(2)}`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: ep.url,
        MessageBody: envelopeFor(route, requestId),
        ...(q.fifo ? { MessageGroupId: 'g', MessageDeduplicationId: requestId } : {}),
      }),
    );
    const res = (await handler(sqsEvent([await receiveOne(ep.url)], ep.arn, 'us-east-1'), ctx)) as SQSBatchResponse;
    const main = fq.inspectQueue(queueName(q))!;
    const dlq = fq.inspectQueue(dlqName(q))!.messages.ready.filter((m) => m.body.includes(requestId));
    const indexed = (await index.list({ queue: q.id })).filter((e) => e.requestId === requestId);
    const line = lines.filter((l) => l.message === 'message' && l.attrs.route === route.id).at(-1);
    out.push({
      route: route.id,
      failed: res.batchItemFailures.length > 0,
      leftInQueue: main.messages.ready.length + main.messages.delayed.length,
      dlqReasons: dlq.map((m) => m.messageAttributes['dlq-reason']?.StringValue ?? '?'),
      indexReasons: indexed.map((e) => e.reason),
      outcome: line?.attrs.outcome,
      action: line?.attrs.action,
    });
  }
  return out;
}

function baseDeps(metrics: RecordingMetrics, log: WorkerDeps['logger']): WorkerDeps {
  return {
    sqs,
    dlqIndex: new DynamoDlqIndex({ doc: ddb.doc, tableName: ddb.tableName, queueIds: Object.keys(queues) }),
    queues,
    logger: log,
    metrics,
    // The chat-in queue is FIFO: the worker counts its retries and deferrals apart (lib/pipeline/fifo-ledger.ts).
    fifoLedger: new DynamoFifoLedger({ doc: ddb.doc, tableName: ddb.tableName }),
  };
}

/** The invariant: parked with an index record, or deleted by a route that has a processor. */
function expectNoSilentDrop(w: Walked, processorRoutes: ReadonlySet<string>): void {
  expect(w.failed, `${w.route}: reported failed`).toBe(false);
  const parked = w.dlqReasons.length === 1 && w.indexReasons.length === 1 && w.dlqReasons[0] === w.indexReasons[0];
  if (!processorRoutes.has(w.route)) {
    expect({ route: w.route, dlq: w.dlqReasons, index: w.indexReasons, action: w.action }).toEqual({
      route: w.route,
      dlq: [PARK_REASONS.noProcessor],
      index: [PARK_REASONS.noProcessor],
      action: 'park',
    });
  } else if (!parked) {
    // Deleted: only after its processor said ok.
    expect({ route: w.route, outcome: w.outcome, action: w.action }).toEqual({ route: w.route, outcome: 'ok', action: 'delete' });
  }
}

describe('no silent drops: every queue route of the table through the worker', () => {
  it('the table has queue routes, among them the ones that have no flow yet', () => {
    expect(queueRoutes.map((r) => r.id)).toEqual(
      expect.arrayContaining(['amocrm-hook', 'zdrav-mc', 'zdrav-booked', 'amojo-callback', 'forms']),
    );
  });

  it('without the ingest deps (nothing configured): every queue route is parked no-processor, indexed, counted', async () => {
    const metrics = new RecordingMetrics();
    const { log, lines } = captureLog();
    const walked = await walk(baseDeps(metrics, log), lines);
    expect(walked).toHaveLength(queueRoutes.length);
    for (const w of walked) expectNoSilentDrop(w, new Set());
    expect(walked.every((w) => w.leftInQueue === 0)).toBe(true);
    expect(metrics.total(METRIC.parked, { reason: PARK_REASONS.noProcessor })).toBe(queueRoutes.length);
    // `dlq list --reason no-processor` reads exactly these index records.
    const listed = await baseDeps(metrics, log).dlqIndex.list({ reason: PARK_REASONS.noProcessor });
    expect(
      listed
        .filter((e) => e.requestId.startsWith('walk-'))
        .map((e) => e.route)
        .sort(),
    ).toEqual(queueRoutes.map((r) => r.id).sort());
  });

  it('with the ingest deps: only the routes with a processor may delete; every other queue route is parked no-processor', async () => {
    const metrics = new RecordingMetrics();
    const { log, lines } = captureLog();
    const secrets = new TestSecrets();
    secrets.values['rdesk/clinic'] = 'rdesk-token-0123456789';
    const config = fixtureConfig();
    const deps: WorkerDeps = {
      ...baseDeps(metrics, log),
      ingest: {
        config: {
          ...config,
          rdesk: rdeskSchema.parse({ accounts: [{ account: config.accounts[0]!.id, token: { secret: 'rdesk/clinic' } }] }),
        },
        secrets,
        idempotency: (remainingTimeMs) => createDynamoIdempotency({ client: ddb.client, tableName: ddb.tableName, remainingTimeMs }),
        bus: new RecordingBus(),
        rdesk: {
          clientFor: () => {
            throw new Error('not reached: the walk sends tokens none of ours');
          },
        },
      },
    };
    const walked = await walk(deps, lines);
    for (const w of walked) expectNoSilentDrop(w, ROUTES_WITH_PROCESSORS);
    // The amoCRM hook's and RDESK's processors ran: a token none of ours is its own park (bad-token), not no-processor.
    for (const route of ['amocrm-hook', 'zdrav-mc', 'zdrav-booked'])
      expect(walked.find((w) => w.route === route)).toMatchObject({ dlqReasons: ['bad-token'], indexReasons: ['bad-token'] });
    const without = queueRoutes.filter((r) => !ROUTES_WITH_PROCESSORS.has(r.id)).length;
    expect(metrics.total(METRIC.parked, { reason: PARK_REASONS.noProcessor })).toBe(without);
  });

  it('without an rdesk section the RDESK routes park no-processor', async () => {
    const metrics = new RecordingMetrics();
    const { log, lines } = captureLog();
    const deps: WorkerDeps = {
      ...baseDeps(metrics, log),
      ingest: {
        config: fixtureConfig(),
        secrets: new TestSecrets(),
        idempotency: (remainingTimeMs) => createDynamoIdempotency({ client: ddb.client, tableName: ddb.tableName, remainingTimeMs }),
        bus: new RecordingBus(),
      },
    };
    const walked = await walk(deps, lines);
    for (const w of walked) expectNoSilentDrop(w, new Set(['amocrm-hook']));
  });

  it('with a mirror configured, a route without a processor is mirrored, then still parked no-processor', async () => {
    const metrics = new RecordingMetrics();
    const { log, lines } = captureLog();
    const sent: string[] = [];
    const deps: WorkerDeps = {
      ...baseDeps(metrics, log),
      ingest: {
        config: fixtureConfig({ mirror: { baseUrl: 'https://mirror.example.com', routes: ['amojo-callback'] } }),
        secrets: new TestSecrets(),
        idempotency: (remainingTimeMs) => createDynamoIdempotency({ client: ddb.client, tableName: ddb.tableName, remainingTimeMs }),
        bus: new RecordingBus(),
        mirror: { send: async (env) => (sent.push(env.route), { status: 'sent', httpStatus: 200 }) },
      },
    };
    const walked = await walk(deps, lines);
    for (const w of walked) expectNoSilentDrop(w, ROUTES_WITH_PROCESSORS);
    expect(sent).toEqual(['amojo-callback']);
  });
});
