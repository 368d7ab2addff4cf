/**
 * The SQS worker's wiring (functions/worker.ts is its front door): envelope → route processor →
 * ok / defer / retry / park (docs/architecture.md#failure-semantics). The pipeline is lib/pipeline, the SQS side
 * sqs-batch.ts, the amoCRM webhook processor and the mirror lib/ingest.
 *
 * AWS environment (everything built once per container, at cold start, outside the handler):
 * - `TABLE_NAME` — the one DynamoDB table (DLQ index, idempotency);
 * - `QUEUES` — JSON Record<queueId, {arn, url, dlqUrl}>;
 * - `AMO_CONFIG_JSON` — the config as the construct validated it at synth (lib/config/deployed.ts; no secrets in it);
 * - `EVENT_BUS_NAME` — the custom EventBridge bus `amocrm.*` events go to (needed unless the
 *   config says `events.publish: false`);
 * - `AMO_SECRETS_PREFIX` (optional) — prefix of the Secrets Manager names (hook tokens, mirror tokens);
 * - `AMO_RULES_DIR` (optional) — where the rules' dictionary files are (default the task root, where
 *   the CDK construct bundles them; lib/aws/rules-runtime.ts);
 * - `POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_METRICS_NAMESPACE` (AmoGateway) — logs and metrics.
 * `createHandler(deps)` takes the clients explicitly (tests and the local runner pass their own).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { redriveMaxReceiveCount, routeTable as shippedTable, type RouteTable } from '../routes.ts';
import type { FifoLedger } from '../pipeline/fifo-ledger.ts';
import { DynamoFifoLedger } from '../store/fifo-ledger.ts';
import type { QueueTarget } from './actions.ts';
import { createEventBridgePublisher, EventBridgeClient } from './event-bus.ts';
import { parseQueuesConfig, WorkerConfigError, type QueuesConfig } from './queues-config.ts';
import { awsSecretSource } from './secrets.ts';
import { createBatchHandler } from './sqs-batch.ts';
import { readDeployedConfig } from '../config/deployed.ts';
import type { Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import type { EventPublisher } from '../events/bus.ts';
import { buildIngestProcessors, pipelineMetrics, type FlowRegistry, type MirrorSender } from '../ingest/index.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import { DEFAULT_BACKOFF_POLICY, type Random, type BackoffPolicy } from '../pipeline/backoff.ts';
import type { DeferralPolicy } from '../pipeline/deferral.ts';
import type { Log } from '../common/log.ts';
import { routeQueueId, routesWithoutProcessor, type ProcessorMap, type RoutePolicy } from '../pipeline/registry.ts';
import { DynamoDlqIndex } from '../store/dlq-index.ts';
import type { DlqIndex } from '../pipeline/dlq-index.ts';
import { createDynamoIdempotency } from '../store/idempotency.ts';
import { rulesFlowsFromEnv } from './rules-runtime.ts';
import { withContactFlows } from './contacts-runtime.ts';
import type { IdempotencyGuard } from '../ingest/idempotency.ts';
import type { MirrorGate } from '../ingest/mirroring.ts';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import { createRdeskProcessors, RDESK_ROUTES } from '../flows/rdesk/processor.ts';
import type { LeadMapStore } from '../flows/rdesk/lead-map.ts';
import type { PushOrderStore } from '../flows/rdesk/push-order.ts';
import { DynamoLeadMap } from '../store/rdesk-lead-map.ts';
import { DynamoPushOrder } from '../store/rdesk-push-order.ts';
import { createAmoClientRuntime } from './amo-client-runtime.ts';
import { tokenProviderFromEnv } from './oauth-runtime.ts';
import { createChatProcessors } from './chat-runtime.ts';
import { formsProcessors, formsWorkerDeps, type WorkerFormsDeps } from './forms-worker-runtime.ts';
import { onecWorkerParts } from './onec-runtime.ts';

export const WORKER_FUNCTION_ID = 'worker';

export interface WorkerDeps {
  sqs: SQSClient;
  dlqIndex: DlqIndex;
  /** The queues this function consumes, by id (the `QUEUES` variable in AWS). */
  queues: QueuesConfig;
  logger: Log;
  /** The route table (default: the shipped one). */
  table?: RouteTable;
  /** Merged over the ingest processors (an explicit undefined removes one); a route with none is parked `no-processor`. */
  processors?: ProcessorMap;
  now?: () => number;
  random?: Random;
  retry?: Partial<BackoffPolicy>;
  /** The deferral cap (default 24 h; lib/pipeline/deferral.ts). */
  deferral?: Partial<DeferralPolicy>;
  /**
   * The amoCRM side (config, secrets, idempotency, bus, flows, mirror). Without it only
   * `processors` run; every other route's messages are parked `no-processor`.
   */
  ingest?: WorkerIngestDeps;
  /** Parked, Deferred, DeferredMessageAge, DlqIndexWriteFailed, and the ingest metrics (lib/metrics.ts). */
  metrics?: MetricsSink;
  /** Counts FIFO retries and deferrals apart (lib/pipeline/fifo-ledger.ts): required when the worker consumes a FIFO queue. */
  fifoLedger?: FifoLedger;
}

