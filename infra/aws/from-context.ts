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

/** The context keys the app reads (README: "Context keys"). */
export const CONTEXT_KEYS = [
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

  const stackName = contextString('stackName') ?? 'AmoGateway';
  const namePrefix = contextString('namePrefix') ?? kebabCase(stackName);
  const { config } = loadDeployConfig(contextString('config'), cwd);
  const alarmEmail = contextString('alarmEmail');
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail))
    throw new DeployConfigError(`context alarmEmail "${alarmEmail}" is not an e-mail address`);
  const archiveDays = contextString('eventArchiveDays');

  return new AmoGatewayStack(app, stackName, {
    stackName,
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
