/**
 * The stack the CDK app builds from its context (`-c key=value` or cdk.json), separate from
 * app.ts so tests build it in-process. Every mistake is a DeployConfigError or
 * AmoGatewayConfigError with a message meant for the operator (app.ts prints it, exit 1).
 */
import type { App } from 'aws-cdk-lib';
import { routeTable } from '../../lib/routes.ts';
import { DeployConfigError, loadDeployConfig } from './config.ts';
import { AmoGatewayConfigError } from './gateway.ts';
import { AmoGatewayStack, kebabCase } from './stack.ts';
import { STAGES, type StageName } from './stages.ts';

export { STAGES, type StageName } from './stages.ts';

/** `-c alarmEmail=none`: no e-mail subscription, on purpose (the topic is subscribed some other way). */
export const NO_ALARM_EMAIL = 'none';

/** The context keys the app reads (README: "Context keys"). */
export const CONTEXT_KEYS = [
  'stage',
  'config',
  'stackName',
  'namePrefix',
  'secretsPrefix',
  'alarmEmail',
  'eventArchiveDays',
  'apiCloudWatchRole',
] as const;

export function stackFromContext(app: App, cwd: string = process.cwd()): AmoGatewayStack {
  const contextString = (key: (typeof CONTEXT_KEYS)[number]): string | undefined => {
    const v: unknown = app.node.tryGetContext(key);
    if (v === undefined || v === null || v === '') return undefined;
    // cdk.json may hold a number (eventArchiveDays); -c always gives strings.
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string') throw new DeployConfigError(`context ${key} must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  /** `-c key=false` arrives as a string, cdk.json may hold a boolean. */
  const contextFlag = (key: (typeof CONTEXT_KEYS)[number], fallback: boolean): boolean => {
    const v: unknown = app.node.tryGetContext(key);
    if (v === undefined || v === null || v === '') return fallback;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    throw new DeployConfigError(`context ${key} must be true or false, got ${JSON.stringify(v)}`);
  };

  const stageKey = contextString('stage');
  if (stageKey !== undefined && !Object.hasOwn(STAGES, stageKey)) {
    throw new DeployConfigError(
      `context stage "${stageKey}" is not a stage: use -c stage=dev or -c stage=prod (or leave it out for the unstaged stack AmoGateway)`,
    );
  }
  const stage = stageKey as StageName | undefined;
  const stackName = contextString('stackName') ?? (stage ? STAGES[stage].stackName : 'AmoGateway');
  const namePrefix = contextString('namePrefix') ?? kebabCase(stackName);
  const { config } = loadDeployConfig(contextString('config'), cwd);
  const emailKey = contextString('alarmEmail');
  if (emailKey === undefined && stage && STAGES[stage].alarmEmailRequired) {
    throw new DeployConfigError(
      `stage ${stage} needs someone to tell about its alarms: add -c alarmEmail=<address> (or -c alarmEmail=${NO_ALARM_EMAIL} if the alarm topic is subscribed some other way)`,
    );
  }
  const alarmEmail = emailKey === NO_ALARM_EMAIL ? undefined : emailKey;
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail))
    throw new DeployConfigError(`context alarmEmail "${alarmEmail}" is not an e-mail address`);
  const archiveDays = contextString('eventArchiveDays');

  return new AmoGatewayStack(app, stackName, {
    stackName,
    ...(stage ? { stage } : {}),
    routes: routeTable,
    config,
    namePrefix,
    secretsPrefix: contextString('secretsPrefix'),
    alarmEmail,
    eventArchiveDays: archiveDays === undefined ? undefined : Number(archiveDays),
    apiCloudWatchRole: contextFlag('apiCloudWatchRole', true),
    description: 'amo-gateway: amoCRM / amojo / RDESK webhooks -> API Gateway -> SQS -> Lambda workers, DynamoDB, EventBridge',
  });
}

/** Is this a configuration mistake to print without a stack trace? */
export function isOperatorError(e: unknown): e is Error {
  return e instanceof DeployConfigError || e instanceof AmoGatewayConfigError;
}
