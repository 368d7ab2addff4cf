/**
 * THE target of every command: which gateway (its DynamoDB table, its queues, its config and
 * secrets) a command works on. One set of flags, the same on every command (`--help` of each
 * shows them), resolved in one place:
 *
 * - `--local [--data-dir .local]`: the running `npm start`. Its stand-ins listen on ports picked at
 *   start, so the runner writes endpoints, table, region and queue URLs to `<data-dir>/endpoints.json`
 *   (lib/aws/local-endpoints.ts); its generated sandbox config and its secrets file live there too.
 * - `--stack NAME --region R`: a deployed stack; the table and queue URLs from its outputs
 *   (lib/aws/stack-resolve.ts); credentials from the default AWS chain, secrets from Secrets Manager.
 * - explicit: `--table NAME` with `--dynamodb-endpoint URL` / `--sqs-endpoint URL` for stand-ins
 *   (queues then found by name, `<queue-prefix>-<queue id>[-dlq]`), or without endpoints for AWS.
 *
 * Flags given explicitly win over what `--local` / `--stack` found (e.g. to reach a runner
 * through a tunnel). Every flag has an environment variable. `--endpoint` is the old name of
 * `--dynamodb-endpoint` (still accepted, not shown).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LocalEndpointsError, readLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { resolveStack, StackResolveError } from '../../lib/aws/stack-resolve.ts';
import type { DlqQueueRef } from '../../lib/dlq/index.ts';
import { dlqName, queueName, routeTable } from '../../lib/routes.ts';
import { CliError, type CliIO, type OptionValues, type Options } from './command.ts';
import { str } from './format.ts';

/** The file names the local runner keeps under its data dir (infra/local/amocrm.ts SANDBOX_CONFIG_FILE, SECRETS_FILE; a test checks they agree). */
export const LOCAL_FILES = { sandboxConfig: 'amo.sandbox.config.json', secrets: 'secrets.json' } as const;

export const DEFAULT_DATA_DIR = '.local';
export const DEFAULT_QUEUE_PREFIX = 'amo-gateway';

/** The target flags, on every command. */
export const TARGET_OPTIONS: Options = {
  local: {
    type: 'boolean',
    description: 'the running local gateway (npm start): endpoints, table, queues, config and secrets from its data dir',
  },
  'data-dir': { type: 'string', valueName: 'dir', description: `the local runner's data directory (default ${DEFAULT_DATA_DIR})` },
  stack: { type: 'string', valueName: 'name', description: 'a deployed stack (env AMO_STACK_NAME): table and queues from its outputs' },
  region: { type: 'string', valueName: 'region', description: 'AWS region (env AWS_REGION)' },
  table: {
    type: 'string',
    valueName: 'name',
    description: 'DynamoDB table (env AMO_TABLE_NAME or TABLE_NAME; the stack output TableName)',
  },
  'dynamodb-endpoint': {
    type: 'string',
    valueName: 'url',
    description: 'DynamoDB endpoint, e.g. the local dynalite (env AMO_DYNAMODB_ENDPOINT); omit for AWS',
  },
  'sqs-endpoint': {
    type: 'string',
    valueName: 'url',
    description: 'SQS endpoint, e.g. the local fauxqs (env AMO_SQS_ENDPOINT); omit for AWS',
  },
  'queue-prefix': {
    type: 'string',
    valueName: 'prefix',
    description: `physical queue-name prefix (env AMO_QUEUE_PREFIX; default ${DEFAULT_QUEUE_PREFIX})`,
  },
  config: {
    type: 'string',
    valueName: 'file',
    description: "config file (env AMO_CONFIG_FILE; default ./amo.config.json, or the runner's sandbox config with --local)",
  },
  secrets: {
    type: 'string',
    valueName: 'local|aws',
    description: 'where secrets come from (default: local with --local or an endpoint, aws otherwise)',
  },
  'secrets-file': {
    type: 'string',
    valueName: 'file',
    description: 'local secrets JSON (env AMO_SECRETS_FILE; default <data-dir>/secrets.json); env AMO_SECRET_<NAME> wins',
  },
  'secrets-prefix': { type: 'string', valueName: 'prefix', description: 'Secrets Manager name prefix (env AMO_SECRETS_PREFIX)' },
  endpoint: { type: 'string', valueName: 'url', description: 'deprecated: the old name of --dynamodb-endpoint', hidden: true },
};

export type SecretsTarget = { kind: 'local'; file: string } | { kind: 'aws'; prefix: string };

