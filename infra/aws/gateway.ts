/**
 * AmoGateway: the whole gateway as one reusable construct, built from the route table
 * (lib/routes.ts) and the deployment's config (lib/config) — queues with their DLQs, the one
 * DynamoDB table, one Lambda per function def, queue → consumer event source mappings, schedules,
 * the REST API in front, the event bus the workers publish typed events to, and the alarms and
 * dashboard (monitoring.ts).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { configSchema, type Config } from '../../lib/config/index.ts';
import { EVENT_SOURCE } from '../../lib/events/bus.ts';
import { defaultDictionaryPath } from '../../lib/rules/resolve.ts';
import { TABLE_PK, TABLE_SK, TABLE_TTL_ATTRIBUTE } from '../../lib/store/table.ts';
import {
  dlqName,
  queueName,
  redriveMaxReceiveCount,
  SQS_MAX_MESSAGE_BYTES,
  type FunctionDef,
  type QueueDef,
  type RouteTable,
} from '../../lib/routes.ts';
import { GatewayApi } from './api.ts';
import { FUNCTION_BUNDLING } from './bundling.ts';
import { checkSecretsPrefix, secretLookingValues, secretNames } from './config.ts';
import { METRICS_NAMESPACE } from './metrics.ts';
import { GatewayMonitoring } from './monitoring.ts';

/** The repository root (this file is infra/aws/gateway.ts); function entries are relative to it. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Lambda's limit on one function's environment (keys + values). */
export const LAMBDA_ENV_LIMIT_BYTES = 4096;

export interface AmoGatewayProps {
  /** The route table (validated); usually `routeTable` from lib/routes.ts. */
  readonly routes: RouteTable;
  /**
   * The deployment's config (lib/config; validated again here). It rides in every function's
   * `AMO_CONFIG_JSON`, so it must hold secret references only — checked at synth.
   */
  readonly config: Config;
  /** `AMO_SECRETS_PREFIX`: Secrets Manager names are `<prefix><secret name>`; the functions may read only those. Default `<namePrefix>/`. */
  readonly secretsPrefix?: string;
  /** Name of the custom EventBridge bus the workers publish to. Default: namePrefix. */
  readonly eventBusName?: string;
  /** Archive the bus's events (source `amo-gateway`) for replay, kept this many days. Default: no archive. */
  readonly eventArchiveDays?: number;
  /** Subscribes this e-mail address to the alarm topic. */
  readonly alarmEmail?: string;
  /** Prefix of the physical queue names (`<prefix>-<queue id>`, as the local runner names them). */
  readonly namePrefix: string;
  /** Where `functions/*.ts` and package-lock.json live. Default: this repository. */
  readonly projectRoot?: string;
  /** Default `v1`. */
  readonly stageName?: string;
  /** Stage-wide throttle. Default 50 requests/s, burst 100 (assumed: far above amoCRM's webhook rate). */
  readonly throttle?: { rateLimit: number; burstLimit: number };
  /** Log retention for access logs and function logs. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /**
   * SQS's own redrive count of the standard queues: a last-resort net only, the worker parks by
   * itself. Default: the route table's (50). FIFO queues always take the route table's figure.
   */
  readonly maxReceiveCount?: number;
  /** Create API Gateway's account-level CloudWatch role (needed once per account and region for access logs). Default true. */
  readonly apiCloudWatchRole?: boolean;
  /** POWERTOOLS_SERVICE_NAME. Default `amo-gateway`. */
  readonly serviceName?: string;
}

export interface GatewayQueue {
  readonly def: QueueDef;
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
}

export class AmoGatewayConfigError extends Error {
  override readonly name = 'AmoGatewayConfigError';
}

export class AmoGateway extends Construct {
  readonly table: dynamodb.Table;
  readonly queues = new Map<string, GatewayQueue>();
  readonly functions = new Map<string, nodejs.NodejsFunction>();
  /** The REST API; absent when the table has no routes (a worker-only deployment). */
  readonly api: GatewayApi | undefined;
  /** The custom bus the workers (queue consumers) publish typed events to; users attach rules. */
  readonly eventBus: events.EventBus;
  readonly eventArchive: events.Archive | undefined;
  readonly monitoring: GatewayMonitoring;
  /** `AMO_SECRETS_PREFIX` of every function. */
  readonly secretsPrefix: string;
  /** The config exactly as the functions get it (`AMO_CONFIG_JSON`). */
  readonly configJson: string;

  constructor(scope: Construct, id: string, props: AmoGatewayProps) {
    super(scope, id);
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(props.namePrefix)) {
      throw new AmoGatewayConfigError(
        `namePrefix "${props.namePrefix}" must be lower-case kebab-case, at most 40 characters (it starts every queue name)`,
      );
    }
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.secretsPrefix = checkSecretsPrefix(props.secretsPrefix ?? `${props.namePrefix}/`);
    this.configJson = configEnvJson(props.config);

