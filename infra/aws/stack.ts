/**
 * The deployable stack: one AmoGateway plus the outputs operators and the CLI read (API and
 * route URLs, table, queues, event bus, alarm topic, dashboard, the secrets to create), and the
 * cdk-nag suppressions (with reasons) for what the design decides on purpose.
 */
import { CfnOutput, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Config } from '../../lib/config/index.ts';
import type { Route, RouteTable } from '../../lib/routes.ts';
import { EVENT_SOURCE } from '../../lib/events/bus.ts';
import { secretNames } from './config.ts';
import { AmoGateway, type AmoGatewayProps } from './gateway.ts';
import { applyNagSuppressions } from './nag.ts';

export interface AmoGatewayStackProps extends StackProps, Omit<AmoGatewayProps, 'routes'> {
  readonly routes: RouteTable;
  /** `-c stage=dev|prod` (from-context.ts): tagged on every resource and named in NextSteps. */
  readonly stage?: string;
}

/** One URL a user pastes somewhere, for one config entry (an account, a form, a messenger). */
export interface PasteUrl {
  /** The output's id (letters and digits once CDK drops the rest). */
  readonly key: string;
  /** The route's path with its parameters filled: a config value, or `<value of secret NAME>`. */
  readonly path: string;
  readonly description: string;
}

/**
 * How the config fills a route's path parameters into the URLs users paste, by route id of the
 * route table. A route not named here still has its `Route-<id>` output (`{param}` left in); a key
 * naming no route of the table is ignored (a route table without that route has no such URL).
 * Secret values are never in the template: a token parameter is printed as `<value of secret NAME>`.
 */
export const PASTE_URLS: Readonly<Record<string, (c: Config, secretsPrefix: string, route: Route) => PasteUrl[]>> = {
  'amocrm-hook': (c, prefix, r) =>
    c.accounts.flatMap((a) =>
      a.hookToken
        ? [
            {
              key: `WebhookUrl-${a.id}`,
              path: fill(r.path, { token: `<value of secret ${prefix}${a.hookToken.secret}>` }),
              description: `amoCRM account ${a.id}: Settings → Integrations → Webhooks URL (the token is the secret's value, never printed here)`,
            },
          ]
        : [],
    ),
  'zdrav-mc': (c, prefix, r) =>
    (c.rdesk?.accounts ?? []).map((a) => ({
      key: `RdeskMcUrl-${a.account}`,
      path: fill(r.path, { token: `<value of secret ${prefix}${a.token.secret}>` }),
      description: `RDESK medical-centre push URL for account ${a.account}`,
    })),
  'zdrav-booked': (c, prefix, r) =>
    (c.rdesk?.accounts ?? []).map((a) => ({
      key: `RdeskBookedUrl-${a.account}`,
      path: fill(r.path, { token: `<value of secret ${prefix}${a.token.secret}>` }),
      description: `RDESK booking push URL for account ${a.account}`,
    })),
  forms: (c, _prefix, r) =>
    (c.forms?.list ?? []).map((f) => ({
      key: `FormUrl-${f.id}`,
      path: fill(r.path, { form_id: f.id }),
      description: `Site form ${f.id}: the form's action URL (POST)`,
    })),
  'chat-inbound': (c, _prefix, r) =>
    (c.chat?.messengers ?? []).map((m) => ({
      key: `ChatUrl-${m.id}`,
      path: fill(r.path, { channel: m.id }),
      description: `Messenger ${m.id}: POST its messages here with the API key (x-api-key; aws apigateway get-api-keys --include-values)`,
    })),
  'amojo-callback': (c, _prefix, r) =>
    c.chat
      ? [
          {
            key: 'AmojoCallbackUrl',
            path: r.path,
            description:
              "The chat channel's callback URL for amoCRM support's channel registration: amojo calls it with the connection's scope_id in place of {scope_id}",
          },
        ]
      : [],
  onec: (c, _prefix, r) =>
    c.onec
      ? [
          {
            key: 'OnecUrl',
            path: fill(r.path, { op: '' }).replace(/\/$/, ''),
            description: "1C's base URL: POST <this>/<operation> with x-api-key; GET <this>/requests/<id>, <this>/managers",
          },
        ]
      : [],
};

/** CloudFormation's limit of outputs per stack. */
const MAX_OUTPUTS = 200;
/** Outputs besides the routes' and the pasted URLs (ApiUrl, RedirectUri, …, MoreUrls), with room to spare. */
const RESERVED_OUTPUTS = 25;

/** The path with `{name}` replaced by `values[name]` (a parameter without a value stays). */
function fill(path: string, values: Readonly<Record<string, string>>): string {
  return path.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name: string) => values[name] ?? m);
}

export class AmoGatewayStack extends Stack {
  readonly gateway: AmoGateway;

