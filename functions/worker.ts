/**
 * The SQS worker: envelope → route processor → ok / defer / retry / park (DESIGN §3a).
 * Thin on purpose: the pipeline is lib/pipeline, the SQS side lib/aws/sqs-batch.ts.
 *
 * AWS environment: TABLE_NAME, QUEUES (JSON Record<queueId, {arn, url, dlqUrl}>). SDK clients are
 * made once per container at cold start; `createHandler(deps)` takes them explicitly (tests and
 * the local runner pass their own).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { routeTable as shippedTable, type RouteTable } from '../infra/routes.ts';
import type { QueueTarget } from '../lib/aws/actions.ts';
import { parseQueuesConfig, WorkerConfigError, type QueuesConfig } from '../lib/aws/queues-config.ts';
import { createBatchHandler } from '../lib/aws/sqs-batch.ts';
import { DEFAULT_RETRY_POLICY, type Random, type RetryPolicy } from '../lib/pipeline/backoff.ts';
import type { PipelineLog } from '../lib/pipeline/log.ts';
import { buildProcessorMap, type ProcessorMap, type RoutePolicy } from '../lib/pipeline/registry.ts';
import { DynamoDlqIndex, type DlqIndex } from '../lib/store/dlq-index.ts';

export const WORKER_FUNCTION_ID = 'worker';

export interface WorkerDeps {
  sqs: SQSClient;
  dlqIndex: DlqIndex;
  /** The queues this function consumes, by id (the `QUEUES` variable in AWS). */
  queues: QueuesConfig;
  logger: PipelineLog;
  /** The route table (default: the shipped one). */
  table?: RouteTable;
  /** Merged over the default processor of every route; an explicit undefined removes one. */
  processors?: ProcessorMap;
  now?: () => number;
  random?: Random;
  retry?: Partial<RetryPolicy>;
}

/** Route table + QUEUES → what the batch loop needs. Throws WorkerConfigError on a gap. */
export function workerTargets(table: RouteTable, queues: QueuesConfig): { targets: QueueTarget[]; routes: RoutePolicy[] } {
  const mine = table.queues.filter((q) => q.consumer === WORKER_FUNCTION_ID);
  const missing = mine.filter((q) => !queues[q.id]).map((q) => q.id);
  if (missing.length) throw new WorkerConfigError(`QUEUES lacks the queue(s) the worker consumes: ${missing.join(', ')}`);
  const targets = mine.map((q) => {
    const ep = queues[q.id] as QueuesConfig[string];
    return { id: q.id, arn: ep.arn, url: ep.url, dlqUrl: ep.dlqUrl, fifo: q.fifo, maxAttempts: q.maxAttempts, retentionDays: q.retentionDays };
  });
  const routes = table.routes.map((r) => ({ id: r.id, bodyLimitBytes: r.bodyLimitBytes, queueId: r.target.kind === 'queue' ? r.target.queue : undefined }));
  return { targets, routes };
}

export function createHandler(deps: WorkerDeps) {
  const table = deps.table ?? shippedTable;
  const { targets, routes } = workerTargets(table, deps.queues);
  const batch = createBatchHandler({
    sqs: deps.sqs,
    dlqIndex: deps.dlqIndex,
    queues: targets,
    routes,
    processors: buildProcessorMap(table.routes.map((r) => r.id), deps.processors),
    log: deps.logger,
    now: deps.now ?? Date.now,
    random: deps.random ?? Math.random,
    policy: { ...DEFAULT_RETRY_POLICY, ...deps.retry },
  });
  return middy<SQSEvent, SQSBatchResponse, Error, Context>().handler(async (event) => batch(event));
}

/** Clients and config from the Lambda environment; throws WorkerConfigError when it is incomplete. */
export function depsFromEnv(env: NodeJS.ProcessEnv, logger: PipelineLog): WorkerDeps {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new WorkerConfigError('TABLE_NAME is not set');
  const queues = parseQueuesConfig(env.QUEUES);
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  return {
    sqs: new SQSClient({}),
    dlqIndex: new DynamoDlqIndex({ doc: ddb, tableName, queueIds: Object.keys(queues) }),
    queues,
    logger,
  };
}

const logger = new Logger({ serviceName: 'amo-gateway-worker' });

/** Powertools Logger behind the pipeline's port (structured JSON lines in CloudWatch). */
export function powertoolsLog(l: Logger): PipelineLog {
  return {
    debug: (m, a) => l.debug(m, a ?? {}),
    info: (m, a) => l.info(m, a ?? {}),
    warn: (m, a) => l.warn(m, a ?? {}),
    error: (m, a) => l.error(m, a ?? {}),
  };
}

function fromEnv() {
  try {
    return createHandler(depsFromEnv(process.env, powertoolsLog(logger))).use(injectLambdaContext(logger));
  } catch (e) {
    // Importing this module must not throw (the local runner and tests import createHandler);
    // a misconfigured function fails every invocation with the reason instead.
    const reason = e;
    return async (): Promise<SQSBatchResponse> => {
      throw reason;
    };
  }
}

export const handler = fromEnv();
