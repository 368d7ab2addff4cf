/**
 * What issues 3–5 add to the stack: the event bus and the workers' PutEvents grant, the env
 * contract (config without secrets, secrets prefix, metrics namespace), the Secrets Manager grant
 * scoped to the prefix, and the alarms (with their thresholds), the alarm topic and the dashboard.
 * Bundling skipped.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema, secretRefSchema, type Config } from '../../lib/config/index.ts';
import { EVENT_SOURCE } from '../../lib/events/bus.ts';
import { dlqName, queueName, routeTable } from '../../lib/routes.ts';
import { secretNames } from '../../infra/aws/config.ts';
import { configEnvJson } from '../../infra/aws/gateway.ts';
import { CUSTOM_METRICS, insightsQuery, METRICS_NAMESPACE } from '../../infra/aws/metrics.ts';
import { catalogue, DEFERRAL_AGE_ALARM_SECONDS, TOKEN_AGE_ALARM_SECONDS } from '../../lib/metrics.ts';
import { PARKED_REASON_ALARMS } from '../../infra/aws/monitoring.ts';
import { exampleConfig } from './support/config.ts';
import { logicalId, resolvePlaceholders, synthStack } from './support/synth.ts';

type Props = Record<string, unknown>;
interface Statement {
  Action: string | string[];
  Effect: string;
  Resource: unknown;
}

let template: Template;
/** One synth with every optional prop set (synths are the slow part: share them). */
let variant: Template;
const VARIANT = {
  eventArchiveDays: 30,
  eventBusName: 'amo-events',
  alarmEmail: 'ops@example.com',
  secretsPrefix: 'amo-gateway/prod/',
} as const;
beforeAll(() => {
  ({ template } = synthStack());
  ({ template: variant } = synthStack({ props: VARIANT }));
});

const fnIds = () => Object.keys(template.findResources('AWS::Lambda::Function'));
const fnProps = (id: string) => (template.findResources('AWS::Lambda::Function')[id] as { Properties: Props }).Properties;
const envOf = (id: string) => (fnProps(id).Environment as { Variables: Record<string, unknown> }).Variables;
const fnIdOf = (fid: string) => {
  const def = routeTable.functions.find((f) => f.id === fid);
  if (!def) throw new Error(`no function ${fid}`);
  return logicalId(template, 'AWS::Lambda::Function', (p) => p.Description === def.description);
};
const workerIds = () => [...new Set(routeTable.queues.map((q) => q.consumer))].map(fnIdOf);

/** Every statement of the policies attached to the function's role. */
function statementsOf(t: Template, fnLogicalId: string): Statement[] {
  const fn = t.findResources('AWS::Lambda::Function')[fnLogicalId] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } };
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .map((p) => (p as { Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } } }).Properties)
    .filter((p) => JSON.stringify(p.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((p) => p.PolicyDocument.Statement);
}
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('the event bus', () => {
  it('is a custom bus named after the deployment, without an archive unless asked', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'amo-gateway' });
    template.resourceCountIs('AWS::Events::Archive', 0);
  });

  it('the workers (queue consumers) get EVENT_BUS_NAME and events:PutEvents on that bus only; other functions get neither', () => {
    const bus = logicalId(template, 'AWS::Events::EventBus', () => true);
    const workers = workerIds();
    expect(workers.length).toBeGreaterThan(0);
    for (const id of fnIds()) {
      const putEvents = statementsOf(template, id).filter((s) => actions(s).some((a) => a.startsWith('events:')));
      if (workers.includes(id)) {
        expect(envOf(id).EVENT_BUS_NAME).toEqual({ Ref: bus });
        expect(putEvents).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bus, 'Arn'] } }]);
      } else {
        expect(envOf(id).EVENT_BUS_NAME).toBeUndefined();
        expect(putEvents).toEqual([]);
      }
    }
  });

  it("an archive, when asked for, keeps the gateway's events for the given days", () => {
    const t = variant;
    const bus = logicalId(t, 'AWS::Events::EventBus', (p) => p.Name === 'amo-events');
    t.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [bus, 'Arn'] },
      RetentionDays: 30,
      EventPattern: { source: [EVENT_SOURCE] },
    });
    expect(() => synthStack({ props: { eventArchiveDays: 0 } })).toThrow(/eventArchiveDays must be a whole number of days ≥ 1, got 0/);
  });
});

