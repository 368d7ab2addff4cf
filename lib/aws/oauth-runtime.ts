/**
 * Builds the OAuth engine from the Lambda environment (used by functions/oauth.ts,
 * functions/token-refresh.ts and, later, the worker's TokenProvider):
 * - `AMO_CONFIG_JSON` (or `AMO_CONFIG_FILE`): the config (lib/config), no secrets in it;
 * - `TABLE_NAME`: the one DynamoDB table;
 * - `AMO_SECRETS_PREFIX` (optional): prefix of the Secrets Manager names (e.g. `amo-gateway/`).
 * SDK clients are made here, once per container.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError, loadConfigFromEnv } from '../config/load.ts';
import { createOAuth, type MetricsSink, type OAuth, type OAuthLog } from '../amocrm/oauth/index.ts';
import { DynamoTokenStore } from '../store/token-store.ts';
import { awsSecretSource } from './secrets.ts';

export function oauthFromEnv(env: NodeJS.ProcessEnv, ports: { log: OAuthLog; metrics: MetricsSink }): OAuth {
  const config = loadConfigFromEnv(env);
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

/** Powertools Logger (or anything with the same methods) behind the OAuthLog port. */
export function loggerAsOAuthLog(l: { info(m: string, a: Record<string, unknown>): void; warn(m: string, a: Record<string, unknown>): void; error(m: string, a: Record<string, unknown>): void }): OAuthLog {
  return { info: (m, a) => l.info(m, a ?? {}), warn: (m, a) => l.warn(m, a ?? {}), error: (m, a) => l.error(m, a ?? {}) };
}
