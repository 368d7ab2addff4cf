/** cdk-nag AwsSolutions over the shipped stack: nothing left unaddressed; suppressions carry reasons. */
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { routeTable } from '../../lib/routes.ts';
import { AmoGateway } from '../../infra/aws/gateway.ts';
import { AmoGatewayStack } from '../../infra/aws/stack.ts';
import { exampleConfig } from './support/config.ts';

const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

function findings(stack: Stack) {
  const a = Annotations.fromStack(stack);
  const pattern = Match.stringLikeRegexp('AwsSolutions-');
  return [...a.findError('*', pattern), ...a.findWarning('*', pattern)].map(
    (f) => `${f.id}: ${String(f.entry.data).match(/^AwsSolutions-[A-Z0-9]+/)?.[0] ?? String(f.entry.data)}`,
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('the stack has no unsuppressed findings', () => {
    const app = new App({ context: NO_BUNDLING });
    const stack = new AmoGatewayStack(app, 'AmoGateway', { routes: routeTable, namePrefix: 'amo-gateway', config: exampleConfig });
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    expect(findings(stack)).toEqual([]);
  });

  it('the checks do run: the bare construct, without our suppressions, is flagged', () => {
    const app = new App({ context: NO_BUNDLING });
    const stack = new Stack(app, 'Bare');
    new AmoGateway(stack, 'Gateway', { routes: routeTable, namePrefix: 'amo-gateway', config: exampleConfig });
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    const ids = new Set(findings(stack).map((f) => f.split(': ')[1]));
    expect([...ids].sort()).toEqual([
      'AwsSolutions-APIG2',
      'AwsSolutions-APIG3',
      'AwsSolutions-APIG4',
      'AwsSolutions-APIG6',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM4',
      'AwsSolutions-IAM5',
      'AwsSolutions-L1',
    ]);
  });
});
