/**
 * The wiring of every function of the route table for the local runner: ONE place where each
 * function's `createHandler(deps)` is called with local endpoints and clients. The owner of a
 * function extends its entry here when its deps grow (e.g. token-refresh will take a token store
 * and the sandbox's URL).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { createHandler as createTokenRefresh, type TokenRefreshDeps } from '../../functions/token-refresh.ts';
import { createHandler as createWorker } from '../../functions/worker.ts';
import type { QueuesConfig } from '../../lib/aws/queues-config.ts';
import type { Random, RetryPolicy } from '../../lib/pipeline/backoff.ts';
import type { ProcessorMap } from '../../lib/pipeline/registry.ts';
import type { DlqIndex } from '../../lib/store/dlq-index.ts';
import type { RouteTable } from '../routes.ts';
import { asInvoke, type LocalInvoke } from './lambda.ts';
import type { LocalLog } from './log.ts';

export interface LocalFunctionDeps {
  table: RouteTable;
  region: string;
  sqs: SQSClient;
  ddb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** What `QUEUES` holds in AWS. */
  queues: QueuesConfig;
  dlqIndex: DlqIndex;
  log: LocalLog;
  /** Endpoints of the stand-ins and extra services (e.g. `sandbox`), by name. */
  endpoints: Readonly<Record<string, string>>;
  processors?: ProcessorMap;
  random?: Random;
  retry?: Partial<RetryPolicy>;
  /**
   * The token lifecycle token-refresh runs. Until the local config and secrets are wired (owner of
   * token-refresh: build it here from `doc`/`tableName` and `endpoints.sandbox`), the runner
   * knows no accounts, so the scheduled run refreshes nothing.
   */
  tokenLifecycle?: TokenRefreshDeps['lifecycle'];
}

/** No accounts configured locally: every scheduled run checks nothing. */
const noAccounts: TokenRefreshDeps['lifecycle'] = { refreshDue: async () => [] };

export function wireFunctions(d: LocalFunctionDeps): Record<string, LocalInvoke> {
  return {
    worker: asInvoke<SQSEvent>(
      createWorker({
        sqs: d.sqs,
        dlqIndex: d.dlqIndex,
        queues: d.queues,
        logger: d.log.pipeline('worker'),
        table: d.table,
        ...(d.processors ? { processors: d.processors } : {}),
        ...(d.random ? { random: d.random } : {}),
        ...(d.retry ? { retry: d.retry } : {}),
      }),
    ),
    'token-refresh': asInvoke(createTokenRefresh({ lifecycle: d.tokenLifecycle ?? noAccounts, log: d.log.pipeline('token-refresh') })),
  };
}