    this.eventBus = new events.EventBus(this, 'Bus', {
      eventBusName: props.eventBusName ?? props.namePrefix,
      description: `amo-gateway typed events (source ${EVENT_SOURCE}); attach rules to consume them`,
    });
    if (props.eventArchiveDays !== undefined) {
      if (!Number.isInteger(props.eventArchiveDays) || props.eventArchiveDays < 1) {
        throw new AmoGatewayConfigError(`eventArchiveDays must be a whole number of days ≥ 1, got ${props.eventArchiveDays}`);
      }
      this.eventArchive = this.eventBus.archive('Archive', {
        description: `Events from ${EVENT_SOURCE}, kept ${props.eventArchiveDays} days for replay`,
        eventPattern: { source: [EVENT_SOURCE] },
        retention: Duration.days(props.eventArchiveDays),
      });
    } else {
      this.eventArchive = undefined;
    }

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_PK, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SK, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TABLE_TTL_ATTRIBUTE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Tokens and the DLQ index live here: never deleted with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    for (const def of props.routes.queues) this.queues.set(def.id, this.makeQueue(def, props));

    const queueEnv = Stack.of(this).toJsonString(
      Object.fromEntries(
        [...this.queues].map(([qid, q]) => [qid, { arn: q.queue.queueArn, url: q.queue.queueUrl, dlqUrl: q.dlq.queueUrl }]),
      ),
    );
    // Queue consumers are the workers: they publish the typed events.
    const workers = new Set(props.routes.queues.map((q) => q.consumer));
    for (const def of props.routes.functions) {
      this.functions.set(def.id, this.makeFunction(def, props, retention, queueEnv, workers.has(def.id)));
    }

    for (const { def, queue, dlq } of this.queues.values()) {
      const consumer = this.fn(def.consumer);
      consumer.addEventSource(
        new SqsEventSource(queue, {
          batchSize: def.batchSize,
          maxBatchingWindow: def.batchingWindowSeconds > 0 ? Duration.seconds(def.batchingWindowSeconds) : undefined,
          reportBatchItemFailures: true,
        }),
      );
      queue.grantConsumeMessages(consumer);
      dlq.grantConsumeMessages(consumer);
    }

    for (const s of props.routes.schedules) {
      new events.Rule(this, `Schedule-${s.id}`, {
        description: s.description,
        schedule: events.Schedule.rate(Duration.minutes(s.rateMinutes)),
        // A missed tick is covered by the next one; exactly-once comes from the store's lease (docs/architecture.md#refresh-tokens).
        targets: [
          new targets.LambdaFunction(this.fn(s.function), { retryAttempts: 2, maxEventAge: Duration.minutes(Math.max(1, s.rateMinutes)) }),
        ],
      });
    }

    this.api =
      props.routes.routes.length === 0
        ? undefined
        : new GatewayApi(this, 'Http', {
            routes: props.routes.routes,
            queueOf: (qid) => this.queue(qid).queue,
            functionOf: (fid) => this.fn(fid),
            restApiName: props.namePrefix,
            stageName: props.stageName ?? 'v1',
            throttle: props.throttle ?? { rateLimit: 50, burstLimit: 100 },
            logRetention: retention,
            cloudWatchRole: props.apiCloudWatchRole ?? true,
          });

