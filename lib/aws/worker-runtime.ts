/**
 * The SQS worker's wiring (functions/worker.ts is its front door): envelope → route processor →
 * ok / defer / retry / park (docs/architecture.md#failure-semantics). The pipeline is lib/pipeline, the SQS side
 * sqs-batch.ts, the amoCRM webhook processor and the mirror lib/ingest.
 *
 * Built once per container: at cold start the SDK clients, the DynamoDB stores and the batch loop;
 * at a queue's first batch that queue's processors and the flow modules behind them, import()ed
 * (createWorkerHandler; lib/common/lazy.ts), so a container that serves one queue never evaluates
 * the others' flows. AWS environment:
 * - `TABLE_NAME` — the one DynamoDB table (DLQ index, idempotency);
 * - `QUEUES` — JSON Record<queueId, {arn, url, dlqUrl}>;
 * - `AMO_CONFIG_JSON` — the config as the construct validated it at synth (lib/config/deployed.ts; no secrets in it);
 * - `EVENT_BUS_NAME` — the custom EventBridge bus `amocrm.*` events go to (needed unless the
 *   config says `events.publish: false`);
 * - `AMO_SECRETS_PREFIX` (optional) — prefix of the Secrets Manager names (hook tokens, mirror tokens);
 * - `AMO_RULES_DIR` (optional) — where the rules' dictionary files are (default the task root, where
 *   the CDK construct bundles them; lib/aws/hook-flows.ts);
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
import type { FlowRegistry } from '../ingest/flows.ts';
import { pipelineMetrics } from '../ingest/metrics.ts';
import type { MirrorGate, MirrorSender } from '../ingest/mirroring.ts';
import { mirroredRoutes } from '../ingest/mirror-routes.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import { once, resolveDeferred, type Deferred } from '../common/lazy.ts';
import { DEFAULT_BACKOFF_POLICY, type Random, type BackoffPolicy } from '../pipeline/backoff.ts';
import type { DeferralPolicy } from '../pipeline/deferral.ts';
import type { Log } from '../common/log.ts';
import { routeQueueId, routesWithoutProcessor, type ProcessorMap, type RoutePolicy } from '../pipeline/registry.ts';
import { DynamoDlqIndex } from '../store/dlq-index.ts';
import type { DlqIndex } from '../pipeline/dlq-index.ts';
import { createDynamoIdempotency } from '../store/idempotency.ts';
import type { IdempotencyGuard } from '../ingest/idempotency.ts';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { LeadMapStore } from '../flows/rdesk/lead-map.ts';
import type { PushOrderStore } from '../flows/rdesk/push-order.ts';
import type { WorkerFormsDeps } from './forms-processors.ts';
import { DynamoConversationStore } from '../store/amojo-conversations.ts';
import { DynamoScopeStore } from '../store/amojo-scopes.ts';
import { DynamoContactIndex } from '../store/contact-index.ts';
import { DynamoFormsState } from '../store/forms-state.ts';
import { DynamoExportLedger, DynamoOnecRequests } from '../store/onec.ts';
import { DynamoLeadMap } from '../store/rdesk-lead-map.ts';
import { DynamoPushOrder } from '../store/rdesk-push-order.ts';
import { DynamoRulesState } from '../store/rules-state.ts';
import { contactsCountry } from './contacts-config.ts';
import { lazyAmoClients } from './lazy-clients.ts';

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

/**
 * The amoCRM side. A part that only some queue needs may be given as its loader (`Deferred`):
 * the worker calls it at the first message of that queue, once per container (depsFromEnv does,
 * so that a cold start loads none of the flows); tests and the local runner pass the parts built.
 */