export interface WorkerIngestDeps {
  config: Config;
  secrets: SecretSource;
  /** Builds the guard once; `remainingTimeMs` reads the invocation in progress (in-progress records expire with it). */
  idempotency: (remainingTimeMs: () => number) => IdempotencyGuard;
  bus: EventPublisher;
  flows?: FlowRegistry;
  /** For the mirror's requests. */
  fetch?: typeof fetch;
  /** Replaces the configured mirror sender. */
  mirror?: MirrorSender;
  /** The amoCRM side of the RDESK flow (used when the config has an `rdesk` section). */
  rdesk?: WorkerRdeskDeps;
  /** The chat channel's processors (lib/aws/chat-runtime.ts createChatProcessors), when the config has chat messengers. */
  chat?: ProcessorMap;
  /** The amoCRM side of the forms flow (used when the config has a `forms` section; lib/aws/forms-worker-runtime.ts). */
  forms?: WorkerFormsDeps;
  /** More route processors that need the amoCRM side (the 1C exchange's `onec` route: lib/aws/onec-runtime.ts). */
  processors?: ProcessorMap;
}

export interface WorkerRdeskDeps {
  /** The account's REST client (lib/aws/amo-client-runtime.ts `clientFor`). */
  clientFor: (accountId: string) => AmoClientForAccount;
  /** Stand-in leads (mock-lead-id mode, the create policy): the DynamoDB adapter in AWS. */
  leadMap?: LeadMapStore;
  /** The push order across containers: the DynamoDB adapter in AWS. */
  order?: PushOrderStore;
}

/** Used when no invocation context is known (a plain call in a test): the function's usual budget. */
const FALLBACK_REMAINING_MS = 60_000;

/** Route table + QUEUES → what the batch loop needs. Throws WorkerConfigError on a gap. */
export function workerTargets(table: RouteTable, queues: QueuesConfig): { targets: QueueTarget[]; routes: RoutePolicy[] } {
  const mine = table.queues.filter((q) => q.consumer === WORKER_FUNCTION_ID);
  const missing = mine.filter((q) => !queues[q.id]).map((q) => q.id);
  if (missing.length) throw new WorkerConfigError(`QUEUES lacks the queue(s) the worker consumes: ${missing.join(', ')}`);
  const targets = mine.map((q) => {
    const ep = queues[q.id] as QueuesConfig[string];
    return {
      id: q.id,
      arn: ep.arn,
      url: ep.url,
      dlqUrl: ep.dlqUrl,
      fifo: q.fifo,
      maxAttempts: q.maxAttempts,
      retentionDays: q.retentionDays,
      maxReceiveCount: redriveMaxReceiveCount(q),
      ...(q.concurrency !== undefined ? { concurrency: q.concurrency } : {}),
    };
  });
  return { targets, routes: table.routes };
}