describe('the function environment', () => {
  it('every function carries the config (validated, defaults filled in), the secrets prefix and the metrics namespace', () => {
    for (const id of fnIds()) {
      const env = envOf(id);
      expect(typeof env.AMO_CONFIG_JSON).toBe('string');
      const parsed = configSchema.parse(JSON.parse(env.AMO_CONFIG_JSON as string));
      expect(parsed).toEqual(exampleConfig);
      expect(env.AMO_SECRETS_PREFIX).toBe('amo-gateway/');
      expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe(METRICS_NAMESPACE);
      expect(env.POWERTOOLS_SERVICE_NAME).toBe('amo-gateway');
    }
  });

  it('AMO_CONFIG_JSON holds secret references only: every clientSecret is {secret}, no string sits under a secret-sounding key', () => {
    for (const id of fnIds()) {
      const config = JSON.parse(envOf(id).AMO_CONFIG_JSON as string) as Config;
      expect(config.integrations.length).toBeGreaterThan(0);
      for (const i of config.integrations) {
        expect(Object.keys(i.clientSecret)).toEqual(['secret']);
        expect(secretRefSchema.safeParse(i.clientSecret).success).toBe(true);
      }
      // Independent of infra/aws/config.ts: walk the JSON ourselves.
      const plain: string[] = [];
      const walk = (v: unknown, key: string) => {
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          const o = v as Record<string, unknown>;
          if (Object.keys(o).length === 1 && typeof o.secret === 'string') return;
          for (const [k, x] of Object.entries(o)) walk(x, k);
        } else if (Array.isArray(v)) {
          v.forEach((x) => walk(x, key));
        } else if (typeof v === 'string' && /secret|password|token|key/i.test(key)) {
          plain.push(key);
        }
      };
      walk(config, '');
      expect(plain).toEqual([]);
    }
  });

  it('a config with a secret value is refused at synth, with the zod message', () => {
    const leaky = { ...exampleConfig, integrations: [{ ...exampleConfig.integrations[0], clientSecret: 'abc123' }] } as unknown as Config;
    expect(() => configEnvJson(leaky)).toThrow(
      'invalid config:\n  - integrations.0.clientSecret: Invalid input: expected object, received string',
    );
    expect(() => synthStack({ props: { config: leaky } })).toThrow(
      /integrations\.0\.clientSecret: Invalid input: expected object, received string/,
    );
  });

  it("a config too large for Lambda's 4 KiB environment fails synth and says why", () => {
    const many = {
      ...exampleConfig,
      rdesk: undefined, // names the example's accounts, which this test replaces
      accounts: Array.from({ length: 40 }, (_, i) => ({
        id: `account-${i}`,
        integration: 'main-ru',
        subdomain: `clinic-number-${i}`,
        domain: 'amocrm.ru' as const,
      })),
    };
    expect(() => synthStack({ props: { config: configSchema.parse(many) } })).toThrow(
      /environment would be about \d+ bytes, over Lambda's 4096-byte limit; AMO_CONFIG_JSON alone is \d+ bytes/,
    );
  });
});

