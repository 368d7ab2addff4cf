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
import { createOAuth, OAuthDisconnect, OAuthInstall, TokenLifecycle, type OAuth, type OAuthDeps } from '../amocrm/oauth/index.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Log } from '../common/log.ts';
import { DynamoTokenStore } from '../store/token-store.ts';
import { awsSecretSource } from './secrets.ts';

export function oauthFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }, validated?: Config): OAuth {
  return createOAuth(oauthDepsFromEnv(env, ports, validated));
}

/** The token lifecycle alone (the scheduled refresh): its bundle leaves out the install, disconnect and provider code. */
export function lifecycleFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }): TokenLifecycle {
  return new TokenLifecycle(oauthDepsFromEnv(env, ports));
}

/** The install (code exchange) and the disconnect hook (functions/oauth.ts): no token provider in that bundle. */
export function installFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }): Pick<OAuth, 'install' | 'disconnect'> {
  const deps = oauthDepsFromEnv(env, ports);
  const lifecycle = new TokenLifecycle(deps);
  return { install: new OAuthInstall(lifecycle, deps.store), disconnect: new OAuthDisconnect(lifecycle, deps.log) };
}

function oauthDepsFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }, validated?: Config): OAuthDeps {
  const config = validated ?? readDeployedConfig(env);
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new ConfigError('TABLE_NAME is not set');
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  return {
    config,
    store: new DynamoTokenStore({ doc, tableName }),
    secrets: awsSecretSource({ prefix: env.AMO_SECRETS_PREFIX ?? '' }),
    fetch: globalThis.fetch,
    log: ports.log,
    metrics: ports.metrics,
  };
}
