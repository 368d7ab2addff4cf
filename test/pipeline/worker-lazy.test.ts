/**
 * The worker builds each queue's parts at that queue's first batch (lib/aws/worker-runtime.ts),
 * through the real wiring (fauxqs for SQS, DynamoDB Local for the DLQ index and idempotency): a
 * cold worker has run none of the loaders depsFromEnv would give it; the first batch of a queue
 * runs that queue's only; two first batches at once share one build; a build that fails fails
 * its invocation (the message stays on its queue, neither deleted nor parked) and the next batch
 * tries again. That the loaders' modules are not even evaluated before is the bundle's business:
 * test/infra/bundle.test.ts.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type WorkerDeps, type WorkerIngestDeps } from '../../functions/worker.ts';
import { sqsEvent } from '../../infra/local/lambda.ts';
import type { QueuesConfig } from '../../lib/aws/queues-config.ts';
import { buildEnvelope } from '../../lib/envelope.ts';
import { RecordingBus } from '../../lib/events/bus.ts';
import { rdeskSchema } from '../../lib/flows/rdesk/config.ts';
import { FlowRegistry } from '../../lib/ingest/flows.ts';
import { dlqName, queueName, routeTable } from '../../lib/routes.ts';
import { DynamoDlqIndex } from '../../lib/store/dlq-index.ts';
import { DynamoFifoLedger } from '../../lib/store/fifo-ledger.ts';
import { createDynamoIdempotency } from '../../lib/store/idempotency.ts';
import { WORKER_PART_ROUTES } from '../../lib/aws/worker-runtime.ts';
import { CHAT_ROUTES } from '../../lib/aws/chat-processors.ts';
import { FORMS_ROUTE } from '../../lib/flows/forms/processor.ts';
import { ONEC_ROUTE } from '../../lib/flows/onec/processor.ts';
import { RDESK_ROUTES } from '../../lib/flows/rdesk/processor.ts';
import { AMOCRM_HOOK_ROUTE } from '../../lib/ingest/amocrm-hook.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { startQueues, type FauxqsQueues } from '../support/fauxqs-queues.ts';
import { captureLog, fixtureConfig, TestSecrets } from '../ingest/support.ts';

let fq: FauxqsServer;
let sqs: SQSClient;
let ddb: TestTable;
let queues: QueuesConfig;
let world: FauxqsQueues | undefined;
const ctx = {} as Context;

beforeAll(async () => {
  world = await startQueues(routeTable);
  ({ fq, sqs, queues } = world);
  ddb = await createTestTable('lazy');
});
afterAll(async () => {
  await world?.stop();
});
beforeEach(() => fq.reset());

/** Puts one envelope of `routeId` (path token none of ours) on its queue and receives it. */
async function delivery(routeId: 'zdrav-mc' | 'amocrm-hook'): Promise<{ message: Message; arn: string; queue: string }> {
  const route = routeTable.routes.find((r) => r.id === routeId)!;
  const queue = route.target.queue!;
  const ep = queues[queue]!;
  const body = JSON.stringify(
    buildEnvelope(
      {
        routeId,
        pathParams: { token: 'a-token-none-of-ours' },
        query: {},
        headers: { 'content-type': route.contentTypes[0] ?? 'application/json' },
        body: Buffer.from(routeId === 'amocrm-hook' ? 'leads%5Bstatus%5D%5B0%5D%5Bid%5D=1' : '{"id":1}'),
        receivedAt: Date.now(),
        requestId: `lazy-${Math.random().toString(36).slice(2)}`,
        sourceIp: '127.0.0.1',
      },
      route.headers,
    ),
  );
  await sqs.send(new SendMessageCommand({ QueueUrl: ep.url, MessageBody: body }));
  const r = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: ep.url, MaxNumberOfMessages: 1, MessageSystemAttributeNames: ['All'], VisibilityTimeout: 30 }),
  );
  return { message: r.Messages![0]!, arn: ep.arn, queue };
}

