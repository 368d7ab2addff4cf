/**
 * The wiring of every function of the route table for the local runner: ONE place where each
 * function's `createHandler(deps)` is called with local endpoints and clients.
 *
 * - `worker`: the pipeline; with `ingest` (the amoCRM side, infra/local/amocrm.ts) the real
 *   webhook processor, idempotency, the recording bus and the mirror; a route without a processor
 *   is parked `no-processor`, never acknowledged.
 * - `oauth`: the OAuth callback and disconnect hook, when an OAuth engine is given (the runner's
 *   amoCRM wiring); without one the routes answer 503 (nothing configured to install).
 * - `token-refresh`: the real lifecycle's schedule when given; otherwise no accounts to check.
 * - `forms`: the site-form ingress with the runner's SQS client (the forms queue's URL), the
 *   throttle on the local table and the amoCRM side's config and secrets; without them (no
 *   amoCRM configured) no form exists and every form id is 404.
 */
import { DynamoFifoLedger } from '../../lib/store/fifo-ledger.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, SQSEvent } from 'aws-lambda';
import { createHandler as createFormsHandler } from '../../functions/forms.ts';
import { createHandler as createOAuthHandler } from '../../functions/oauth.ts';
import { createHandler as createTokenRefresh, type TokenRefreshDeps } from '../../functions/token-refresh.ts';
import { createHandler as createWorker, type WorkerIngestDeps } from '../../functions/worker.ts';
import type { OAuth } from '../../lib/amocrm/oauth/index.ts';
import { findFormsRoute, sqsSubmissionQueue, type FormsRoute } from '../../lib/aws/forms-runtime.ts';
import type { QueuesConfig } from '../../lib/aws/queues-config.ts';
import { staticSecretSource } from '../../lib/config/secrets.ts';
import { DynamoFormThrottle } from '../../lib/store/form-throttle.ts';
import type { MetricsSink } from '../../lib/common/metrics-sink.ts';
import type { Random, BackoffPolicy } from '../../lib/pipeline/backoff.ts';
import type { ProcessorMap } from '../../lib/pipeline/registry.ts';
import type { DlqIndex } from '../../lib/pipeline/dlq-index.ts';
import type { RouteTable } from '../../lib/routes.ts';
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
  retry?: Partial<BackoffPolicy>;
  /** The worker's amoCRM side (config, secrets, idempotency, bus, flows). */
  ingest?: WorkerIngestDeps;
  /** The OAuth engine behind `/oauth/callback` and `/oauth/disconnect`. */
  oauth?: Pick<OAuth, 'install' | 'disconnect'>;
  /** The token lifecycle token-refresh runs (without it the runner knows no accounts). */
  tokenLifecycle?: TokenRefreshDeps['lifecycle'];
  /** Where the worker counts (WebhookBadToken, Parked, …). */
  metrics?: MetricsSink;
}

/** No accounts configured locally: every scheduled run checks nothing. */
const noAccounts: TokenRefreshDeps['lifecycle'] = { refreshDue: async () => [] };

/** Without an OAuth engine (no amoCRM configured) the OAuth routes say so instead of failing. */
const notConfigured = async (): Promise<APIGatewayProxyResult> => ({
  statusCode: 503,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify({
    error: 'not_configured',
    message: 'no amoCRM integration is configured in this runner (start it with the sandbox or --no-sandbox and a config)',
  }),
});

/** The forms ingress on the runner's clients; the config and secrets are the amoCRM side's. */
function wireForms(d: LocalFunctionDeps, route: FormsRoute): LocalInvoke {
  const url = d.queues[route.queue]?.url;
  return asInvoke<APIGatewayProxyEvent>(
    createFormsHandler({
      forms: d.ingest?.config.forms,
      secrets: d.ingest?.secrets ?? staticSecretSource({}),
      throttle: new DynamoFormThrottle({ doc: d.doc, tableName: d.tableName }),
      queue: url
        ? sqsSubmissionQueue(d.sqs, url)
        : {
            send: async () => {
              throw new Error(`queue "${route.queue}" is not running`);
            },
          },
      route: { id: route.id, bodyLimitBytes: route.bodyLimitBytes },
      log: d.log.pipeline('forms'),
      ...(d.metrics ? { metrics: d.metrics } : {}),
    }),
  );
}

export function wireFunctions(d: LocalFunctionDeps): Record<string, LocalInvoke> {
  const forms = findFormsRoute(d.table);
  return {
    ...(forms ? { forms: wireForms(d, forms) } : {}),
    worker: asInvoke<SQSEvent>(
      createWorker({
        sqs: d.sqs,
        dlqIndex: d.dlqIndex,
        // Retries and deferrals of FIFO messages, counted apart (lib/pipeline/fifo-ledger.ts).
        fifoLedger: new DynamoFifoLedger({ doc: d.doc, tableName: d.tableName }),
        queues: d.queues,
        logger: d.log.pipeline('worker'),
        table: d.table,
        ...(d.processors ? { processors: d.processors } : {}),
        ...(d.random ? { random: d.random } : {}),
        ...(d.retry ? { retry: d.retry } : {}),
        ...(d.ingest ? { ingest: d.ingest } : {}),
        ...(d.metrics ? { metrics: d.metrics } : {}),
      }),
    ),
    oauth: asInvoke<APIGatewayProxyEvent>(
      d.oauth
        ? createOAuthHandler({ install: d.oauth.install, disconnect: d.oauth.disconnect, log: d.log.pipeline('oauth') })
        : notConfigured,
    ),
    'token-refresh': asInvoke(createTokenRefresh({ lifecycle: d.tokenLifecycle ?? noAccounts, log: d.log.pipeline('token-refresh') })),
  };
}
