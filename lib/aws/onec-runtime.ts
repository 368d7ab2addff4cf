/**
 * The 1C exchange's wiring (lib/flows/onec/README.md), shared by the `onec` function, the worker
 * and the local runner:
 * - the function: an API Gateway proxy event → handleOnec → the answer; accepted requests go to the
 *   `onec` queue as an envelope of route `onec` (body: the job, JSON);
 * - the worker: the `onec` route's processor (catalog and corp operations) and the `onec-export`
 *   flow on lead status events (the deal export), over the container's REST client runtime.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Log } from '../common/log.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import { ENVELOPE_VERSION, envelopeMessageBody, type Envelope } from '../envelope.ts';
import { managers } from '../flows/onec/corp.ts';
import { handleOnec, type OnecRoute } from '../flows/onec/ingress.ts';
import type { OnecJob, OnecRequestStore } from '../flows/onec/job.ts';
import { ONEC_ROUTE } from '../flows/onec/processor.ts';
import type { ExportLedger } from '../flows/onec/export.ts';
import type { FlowRegistry } from '../ingest/flows.ts';
import type { ProcessorMap } from '../pipeline/registry.ts';
import { DynamoExportLedger, DynamoOnecRequests } from '../store/onec.ts';
import { DynamoContactIndex } from '../store/contact-index.ts';
import { onecParts } from './onec-parts.ts';
import { readDeployedConfig } from '../config/deployed.ts';
import { ConfigError } from '../config/deployed.ts';
import { lazyAmoClients } from './lazy-clients.ts';
import { parseQueuesConfig } from './queues-config.ts';
import { awsSecretSource } from './secrets.ts';

export const ONEC_QUEUE = 'onec';

export interface OnecHttpDeps {
  config: Config;
  secrets: SecretSource;
  requests: OnecRequestStore;
  /** Puts one job on the `onec` queue. */
  enqueue(job: OnecJob): Promise<void>;
  /** The account's REST client (the managers call); the deployed function builds it at the first call. */
  clientFor?: (accountId: string) => AmoClientForAccount | Promise<AmoClientForAccount>;
  log: Log;
  metrics?: MetricsSink;
}

/** The job as the envelope the worker reads (route `onec`, JSON body). */
export function jobEnvelope(job: OnecJob, sourceIp: string): Envelope {
  return {
    v: ENVELOPE_VERSION,
    route: ONEC_ROUTE,
    params: {},
    query: {},
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(job)).toString('base64'),
    receivedAt: job.receivedAt,
    requestId: job.id,
    sourceIp,
  };
}

export function sqsEnqueue(sqs: SQSClient, queueUrl: string): (job: OnecJob) => Promise<void> {
  return async (job) => {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelopeMessageBody(jobEnvelope(job, '')) }));
  };
}

function routeOf(event: APIGatewayProxyEvent): OnecRoute | undefined {
  const path = (event.path ?? '').replace(/\/+$/, '');
  const params = event.pathParameters ?? {};
  if (event.httpMethod === 'GET' && path.endsWith('/1c/managers')) return { kind: 'managers' };
  if (event.httpMethod === 'GET' && params.request_id) return { kind: 'status', id: params.request_id };
  if (event.httpMethod === 'POST' && params.op) return { kind: 'operation', op: params.op };
  return undefined;
}

const answer = (status: number, body: unknown): APIGatewayProxyResult => ({
  statusCode: status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/** The `onec` function's handler. */
export function createOnecHttpHandler(deps: OnecHttpDeps) {
  const handle = onecRequestHandler(deps);
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      return await handle(event);
    } finally {
      // The managers call's AmoCalls, summed per invocation (lib/common/metrics-sink.ts).
      deps.metrics?.flush?.();
    }
  };
}

function onecRequestHandler(deps: OnecHttpDeps) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const cfg = deps.config.onec;
    if (!cfg) return answer(404, { error: 'not_configured', message: 'this deployment has no onec section' });
    const route = routeOf(event);
    if (!route) return answer(404, { error: 'not_found', message: 'no such 1C route' });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined && v !== null) headers[k.toLowerCase()] = v;
    const body = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
    const corp = cfg.corp;
    const clientFor = deps.clientFor;
    try {
      const a = await handleOnec(
        route,
        { headers, body },
        {
          config: cfg,
          secrets: deps.secrets,
          requests: deps.requests,
          enqueue: deps.enqueue,
          ...(corp && clientFor ? { managers: async () => managers(await clientFor(corp.account), corp) } : {}),
          ...(deps.metrics ? { metrics: deps.metrics } : {}),
        },
      );
      if (a.status === 202)
        deps.log.info('onec: request queued', { route: route.kind, id: (a.body as { request_id?: string }).request_id ?? null });
      else if (a.status >= 400) deps.log.warn('onec: request refused', { route: route.kind, status: a.status });
      return answer(a.status, a.body);
    } catch (e) {
      deps.log.error('onec: request failed', { route: route.kind, error: e instanceof Error ? e.name : 'error' });
      return answer(503, { error: 'unavailable', message: 'try again later' });
    }
  };
}

/** The worker's 1C parts on the one table: the `onec` processor and the export flow (added to `flows`): lib/aws/onec-parts.ts. */
export function onecWorkerParts(a: {
  config: Config;
  secrets: SecretSource;
  doc: DynamoDBDocumentClient;
  tableName: string;
  clientFor: (accountId: string) => AmoClientForAccount;
  log: Log;
  metrics?: MetricsSink;
  fetch?: typeof fetch;
  ledger?: ExportLedger;
  flows?: FlowRegistry | undefined;
}): { processors: ProcessorMap; flows: FlowRegistry | undefined } {
  const store = { doc: a.doc, tableName: a.tableName };
  return onecParts({
    ...a,
    requests: new DynamoOnecRequests(store),
    contactIndex: new DynamoContactIndex(store),
    ledger: a.ledger ?? new DynamoExportLedger(store),
  });
}

/** The `onec` function's dependencies from the Lambda environment (TABLE_NAME, QUEUES, AMO_CONFIG_JSON, AMO_SECRETS_PREFIX). */
export function onecHttpFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }): OnecHttpDeps {
  const config = readDeployedConfig(env);
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new ConfigError('TABLE_NAME is not set');
  const queue = parseQueuesConfig(env.QUEUES)[ONEC_QUEUE];
  if (!queue) throw new ConfigError(`QUEUES lacks the ${ONEC_QUEUE} queue`);
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  const secrets = awsSecretSource({ prefix: env.AMO_SECRETS_PREFIX ?? '' });
  // The managers list reads the corp account's users: the container's client runtime, built (and
  // its code loaded) at the first managers call only, the one route that talks to amoCRM.
  const clients = lazyAmoClients({ config, doc, tableName, secrets, log: ports.log, metrics: ports.metrics });
  const clientFor = async (id: string) => (await clients())(id);
  return {
    config,
    secrets,
    requests: new DynamoOnecRequests({ doc, tableName }),
    enqueue: sqsEnqueue(new SQSClient({}), queue.url),
    clientFor,
    log: ports.log,
    metrics: ports.metrics,
  };
}