describe('secrets', () => {
  const secretStatements = (t: Template, id: string) =>
    statementsOf(t, id).filter(
      (s) => actions(s).some((a) => a.startsWith('secretsmanager:')) || JSON.stringify(s.Resource).includes('secretsmanager'),
    );

  // Which secrets each function reads is pinned in test/infra/iam.test.ts; here: never beyond the prefix.
  const secretResources = (t: Template, id: string): string[] =>
    secretStatements(t, id).flatMap((s) =>
      (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => String(resolvePlaceholders(r))),
    );

  it('a function may only GetSecretValue, only under the prefix; none on every resource', () => {
    for (const id of fnIds()) {
      for (const s of secretStatements(template, id)) expect(s.Action).toBe('secretsmanager:GetSecretValue');
      for (const r of secretResources(template, id))
        expect(r).toMatch(/^arn:<Ref:AWS::Partition>:secretsmanager:<Ref:AWS::Region>:<Ref:AWS::AccountId>:secret:amo-gateway\//);
      // No statement of the role grants on every resource.
      expect(statementsOf(template, id).filter((s) => s.Resource === '*')).toEqual([]);
    }
  });

  it('the prefix follows the name prefix by default, or is given; a bad one is refused', () => {
    const { template: staging } = synthStack({ props: { namePrefix: 'amo-staging' } });
    for (const [t, prefix] of [
      [staging, 'amo-staging/'],
      [variant, VARIANT.secretsPrefix],
    ] as const) {
      for (const [id, r] of Object.entries(t.findResources('AWS::Lambda::Function'))) {
        expect((r as { Properties: { Environment: { Variables: Props } } }).Properties.Environment.Variables.AMO_SECRETS_PREFIX).toBe(
          prefix,
        );
        for (const r of secretResources(t, id)) expect(r).toContain(`:secret:${prefix}`);
      }
      expect(t.findOutputs('SecretNames').SecretNames?.Value).toBe(
        secretNames(exampleConfig)
          .map((n) => `${prefix}${n}`)
          .join(','),
      );
    }
    expect(() => synthStack({ props: { secretsPrefix: 'amo' } })).toThrow(
      /secretsPrefix "amo" must be a Secrets Manager name prefix ending with "\/"/,
    );
  });
});

describe('alarms', () => {
  const alarms = () => Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => (a as { Properties: Props }).Properties);
  const topic = () => logicalId(template, 'AWS::SNS::Topic', () => true);
  const queueLogicalId = (name: string) => logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === name);

  it('one SNS topic (TLS only) that every alarm notifies, on alarm and on recovery; no e-mail unless asked', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(JSON.stringify(template.findResources('AWS::SNS::TopicPolicy'))).toContain('"aws:SecureTransport":"false"');
    // + 1: the API's 5xx; + the parks with their own alarm (no-processor, bad-token).
    const alarmed =
      routeTable.queues.length * 2 +
      routeTable.functions.length * 2 +
      CUSTOM_METRICS.filter((m) => m.alarm).length +
      1 +
      PARKED_REASON_ALARMS.length;
    expect(alarms()).toHaveLength(alarmed);
    for (const a of alarms()) {
      expect(a.AlarmActions).toEqual([{ Ref: topic() }]);
      expect(a.OKActions).toEqual([{ Ref: topic() }]);
      expect(a.TreatMissingData).toBe('notBreaching');
      expect(a.EvaluationPeriods).toBe(1);
      expect(String(a.AlarmDescription).length).toBeGreaterThan(40);
    }
    variant.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: VARIANT.alarmEmail,
      TopicArn: { Ref: logicalId(variant, 'AWS::SNS::Topic', () => true) },
    });
  });

  it('API 5xx: ≥ 5 in 5 min pages (amoCRM disables a webhook after > 100 failed answers in 2 h)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'amo-gateway-api-5xx',
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it.each(routeTable.queues.map((q) => [q.id, q] as const))('%s: DLQ visible > 0 over 5 min; oldest message > 10 min', (_id, q) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `amo-gateway-dlq-${q.id}`,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueLogicalId(dlqName(q)), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `amo-gateway-queue-age-${q.id}`,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueLogicalId(queueName(q)), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 600,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it.each(routeTable.functions.map((f) => [f.id] as const))('%s: Lambda Errors > 0 and Throttles > 0 over 5 min', (fid) => {
    for (const [metric, name] of [
      ['Errors', 'errors'],
      ['Throttles', 'throttles'],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `amo-gateway-${name}-${fid}`,
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnIdOf(fid) } }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('every catalogue metric with an alarm rule has its alarm: the Metrics Insights aggregate over every dimension set, ≥ its threshold over 5 min (20 min for a maximum)', () => {
    const rules = catalogue().filter((m) => m.alarm);
    // The trouble signals named by the catalogue's rule ("a metric that signals trouble alarms").
    expect(rules.map((m) => m.name)).toEqual(
      expect.arrayContaining([
        'WebhookBadToken',
        'Parked',
        'DeferredMessageAge',
        'DlqIndexWriteFailed',
        'ScheduledRefreshFailed',
        'AccountNeedsReauth',
        'AccountBlocked',
        'AmoRateLimited',
      ]),
    );
    for (const m of rules) {
      const stat = m.alarm?.stat ?? 'SUM';
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `amo-gateway-${m.name}`,
        Metrics: [
          {
            Id: Match.anyValue(),
            Expression: `SELECT ${stat}(${m.name}) FROM AmoGateway`,
            Period: stat === 'MAX' ? 1200 : 300,
            ReturnData: true,
            Label: m.name,
          },
        ],
        Threshold: m.alarm?.atLeast,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmDescription: Match.stringLikeRegexp(m.meaning.slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      });
    }
    // The deferral-age alarm reads the maximum age, in seconds.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'amo-gateway-DeferredMessageAge',
      Threshold: DEFERRAL_AGE_ALARM_SECONDS,
    });
    // Dashboard-only metrics (normal work) have no alarm.
    for (const m of catalogue().filter((x) => !x.alarm))
      expect(alarms().filter((a) => JSON.stringify(a).includes(`(${m.name})`))).toEqual([]);
  });

  it('parks by no-processor and by bad-token each have their own alarm: Parked filtered on its reason, ≥ 1 in 5 min, with the fix', () => {
    expect(PARKED_REASON_ALARMS.map((a) => a.reason)).toEqual(['no-processor', 'bad-token']);
    for (const { reason } of PARKED_REASON_ALARMS) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `amo-gateway-parked-${reason}`,
        Metrics: [
          {
            Id: Match.anyValue(),
            Expression: `SELECT SUM(Parked) FROM AmoGateway WHERE reason = '${reason}'`,
            Period: 300,
            ReturnData: true,
            Label: `Parked ${reason}`,
          },
        ],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmDescription: Match.stringLikeRegexp(`dlq (list|replay) --reason ${reason}`),
      });
    }
  });

  it('the token-age alarm: max TokenAgeSeconds per 20 min ≥ 16 h (the schedule refreshes at 12 h)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'amo-gateway-TokenAgeSeconds',
      Metrics: [Match.objectLike({ Expression: 'SELECT MAX(TokenAgeSeconds) FROM AmoGateway', Period: 1200 })],
      Threshold: TOKEN_AGE_ALARM_SECONDS,
    });
    expect(TOKEN_AGE_ALARM_SECONDS).toBe(16 * 3600);
  });

  it('metric names cannot break out of the query', () => {
    expect(insightsQuery('Parked', ['queue', 'reason'], 'SUM', { queue: 'rdesk' })).toBe(
      "SELECT SUM(Parked) FROM AmoGateway WHERE queue = 'rdesk' GROUP BY queue, reason",
    );
    expect(() => insightsQuery('Parked', undefined, 'SUM', { reason: "x' OR 1=1" })).toThrow(/not a plain dimension value/);
    expect(insightsQuery('Parked', 'reason')).toBe('SELECT SUM(Parked) FROM AmoGateway GROUP BY reason');
    expect(insightsQuery('DeferredMessageAge', undefined, 'MAX')).toBe('SELECT MAX(DeferredMessageAge) FROM AmoGateway');
    expect(() => insightsQuery('Parked) FROM x --')).toThrow(/not a plain metric name/);
    expect(() => insightsQuery('Parked', 'reason; DROP')).toThrow(/not a plain dimension name/);
  });
});

