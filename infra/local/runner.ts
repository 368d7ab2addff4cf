/**
 * The whole gateway on one machine (docs/architecture.md#the-offline-world), as a programmatic API: `startLocal(opts)` starts
 * the stand-ins (fauxqs, dynalite), re-queues what the last run saved, wires every function,
 * starts a poller per queue and the schedule, then serves every route of the table over HTTP.
 * `stop()` is the graceful Ctrl-C path: stop taking requests, stop the schedule, finish in-flight
 * batches, stop the stand-ins (what is still queued is in the SQS journal already: a crash loses nothing either). `infra/local/main.ts` is the CLI.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FauxqsServer } from 'fauxqs';
import { resolve } from 'node:path';
import type { QueuesConfig } from '../../lib/aws/queues-config.ts';
import type { Random, BackoffPolicy } from '../../lib/pipeline/backoff.ts';
import { safeErrorDescription } from '../../lib/common/errors.ts';
import type { ProcessorMap } from '../../lib/pipeline/registry.ts';
import { DynamoDlqIndex } from '../../lib/store/dlq-index.ts';
import { releaseAbandonedClaims } from '../../lib/store/idempotency.ts';
import type { DlqIndex } from '../../lib/pipeline/dlq-index.ts';
import { routeTable as shippedTable, type FunctionDef, type RouteTable } from '../../lib/routes.ts';
import { prepareLocalAmo, SANDBOX_ACCOUNT, type LocalAmo, type LocalAmoOptions } from './amocrm.ts';
import { wireFunctions, type LocalFunctionDeps } from './functions.ts';
import { createConsole, CONSOLE_PATH } from './console/server.ts';
import { createGateway, HEALTH_PATH } from './http.ts';
import type { LocalInvoke } from './lambda.ts';
import { lockDataDir } from './lock.ts';
import { createLocalLog, type LocalLog } from './log.ts';
import { QueuePoller, type PollerStats } from './poller.ts';
import { Scheduler, type ScheduleStats } from './schedule.ts';
import { startDynamo, startSqs, type DynamoStandIn, type LocalQueue, type SqsStandIn } from './stand-ins.ts';

/**
 * An extra service started before the HTTP server and stopped after it, reported in /health
 * (e.g. the amoCRM + amojo sandbox from infra/local/sandbox).
 */
export interface LocalService {
  name: string;
  /** Resolves when ready; may give the URL it serves (offered to functions as `endpoints[name]`). */
  start(): Promise<void | { url?: string }>;
  stop(): Promise<void>;
  health?(): Promise<{ ok: boolean; [detail: string]: unknown }>;
}

export interface LocalOptions {
  /** HTTP port; 0 picks a free one (tests). Default: PORT or 3000. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Keep DynamoDB in memory and save no queues (throwaway runs). */
  memory?: boolean;
  /** Where persisted data lives (dynalite store, queue snapshot). Default `.local/`. */
  dataDir?: string;
  /** Route table; default the shipped one (tests pass their own, e.g. with function routes). */
  table?: RouteTable;
  /** Worker processors merged over the defaults (tests inject flows). */
  processors?: ProcessorMap;
  /** Replace a function's handler by id (tests). */
  functions?: Readonly<Record<string, LocalInvoke>>;
  /** Visibility timeout for every queue instead of the table's (tests use 1–2 s). */
  visibilityTimeoutSeconds?: number;
  /** Multiplies every schedule's period (0.001: 5 minutes → 300 ms). Default 1. */
  scheduleTimeScale?: number;
  /** Run the schedule. Default true. */
  schedule?: boolean;
  /** Start the pollers. Default true; false starts paused (startPollers() resumes). */
  pollers?: boolean;
  /** Long-poll wait of the pollers (s). Default 20. */
  pollWaitSeconds?: number;
  /**
   * Batches each queue's poller runs at once (Lambda runs several per queue): one number for every
   * queue, or per queue id (a queue not named gets 1). Default 1: readable logs, one batch at a time.
   */
  pollerConcurrency?: number | Readonly<Record<string, number>>;
  /** The worker's random source (tests: () => 0 makes every backoff 0 s). */
  random?: Random;
  retry?: Partial<BackoffPolicy>;
  /** No console output. */
  quiet?: boolean;
  /** Receives every log line. */
  logSink?: (line: string) => void;
  debug?: boolean;
  services?: readonly LocalService[];
  region?: string;
  tableName?: string;
  /** Extra deps for the function wiring (e.g. a token lifecycle); they win over the amoCRM wiring's. */
  functionDeps?: Partial<Pick<LocalFunctionDeps, 'tokenLifecycle'>>;
  /**
   * The amoCRM side (infra/local/amocrm.ts): the sandbox (or a real account's config), OAuth,
   * the webhook processor with idempotency and a recording bus, auto-connect, webhook
   * subscriptions. `npm start` turns it on; without it every queue route's messages are parked
   * `no-processor` (nothing acknowledges unprocessed).
   */
  amocrm?: LocalAmoOptions;
  /** The console's per-run form token (default: random at every start). */
  consoleToken?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'stopping';
  uptimeSeconds: number;
  parts: Record<string, { status: 'up' | 'down' | 'paused' | 'stopping'; [detail: string]: unknown }>;
}