export interface Target {
  /** Where, for messages: "the local runner (pid 123, http://…)", "stack AmoGateway (eu-central-1)", "AWS (eu-central-1)". */
  label: string;
  tableName: string;
  /** e.g. "table amo-gateway at http://127.0.0.1:8000" — for messages. */
  tableLabel: string;
  /** Undefined: the SDK's default chain decides (AWS only; stand-ins get us-east-1). */
  region: string | undefined;
  dynamodbEndpoint: string | undefined;
  sqsEndpoint: string | undefined;
  /** queue id → URLs, when the target knows them (the runner's file, the stack); else found by name. */
  queueUrls: Record<string, { url: string; dlqUrl: string }> | undefined;
  queuePrefix: string;
  /** The config file the target names (--config, or the runner's generated sandbox config); else the usual chain. */
  configFile: string | undefined;
  secrets: SecretsTarget;
}

/**
 * The target of a command. `needsQueues`: the command works on SQS too (dlq), so one stand-in
 * local and the other in AWS is refused (never what anyone means, and it would reach AWS with
 * local keys); commands on the table alone may give just the DynamoDB endpoint.
 */
export async function resolveTarget(values: OptionValues, io: CliIO, opts: { needsQueues?: boolean } = {}): Promise<Target> {
  const env = io.env;
  const stackName = str(values.stack) ?? env.AMO_STACK_NAME;
  const local = values.local === true;
  if (stackName && local) throw new CliError('--stack and --local exclude each other', 2);

  const flagDdb = str(values['dynamodb-endpoint']) ?? str(values.endpoint);
  let sqsEndpoint = str(values['sqs-endpoint']) ?? env.AMO_SQS_ENDPOINT;
  let ddbEndpoint = flagDdb ?? env.AMO_DYNAMODB_ENDPOINT;
  let tableName = str(values.table) ?? env.AMO_TABLE_NAME ?? env.TABLE_NAME;
  let region = str(values.region) ?? env.AWS_REGION;
  const prefixFlag = str(values['queue-prefix']) ?? env.AMO_QUEUE_PREFIX;
  let queueUrls: Target['queueUrls'];
  let configFile = str(values.config) ?? env.AMO_CONFIG_FILE;
  let secretsFile = str(values['secrets-file']) ?? env.AMO_SECRETS_FILE;
  let label: string;

  if (local) {
    const dataDir = str(values['data-dir']) ?? DEFAULT_DATA_DIR;
    let ep;
    try {
      ep = readLocalEndpoints(dataDir);
    } catch (e) {
      if (e instanceof LocalEndpointsError) throw new CliError(e.message, 2, { cause: e });
      throw e;
    }
    sqsEndpoint = str(values['sqs-endpoint']) ?? ep.sqsEndpoint;
    ddbEndpoint = flagDdb ?? ep.dynamodbEndpoint;
    tableName = str(values.table) ?? ep.tableName;
    region = str(values.region) ?? ep.region;
    queueUrls = ep.queues;
    // *assumed*: a generated sandbox config in the data dir belongs to the running runner (it is
    // rewritten on every sandbox start). After switching that data dir to --no-sandbox, pass --config.
    const sandboxConfig = join(dataDir, LOCAL_FILES.sandboxConfig);
    configFile = str(values.config) ?? (existsSync(sandboxConfig) ? sandboxConfig : configFile);
    secretsFile = str(values['secrets-file']) ?? join(dataDir, LOCAL_FILES.secrets);
    label = `the local runner (pid ${ep.pid}, ${ep.url})`;
  } else if (stackName) {
    if (!region) throw new CliError('no region: pass --region or set AWS_REGION (the stack is looked up there)', 2);
    // AWS_ENDPOINT_URL_CLOUDFORMATION is the SDK's own variable; read from io.env so tests stay hermetic.
    const cfnEndpoint = env.AWS_ENDPOINT_URL_CLOUDFORMATION;
    const cfn = new CloudFormationClient({ region, ...(cfnEndpoint ? { endpoint: cfnEndpoint } : {}) });
    try {
      const st = await resolveStack({
        cfn,
        stackName,
        expectedQueues: routeTable.queues,
        ...(prefixFlag ? { queuePrefix: prefixFlag } : {}),
      });
      tableName = str(values.table) ?? st.tableName;
      queueUrls = st.queues;
    } catch (e) {
      if (e instanceof StackResolveError) throw new CliError(e.message, 1, { cause: e });
      throw e;
    } finally {
      cfn.destroy();
    }
    label = `stack ${stackName} (${region})`;
  } else {
    label = sqsEndpoint ? `SQS ${sqsEndpoint}` : `AWS${region ? ` (${region})` : ''}`;
  }

  if (!tableName) {
    throw new CliError(
      'no table: pass --local (a running npm start), --stack <name>, or --table <name> (env AMO_TABLE_NAME) with --dynamodb-endpoint/--sqs-endpoint for other setups',
      2,
    );
  }
  if (sqsEndpoint && !ddbEndpoint) {
    throw new CliError('--sqs-endpoint is set but --dynamodb-endpoint is not: pass both (local stand-ins), or --local', 2);
  }
  if (opts.needsQueues && ddbEndpoint && !sqsEndpoint) {
    throw new CliError('--dynamodb-endpoint is set but --sqs-endpoint is not: pass both (local stand-ins), or --local', 2);
  }
  const anyLocal = Boolean(sqsEndpoint || ddbEndpoint);
  region ??= anyLocal ? 'us-east-1' : undefined;

  const secretsKind = str(values.secrets) ?? (local || anyLocal ? 'local' : 'aws');
  let secrets: SecretsTarget;
  if (secretsKind === 'local')
    secrets = { kind: 'local', file: secretsFile ?? join(str(values['data-dir']) ?? DEFAULT_DATA_DIR, LOCAL_FILES.secrets) };
  else if (secretsKind === 'aws') secrets = { kind: 'aws', prefix: str(values['secrets-prefix']) ?? env.AMO_SECRETS_PREFIX ?? '' };
  else throw new CliError(`--secrets must be local or aws, not "${secretsKind}"`, 2);

  return {
    label,
    tableName,
    tableLabel: `table ${tableName}${ddbEndpoint ? ` at ${ddbEndpoint}` : region ? ` in ${region}` : ''}`,
    region,
    dynamodbEndpoint: ddbEndpoint,
    sqsEndpoint,
    queueUrls,
    queuePrefix: prefixFlag ?? DEFAULT_QUEUE_PREFIX,
    configFile,
    secrets,
  };
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Client settings for one service: its endpoint and, for a stand-in without AWS keys in the env, dummy keys. */
function clientConfig(
  t: Target,
  io: CliIO,
  endpoint: string | undefined,
): { region?: string; endpoint?: string; credentials?: typeof LOCAL_CREDENTIALS } {
  return {
    ...(t.region ? { region: t.region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint && !io.env.AWS_ACCESS_KEY_ID ? { credentials: LOCAL_CREDENTIALS } : {}),
  };
}

export interface TableClients {
  ddb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  close(): void;
}

export function openTable(t: Target, io: CliIO): TableClients {
  const ddb = new DynamoDBClient(clientConfig(t, io, t.dynamodbEndpoint));
  const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  return { ddb, doc, close: () => ddb.destroy() };
}

export function openSqs(t: Target, io: CliIO): SQSClient {
  return new SQSClient(clientConfig(t, io, t.sqsEndpoint));
}

/** The route table's queues at the target: from what it knows, else by their physical names. */
export async function targetQueues(t: Target, sqs: SQSClient): Promise<DlqQueueRef[]> {
  const urls = t.queueUrls ?? (await queueUrlsByName(sqs, t.queuePrefix, t.sqsEndpoint ?? `AWS ${t.region ?? '(default region)'}`));
  return Object.entries(urls).map(([id, q]) => ({ id, url: q.url, dlqUrl: q.dlqUrl, fifo: q.url.endsWith('.fifo') }));
}

async function queueUrlsByName(sqs: SQSClient, prefix: string, where: string): Promise<Record<string, { url: string; dlqUrl: string }>> {
  const out: Record<string, { url: string; dlqUrl: string }> = {};
  for (const q of routeTable.queues) {
    const get = async (name: string) => {
      try {
        const res = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
        if (!res.QueueUrl) throw new Error('no QueueUrl in the answer');
        return res.QueueUrl;
      } catch (cause) {
        throw new CliError(
          `queue "${name}" not found at ${where} (wrong --queue-prefix? a stack named other than AmoGateway needs --stack or --queue-prefix)`,
          1,
          { cause },
        );
      }
    };
    out[q.id] = { url: await get(queueName(q, prefix)), dlqUrl: await get(dlqName(q, prefix)) };
  }
  return out;
}
