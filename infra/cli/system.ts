/**
 * A command's way to the gateway's table, config, OAuth and secrets, from THE target
 * (target.ts): the config file (the target's, else `AMO_CONFIG_JSON` or ./amo.config.json), the
 * DynamoDB table (a stand-in via its endpoint, or AWS with the usual credentials), the secrets
 * (local env/file, or Secrets Manager). What is missing is an error that says which flag to pass.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { existsSync } from 'node:fs';
import { createOAuth, type OAuth } from '../../lib/amocrm/oauth/index.ts';
import { awsSecretSource } from '../../lib/aws/secrets.ts';
import { loadConfigFile, parseConfig, type Config } from '../../lib/config/index.ts';
import { localSecretSource, type SecretSource } from '../../lib/config/secrets.ts';
import { DynamoTokenStore } from '../../lib/store/token-store.ts';
import { CliError, type CliIO, type OptionValues } from './command.ts';
import { openTable, resolveTarget, type Target } from './target.ts';
import { str } from './format.ts';

export interface System {
  config: Config;
  oauth: OAuth;
  /** e.g. "table amo-gateway at http://127.0.0.1:8000" — for messages. */
  target: string;
  /** The table's document client and name (commands that use other stores of the one table). */
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** The target's secrets (local file/env or Secrets Manager), for commands that need one (chat: the channel secret). */
  secrets: SecretSource;
  close(): void;
}

export function loadCliConfig(t: Pick<Target, 'configFile'>, io: CliIO): Config {
  if (t.configFile) return loadConfigFile(t.configFile);
  const json = io.env.AMO_CONFIG_JSON;
  if (json) return parseConfig(JSON.parse(json), 'AMO_CONFIG_JSON');
  if (existsSync('amo.config.json')) return loadConfigFile('amo.config.json');
  throw new CliError('no config: pass --config <file> or set AMO_CONFIG_FILE (there is no ./amo.config.json)', 2);
}

export async function openSystem(values: OptionValues, io: CliIO): Promise<System> {
  const t = await resolveTarget(values, io);
  const config = loadCliConfig(t, io);
  const table = openTable(t, io);
  const secrets: SecretSource =
    t.secrets.kind === 'local' ? localSecretSource({ env: io.env, file: t.secrets.file }) : awsSecretSource({ prefix: t.secrets.prefix });
  const oauth = createOAuth({
    config,
    store: new DynamoTokenStore({ doc: table.doc, tableName: t.tableName }),
    secrets,
    fetch: io.fetch ?? globalThis.fetch,
    ...(io.clock ? { clock: io.clock } : {}),
  });
  return { config, oauth, doc: table.doc, tableName: t.tableName, target: t.tableLabel, secrets, close: table.close };
}

/** `--account`, or the only configured account. */
export function pickAccount(config: Config, value: OptionValues[string]): string {
  const given = str(value);
  if (given) return given;
  if (config.accounts.length === 1 && config.accounts[0]) return config.accounts[0].id;
  throw new CliError(`--account is required (configured: ${config.accounts.map((a) => a.id).join(', ') || 'none'})`, 2);
}
