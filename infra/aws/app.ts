/**
 * The CDK app (`cdk.json`: `npx tsx infra/aws/app.ts`). Synthesizes offline: no lookups, no
 * account or region needed (environment-agnostic stack).
 *
 *   npx cdk synth -c stackName=AmoGatewayStaging      # queues amo-gateway-staging-*
 *   npx cdk synth -c namePrefix=amo-test               # explicit queue-name prefix
 *   npx cdk deploy -c apiCloudWatchRole=false          # the account's API Gateway logging role exists already
 */
import { App } from 'aws-cdk-lib';
import { routeTable } from '../routes.ts';
import { AmoGatewayStack, kebabCase } from './stack.ts';

const app = new App();
const stackName = contextString('stackName') ?? 'AmoGateway';
const namePrefix = contextString('namePrefix') ?? kebabCase(stackName);

new AmoGatewayStack(app, stackName, {
  stackName,
  routes: routeTable,
  namePrefix,
  apiCloudWatchRole: contextFlag('apiCloudWatchRole', true),
  description: 'amo-gateway: amoCRM / amojo / RDESK webhooks -> API Gateway -> SQS -> Lambda workers, DynamoDB, EventBridge',
});

app.synth();

function contextString(key: string): string | undefined {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`context ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** `-c key=false` arrives as a string, cdk.json may hold a boolean. */
function contextFlag(key: string, fallback: boolean): boolean {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return fallback;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new Error(`context ${key} must be true or false, got ${JSON.stringify(v)}`);
}