  constructor(scope: Construct, id: string, props: AmoGatewayStackProps) {
    super(scope, id, props);
    this.gateway = new AmoGateway(this, 'Gateway', props);
    const api = this.gateway.api?.api;
    if (props.stage) Tags.of(this).add('amo-gateway:stage', props.stage);
    const prefix = this.gateway.secretsPrefix;
    if (api) {
      new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the inbound routes' });
      for (const r of props.routes.routes) {
        // `{param}` stays in the URL: the real value (a per-account token) is never in the template.
        new CfnOutput(this, `Route-${r.id}`, { value: api.urlForPath(r.path), description: `${r.method} ${r.description}` });
      }
      const byAuth = (auth: Route['auth']) => props.routes.routes.find((r) => r.auth === auth);
      const redirect = byAuth('oauth-state');
      if (redirect) {
        // CloudFormation cannot compare it with the config (a condition cannot read the API's id): the description says what must match.
        const configured = [...new Set(props.config.integrations.map((i) => i.redirectUri))];
        new CfnOutput(this, 'RedirectUri', {
          value: api.urlForPath(redirect.path),
          description: truncate(
            `The integration's Redirect URI in amoCRM; the config's integrations[].redirectUri must equal it character for character (config: ${configured.join(' ')}) — else put a custom domain in front that serves it`,
          ),
        });
        new CfnOutput(this, 'ConfigRedirectUris', {
          value: configured.join(' '),
          description: 'integrations[].redirectUri of the config: each must equal RedirectUri',
        });
      }
      const disconnect = byAuth('disconnect-hmac');
      if (disconnect) {
        new CfnOutput(this, 'DisconnectUrl', {
          value: api.urlForPath(disconnect.path),
          description: "The integration's disconnect hook URL in amoCRM (integrations[].disconnectUri)",
        });
      }
      const key = this.gateway.api?.apiKey;
      if (key) {
        new CfnOutput(this, 'EdgeApiKeyId', {
          value: key.keyId,
          description: 'The x-api-key of the edge-api-key routes: aws apigateway get-api-key --include-value --api-key <this>',
        });
      }
      // CloudFormation allows 200 outputs per stack, and CDK turns `a-b` and `ab` into one logical id.
      const urls = props.routes.routes.flatMap((r) => PASTE_URLS[r.id]?.(props.config, prefix, r) ?? []);
      const room = Math.max(0, MAX_OUTPUTS - RESERVED_OUTPUTS - props.routes.routes.length);
      const taken = new Set<string>();
      for (const u of urls.slice(0, room)) {
        const base = u.key.replace(/[^A-Za-z0-9]/g, '');
        let key = base;
        for (let n = 2; taken.has(key); n++) key = `${base}${n}`;
        taken.add(key);
        new CfnOutput(this, key, { value: api.urlForPath(u.path), description: truncate(u.description) });
      }
      if (urls.length > room) {
        new CfnOutput(this, 'MoreUrls', {
          value: `${urls.length - room} more URLs (CloudFormation prints at most ${MAX_OUTPUTS} outputs): fill the Route<id> templates`,
        });
      }
    }
    new CfnOutput(this, 'NextSteps', {
      value: nextSteps(props, id, prefix, secretNames(props.config), api !== undefined),
      description: 'What to run after the deploy, in order',
    });
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

/** CloudFormation caps an output's description at 1024 characters. */
function truncate(text: string, max = 1024): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The commands to run after `cdk deploy`, in order (one line each, `;`-separated: an output is a
 * string): create the secrets, set the Redirect URI, install each account, confirm the alarm
 * e-mail. CloudFormation caps an output value at 4096 characters; long lists are cut with a pointer.
 */
export function nextSteps(props: AmoGatewayStackProps, id: string, secretsPrefix: string, names: readonly string[], hasApi = true): string {
  const stack = props.stackName ?? id;
  const steps: string[] = [];
  if (names.length) {
    steps.push(
      `1) create each secret of SecretNames: aws secretsmanager create-secret --name ${secretsPrefix}${names[0]} --secret-string <value> (${names.length} in all)`,
    );
  }
  if (hasApi) {
    steps.push(`2) set the integration's Redirect URI in amoCRM to RedirectUri (and the disconnect hook to DisconnectUrl)`);
    steps.push(`3) paste each WebhookUrl-<account> into amoCRM with the hook-token secret's value in place of <value of secret …>`);
  }
  for (const a of props.config.accounts) steps.push(`4) npx amo-gateway auth link --stack ${stack} --account ${a.id}`);
  if (props.alarmEmail) steps.push(`5) confirm the alarm e-mail subscription sent to ${props.alarmEmail}`);
  const text = steps.join('; ');
  return text.length <= 4096 ? text : `${text.slice(0, 4000)}… (infra/aws/README.md "Deploy")`;
}

/** `AmoGateway` → `amo-gateway`, `AmoGatewayStaging` → `amo-gateway-staging`. */
export function kebabCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
}
