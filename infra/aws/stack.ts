/**
 * The deployable stack: one AmoGateway plus the outputs operators and the CLI read, and the
 * cdk-nag suppressions (with reasons) for what the design decides on purpose.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RouteTable } from '../routes.ts';
import { AmoGateway, type AmoGatewayProps } from './gateway.ts';
import { applyNagSuppressions } from './nag.ts';

export interface AmoGatewayStackProps extends StackProps, Omit<AmoGatewayProps, 'routes'> {
  readonly routes: RouteTable;
}

export class AmoGatewayStack extends Stack {
  readonly gateway: AmoGateway;

  constructor(scope: Construct, id: string, props: AmoGatewayStackProps) {
    super(scope, id, props);
    this.gateway = new AmoGateway(this, 'Gateway', props);
    const api = this.gateway.api?.api;
    if (api) {
      new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the inbound routes' });
      for (const r of props.routes.routes) {
        // `{param}` stays in the URL: the real value (a per-account token) is never in the template.
        new CfnOutput(this, `Route-${r.id}`, { value: api.urlForPath(r.path), description: `${r.method} ${r.description}` });
      }
    }
    new CfnOutput(this, 'TableName', { value: this.gateway.table.tableName });
    new CfnOutput(this, 'Queues', {
      value: this.toJsonString(
        Object.fromEntries([...this.gateway.queues].map(([id, q]) => [id, { url: q.queue.queueUrl, dlqUrl: q.dlq.queueUrl }])),
      ),
      description: 'queue id → {url, dlqUrl}',
    });

    applyNagSuppressions(this.gateway);
  }
}

/** `AmoGateway` → `amo-gateway`, `AmoGatewayStaging` → `amo-gateway-staging`. */
export function kebabCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
}