    this.monitoring = new GatewayMonitoring(this, 'Monitoring', {
      namePrefix: props.namePrefix,
      queues: [...this.queues].map(([qid, q]) => ({ id: qid, queue: q.queue, dlq: q.dlq })),
      functions: this.functions,
      workers: props.routes.functions.filter((f) => workers.has(f.id)).map((f) => f.id),
      api: this.api?.api,
      routes: props.routes.routes,
      alarmEmail: props.alarmEmail,
    });
  }

  queue(id: string): GatewayQueue {
    const q = this.queues.get(id);
    if (!q) throw new AmoGatewayConfigError(`unknown queue "${id}"`);
    return q;
  }

  fn(id: string): nodejs.NodejsFunction {
    const f = this.functions.get(id);
    if (!f) throw new AmoGatewayConfigError(`unknown function "${id}"`);
    return f;
  }

  private makeQueue(def: QueueDef, props: AmoGatewayProps): GatewayQueue {
    // Physical names from routes.ts, the same the local runner and the CLI use: operators and
    // `dlq replay` find a queue by name (GetQueueUrl) in any deployment with a known prefix.
    const common = {
      fifo: def.fifo ? true : undefined,
      contentBasedDeduplication: def.fifo ? false : undefined,
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    };
    const dlq = new sqs.Queue(this, `Dlq-${def.id}`, {
      ...common,
      queueName: dlqName(def, props.namePrefix),
      // Parked messages wait for `dlq replay`: keep them as long as SQS allows.
      retentionPeriod: Duration.days(14),
    });
    const queue = new sqs.Queue(this, `Queue-${def.id}`, {
      ...common,
      queueName: queueName(def, props.namePrefix),
      visibilityTimeout: Duration.seconds(def.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(def.retentionDays),
      // A FIFO queue keeps the route table's figure: its worker paces deferrals and parks by it
      // (lib/pipeline/decide.ts), so an override here would let SQS redrive behind its back.
      deadLetterQueue: {
        queue: dlq,
        maxReceiveCount: def.fifo ? redriveMaxReceiveCount(def) : (props.maxReceiveCount ?? redriveMaxReceiveCount(def)),
      },
    });
    return { def, queue, dlq };
  }

  private makeFunction(
    def: FunctionDef,
    props: AmoGatewayProps,
    retention: logs.RetentionDays,
    queueEnv: string,
    worker: boolean,
  ): nodejs.NodejsFunction {
    const root = props.projectRoot ?? PROJECT_ROOT;
    const logGroup = new logs.LogGroup(this, `Logs-${def.id}`, { retention });
    // Its own role instead of AWSLambdaBasicExecutionRole (logs:* on every log group): writing to
    // its one log group is all the runtime needs.
    const role = new iam.Role(this, `Role-${def.id}`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `amo-gateway function ${def.id}`,
    });
    logGroup.grantWrite(role);
    const fn = new nodejs.NodejsFunction(this, `Fn-${def.id}`, {
      description: def.description,
      entry: join(root, def.entry),
      handler: 'handler',
      projectRoot: root,
      depsLockFilePath: join(root, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: def.memoryMb,
      timeout: Duration.seconds(def.timeoutSeconds),
      logGroup,
      role,
      environment: this.environment(def, props, queueEnv, worker),
      bundling: {
        // bundling.ts: the settings bench/bundles.ts and test/infra/bundle.test.ts measure too
        // (the SDK bundled: it imports faster than the runtime's copy, and is the tested version).
        format: nodejs.OutputFormat.ESM,
        banner: FUNCTION_BUNDLING.banner,
        mainFields: [...FUNCTION_BUNDLING.mainFields],
        target: FUNCTION_BUNDLING.target,
        minify: FUNCTION_BUNDLING.minify,
        sourceMap: FUNCTION_BUNDLING.sourceMap,
        sourcesContent: FUNCTION_BUNDLING.sourcesContent,
        externalModules: [...FUNCTION_BUNDLING.externalModules],
        forceDockerBundling: false,
        // The rules' dictionaries travel with the worker, at the same relative paths (lib/aws/hook-flows.ts).
        ...(worker ? rulesDictionaryHooks(props.config) : {}),
      },
    });
    // Least privilege (lib/routes.ts): send only to the queues its routes feed and, as a consumer,
    // to the queues it consumes and their DLQs (defer = re-send, park = send to the DLQ); consuming
    // them is granted with the event source mappings.
    const fed = new Set(
      props.routes.routes.flatMap((r) =>
        r.target.kind === 'function' && r.target.function === def.id && r.target.queue ? [r.target.queue] : [],
      ),
    );
    for (const q of this.queues.values()) {
      if (q.def.consumer === def.id) {
        q.queue.grantSendMessages(fn);
        q.dlq.grantSendMessages(fn);
      } else if (fed.has(q.def.id)) q.queue.grantSendMessages(fn);
    }
    // The table: only its item actions, only on partition keys under its prefixes. ForAllValues
    // holds every key a batch names; no Scan is ever granted (it names no key, so the condition
    // would pass vacuously).
    if (def.tableKeyPrefixes && def.tableActions) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: def.tableActions.map((a) => `dynamodb:${a}`),
          resources: [this.table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': def.tableKeyPrefixes.map((p) => `${p}*`) } },
        }),
      );
    }
    // Secrets: GetSecretValue (all lib/aws/secrets.ts calls). A function def naming its
    // config sections gets exactly the secrets those reference (the config is fixed at synth); the
    // others every name under the prefix. Secrets Manager appends `-XXXXXX` to every ARN.
    const secretArn = (resourceName: string) =>
      Stack.of(this).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const own =
      def.secretSections === undefined
        ? undefined
        : [...new Set(def.secretSections.flatMap((s) => secretNames((props.config as unknown as Record<string, unknown>)[s])))].sort();
    const secretResources =
      own === undefined ? [secretArn(`${this.secretsPrefix}*`)] : own.map((n) => secretArn(`${this.secretsPrefix}${n}-??????`));
    if (secretResources.length) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretResources }));
    }
    if (worker) this.eventBus.grantPutEventsTo(fn);
    return fn;
  }

  /** The env contract every function is coded against (README: "Function environment"). */
  private environment(def: FunctionDef, props: AmoGatewayProps, queueEnv: string, worker: boolean): Record<string, string> {
    const env: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      QUEUES: queueEnv,
      AMO_CONFIG_JSON: this.configJson,
      AMO_SECRETS_PREFIX: this.secretsPrefix,
      POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'amo-gateway',
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      NODE_OPTIONS: '--enable-source-maps',
    };
    if (worker) env.EVENT_BUS_NAME = this.eventBus.eventBusName;
    const bytes = estimateEnvBytes(env, this.queues, props.namePrefix, props.eventBusName ?? props.namePrefix);
    if (bytes > LAMBDA_ENV_LIMIT_BYTES) {
      throw new AmoGatewayConfigError(
        `function ${def.id}: its environment would be about ${bytes} bytes, over Lambda's ${LAMBDA_ENV_LIMIT_BYTES}-byte limit; AMO_CONFIG_JSON alone is ${Buffer.byteLength(this.configJson)} bytes. Shrink the config (or ship it as a bundled file read through AMO_CONFIG_FILE).`,
      );
    }
    return env;
  }
}

