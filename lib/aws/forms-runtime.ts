/**
 * The forms function's wiring in AWS (functions/forms.ts): clients made once per container, outside
 * the handler —
 * - SQS: the forms queue's URL from `QUEUES` (the same JSON the worker reads);
 * - DynamoDB: the per-IP throttle's counters in `TABLE_NAME` (lib/store/form-throttle.ts);
 * - Secrets Manager: the forms' keys under `AMO_SECRETS_PREFIX`;
 * - the config's `forms` section from `AMO_CONFIG_JSON` / `AMO_CONFIG_FILE`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Log } from '../common/log.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import { ConfigError, readDeployedConfig } from '../config/deployed.ts';
import { envelopeMessageBody } from '../envelope.ts';
import type { SubmissionQueue, FormsIngressDeps } from '../flows/forms/ingress/ingress.ts';
import { routeTable, type RouteTable } from '../routes.ts';
import { DynamoFormThrottle } from '../store/form-throttle.ts';
import { parseQueuesConfig } from './queues-config.ts';
import { awsSecretSource } from './secrets.ts';

/** The function id of the forms ingress in the route table. */
export const FORMS_FUNCTION_ID = 'forms';

/** A queue send that gives up after this long: the sender is answered 503 and retries. */
export const ENQUEUE_TIMEOUT_MS = 5000;

export interface FormsRoute {
  id: string;
  bodyLimitBytes: number;
  queue: string;
}

/** The POST route the function serves and the queue it feeds (lib/routes.ts); undefined when the table has none. */
export function findFormsRoute(table: RouteTable = routeTable): FormsRoute | undefined {
  const r = table.routes.find((x) => x.method === 'POST' && x.target.kind === 'function' && x.target.function === FORMS_FUNCTION_ID);
  if (!r || r.target.kind !== 'function' || !r.target.queue) return undefined;
  return { id: r.id, bodyLimitBytes: r.bodyLimitBytes, queue: r.target.queue };
}

export function formsRoute(table: RouteTable = routeTable): FormsRoute {
  const r = findFormsRoute(table);
  if (!r) throw new ConfigError(`the route table has no POST route to function "${FORMS_FUNCTION_ID}" feeding a queue`);
  return r;
}

/** SendMessage of the envelope's JSON to `queueUrl`, given up after ENQUEUE_TIMEOUT_MS. */
export function sqsSubmissionQueue(sqs: SQSClient, queueUrl: string): SubmissionQueue {
  return {
    async send(envelope) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelopeMessageBody(envelope) }), {
        abortSignal: AbortSignal.timeout(ENQUEUE_TIMEOUT_MS),
      });
    },
  };
}

export function formsDepsFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }): FormsIngressDeps {
  const config = readDeployedConfig(env);
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new ConfigError('TABLE_NAME is not set');
  const route = formsRoute();
  const queueUrl = parseQueuesConfig(env.QUEUES)[route.queue]?.url;
  if (!queueUrl) throw new ConfigError(`QUEUES has no "${route.queue}" queue`);
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  return {
    forms: config.forms,
    secrets: awsSecretSource({ prefix: env.AMO_SECRETS_PREFIX ?? '' }),
    throttle: new DynamoFormThrottle({ doc, tableName }),
    queue: sqsSubmissionQueue(new SQSClient({}), queueUrl),
    route: { id: route.id, bodyLimitBytes: route.bodyLimitBytes },
    log: ports.log,
    metrics: ports.metrics,
  };
}
