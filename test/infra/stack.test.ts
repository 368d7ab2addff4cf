/** CDK assertions over the stack synthesized from the shipped route table (bundling skipped). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { dlqName, queueName, redriveMaxReceiveCount, routeTable, SQS_MAX_MESSAGE_BYTES } from '../../lib/routes.ts';
import { TABLE_PK, TABLE_SK, TABLE_TTL_ATTRIBUTE } from '../../lib/store/table.ts';
import { ACCESS_LOG_FIELDS, EDGE_MESSAGES, routeMethodSettings } from '../../infra/aws/api.ts';
import { sendMessageTemplate } from '../../infra/aws/vtl.ts';
import { isOperatorError, stackFromContext } from '../../infra/aws/from-context.ts';
import { PROJECT_ROOT } from '../../infra/aws/gateway.ts';
import { PASTE_URLS } from '../../infra/aws/stack.ts';
import type { Config } from '../../lib/config/index.ts';
import { exampleConfig } from './support/config.ts';
import { logicalId, resolvePlaceholders, synthStack } from './support/synth.ts';

type Props = Record<string, unknown>;
let template: Template;

beforeAll(() => {
  ({ template } = synthStack());
});

const queueId = (name: string) => logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === name);
const fnId = (entryDescription: string) => logicalId(template, 'AWS::Lambda::Function', (p) => p.Description === entryDescription);
const fnDef = (id: string) => {
  const f = routeTable.functions.find((x) => x.id === id);
  if (!f) throw new Error(`no function ${id}`);
  return f;
};

describe('queues', () => {
  it("a FIFO queue's redrive is the route table's figure (1000 by default), whatever the stack-wide override says: its worker paces and parks by it", () => {
    // The shipped table has a FIFO queue (chat-in, issue 14).
    const withFifo = routeTable;
    expect(withFifo.queues.some((q) => q.fifo)).toBe(true);
    const t = synthStack({ routes: withFifo, props: { maxReceiveCount: 7 } }).template;
    const redrive = (name: string) =>
      (
        Object.values(t.findResources('AWS::SQS::Queue')).find((r) => (r as { Properties: Props }).Properties.QueueName === name) as {
          Properties: Props;
        }
      ).Properties.RedrivePolicy as { maxReceiveCount: number };
    expect(redrive('amo-gateway-chat-in.fifo').maxReceiveCount).toBe(1000);
    expect(redrive(queueName(routeTable.queues[0]!)).maxReceiveCount).toBe(7);
  });

  it.each(routeTable.queues.map((q) => [q.id, q] as const))('%s: 1 MiB, SSE, table settings, DLQ with a high maxReceiveCount', (_id, q) => {
    const dlq = queueId(dlqName(q));
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: queueName(q),
      MaximumMessageSize: SQS_MAX_MESSAGE_BYTES,
      VisibilityTimeout: q.visibilityTimeoutSeconds,
      MessageRetentionPeriod: q.retentionDays * 86_400,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: redriveMaxReceiveCount(q) },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: dlqName(q),
      MaximumMessageSize: SQS_MAX_MESSAGE_BYTES,
      MessageRetentionPeriod: 14 * 86_400,
      SqsManagedSseEnabled: true,
    });
    expect(SQS_MAX_MESSAGE_BYTES).toBe(1_048_576);
  });

  it('every queue and DLQ refuses plain HTTP', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(routeTable.queues.length * 2);
    for (const p of policies) expect(JSON.stringify(p)).toContain('"aws:SecureTransport":"false"');
  });
});

describe('the DynamoDB table', () => {
  it('has string pk/sk, TTL on expiresAt, on-demand billing, PITR, and is retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: TABLE_PK, KeyType: 'HASH' },
          { AttributeName: TABLE_SK, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: TABLE_PK, AttributeType: 'S' },
          { AttributeName: TABLE_SK, AttributeType: 'S' },
        ]),
        TimeToLiveSpecification: { AttributeName: TABLE_TTL_ATTRIBUTE, Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
    expect(TABLE_TTL_ATTRIBUTE).toBe('expiresAt');
  });
});

describe('functions', () => {
  it.each(routeTable.functions.map((f) => [f.id, f] as const))('%s: nodejs22.x on arm64 with its timeout, memory and env', (_id, f) => {
    const id = fnId(f.description);
    const res = template.findResources('AWS::Lambda::Function')[id] as { Properties: Props };
    expect(res.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: f.timeoutSeconds,
      MemorySize: f.memoryMb,
      Handler: 'index.handler',
    });
    const env = (res.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    // Exactly the env contract (infra/aws/README.md): nothing secret rides in the environment.
    const consumer = routeTable.queues.some((q) => q.consumer === f.id);
    const contract = [
      'AMO_CONFIG_JSON',
      'AMO_SECRETS_PREFIX',
      'NODE_OPTIONS',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
      'QUEUES',
      'TABLE_NAME',
    ];
    expect(Object.keys(env).sort()).toEqual((consumer ? [...contract, 'EVENT_BUS_NAME'] : contract).sort());
    expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe('AmoGateway');
    expect(env.TABLE_NAME).toEqual({ Ref: logicalId(template, 'AWS::DynamoDB::Table', () => true) });
    expect(env.POWERTOOLS_SERVICE_NAME).toBe('amo-gateway');

    const queues = JSON.parse(resolvePlaceholders(env.QUEUES)) as Record<string, { arn: string; url: string; dlqUrl: string }>;
    expect(Object.keys(queues).sort()).toEqual(routeTable.queues.map((q) => q.id).sort());
    for (const q of routeTable.queues) {
      expect(queues[q.id]).toEqual({
        arn: `<GetAtt:${queueId(queueName(q))}.Arn>`,
        url: `<Ref:${queueId(queueName(q))}>`,
        dlqUrl: `<Ref:${queueId(dlqName(q))}>`,
      });
    }
  });

  it('function roles carry no AWS-managed policy (logging is scoped to their own log group)', () => {
    for (const f of routeTable.functions) {
      const res = template.findResources('AWS::Lambda::Function')[fnId(f.description)] as {
        Properties: { Role: { 'Fn::GetAtt': [string, string] } };
      };
      const role = template.findResources('AWS::IAM::Role')[res.Properties.Role['Fn::GetAtt'][0]] as { Properties: Props };
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('each queue feeds its consumer with the batch settings and partial batch failures', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', routeTable.queues.length);
    for (const q of routeTable.queues) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [queueId(queueName(q)), 'Arn'] },
        FunctionName: { Ref: fnId(fnDef(q.consumer).description) },
        BatchSize: q.batchSize,
        MaximumBatchingWindowInSeconds: q.batchingWindowSeconds > 0 ? q.batchingWindowSeconds : Match.absent(),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('consumers may consume their queues; sends and table grants exist (per-function pins: test/infra/iam.test.ts)', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    for (const action of [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:SendMessage',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]) {
      expect(policies).toContain(action);
    }
  });

  it('the forms route and its preflight are Lambda proxy methods on /forms/{form_id}', () => {
    const forms = Object.values(template.findResources('AWS::ApiGateway::Method')).filter((m) =>
      resolvePlaceholders(((m as { Properties: Props }).Properties.Integration as Props | undefined)?.Uri ?? '').includes(
        `<GetAtt:${fnId(fnDef('forms').description)}.Arn>`,
      ),
    );
    expect(forms.map((m) => (m as { Properties: Props }).Properties.HttpMethod).sort()).toEqual(['OPTIONS', 'POST']);
  });

  it('each schedule is an EventBridge rate rule targeting its function', () => {
    template.resourceCountIs('AWS::Events::Rule', routeTable.schedules.length);
    for (const s of routeTable.schedules) {
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: `rate(${s.rateMinutes} minutes)`,
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId(fnDef(s.function).description), 'Arn'] } })],
      });
    }
  });
});

describe('the REST API', () => {
  const methods = () => Object.values(template.findResources('AWS::ApiGateway::Method')) as Array<{ Properties: Props }>;

  it.each(routeTable.routes.filter((r) => r.target.kind === 'queue').map((r) => [r.id, r] as const))(
    '%s: AWS integration to SQS SendMessage, NEVER passthrough, one template per content type, mapped responses',
    (_id, route) => {
      if (route.target.kind !== 'queue') throw new Error('unreachable');
      const queue = routeTable.queues.find((q) => q.id === (route.target as { queue: string }).queue);
      if (!queue) throw new Error('no queue');
      const template1 = sendMessageTemplate(route);
      const found = methods().filter((m) => {
        const integ = m.Properties.Integration as Props;
        return (
          m.Properties.HttpMethod === route.method &&
          integ.Type === 'AWS' &&
          JSON.stringify(integ.RequestTemplates).includes(JSON.stringify(route.id).slice(1, -1))
        );
      });
      expect(found).toHaveLength(1);
      const integ = found[0]?.Properties.Integration as Props;
      expect(integ.PassthroughBehavior).toBe('NEVER');
      expect(integ.IntegrationHttpMethod).toBe('POST');
      expect(integ.RequestTemplates).toEqual(Object.fromEntries(route.contentTypes.map((ct) => [ct, template1])));
      expect(integ.RequestParameters).toEqual({ 'integration.request.header.Content-Type': "'application/x-www-form-urlencoded'" });
      const uri = resolvePlaceholders(integ.Uri);
      expect(uri).toMatch(/^arn:<Ref:AWS::Partition>:apigateway:<Ref:AWS::Region>:sqs:path\/<Ref:AWS::AccountId>\//);
      expect(uri.endsWith(`/<GetAtt:${queueId(queueName(queue))}.QueueName>`)).toBe(true);

      const responses = integ.IntegrationResponses as Array<Props>;
      expect(responses).toHaveLength(2);
      expect(responses[0]).toEqual({
        StatusCode: String(route.ack?.status),
        SelectionPattern: '2\\d{2}',
        ResponseTemplates: { 'application/json': route.ack?.body },
      });
      expect(responses[1]?.SelectionPattern).toBeUndefined(); // the default: anything not 2xx
      expect(responses[1]?.StatusCode).toMatch(/^5\d\d$/);

      // The credentials role may only SendMessage to this queue.
      const roleId = (integ.Credentials as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const rolePolicies = Object.values(template.findResources('AWS::IAM::Policy')).filter(
        (p) => JSON.stringify((p as { Properties: Props }).Properties.Roles) === JSON.stringify([{ Ref: roleId }]),
      );
      expect(rolePolicies).toHaveLength(1);
      expect((rolePolicies[0] as { Properties: { PolicyDocument: Props } }).Properties.PolicyDocument.Statement).toEqual([
        { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [queueId(queueName(queue)), 'Arn'] } },
      ]);
    },
  );

  it('every route resource answers other methods with a MOCK JSON 405 and Allow', () => {
    const byPath = new Map<string, string[]>();
    for (const r of routeTable.routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r.method]);
    const expected = [...byPath.values()]
      .map((ms) => [...new Set(ms)].sort())
      .map((ms) => ({
        StatusCode: '405',
        ResponseTemplates: { 'application/json': JSON.stringify({ message: 'Method Not Allowed', allow: ms }) },
        ResponseParameters: { 'method.response.header.Allow': `'${ms.join(', ')}'` },
      }));
    const any = methods().filter((m) => m.Properties.HttpMethod === 'ANY');
    expect(any).toHaveLength(byPath.size);
    const got = any.map((m) => {
      const integ = m.Properties.Integration as {
        Type: string;
        PassthroughBehavior: string;
        RequestTemplates: Record<string, string>;
        IntegrationResponses: Props[];
      };
      expect(integ.Type).toBe('MOCK');
      expect(integ.PassthroughBehavior).toBe('NEVER');
      expect(Object.keys(integ.RequestTemplates)).toContain('application/json');
      expect(integ.IntegrationResponses).toHaveLength(1);
      return integ.IntegrationResponses[0];
    });
    const allowOf = (x: unknown) =>
      String((x as { ResponseParameters: Record<string, string> }).ResponseParameters['method.response.header.Allow']);
    const byAllow = (a: unknown, b: unknown) => allowOf(a).localeCompare(allowOf(b));
    expect([...got].sort(byAllow)).toEqual([...expected].sort(byAllow));
  });

  it.each(routeTable.routes.filter((r) => r.target.kind === 'function').map((r) => [r.id, r] as const))(
    '%s: Lambda proxy integration to its function',
    (_id, route) => {
      if (route.target.kind !== 'function') throw new Error('unreachable');
      const fn = fnId(fnDef(route.target.function).description);
      const found = methods().filter(
        (m) =>
          m.Properties.HttpMethod === route.method &&
          (m.Properties.Integration as Props).Type === 'AWS_PROXY' &&
          resolvePlaceholders((m.Properties.Integration as Props).Uri).includes(`<GetAtt:${fn}.Arn>`),
      );
      expect(found.length).toBeGreaterThanOrEqual(1);
    },
  );

  it('gateway responses: unknown route 404, 415, 413, 429 and JSON defaults', () => {
    // The local runner's texts (infra/local/http.ts).
    expect(EDGE_MESSAGES).toEqual({
      notFound: 'Not Found',
      methodNotAllowed: 'Method Not Allowed',
      unsupportedMediaType: 'Unsupported Media Type',
      tooLarge: 'Payload Too Large',
      throttled: 'Too Many Requests',
    });
    const expected: Array<[string, string, string]> = [
      ['MISSING_AUTHENTICATION_TOKEN', '404', EDGE_MESSAGES.notFound],
      ['UNSUPPORTED_MEDIA_TYPE', '415', EDGE_MESSAGES.unsupportedMediaType],
      ['REQUEST_TOO_LARGE', '413', EDGE_MESSAGES.tooLarge],
      ['THROTTLED', '429', EDGE_MESSAGES.throttled],
    ];
    for (const [type, status, message] of expected) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        ResponseTemplates: { 'application/json': JSON.stringify({ message }) },
      });
    }
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseTemplates: { 'application/json': '{"message":$context.error.messageString}' },
      });
    }
  });

  it('access logs carry the resource path, never the raw path; the stage is throttled; no execution logs', () => {
    const stages = Object.values(template.findResources('AWS::ApiGateway::Stage')) as Array<{ Properties: Props }>;
    expect(stages).toHaveLength(1);
    const stage = stages[0]?.Properties as { AccessLogSetting: { Format: string; DestinationArn: unknown }; MethodSettings: Props[] };
    const format = stage.AccessLogSetting.Format;
    expect(format).toContain('$context.resourcePath');
    expect(format).not.toMatch(/\$context\.path\b/);
    expect(JSON.parse(format)).toEqual(ACCESS_LOG_FIELDS);
    expect(stage.AccessLogSetting.DestinationArn).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    // Nothing that can carry a path token, a query secret or a credential.
    for (const v of Object.values(ACCESS_LOG_FIELDS))
      expect(v).not.toMatch(/\$context\.(path|requestOverride)|\$input|authorizer|apiKey\b/);
    const throttled = routeTable.routes.filter((r) => r.throttle);
    expect(throttled.map((r) => r.id).sort()).toEqual(
      ['forms', 'forms-preflight', 'oauth-callback', 'oauth-disconnect', 'onec', 'onec-managers', 'onec-status'].sort(),
    );
    expect(stage.MethodSettings).toEqual([
      expect.objectContaining({
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 50,
        ThrottlingBurstLimit: 100,
        LoggingLevel: 'OFF',
        DataTraceEnabled: false,
        // Not stage-wide: the 405 mocks would publish billed per-method metrics too.
        MetricsEnabled: false,
      }),
      // Every route method: CloudFormation's resource path with each `/` as `~1`, the stage's logging
      // settings kept, detailed metrics (requests per route on the dashboard), its own throttle or the stage's.
      ...routeTable.routes.map((r) => ({
        HttpMethod: r.method,
        ResourcePath: `/${r.path.replace(/\//g, '~1')}`,
        ThrottlingRateLimit: r.throttle?.rateLimit ?? 50,
        ThrottlingBurstLimit: r.throttle?.burstLimit ?? 100,
        LoggingLevel: 'OFF',
        DataTraceEnabled: false,
        MetricsEnabled: true,
      })),
    ]);
    // The public function routes are tighter than the stage; the direct (queue) routes keep the stage's.
    for (const r of routeTable.routes) {
      if (r.target.kind === 'queue') expect(r.throttle, r.id).toBeUndefined();
      else expect(r.throttle?.rateLimit, r.id).toBeLessThan(50);
    }
  });

  it("a route's throttle may only tighten the stage's: a looser one is refused at synth", () => {
    const forms = routeTable.routes.find((r) => r.id === 'forms')!;
    expect(() =>
      routeMethodSettings([{ ...forms, throttle: { rateLimit: 60, burstLimit: 40 } }], { rateLimit: 50, burstLimit: 100 }),
    ).toThrow(/forms: its throttle \(60\/s, burst 40\) exceeds the stage's \(50\/s, burst 100\)/);
  });

  it('no binary media types (the body reaches the template as text, base64Encode gives back its bytes)', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: Match.absent(),
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });
});

describe('outputs', () => {
  it('give the API URL, each route URL with its {param} left in, the table and the queues', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'TableName',
        'Queues',
        'EventBusName',
        'EventBusArn',
        'AlarmTopicArn',
        'DashboardName',
        'SecretsPrefix',
        'SecretNames',
      ]),
    );
    expect(outputs.SecretNames?.Value).toBe(
      'amo-gateway/client-secret/main-kommo,amo-gateway/client-secret/main-ru,amo-gateway/hook-token/clinic,amo-gateway/hook-token/clinic-intl,amo-gateway/rdesk-token/clinic',
    );
    for (const r of routeTable.routes) {
      const out = Object.entries(outputs).find(([k]) => k.startsWith(`Route${r.id.replace(/-/g, '')}`));
      expect(out, r.id).toBeDefined();
      expect(resolvePlaceholders(out?.[1].Value)).toContain(r.path);
    }
  });
});

describe('outputs users paste', () => {
  const out = (key: string) => {
    const o = template.findOutputs('*')[key];
    if (!o) throw new Error(`no output ${key}`);
    return { value: resolvePlaceholders(o.Value), description: String(o.Description) };
  };
  // The stage URL as the ApiUrl output gives it (its API and stage ids are CloudFormation references).
  const api = () => out('ApiUrl').value;

  it('the Redirect URI (with the config value it must equal) and the disconnect URL', () => {
    expect(api()).toMatch(/^https:\/\/<Ref:\w+>\.execute-api\.<Ref:AWS::Region>\.<Ref:AWS::URLSuffix>\/<Ref:\w+>\/$/);
    expect(out('RedirectUri').value).toBe(`${api()}oauth/callback`);
    expect(out('RedirectUri').description).toContain('config: https://amo-gateway.example.com/oauth/callback');
    expect(out('ConfigRedirectUris').value).toBe('https://amo-gateway.example.com/oauth/callback');
    expect(out('DisconnectUrl').value).toBe(`${api()}oauth/disconnect`);
    // The chat route's API key: its id, never its value.
    expect(out('EdgeApiKeyId').value).toBe(`<Ref:${logicalId(template, 'AWS::ApiGateway::ApiKey', () => true)}>`);
  });

  it("one webhook URL per account and per RDESK account, naming the token's secret, never its value", () => {
    expect(out('WebhookUrlclinic').value).toBe(`${api()}hooks/amocrm/<value of secret amo-gateway/hook-token/clinic>`);
    expect(out('WebhookUrlclinicintl').value).toBe(`${api()}hooks/amocrm/<value of secret amo-gateway/hook-token/clinic-intl>`);
    expect(out('RdeskMcUrlclinic').value).toBe(`${api()}zdrav/mc/<value of secret amo-gateway/rdesk-token/clinic>`);
    expect(out('RdeskBookedUrlclinic').value).toBe(`${api()}zdrav/booked/<value of secret amo-gateway/rdesk-token/clinic>`);
    // The example config has no forms, chat or onec section: no such URLs.
    expect(Object.keys(template.findOutputs('*')).filter((k) => /^(FormUrl|ChatUrl|AmojoCallbackUrl|OnecUrl)/.test(k))).toEqual([]);
  });

  it('forms per form, chat per messenger, the amojo callback and 1C, from their config sections', () => {
    const route = (id: string) => routeTable.routes.find((r) => r.id === id)!;
    const config = {
      forms: { list: [{ id: 'contact' }, { id: 'callback' }] },
      chat: { messengers: [{ id: 'site-chat' }] },
      onec: { callers: [] },
    } as unknown as Config;
    const urls = (id: string) => PASTE_URLS[id]!(config, 'p/', route(id));
    expect(urls('forms')).toEqual([
      expect.objectContaining({ key: 'FormUrl-contact', path: '/forms/contact' }),
      expect.objectContaining({ key: 'FormUrl-callback', path: '/forms/callback' }),
    ]);
    expect(urls('chat-inbound')).toEqual([expect.objectContaining({ key: 'ChatUrl-site-chat', path: '/chat/site-chat/messages' })]);
    expect(urls('amojo-callback')).toEqual([expect.objectContaining({ key: 'AmojoCallbackUrl', path: '/chat/amojo/{scope_id}' })]);
    expect(urls('onec')).toEqual([expect.objectContaining({ key: 'OnecUrl', path: '/1c' })]);
    // Every key names a route of the table (a renamed route would silently lose its URLs).
    for (const id of Object.keys(PASTE_URLS))
      expect(
        routeTable.routes.map((r) => r.id),
        id,
      ).toContain(id);
  });

  it('NextSteps: the secrets to create, the URLs to set, one auth link per account', () => {
    const steps = out('NextSteps').value;
    expect(steps).toMatch(
      /^1\) create each secret of SecretNames: aws secretsmanager create-secret --name amo-gateway\/client-secret\/main-kommo/,
    );
    expect(steps).toContain('(5 in all)');
    expect(steps).toContain('RedirectUri');
    expect(steps).toContain('npx amo-gateway auth link --stack AmoGateway --account clinic');
    expect(steps).toContain('npx amo-gateway auth link --stack AmoGateway --account clinic-intl');
    expect(steps).not.toContain('confirm the alarm e-mail');
  });
});

describe('stages', () => {
  const appWith = (context: Record<string, unknown>) =>
    new App({ outdir: mkdtempSync(join(tmpdir(), 'amo-stage-')), context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const config = join(PROJECT_ROOT, 'amo.config.example.json');

  it('-c stage=dev: its own stack, names, secrets prefix and tag; alarms without e-mail unless given', () => {
    const stack = stackFromContext(appWith({ config, stage: 'dev' }));
    expect(stack.stackName).toBe('AmoGatewayDev');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'amo-gateway-dev-amocrm-hooks' });
    t.hasResourceProperties('AWS::Events::EventBus', { Name: 'amo-gateway-dev' });
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'amo-gateway-dev' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'amo-gateway-dev-dlq-amocrm-hooks' });
    t.hasResourceProperties('AWS::SQS::Queue', { Tags: Match.arrayWith([{ Key: 'amo-gateway:stage', Value: 'dev' }]) });
    t.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(t.findOutputs('SecretsPrefix').SecretsPrefix?.Value).toBe('amo-gateway-dev/');
    expect(resolvePlaceholders(t.findOutputs('NextSteps').NextSteps?.Value)).toContain('auth link --stack AmoGatewayDev');
    expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).length).toBe(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length,
    );
  });

  it('-c stage=prod: its own names, every alarm, and an alarm e-mail required (or an explicit none)', () => {
    expect(() => stackFromContext(appWith({ config, stage: 'prod' }))).toThrow(
      /stage prod needs someone to tell about its alarms: add -c alarmEmail=<address> \(or -c alarmEmail=none/,
    );
    const t = Template.fromStack(stackFromContext(appWith({ config, stage: 'prod', alarmEmail: 'ops@example.com' })));
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'amo-gateway-prod-amocrm-hooks' });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    expect(t.findOutputs('SecretsPrefix').SecretsPrefix?.Value).toBe('amo-gateway-prod/');
    const none = Template.fromStack(stackFromContext(appWith({ config, stage: 'prod', alarmEmail: 'none' })));
    none.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('no -c stage: the unstaged stack AmoGateway as before; an unknown stage is a clear synth error', () => {
    const stack = stackFromContext(appWith({ config }));
    expect(stack.stackName).toBe('AmoGateway');
    Template.fromStack(stack).hasResourceProperties('AWS::SQS::Queue', { QueueName: 'amo-gateway-amocrm-hooks' });
    let err: unknown;
    try {
      stackFromContext(appWith({ config, stage: 'qa' }));
    } catch (e) {
      err = e;
    }
    expect(isOperatorError(err)).toBe(true);
    expect((err as Error).message).toBe(
      'context stage "qa" is not a stage: use -c stage=dev or -c stage=prod (or leave it out for the unstaged stack AmoGateway)',
    );
  });
});

describe('output ids', () => {
  it('ids that collide once CDK drops their dashes (a-b, ab) get a suffix instead of overwriting each other', () => {
    const accounts = ['a-b', 'ab'].map((id, i) => ({
      id,
      integration: exampleConfig.integrations[0]!.id,
      subdomain: `s${i}`,
      domain: 'amocrm.ru' as const,
      hookToken: { secret: `hook-token/${i}` },
    }));
    const { template: t } = synthStack({ props: { config: { ...exampleConfig, accounts, rdesk: undefined } as Config } });
    const outputs = t.findOutputs('*');
    expect(resolvePlaceholders(outputs.WebhookUrlab?.Value)).toContain('hook-token/0>');
    expect(resolvePlaceholders(outputs.WebhookUrlab2?.Value)).toContain('hook-token/1>');
    expect(outputs.MoreUrls).toBeUndefined();
  });
});