export interface WorkerIngestDeps {
  config: Config;
  secrets: SecretSource;
  /** Builds the guard once; `remainingTimeMs` reads the invocation in progress (in-progress records expire with it). */
  idempotency: (remainingTimeMs: () => number) => IdempotencyGuard;
  bus: EventPublisher;
  /** The webhook flows (rules, the contact index, the 1C export): queue `amocrm-hooks`. */
  flows?: Deferred<FlowRegistry | undefined>;
  /** For the mirror's requests. */
  fetch?: typeof fetch;
  /** Replaces the configured mirror sender. */
  mirror?: MirrorSender;
  /** The amoCRM side of the RDESK flow (used when the config has an `rdesk` section): queue `rdesk`. */
  rdesk?: Deferred<WorkerRdeskDeps>;
  /** The chat channel's processors (lib/aws/chat-runtime.ts createChatProcessors), when the config has chat messengers. */
  chat?: Deferred<ProcessorMap>;
  /** The amoCRM side of the forms flow (used when the config has a `forms` section; lib/aws/forms-worker-runtime.ts). */
  forms?: Deferred<WorkerFormsDeps>;
  /** The 1C exchange's `onec` route processor (lib/aws/onec-runtime.ts onecWorkerParts). */
  onec?: Deferred<ProcessorMap>;
  /** More route processors that need the amoCRM side, built (the local runner's 1C processor). */
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

/**
 * The routes each deferred part of WorkerIngestDeps serves: a queue loads a part only when one of
 * its routes is here (the flow modules' own constants — AMOCRM_HOOK_ROUTE, RDESK_ROUTES,
 * FORMS_ROUTE, CHAT_ROUTES, ONEC_ROUTE — are not imported, that would load them; a test holds
 * them equal).
 */
export const WORKER_PART_ROUTES = {
  flows: ['amocrm-hook'],
  rdesk: ['zdrav-booked', 'zdrav-mc'],
  forms: ['forms'],
  chat: ['chat-inbound', 'amojo-callback'],
  onec: ['onec'],
} as const satisfies Record<string, readonly string[]>;

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

/** The routes of the table that feed `queueId`. */
function queueRoutes(table: RouteTable, queueId: string): string[] {
  return table.routes.filter((r) => routeQueueId(r) === queueId).map((r) => r.id);
}

/**
 * Builds one queue's processors (the ingest processors and mirror when configured, then
 * `deps.processors`), loading only the flows of that queue's routes. Called once per queue per
 * container (createWorkerHandler memoises it), at the queue's first batch.
 */
function queueProcessors(table: RouteTable, deps: WorkerDeps, guard: () => IdempotencyGuard) {
  return async (queueId: string): Promise<ProcessorMap> => {
    const ingest = deps.ingest;
    if (!ingest) return { ...deps.processors };
    const routes = queueRoutes(table, queueId);
    const serves = (part: keyof typeof WORKER_PART_ROUTES) => WORKER_PART_ROUTES[part].some((r) => routes.includes(r));
    const m = deps.metrics ? { metrics: deps.metrics } : {};
    const hooks = serves('flows');
    const [rdesk, forms, chat, onec, flows] = await Promise.all([
      serves('rdesk') ? rdeskProcessors(ingest, guard(), deps.metrics, deps.logger) : undefined,
      serves('forms') && ingest.config.forms && ingest.forms
        ? Promise.all([import('./forms-processors.ts'), resolveDeferred(ingest.forms)]).then(([f, formsDeps]) =>
            f.formsProcessors({ config: ingest.config, forms: formsDeps }, guard(), deps.logger, deps.metrics),
          )
        : undefined,
      serves('chat') && ingest.chat ? resolveDeferred(ingest.chat) : undefined,
      serves('onec') && ingest.onec ? resolveDeferred(ingest.onec) : undefined,
      hooks && ingest.flows ? resolveDeferred(ingest.flows) : undefined,
    ]);
    // The RDESK routes' mirror gates: their token check once the flow is loaded (in their own
    // queue); never mirrored without RDESK accounts (no token is ours), nor from another queue's map.
    const never: MirrorGate = async () => false;
    const gates = Object.fromEntries(WORKER_PART_ROUTES.rdesk.map((r) => [r, rdesk?.gate ?? never]));
    const overrides = { ...rdesk?.processors, ...forms, ...chat, ...onec, ...ingest.processors, ...deps.processors };
    const sender = { ...(ingest.fetch ? { fetch: ingest.fetch } : {}), ...(ingest.mirror ? { mirror: ingest.mirror } : {}) };
    // The webhook processor (its parser and schemas) only for the hooks queue; the others need the mirror at most.
    const all = hooks
      ? (await import('../ingest/index.ts')).buildIngestProcessors({
          config: ingest.config,
          secrets: ingest.secrets,
          guard: guard(),
          gates,
          bus: ingest.bus,
          ...(flows ? { flows } : {}),
          ...m,
          routes: table.routes,
          defaultMirrorRoutes: defaultMirrorRoutes(table),
          overrides,
          ...sender,
        })
      : // The hook route is not this queue's: its gate only satisfies the mirror's check (filtered out below).
        (await import('../ingest/mirroring.ts')).mirrorConfigured(overrides, {
          config: ingest.config,
          secrets: ingest.secrets,
          routes: table.routes,
          defaultRoutes: defaultMirrorRoutes(table),
          gates: { ...gates, ...Object.fromEntries(WORKER_PART_ROUTES.flows.map((r) => [r, never])) },
          ...sender,
          ...m,
        });
    // Only this queue's routes (a message of another queue's route is parked `wrong-queue` before
    // any processor); tests' own processors for routes outside the table are kept.
    const others = new Set(table.routes.map((r) => r.id).filter((id) => !routes.includes(id)));
    return Object.fromEntries(Object.entries(all).filter(([id]) => !others.has(id)));
  };
}

/** The routes mirrored when the config's mirror names none: the queue routes. */
function defaultMirrorRoutes(table: RouteTable): string[] {
  return table.routes.filter((r) => r.target.kind === 'queue').map((r) => r.id);
}

/** The RDESK routes' processors and their token check (when the config has an `rdesk` section and the client is wired). */
async function rdeskProcessors(ingest: WorkerIngestDeps, guard: IdempotencyGuard, metrics: MetricsSink | undefined, log: Log) {
  const cfg = ingest.config.rdesk;
  if (!cfg || !ingest.rdesk) return undefined;
  const [{ createRdeskProcessors }, rdesk] = await Promise.all([import('../flows/rdesk/processor.ts'), resolveDeferred(ingest.rdesk)]);
  return createRdeskProcessors({
    config: cfg,
    secrets: ingest.secrets,
    clientFor: rdesk.clientFor,
    guard,
    ...(rdesk.leadMap ? { leadMap: rdesk.leadMap } : {}),
    ...(rdesk.order ? { order: rdesk.order } : {}),
    log,
    ...(metrics ? { metrics } : {}),
  });
}

/**
 * The worker's handler (functions/worker.ts exports it as `createHandler`). Cheap at cold start:
 * each queue's processors — and the flow modules behind them — are built at that queue's first
 * batch, once per container (concurrent first batches share the one build); a build that fails
 * fails its invocation (the batch goes back to its queue) and is tried again at the next.
 */
export function createWorkerHandler(deps: WorkerDeps) {
  const table = deps.table ?? shippedTable;
  const { targets, routes } = workerTargets(table, deps.queues);
  // The invocation in progress (Lambda runs one at a time per container; the local runner may
  // overlap queues, whose deadlines are alike). Idempotency reads its remaining time.
  let current: Context | undefined;
  const remainingTimeMs = () =>
    typeof current?.getRemainingTimeInMillis === 'function' ? current.getRemainingTimeInMillis() : FALLBACK_REMAINING_MS;
  const ingest = deps.ingest;
  // A mirror the table cannot serve is a wiring error of the whole function: refused now, not at a
  // queue's first message (the gated routes: the hook token and the RDESK tokens).
  const mirror = ingest?.config.mirror;
  if (mirror) {
    try {
      mirroredRoutes(mirror, table.routes, defaultMirrorRoutes(table), ['amocrm-hook', ...WORKER_PART_ROUTES.rdesk]);
    } catch (cause) {
      throw new WorkerConfigError(`the worker's processors cannot be built: ${cause instanceof Error ? cause.message : String(cause)}`, {
        cause,
      });
    }
  }
  let guard: IdempotencyGuard | undefined;
  const build = queueProcessors(table, deps, () => (guard ??= (ingest as WorkerIngestDeps).idempotency(remainingTimeMs)));
  const now = deps.now ?? Date.now;
  const ready = new Map<string, () => Promise<ProcessorMap>>();
  const processorsOf = (queueId: string): Promise<ProcessorMap> => {
    let load = ready.get(queueId);
    if (!load) {
      load = once(async () => {
        const started = now();
        let processors: ProcessorMap;
        try {
          processors = await build(queueId);
        } catch (cause) {
          deps.logger.error('queue processors cannot be built: the invocation fails', {
            queue: queueId,
            error: cause instanceof Error ? cause.message : String(cause),
          });
          throw new WorkerConfigError(
            `the worker's processors for queue ${queueId} cannot be built: ${cause instanceof Error ? cause.message : String(cause)}`,
            { cause },
          );
        }
        const unprocessed = routesWithoutProcessor(
          routes.filter((r) => routeQueueId(r) === queueId).map((r) => r.id),
          processors,
        );
        deps.logger.info('queue ready', { queue: queueId, ms: now() - started });
        if (unprocessed.length)
          deps.logger.info('routes without a processor: their messages are parked no-processor', { queue: queueId, routes: unprocessed });
        return processors;
      });
      ready.set(queueId, load);
    }
    return load();
  };
  const batch = createBatchHandler({
    sqs: deps.sqs,
    dlqIndex: deps.dlqIndex,
    queues: targets,
    routes,
    processors: processorsOf,
    log: deps.logger,
    now,
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
  const secrets = awsSecretSource({ prefix: env.AMO_SECRETS_PREFIX ?? '' });
  const store = { doc, tableName };
  // Every flow below is a loader: the worker runs it at the first message of its queue, once per
  // container, so a cold start evaluates none of the flow modules. The loaders import only modules
  // free of the AWS SDK (lib/aws/hook-flows.ts, chat-processors.ts, … and the domain behind them;
  // test/layout.test.ts): a lazily imported module that reached an SDK package would make esbuild
  // keep that package whole and evaluate it at cold start. The DynamoDB stores are made here.
  // THE client runtime of the container (OAuth tokens, the shared rate budget, the 403 breaker,
  // the dictionary cache): one for every flow, built by the first flow that talks to amoCRM.
  const clients = lazyAmoClients({ config, ...store, secrets, log: logger, ...m });
  // The webhook flows: the config's rules (lib/rules), resolved against the dictionaries bundled
  // with the function; then the contact index's flow (lib/contacts) when the config has a `forms`
  // section; then the 1C deal export (config `onec.outbound`).
  const flows = async () => {
    const [{ rulesBaseDir, rulesFlows, withContactIndexFlow }, clientFor] = await Promise.all([
      import('./hook-flows.ts'),
      // The contact index's flow alone talks to DynamoDB only.
      config.rules || config.onec?.outbound ? clients() : undefined,
    ]);
    const rules = clientFor
      ? rulesFlows(config, { baseDir: rulesBaseDir(env), clientFor, state: new DynamoRulesState(store), ...m })
      : undefined;
    const hooks = withContactIndexFlow(config, new DynamoContactIndex(store), rules);
    if (!config.onec?.outbound || !clientFor) return hooks;
    const { withOnecExportFlow } = await import('./onec-parts.ts');
    return withOnecExportFlow({ config, secrets, flows: hooks, clientFor, ledger: new DynamoExportLedger(store), ...m });
  };
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
      ...(config.rules || config.forms || config.onec?.outbound ? { flows } : {}),
      ...(config.rdesk
        ? {
            rdesk: async () => ({ clientFor: await clients(), leadMap: new DynamoLeadMap(store), order: new DynamoPushOrder(store) }),
          }
        : {}),
      ...(config.forms
        ? {
            forms: async () => {
              const [{ createContactFinder }, clientFor] = await Promise.all([import('../contacts/finder.ts'), clients()]);
              const finder = createContactFinder({
                clientFor,
                index: new DynamoContactIndex(store),
                log: logger,
                defaultCountry: contactsCountry(config),
                ...m,
              });
              return { clientFor, finder, state: new DynamoFormsState(store) };
            },
          }
        : {}),
      ...(config.onec
        ? {
            onec: async () => {
              const [{ onecProcessors }, clientFor] = await Promise.all([import('./onec-parts.ts'), clients()]);
              const [requests, contactIndex] = [new DynamoOnecRequests(store), new DynamoContactIndex(store)];
              return onecProcessors({ config, secrets, requests, contactIndex, log: logger, clientFor, ...m });
            },
          }
        : {}),
      ...(config.chat?.messengers.length
        ? {
            chat: async () => {
              const [{ chatProcessors }, clientFor] = await Promise.all([import('./chat-processors.ts'), clients()]);
              return chatProcessors({
                config,
                secrets,
                clientFor,
                scopes: new DynamoScopeStore(store),
                conversations: new DynamoConversationStore(store),
                contactIndex: new DynamoContactIndex(store),
                log: logger,
                ...m,
              });
            },
          }
        : {}),
    },
    ...m,
  };
}