/** The processor map: the ingest processors (and mirror) when configured, then `deps.processors`. */
function processorsFor(table: RouteTable, deps: WorkerDeps, remainingTimeMs: () => number): ProcessorMap {
  const ingest = deps.ingest;
  if (!ingest) return { ...deps.processors };
  try {
    const guard = ingest.idempotency(remainingTimeMs);
    const rdesk = rdeskProcessors(ingest, guard, deps.metrics, deps.logger);
    return buildIngestProcessors({
      config: ingest.config,
      secrets: ingest.secrets,
      guard,
      gates: rdesk.gates,
      bus: ingest.bus,
      ...(ingest.flows ? { flows: ingest.flows } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      routes: table.routes,
      defaultMirrorRoutes: table.routes.filter((r) => r.target.kind === 'queue').map((r) => r.id),
      overrides: {
        ...rdesk.processors,
        ...formsProcessors(ingest, guard, deps.logger, deps.metrics),
        ...ingest.chat,
        ...ingest.processors,
        ...deps.processors,
      },
      ...(ingest.fetch ? { fetch: ingest.fetch } : {}),
      ...(ingest.mirror ? { mirror: ingest.mirror } : {}),
    });
  } catch (cause) {
    throw new WorkerConfigError(`the worker's processors cannot be built: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/**
 * The RDESK routes' processors (when the config has an `rdesk` section and the client is wired)
 * and their mirror gates (without RDESK accounts no token is ours: never mirrored).
 */
function rdeskProcessors(ingest: WorkerIngestDeps, guard: IdempotencyGuard, metrics: MetricsSink | undefined, log: Log) {
  const never: MirrorGate = async () => false;
  const cfg = ingest.config.rdesk;
  if (!cfg || !ingest.rdesk) return { processors: {}, gates: Object.fromEntries(Object.keys(RDESK_ROUTES).map((r) => [r, never])) };
  const built = createRdeskProcessors({
    config: cfg,
    secrets: ingest.secrets,
    clientFor: ingest.rdesk.clientFor,
    guard,
    ...(ingest.rdesk.leadMap ? { leadMap: ingest.rdesk.leadMap } : {}),
    ...(ingest.rdesk.order ? { order: ingest.rdesk.order } : {}),
    log,
    ...(metrics ? { metrics } : {}),
  });
  return { processors: built.processors, gates: Object.fromEntries(Object.keys(RDESK_ROUTES).map((r) => [r, built.gate])) };
}

/** The worker's handler (functions/worker.ts exports it as `createHandler`). */
export function createWorkerHandler(deps: WorkerDeps) {
  const table = deps.table ?? shippedTable;
  const { targets, routes } = workerTargets(table, deps.queues);
  // The invocation in progress (Lambda runs one at a time per container; the local runner may
  // overlap queues, whose deadlines are alike). Idempotency reads its remaining time.
  let current: Context | undefined;
  const remainingTimeMs = () =>
    typeof current?.getRemainingTimeInMillis === 'function' ? current.getRemainingTimeInMillis() : FALLBACK_REMAINING_MS;
  const processors = processorsFor(table, deps, remainingTimeMs);
  const consumed = new Set(targets.map((t) => t.id));
  const unprocessed = routesWithoutProcessor(
    routes
      .filter((r) => {
        const q = routeQueueId(r);
        return q !== undefined && consumed.has(q);
      })
      .map((r) => r.id),
    processors,
  );
  if (unprocessed.length) deps.logger.info('routes without a processor: their messages are parked no-processor', { routes: unprocessed });
  const batch = createBatchHandler({
    sqs: deps.sqs,
    dlqIndex: deps.dlqIndex,
    queues: targets,
    routes,
    processors,
    log: deps.logger,
    now: deps.now ?? Date.now,
    random: deps.random ?? Math.random,
    policy: { ...DEFAULT_BACKOFF_POLICY, ...deps.retry },
    ...(deps.deferral ? { deferral: deps.deferral } : {}),
    ...(deps.metrics ? { hooks: pipelineMetrics(deps.metrics) } : {}),
    ...(deps.fifoLedger ? { fifoLedger: deps.fifoLedger } : {}),
  });
  return middy<SQSEvent, SQSBatchResponse, Error, Context>().handler(async (event, context) => {
    current = context;
    return batch(event);
  });
}

/** Nothing is published when the config turns events off; this stands in for the bus then. */
const noBus: EventPublisher = {
  async publish() {
    throw new WorkerConfigError('events.publish is false: nothing should be published');
  },
};

/** Clients and config from the Lambda environment; throws WorkerConfigError (or ConfigError) when it is incomplete. */
export function depsFromEnv(env: NodeJS.ProcessEnv, logger: Log, metrics?: MetricsSink): WorkerDeps {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new WorkerConfigError('TABLE_NAME is not set');
  const queues = parseQueuesConfig(env.QUEUES);
  const config = readDeployedConfig(env);
  const eventBusName = env.EVENT_BUS_NAME;
  if (config.events.publish && !eventBusName)
    throw new WorkerConfigError('EVENT_BUS_NAME is not set (the config publishes events; set events.publish: false to turn them off)');
  const client = new DynamoDBClient({});
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const m = metrics ? { metrics } : {};
  // THE client runtime of the container (OAuth tokens, the shared rate budget, the 403 breaker,
  // the dictionary cache): one for every flow, built once at cold start when a flow talks to amoCRM.
  const amo =
    config.rules || config.rdesk || config.forms || config.chat?.messengers.length || config.onec
      ? createAmoClientRuntime({
          config,
          oauth: tokenProviderFromEnv(env, { log: logger, metrics: metrics ?? noMetrics }, config),
          doc,
          tableName,
          log: logger,
          ...m,
        })
      : undefined;
  const clientFor = (id: string) => {
    if (!amo) throw new WorkerConfigError('no flow of this config talks to amoCRM');
    return amo.clientFor(id);
  };
  // The config's rules (lib/rules), resolved against the dictionaries bundled with the function.
  // Then the contact index's webhook flow (lib/contacts), when the config has a `forms` section.
  const flows = withContactFlows(
    config,
    { doc, tableName },
    rulesFlowsFromEnv(env, config, { doc, tableName, log: logger, clientFor, ...m }),
  );
  const secrets = awsSecretSource({ prefix: env.AMO_SECRETS_PREFIX ?? '' });
  // The 1C exchange (config `onec`): its queue's processor and the deal-export flow.
  const onec = config.onec
    ? onecWorkerParts({ config, secrets, doc, tableName, flows, log: logger, clientFor, ...m })
    : { processors: {}, flows };
  return {
    sqs: new SQSClient({}),
    dlqIndex: new DynamoDlqIndex({ doc, tableName, queueIds: Object.keys(queues) }),
    fifoLedger: new DynamoFifoLedger({ doc, tableName }),
    queues,
    logger,
    ingest: {
      config,
      secrets,
      idempotency: (remainingTimeMs) => createDynamoIdempotency({ client, tableName, remainingTimeMs }),
      bus: eventBusName ? createEventBridgePublisher(new EventBridgeClient({}), eventBusName) : noBus,
      ...(config.rdesk
        ? { rdesk: { clientFor, leadMap: new DynamoLeadMap({ doc, tableName }), order: new DynamoPushOrder({ doc, tableName }) } }
        : {}),
      ...(config.forms ? { forms: formsWorkerDeps({ config, clientFor, doc, tableName, log: logger, ...m }) } : {}),
      ...(onec.flows ? { flows: onec.flows } : {}),
      processors: onec.processors,
      ...(config.chat?.messengers.length
        ? { chat: createChatProcessors({ config, secrets, doc, tableName, clientFor, log: logger, ...m }) }
        : {}),
    },
    ...m,
  };
}
