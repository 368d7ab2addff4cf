/**
 * Builds the OAuth engine from the Lambda environment (used by functions/oauth.ts,
 * functions/token-refresh.ts and, later, the worker's TokenProvider):
 * - `AMO_CONFIG_JSON` (or `AMO_CONFIG_FILE`): the config (lib/config), no secrets in it, validated at
 *   synth and read here without zod (lib/config/deployed.ts: the OAuth functions bundle no schema);
 *   the worker passes the config it has validated itself;
 * - `TABLE_NAME`: the one DynamoDB table;
 * - `AMO_SECRETS_PREFIX` (optional): prefix of the Secrets Manager names (e.g. `amo-gateway/`).
 * SDK clients are made here, once per container.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError, readDeployedConfig } from '../config/deployed.ts';
import type { Config } from '../config/schema.ts';
import { createOAuth, type OAuth } from '../amocrm/oauth/index.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Log } from '../common/log.ts';
import { DynamoTokenStore } from '../store/token-store.ts';
import { awsSecretSource } from './secrets.ts';

export function oauthFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }, validated?: Config): OAuth {
  const config = validated ?? readDeployedConfig(env);
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new ConfigError('TABLE_NAME is not set');
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  return createOAuth({
    config,
    store: new DynamoTokenStore({ doc, tableName }),
    secrets: awsSecretSource({ prefix: env.AMO_SECRETS_PREFIX ?? '' }),
    fetch: globalThis.fetch,
    log: ports.log,
    metrics: ports.metrics,
  });
}
