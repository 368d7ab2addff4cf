/**
 * The deployable stack: one AmoGateway plus the outputs operators and the CLI read (API and
 * route URLs, table, queues, event bus, alarm topic, dashboard, the secrets to create), and the
 * cdk-nag suppressions (with reasons) for what the design decides on purpose.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RouteTable } from '../../lib/routes.ts';
import { EVENT_SOURCE } from '../../lib/events/bus.ts';
import { secretNames } from './config.ts';
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
    new CfnOutput(this, 'EventBusName', {
      value: this.gateway.eventBus.eventBusName,
      description: `Typed events (source ${EVENT_SOURCE}); attach rules here`,
    });
    new CfnOutput(this, 'EventBusArn', { value: this.gateway.eventBus.eventBusArn });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.gateway.monitoring.topic.topicArn,
      description: 'Every alarm notifies this SNS topic',
    });
    new CfnOutput(this, 'DashboardName', { value: this.gateway.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'SecretsPrefix', {
      value: this.gateway.secretsPrefix,
      description: 'AMO_SECRETS_PREFIX: create each secret the config references as <prefix><name>',
    });
    const names = secretNames(props.config);
    if (names.length) {
      // The Secrets Manager names to create before the functions can work (values never in the template).
      new CfnOutput(this, 'SecretNames', {
        value: names.map((n) => `${this.gateway.secretsPrefix}${n}`).join(','),
        description: 'Secrets Manager secrets the config references (create them; comma-separated)',
      });
    }
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