describe('the dashboard', () => {
  it('rows for every route (ingest), every queue (outcomes, depth, DLQ, age), amoCRM per account (calls, 429s, budget, breaker, token age), functions, and every custom metric', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')).map(
      (d) => (d as { Properties: Props }).Properties,
    );
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]?.DashboardName).toBe('amo-gateway');
    const body = resolvePlaceholders(dashboards[0]?.DashboardBody);
    const widgets = (JSON.parse(body) as { widgets: Array<{ properties: { title?: string; metrics?: unknown[][] } }> }).widgets;
    const byTitle = (re: RegExp) => {
      const w = widgets.find((x) => re.test(x.properties.title ?? ''));
      if (!w) throw new Error(`no widget ${re}`);
      return JSON.stringify(w.properties.metrics ?? w.properties);
    };
    for (const q of routeTable.queues) {
      expect(byTitle(/^Queue depth/)).toContain(
        `<GetAtt:${logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === queueName(q))}.QueueName>`,
      );
      expect(byTitle(/^Oldest message age/)).toContain(
        `<GetAtt:${logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === queueName(q))}.QueueName>`,
      );
      expect(byTitle(/^DLQ depth/)).toContain(
        `<GetAtt:${logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === dlqName(q))}.QueueName>`,
      );
    }
    expect(byTitle(/^API acks/)).toMatch(/"4XXError".*"5XXError"/);
    expect(byTitle(/^Worker duration/)).toContain('"Duration"');
    expect(byTitle(/^Worker duration/)).toContain(`<Ref:${fnIdOf('worker')}>`);
    expect(byTitle(/^Parked by reason$/)).toContain('SELECT SUM(Parked) FROM AmoGateway GROUP BY reason');
    // Ingest per route: API Gateway's Count per resource + method, one line per route of the table.
    const ingest = JSON.parse(byTitle(/^Ingest: requests per route$/)) as unknown[][];
    expect(ingest).toHaveLength(routeTable.routes.length);
    for (const [i, r] of routeTable.routes.entries()) {
      const line = ingest[i] as unknown[];
      expect(line.slice(0, 2)).toEqual(['AWS/ApiGateway', 'Count']);
      expect(line).toEqual(expect.arrayContaining(['Method', r.method, 'Resource', r.path, 'ApiName', 'amo-gateway', 'Stage']));
      expect(line.at(-1)).toEqual(expect.objectContaining({ label: r.id, stat: 'Sum' }));
    }
    // One row per queue (flow): processed, deferred and parked by reason, depth + DLQ, oldest message, deferred age.
    for (const q of routeTable.queues) {
      const t = (suffix: string) => byTitle(new RegExp(`^${q.id}: ${suffix.replace(/[()]/g, '\\$&')}$`));
      expect(t('processed')).toContain(`SELECT SUM(Processed) FROM AmoGateway WHERE queue = '${q.id}'`);
      expect(t('deferred by reason')).toContain(`SELECT SUM(Deferred) FROM AmoGateway WHERE queue = '${q.id}' GROUP BY reason`);
      expect(t('parked by reason')).toContain(`SELECT SUM(Parked) FROM AmoGateway WHERE queue = '${q.id}' GROUP BY reason`);
      expect(t('depth and DLQ')).toContain(
        `<GetAtt:${logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === dlqName(q))}.QueueName>`,
      );
      expect(t('oldest message (s)')).toContain(
        `<GetAtt:${logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === queueName(q))}.QueueName>`,
      );
      expect(t('max deferred age (s)')).toContain(`SELECT MAX(DeferredMessageAge) FROM AmoGateway WHERE queue = '${q.id}'`);
    }
    // amoCRM per account.
    expect(byTitle(/^amoCRM calls by account and outcome$/)).toContain('SELECT SUM(AmoCalls) FROM AmoGateway GROUP BY account, outcome');
    expect(byTitle(/^amoCRM 429s by account$/)).toContain('SELECT SUM(AmoRateLimited) FROM AmoGateway GROUP BY account');
    expect(byTitle(/^Rate-budget waits by account$/)).toContain('SELECT SUM(RateBudgetWaits) FROM AmoGateway GROUP BY account');
    expect(byTitle(/^Rate budget exhausted/)).toContain('SELECT SUM(RateBudgetExhausted) FROM AmoGateway GROUP BY account');
    expect(byTitle(/^Breaker: blocks opened by account$/)).toContain('SELECT SUM(AccountBlocked) FROM AmoGateway GROUP BY account');
    expect(byTitle(/^Breaker: messages held/)).toContain(
      "SELECT SUM(Deferred) FROM AmoGateway WHERE reason = 'account-blocked' GROUP BY queue",
    );
    expect(byTitle(/^Token age \(s\) by account$/)).toContain('SELECT MAX(TokenAgeSeconds) FROM AmoGateway GROUP BY account');
    // Every metric of the catalogue has its widget, titled by its name, querying its aggregate.
    expect(CUSTOM_METRICS.map((m) => m.name)).toEqual(catalogue().map((m) => m.name));
    for (const m of CUSTOM_METRICS) {
      const title = `${m.stat === 'MAX' ? 'max ' : ''}${m.name}${m.unit === 'Seconds' ? ' (s)' : ''}${m.groupBy ? ` by ${m.groupBy}` : ''}`;
      expect(widgets.map((w) => w.properties.title)).toContain(title);
      expect(byTitle(new RegExp(`^${title.replace(/[()]/g, '\\$&')}$`))).toContain(insightsQuery(m.name, m.groupBy, m.stat));
    }
    // A widget is one GetMetricData call, which takes one Metrics Insights query at most.
    for (const w of widgets)
      expect((JSON.stringify(w).match(/"expression":"SELECT /g) ?? []).length, w.properties.title).toBeLessThanOrEqual(1);
    // A grouped query has no label: each line is named by its group (a fixed label would name them all alike).
    for (const w of widgets)
      for (const line of (w.properties.metrics ?? []) as Array<Array<{ expression?: string; label?: string }>>)
        for (const o of line)
          if (typeof o === 'object' && o.expression?.includes(' GROUP BY ')) expect(o.label, o.expression).toBeUndefined();
    const alarmWidget = widgets.find((w) => w.properties.title === 'Alarms') as { properties: { alarms: unknown[] } } | undefined;
    expect(alarmWidget?.properties.alarms).toHaveLength(Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length);
  });
});