export interface StopReport {
  /** Messages held at stop per physical queue name, kept in the journal for the next start (empty in memory mode). */
  saved: Record<string, number>;
  /** The journal, when it holds any. */
  file: string | undefined;
}

export interface LocalRunner {
  table: RouteTable;
  url: string;
  port: number;
  region: string;
  tableName: string;
  /** dataDir in persisted mode, undefined with `memory`. */
  dataDir: string | undefined;
  queues: Readonly<Record<string, LocalQueue>>;
  /** What `QUEUES` would hold in AWS. */
  queuesConfig: QueuesConfig;
  sqs: SQSClient;
  sqsEndpoint: string;
  ddb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  ddbEndpoint: string;
  dlqIndex: DlqIndex;
  /** The operator's console (`${url}/_console`, infra/local/console/). */
  consoleUrl: string;
  /** The amoCRM side when `amocrm` was given: config, OAuth, bus, metrics, sandbox. */
  amo: LocalAmo | undefined;
  fauxqs: FauxqsServer;
  functions: ReadonlyMap<string, { def: FunctionDef; handler: LocalInvoke }>;
  /** Restored from the previous run, per physical queue name. */
  restored: Record<string, number>;
  pollerStats(): Record<string, PollerStats>;
  scheduleStats(): Record<string, ScheduleStats>;
  startPollers(): void;
  /** Counts of a queue's messages (visible, delayed, in flight) and of its DLQ. */
  depth(queueId: string): { visible: number; delayed: number; inFlight: number; dlq: number };
  health(): Promise<HealthReport>;
  stop(): Promise<StopReport>;
}

export const DEFAULT_PORT = 3000;
export const DEFAULT_DATA_DIR = '.local';
export const LOCAL_TABLE_NAME = 'amo-gateway';

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

