/**
 * The deployment stages (`-c stage=dev|prod`), free of aws-cdk-lib so the CLI (`amo-gateway
 * init`) names the same stack and secrets prefix the app builds. Each stage is its own stack,
 * with its own queue/bus/alarm names (`<namePrefix>-*`) and secrets (`<namePrefix>/`). Without
 * `-c stage` the app builds the unstaged stack `AmoGateway` (names `amo-gateway-*`, secrets
 * `amo-gateway/`) exactly as before stages existed: a deployed stack keeps its name (renaming it
 * would make CloudFormation create a second stack beside the first, whose retained table holds
 * the tokens).
 */
import { stackNamePrefix } from '../../lib/aws/stack-resolve.ts';

export const STAGES = {
  /** Alarms as in prod (what pages in prod has been seen firing in dev); an e-mail only if given. */
  dev: { stackName: 'AmoGatewayDev', alarmEmailRequired: false },
  /** Every alarm, and someone to tell: `-c alarmEmail=<address>`, or `-c alarmEmail=none` when the topic is subscribed elsewhere. */
  prod: { stackName: 'AmoGatewayProd', alarmEmailRequired: true },
} as const;

export type StageName = keyof typeof STAGES;

/** A stage's default names: the stack, the resource name prefix and the secrets prefix. */
export function stageNames(stage: StageName): { stackName: string; namePrefix: string; secretsPrefix: string } {
  const { stackName } = STAGES[stage];
  const namePrefix = stackNamePrefix(stackName);
  return { stackName, namePrefix, secretsPrefix: `${namePrefix}/` };
}