/** The worker with deferred parts that count their builds (as depsFromEnv gives them, minus the AWS clients). */
function lazyWorker(flows: () => Promise<FlowRegistry | undefined>) {
  const { log, lines } = captureLog();
  const secrets = new TestSecrets();
  secrets.values['rdesk/clinic'] = 'rdesk-token-0123456789';
  const config = fixtureConfig();
  const built: Record<string, number> = { rdesk: 0, flows: 0, chat: 0, onec: 0 };
  const ingest: WorkerIngestDeps = {
    config: { ...config, rdesk: rdeskSchema.parse({ accounts: [{ account: config.accounts[0]!.id, token: { secret: 'rdesk/clinic' } }] }) },
    secrets,
    idempotency: (remainingTimeMs) => createDynamoIdempotency({ client: ddb.client, tableName: ddb.tableName, remainingTimeMs }),
    bus: new RecordingBus(),
    rdesk: async () => {
      built.rdesk!++;
      // Two first batches must meet inside one build: it takes a moment, as an import does.
      await new Promise((r) => setTimeout(r, 50));
      return {
        clientFor: () => {
          throw new Error('not reached: the tokens are none of ours');
        },
      };
    },
    flows: async () => {
      built.flows!++;
      return flows();
    },
    chat: async () => (built.chat!++, {}),
    onec: async () => (built.onec!++, {}),
  };
  const deps: WorkerDeps = {
    sqs,
    dlqIndex: new DynamoDlqIndex({ doc: ddb.doc, tableName: ddb.tableName, queueIds: Object.keys(queues) }),
    queues,
    logger: log,
    fifoLedger: new DynamoFifoLedger({ doc: ddb.doc, tableName: ddb.tableName }),
    ingest,
  };
  const ready = (queue: string) => lines.filter((l) => l.message === 'queue ready' && l.attrs.queue === queue).length;
  const parked = (queue: string) => fq.inspectQueue(dlqName(routeTable.queues.find((q) => q.id === queue)!))!.messages.ready;
  return { handler: createHandler(deps), built, lines, ready, parked };
}

describe("the worker builds a queue's parts at that queue's first batch", () => {
  it("knows each part's routes without loading the flows: the flows' own constants", () => {
    expect({ ...WORKER_PART_ROUTES, rdesk: [...WORKER_PART_ROUTES.rdesk].sort() }).toEqual({
      flows: [AMOCRM_HOOK_ROUTE],
      rdesk: Object.keys(RDESK_ROUTES).sort(),
      forms: [FORMS_ROUTE],
      chat: [CHAT_ROUTES.inbound, CHAT_ROUTES.callback],
      onec: [ONEC_ROUTE],
    });
  });

  it('cold: nothing built; the first RDESK batches (two at once) build RDESK alone, once; the hooks queue then its flows alone', async () => {
    const w = lazyWorker(async () => new FlowRegistry());
    expect(w.built).toEqual({ rdesk: 0, flows: 0, chat: 0, onec: 0 });
    expect(w.lines.filter((l) => l.message === 'queue ready')).toEqual([]);

    const [a, b] = [await delivery('zdrav-mc'), await delivery('zdrav-mc')];
    const results = (await Promise.all([
      w.handler(sqsEvent([a.message], a.arn, 'us-east-1'), ctx),
      w.handler(sqsEvent([b.message], b.arn, 'us-east-1'), ctx),
    ])) as SQSBatchResponse[];
    expect(results.map((r) => r.batchItemFailures)).toEqual([[], []]);
    expect(w.built).toEqual({ rdesk: 1, flows: 0, chat: 0, onec: 0 });
    expect(w.ready('rdesk')).toBe(1);
    // RDESK's own processor ran (its token check parks a token none of ours), not `no-processor`.
    expect(w.parked('rdesk').map((m) => m.messageAttributes['dlq-reason']?.StringValue)).toEqual(['bad-token', 'bad-token']);

    const hook = await delivery('amocrm-hook');
    await w.handler(sqsEvent([hook.message], hook.arn, 'us-east-1'), ctx);
    expect(w.built).toEqual({ rdesk: 1, flows: 1, chat: 0, onec: 0 });
    expect(w.parked('amocrm-hooks').map((m) => m.messageAttributes['dlq-reason']?.StringValue)).toEqual(['bad-token']);

    // Later batches reuse what was built.
    const again = await delivery('zdrav-mc');
    await w.handler(sqsEvent([again.message], again.arn, 'us-east-1'), ctx);
    expect(w.built).toEqual({ rdesk: 1, flows: 1, chat: 0, onec: 0 });
    expect(w.ready('rdesk')).toBe(1);
  });

  it('a build that fails fails its invocation (the message stays, neither deleted nor parked); the next batch builds again', async () => {
    let fail = true;
    const w = lazyWorker(async () => {
      if (fail) throw new Error('rules.list[0] "x" when.to: unknown status');
      return new FlowRegistry();
    });
    const hook = await delivery('amocrm-hook');
    const event = sqsEvent([hook.message], hook.arn, 'us-east-1');
    await expect(w.handler(event, ctx)).rejects.toThrow(/processors for queue amocrm-hooks cannot be built: rules\.list\[0\]/);
    expect(w.parked('amocrm-hooks')).toEqual([]);
    expect(fq.inspectQueue(queueName(routeTable.queues.find((q) => q.id === 'amocrm-hooks')!))!.messages.inflight).toHaveLength(1);
    expect(w.lines.filter((l) => l.level === 'error' && l.message.startsWith('queue processors cannot be built'))).toHaveLength(1);

    fail = false;
    const res = (await w.handler(event, ctx)) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([]);
    expect(w.built.flows).toBe(2);
    expect(w.parked('amocrm-hooks').map((m) => m.messageAttributes['dlq-reason']?.StringValue)).toEqual(['bad-token']);
  });
});