export async function startLocal(opts: LocalOptions = {}): Promise<LocalRunner> {
  const startedAt = Date.now();
  const table = opts.table ?? shippedTable;
  // Checked before anything starts (a bad figure must not leave a half-started runner behind).
  for (const n of typeof opts.pollerConcurrency === 'number' ? [opts.pollerConcurrency] : Object.values(opts.pollerConcurrency ?? {}))
    if (!Number.isInteger(n) || n < 1) throw new Error(`pollerConcurrency must be a positive whole number, got ${n}`);
  const region = opts.region ?? 'us-east-1';
  const tableName = opts.tableName ?? LOCAL_TABLE_NAME;
  const dataDir = opts.memory ? undefined : resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const log: LocalLog = createLocalLog({
    ...(opts.quiet !== undefined ? { quiet: opts.quiet } : {}),
    ...(opts.logSink ? { sink: opts.logSink } : {}),
    ...(opts.debug ? { debug: true } : {}),
  });
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };

  let dynamo: DynamoStandIn;
  let sqsStandIn: SqsStandIn;
  let abandonedClaims = 0;
  const amoWiring = opts.amocrm ? prepareLocalAmo(opts.amocrm, { dataDir, log, ...(opts.debug ? { debug: true } : {}) }) : undefined;
  const services: Array<{ service: LocalService; url?: string }> = [];
  try {
    if (dataDir) {
      const release = lockDataDir(dataDir);
      cleanups.push(async () => release());
    }
    dynamo = await startDynamo({ region, tableName, ...(dataDir ? { dir: resolve(dataDir, 'dynamodb') } : {}) });
    cleanups.push(() => dynamo.stop());
    // The data dir is locked: whoever held an idempotency claim in it is dead (the last run
    // crashed). Free those claims now rather than after their invocation's time would have run
    // out (up to the worker's 60 s), so the messages they held go through at once.
    if (dataDir) abandonedClaims = await releaseAbandonedClaims(dynamo.ddb, tableName);
    sqsStandIn = await startSqs(table, {
      region,
      ...(dataDir ? { journalDir: dataDir } : {}),
      ...(opts.visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds } : {}),
    });
    cleanups.push(() => sqsStandIn.stop());
    for (const service of [...(amoWiring?.services ?? []), ...(opts.services ?? [])]) {
      const r = await service.start();
      cleanups.push(() => service.stop());
      services.push({ service, ...(r && r.url ? { url: r.url } : {}) });
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  const queueList = Object.values(sqsStandIn.queues);
  const { sqs, fauxqs } = sqsStandIn;

  const restored: Record<string, number> = sqsStandIn.restore?.restored ?? {};
  if (sqsStandIn.restore?.orphanedFile)
    log.line('runner', 'messages of queues no longer in the route table were kept aside', { file: sqsStandIn.restore.orphanedFile });
  if (sqsStandIn.restore?.skipped)
    log.line('runner', 'journal lines that could not be read were skipped (a write cut by a crash is never one that was answered)', {
      lines: sqsStandIn.restore.skipped,
    });
  if (abandonedClaims) log.line('runner', 'idempotency claims of the last (crashed) run released', { claims: abandonedClaims });

  const queuesConfig: QueuesConfig = Object.fromEntries(queueList.map((q) => [q.id, { arn: q.arn, url: q.url, dlqUrl: q.dlqUrl }]));
  const dlqIndex = new DynamoDlqIndex({ doc: dynamo.doc, tableName, queueIds: table.queues.map((q) => q.id) });
  const endpoints: Record<string, string> = { sqs: sqsStandIn.endpoint, dynamodb: dynamo.endpoint };
  for (const s of services) if (s.url) endpoints[s.service.name] = s.url;

  // Filled once the functions are wired (below); the gateway and the scheduler read it per call.
  const functions = new Map<string, { def: FunctionDef; handler: LocalInvoke }>();
  const pollers = new Map<string, QueuePoller>();
  const scheduler = new Scheduler({ schedules: table.schedules, functions, timeScale: opts.scheduleTimeScale ?? 1, region, log });
  let stopping = false;
  const depth = (queueId: string) => {
    const q = sqsStandIn.queues[queueId];
    if (!q) throw new Error(`unknown queue "${queueId}"`);
    const main = fauxqs.inspectQueue(q.name);
    const dlq = fauxqs.inspectQueue(q.dlqName);
    const dlqCount = dlq ? dlq.messages.ready.length + dlq.messages.delayed.length + dlq.messages.inflight.length : 0;
    return {
      visible: main?.messages.ready.length ?? 0,
      delayed: main?.messages.delayed.length ?? 0,
      inFlight: main?.messages.inflight.length ?? 0,
      dlq: dlqCount,
    };
  };

  const health = async (): Promise<HealthReport> => {
    const parts: HealthReport['parts'] = { http: { status: stopping ? 'stopping' : 'up' } };
    try {
      await within(2000, sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'amo-gateway' })));
      parts.sqs = { status: 'up', endpoint: sqsStandIn.endpoint, queues: Object.fromEntries(queueList.map((q) => [q.id, depth(q.id)])) };
    } catch (e) {
      parts.sqs = { status: 'down', error: safeErrorDescription(e) };
    }
    try {
      await within(2000, dynamo.ddb.send(new DescribeTableCommand({ TableName: tableName })));
      parts.dynamodb = {
        status: 'up',
        endpoint: dynamo.endpoint,
        table: tableName,
        store: dataDir ? resolve(dataDir, 'dynamodb') : 'memory',
      };
    } catch (e) {
      parts.dynamodb = { status: 'down', error: safeErrorDescription(e) };
    }
    for (const [id, p] of pollers) {
      const s = p.stats;
      parts[`poller:${id}`] = { status: s.state === 'running' ? 'up' : s.state === 'idle' ? 'paused' : 'stopping', ...s };
    }
    parts.schedule = { status: opts.schedule === false ? 'paused' : 'up', schedules: scheduler.stats };
    const checks: Array<{ name: string; health?: () => Promise<{ ok: boolean; [detail: string]: unknown }> }> = services.map(
      ({ service }) => service,
    );
    if (amoWiring) checks.push({ name: 'amocrm', health: () => amoWiring.health() });
    for (const check of checks) {
      try {
        const h = check.health ? await within(2000, check.health()) : { ok: true };
        parts[check.name] = { ...h, status: h.ok ? 'up' : 'down' };
      } catch (e) {
        parts[check.name] = { status: 'down', error: safeErrorDescription(e) };
      }
    }
    const down = Object.values(parts).some((p) => p.status === 'down');
    return { status: stopping ? 'stopping' : down ? 'degraded' : 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), parts };
  };

  // The HTTP side listens BEFORE the functions are wired: the amoCRM wiring needs the runner's
  // own URL (the OAuth redirect URI, the webhook destination). Queue routes work at once (the
  // queues exist); function routes wait for `ready`. Nobody knows the URL before startLocal
  // returns unless the port is fixed, so the wait is at most this start's wiring.
  let markReady!: () => void;
  let markFailed!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => {
    markReady = res;
    markFailed = rej;
  });
  ready.catch(() => undefined);
  let amo: LocalAmo | undefined;
  let runnerUrl = '';
  const operatorConsole = createConsole({
    table,
    url: () => runnerUrl,
    queues: sqsStandIn.queues,
    depth,
    fauxqs,
    dlqIndex,
    amo: () => amo,
    doc: dynamo.doc,
    tableName,
    sqs,
    log,
    ...(opts.consoleToken ? { csrfToken: opts.consoleToken } : {}),
  });
  // The edge's API keys come from the amoCRM wiring once it is up (none before: 403, as without a key).
  let edgeApiKeys: (() => Promise<ReadonlySet<string>>) | undefined;
  const gateway = createGateway({
    edgeApiKeys: () => (edgeApiKeys ? edgeApiKeys() : Promise.resolve(new Set<string>())),
    table,
    sqs,
    queues: sqsStandIn.queues,
    functions,
    ready,
    region,
    log,
    health: async () => {
      const h = await health();
      return { status: h.status === 'ok' ? 200 : 503, body: h };
    },
    console: operatorConsole,
  });
  const host = opts.host ?? '127.0.0.1';
  let port: number;
  try {
    port = await gateway.listen(opts.port ?? (process.env.PORT ? Number(process.env.PORT) : DEFAULT_PORT), host);
  } catch (e) {
    await cleanup();
    throw e;
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  runnerUrl = url;
  try {
    let amoDeps: Partial<Pick<LocalFunctionDeps, 'ingest' | 'oauth' | 'tokenLifecycle' | 'metrics' | 'clientFor'>> = {};
    if (amoWiring) {
      const w = await amoWiring.wire({ url, ddb: dynamo.ddb, doc: dynamo.doc, tableName });
      amo = w.amo;
      edgeApiKeys = w.amo.edgeApiKeys;
      amoDeps = { ingest: w.ingest, oauth: w.amo.oauth, tokenLifecycle: w.amo.oauth.lifecycle, metrics: w.amo.metrics };
      if (w.clientFor) amoDeps.clientFor = w.clientFor;
    }
    const wired = wireFunctions({
      table,
      region,
      sqs,
      ddb: dynamo.ddb,
      doc: dynamo.doc,
      tableName,
      queues: queuesConfig,
      dlqIndex,
      log,
      endpoints,
      ...(opts.processors ? { processors: opts.processors } : {}),
      ...(opts.random ? { random: opts.random } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...amoDeps,
      ...opts.functionDeps,
    });
    for (const def of table.functions) {
      const handler = opts.functions?.[def.id] ?? wired[def.id];
      if (handler) functions.set(def.id, { def, handler });
      else log.pipeline('runner').warn('function has no local wiring (add it to infra/local/functions.ts)', { function: def.id });
    }
    markReady();
  } catch (e) {
    markFailed(e);
    await gateway.close();
    await cleanup();
    throw e;
  }

  for (const q of queueList) {
    const fn = functions.get(q.def.consumer);
    if (!fn) continue;
    pollers.set(
      q.id,
      new QueuePoller({
        sqs,
        queue: q,
        fn: fn.def,
        handler: fn.handler,
        region,
        log,
        ...(opts.pollWaitSeconds !== undefined ? { waitSeconds: opts.pollWaitSeconds } : {}),
        concurrency: typeof opts.pollerConcurrency === 'number' ? opts.pollerConcurrency : (opts.pollerConcurrency?.[q.id] ?? 1),
      }),
    );
  }
  const startPollers = () => {
    for (const p of pollers.values()) p.start();
  };
  if (opts.pollers !== false) startPollers();

  if (opts.schedule !== false) scheduler.start();

  let stopped: Promise<StopReport> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      // 1. No new work: close the HTTP side (requests in progress finish) and the schedule.
      await gateway.close();
      await scheduler.stop();
      // 2. Finish the batches in flight (their deletes, re-sends and parks land in fauxqs).
      await Promise.all([...pollers.values()].map((p) => p.drain()));
      // 3. What is still held is in the journal already (every change was on disk before it was
      //    answered); report it, then release pending long polls (reset cancels them, and does
      //    not go through the journal: the next start re-queues all of it).
      let report: StopReport = { saved: {}, file: undefined };
      const journal = sqsStandIn.journal;
      if (journal) {
        const saved = journal.counts();
        report = { saved, file: Object.keys(saved).length ? journal.file : undefined };
      }
      fauxqs.reset();
      await Promise.all([...pollers.values()].map((p) => p.join()));
      // 4. The stand-ins and extra services.
      await cleanup();
      return report;
    })());

  // The amoCRM world once everything is wired: connect the account (a real round trip through
  // our own /oauth/callback) and subscribe its webhooks to our hook route.
  if (amoWiring) {
    try {
      const c = await amoWiring.connect();
      if (c.connected !== 'skipped')
        log.line(
          'amocrm',
          c.connected === 'now' ? 'sandbox account connected (install flow through /oauth/callback)' : 'sandbox account already connected',
          { account: SANDBOX_ACCOUNT, webhooks: c.subscribed ? 'subscribed' : 'not subscribed' },
        );
    } catch (e) {
      await stop();
      throw e;
    }
  }

  log.line('runner', `ready in ${Date.now() - startedAt} ms`, { url, health: `${url}${HEALTH_PATH}` });
  return {
    table,
    url,
    consoleUrl: `${url}${CONSOLE_PATH}`,
    port,
    region,
    tableName,
    dataDir,
    queues: sqsStandIn.queues,
    queuesConfig,
    sqs,
    sqsEndpoint: sqsStandIn.endpoint,
    ddb: dynamo.ddb,
    doc: dynamo.doc,
    ddbEndpoint: dynamo.endpoint,
    dlqIndex,
    amo,
    fauxqs,
    functions,
    restored,
    pollerStats: () => Object.fromEntries([...pollers].map(([id, p]) => [id, { ...p.stats }])),
    scheduleStats: () => structuredClone(scheduler.stats),
    startPollers,
    depth,
    health,
    stop,
  };
}