/**
 * The config as `AMO_CONFIG_JSON`: validated with the lib/config schema (defaults filled in, so
 * every function reads the same values) and refused if anything in it looks like a secret value.
 */
export function configEnvJson(config: Config): string {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    throw new AmoGatewayConfigError(
      `invalid config:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}${i.path.length ? ': ' : ''}${i.message}`).join('\n')}`,
    );
  }
  const leaks = secretLookingValues(parsed.data);
  if (leaks.length)
    throw new AmoGatewayConfigError(
      `the config holds values that look like secrets (${leaks.join(', ')}); use { "secret": "NAME" } references`,
    );
  return JSON.stringify(parsed.data);
}

/**
 * The environment's size once CloudFormation has resolved the tokens, estimated on the long side:
 * the queue ARNs and URLs with the longest region and partition names, a 12-digit account, a
 * 128-character table name.
 */
function estimateEnvBytes(
  env: Record<string, string>,
  queues: ReadonlyMap<string, GatewayQueue>,
  namePrefix: string,
  busName: string,
): number {
  const region = 'ap-southeast-2';
  const account = '123456789012';
  const queuesJson = JSON.stringify(
    Object.fromEntries(
      [...queues].map(([qid, q]) => {
        const name = queueName(q.def, namePrefix);
        return [
          qid,
          {
            arn: `arn:aws-us-gov:sqs:${region}:${account}:${name}`,
            url: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
            dlqUrl: `https://sqs.${region}.amazonaws.com/${account}/${dlqName(q.def, namePrefix)}`,
          },
        ];
      }),
    ),
  );
  let total = 0;
  for (const [k, v] of Object.entries(env)) {
    const value = k === 'QUEUES' ? queuesJson : k === 'TABLE_NAME' ? 'x'.repeat(128) : k === 'EVENT_BUS_NAME' ? busName : v;
    total += Buffer.byteLength(k) + Buffer.byteLength(value);
  }
  return total;
}

/**
 * Bundling hooks that copy each rules account's dictionary file (relative to the project root, as
 * `schema pull` writes it) into the worker's bundle at the same relative path; none without rules.
 */
export function rulesDictionaryHooks(config: Config): { commandHooks?: nodejs.ICommandHooks } {
  const rules = config.rules;
  if (!rules?.list.length) return {};
  // The accounts a transfer / syncBack writes to resolve their names too: their dictionaries go along.
  const accounts = rules.list.flatMap((r) => [
    r.account,
    ...r.then.flatMap((a) => ('transfer' in a ? [a.transfer.to] : 'syncBack' in a ? [a.syncBack.to] : [])),
  ]);
  const files = [...new Set(accounts.map((a) => rules.accounts[a]?.dictionary ?? defaultDictionaryPath(a)))];
  for (const f of files) {
    if (f.startsWith('/') || f.split(/[\\/]/).includes('..'))
      throw new AmoGatewayConfigError(`rules dictionary "${f}": a deployed worker needs a path inside the project (relative, no ..)`);
  }
  const quote = (x: string) => `'${x.replace(/'/g, "'\\''")}'`;
  return {
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (inputDir: string, outputDir: string) =>
        files.flatMap((f) => [
          `mkdir -p ${quote(dirname(join(outputDir, f)))}`,
          `cp ${quote(join(inputDir, f))} ${quote(join(outputDir, f))}`,
        ]),
    },
  };
}
