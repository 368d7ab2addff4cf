/**
 * The OAuth parts from the Lambda environment, each function taking only what it runs (so its
 * bundle holds nothing more): functions/oauth.ts the install and the disconnect hook,
 * functions/token-refresh.ts the lifecycle with its schedule, the worker and the 1C managers call
 * the token provider (the refresh engine without the schedule). From the environment:
 * - `AMO_CONFIG_JSON` (or `AMO_CONFIG_FILE`): the config as the construct validated it at synth,
 *   read without zod (lib/config/deployed.ts); a caller that holds it already passes it;
 * - `TABLE_NAME`: the one DynamoDB table;
 * - `AMO_SECRETS_PREFIX` (optional): prefix of the Secrets Manager names (e.g. `amo-gateway/`).
 * SDK clients are made here, once per container.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError, readDeployedConfig } from '../config/deployed.ts';
import { OAuthDisconnect, OAuthInstall, TokenGrants, TokenSchedule, type OAuth, type OAuthDeps } from '../amocrm/oauth/index.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Log } from '../common/log.ts';
import { DynamoTokenStore } from '../store/token-store.ts';
import { awsSecretSource } from './secrets.ts';

/** The token lifecycle with its schedule (the scheduled refresh): its bundle leaves out the install, disconnect and provider code. */
export function lifecycleFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }): TokenSchedule {
  return new TokenSchedule(oauthDepsFromEnv(env, ports));
}

/** The install (code exchange) and the disconnect hook (functions/oauth.ts): their grant writes only, no refresh engine, schedule or token provider in that bundle. */
export function installFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }): Pick<OAuth, 'install' | 'disconnect'> {
  const deps = oauthDepsFromEnv(env, ports);
  const lifecycle = new TokenGrants(deps);
  return { install: new OAuthInstall(lifecycle, deps.store), disconnect: new OAuthDisconnect(lifecycle, deps.log) };
}

function oauthDepsFromEnv(env: NodeJS.ProcessEnv, ports: { log: Log; metrics: MetricsSink }): OAuthDeps {
  const config = readDeployedConfig(env);
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
