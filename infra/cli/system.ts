/**
 * How a CLI command reaches a running gateway: the config file, the DynamoDB table (the local
 * runner's dynalite via an endpoint, or AWS with the usual credentials), the secrets (local env/
 * file, or Secrets Manager). Every value has a flag and an environment variable; what is missing
 * is an error that says which flag to pass.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { existsSync } from 'node:fs';
import { createOAuth, type OAuth } from '../../lib/amocrm/oauth/index.ts';
import { awsSecretSource } from '../../lib/aws/secrets.ts';
import { loadConfigFile, parseConfig, type Config } from '../../lib/config/index.ts';
import { localSecretSource, type SecretSource } from '../../lib/config/secrets.ts';
import { DynamoTokenStore } from '../../lib/store/token-store.ts';
import { CliError, type CliIO, type OptionValues, type Options } from './command.ts';

export const SYSTEM_OPTIONS: Options = {
  config: { type: 'string', valueName: 'file', description: 'config file (env AMO_CONFIG_FILE; default ./amo.config.json)' },
  endpoint: { type: 'string', valueName: 'url', description: 'DynamoDB endpoint of the local runner (env AMO_DYNAMODB_ENDPOINT); omit for AWS' },
  table: { type: 'string', valueName: 'name', description: 'DynamoDB table (env AMO_TABLE_NAME or TABLE_NAME; the stack output TableName)' },
  region: { type: 'string', valueName: 'region', description: 'AWS region (env AWS_REGION)' },
  secrets: { type: 'string', valueName: 'local|aws', description: 'where secrets come from (default: local with --endpoint, aws otherwise)' },
  'secrets-file': { type: 'string', valueName: 'file', description: 'local secrets JSON (env AMO_SECRETS_FILE; default .local/secrets.json); env AMO_SECRET_<NAME> wins' },
  'secrets-prefix': { type: 'string', valueName: 'prefix', description: 'Secrets Manager name prefix (env AMO_SECRETS_PREFIX)' },
};

export interface System {
  config: Config;
  oauth: OAuth;
  /** e.g. "table amo-gateway at http://127.0.0.1:8000" — for messages. */
  target: string;
  /** The table's document client and name (commands that use other stores of the one table). */
  doc: DynamoDBDocumentClient;
  tableName: string;
  close(): void;
}

function str(v: OptionValues[string]): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function loadCliConfig(values: OptionValues, io: CliIO): Config {
  const file = str(values.config) ?? io.env.AMO_CONFIG_FILE;
  if (file) return loadConfigFile(file);
  const json = io.env.AMO_CONFIG_JSON;
  if (json) return parseConfig(JSON.parse(json), 'AMO_CONFIG_JSON');
  if (existsSync('amo.config.json')) return loadConfigFile('amo.config.json');
  throw new CliError('no config: pass --config <file> or set AMO_CONFIG_FILE (there is no ./amo.config.json)', 2);
}

export function openSystem(values: OptionValues, io: CliIO): System {
  const config = loadCliConfig(values, io);
  const endpoint = str(values.endpoint) ?? io.env.AMO_DYNAMODB_ENDPOINT;
  const tableName = str(values.table) ?? io.env.AMO_TABLE_NAME ?? io.env.TABLE_NAME;
  if (!tableName) throw new CliError('no table: pass --table <name> or set AMO_TABLE_NAME (the local runner prints it; in AWS it is the stack output TableName)', 2);
  const region = str(values.region) ?? io.env.AWS_REGION ?? (endpoint ? 'us-east-1' : undefined);
  const localCreds = endpoint && !io.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {};
  const client = new DynamoDBClient({ ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...localCreds });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const secretsKind = str(values.secrets) ?? (endpoint ? 'local' : 'aws');
  let secrets: SecretSource;
  if (secretsKind === 'local') {
    secrets = localSecretSource({ env: io.env, file: str(values['secrets-file']) ?? io.env.AMO_SECRETS_FILE ?? '.local/secrets.json' });
  } else if (secretsKind === 'aws') {
    secrets = awsSecretSource({ prefix: str(values['secrets-prefix']) ?? io.env.AMO_SECRETS_PREFIX ?? '' });
  } else {
    throw new CliError(`--secrets must be local or aws, not "${secretsKind}"`, 2);
  }
  const oauth = createOAuth({
    config,
    store: new DynamoTokenStore({ doc, tableName }),
    secrets,
    fetch: io.fetch ?? globalThis.fetch,
    ...(io.clock ? { clock: io.clock } : {}),
  });
  return { config, oauth, doc, tableName, target: `table ${tableName}${endpoint ? ` at ${endpoint}` : region ? ` in ${region}` : ''}`, close: () => client.destroy() };
}

/** `--account`, or the only configured account. */
export function pickAccount(config: Config, value: OptionValues[string]): string {
  const given = str(value);
  if (given) return given;
  if (config.accounts.length === 1 && config.accounts[0]) return config.accounts[0].id;
  throw new CliError(`--account is required (configured: ${config.accounts.map((a) => a.id).join(', ') || 'none'})`, 2);
}
