/**
 * The CDK app (`cdk.json`: `npx tsx infra/aws/app.ts`). Synthesizes offline: no lookups, no
 * account or region needed (environment-agnostic stack). What it builds from the context:
 * from-context.ts.
 *
 *   npx cdk deploy -c config=amo.config.json           # the config is required (default path: amo.config.json)
 *   npx cdk deploy -c stage=dev                        # AmoGatewayDev: names amo-gateway-dev-*, secrets amo-gateway-dev/*
 *   npx cdk deploy -c stage=prod -c alarmEmail=ops@example.com   # AmoGatewayProd (prod needs an alarm e-mail, or alarmEmail=none)
 *   npm run synth                                      # = cdk synth -c config=amo.config.example.json
 *   npx cdk synth -c stackName=AmoGatewayStaging      # queues amo-gateway-staging-*, secrets amo-gateway-staging/*
 *   npx cdk synth -c namePrefix=amo-test               # explicit queue-name prefix
 *   npx cdk deploy -c secretsPrefix=amo-gateway/prod/  # where the functions find their secrets
 *   npx cdk deploy -c alarmEmail=ops@example.com       # subscribe an address to the alarm topic
 *   npx cdk deploy -c eventArchiveDays=30              # archive the bus's events for replay
 *   npx cdk deploy -c apiCloudWatchRole=false          # the account's API Gateway logging role exists already
 */
import { App } from 'aws-cdk-lib';
import { isOperatorError, stackFromContext } from './from-context.ts';

const app = new App();
try {
  stackFromContext(app);
  app.synth();
} catch (e) {
  // A configuration mistake is the operator's to fix: say what, without a stack trace.
  if (!isOperatorError(e)) throw e;
  process.stderr.write(`amo-gateway: ${e.message}\n`);
  process.exit(1);
}
