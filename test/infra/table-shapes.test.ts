/**
 * The construct over route tables other than the shipped one: function (Lambda proxy) routes,
 * several methods on one path, FIFO queues, and the shapes refused at synth.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineRouteTable, dlqName, queueName, type RouteTableInput } from '../../lib/routes.ts';
import { kebabCase } from '../../infra/aws/stack.ts';
import { logicalId, resolvePlaceholders, synthStack } from './support/synth.ts';

type Props = Record<string, unknown>;

const base = (): RouteTableInput => ({
  routes: [
    {
      id: 'oauth-callback',
      description: 'OAuth redirect',
      method: 'GET',
      path: '/oauth/callback',
      bodyLimitBytes: 8192,
      target: { kind: 'function', function: 'oauth' },
      auth: 'oauth-state',
    },
    {
      id: 'chat-send',
      description: 'chat send',
      method: 'POST',
      path: '/chat/messages',
      contentTypes: ['application/json'],
      bodyLimitBytes: 65536,
      target: { kind: 'function', function: 'oauth' },
      auth: 'api-key',
    },
    {
      id: 'chat-list',
      description: 'chat list',
      method: 'GET',
      path: '/chat/messages',
      bodyLimitBytes: 1024,
      target: { kind: 'function', function: 'oauth' },
      auth: 'api-key',
    },
    {
      id: 'hook',
      description: 'hook',
      method: 'POST',
      path: '/hooks/{token}',
      contentTypes: ['application/json', 'text/plain'],
      bodyLimitBytes: 1024,
      target: { kind: 'queue', queue: 'std' },
      auth: 'path-token',
      ack: { status: 202, body: '{"accepted":true}' },
    },
  ],
  queues: [
    { id: 'std', description: 'standard', batchSize: 10, maxAttempts: 3, visibilityTimeoutSeconds: 60, consumer: 'worker' },
    { id: 'chat', description: 'ordered', fifo: true, batchSize: 10, maxAttempts: 3, visibilityTimeoutSeconds: 60, consumer: 'worker' },
  ],
  functions: [
    { id: 'worker', description: 'the worker', entry: 'functions/worker.ts', timeoutSeconds: 30 },
    { id: 'oauth', description: 'the oauth function', entry: 'functions/token-refresh.ts', timeoutSeconds: 10 },
  ],
  schedules: [],
});

describe('a table with function routes and a FIFO queue', () => {
  let template: Template;
  let methods: Array<{ Properties: Props }>;
  let oauthFn: string;
  beforeAll(() => {
    ({ template } = synthStack({ routes: defineRouteTable(base()) }));
    methods = Object.values(template.findResources('AWS::ApiGateway::Method')) as Array<{ Properties: Props }>;
    oauthFn = logicalId(template, 'AWS::Lambda::Function', (p) => p.Description === 'the oauth function');
  });

  it('a function route is a Lambda proxy integration to its function, which API Gateway may invoke', () => {
    const get = methods.filter((m) => m.Properties.HttpMethod === 'GET' && (m.Properties.Integration as Props).Type === 'AWS_PROXY');
    expect(get).toHaveLength(2);
    for (const m of get) {
      const integ = m.Properties.Integration as Props;
      expect(integ.IntegrationHttpMethod).toBe('POST');
      expect(resolvePlaceholders(integ.Uri)).toContain(`<GetAtt:${oauthFn}.Arn>/invocations`);
    }
    const perms = Object.values(template.findResources('AWS::Lambda::Permission')) as Array<{ Properties: Props }>;
    const forApi = perms.filter(
      (p) => p.Properties.Principal === 'apigateway.amazonaws.com' && JSON.stringify(p.Properties.FunctionName).includes(oauthFn),
    );
    expect(forApi.map((p) => resolvePlaceholders(p.Properties.SourceArn))).toEqual(
      expect.arrayContaining([expect.stringMatching(/\/GET\/oauth\/callback$/), expect.stringMatching(/\/POST\/chat\/messages$/)]),
    );
  });

  it('two methods on one path share one 405 answer that allows both', () => {
    const any = methods.filter((m) => m.Properties.HttpMethod === 'ANY');
    expect(any).toHaveLength(3); // /oauth/callback, /chat/messages, /hooks/{token}
    const allows = any.map(
      (m) =>
        (m.Properties.Integration as { IntegrationResponses: Array<{ ResponseParameters: Props }> }).IntegrationResponses[0]
          ?.ResponseParameters['method.response.header.Allow'],
    );
    expect(allows.sort()).toEqual(["'GET'", "'GET, POST'", "'POST'"]);
  });

  it('a queue route answers its own ack status and body and has a template per content type', () => {
    const post = methods.find((m) => m.Properties.HttpMethod === 'POST' && (m.Properties.Integration as Props).Type === 'AWS');
    const integ = post?.Properties.Integration as { RequestTemplates: Props; IntegrationResponses: Props[] };
    expect(Object.keys(integ.RequestTemplates).sort()).toEqual(['application/json', 'text/plain']);
    expect(integ.IntegrationResponses[0]).toMatchObject({
      StatusCode: '202',
      ResponseTemplates: { 'application/json': '{"accepted":true}' },
    });
    expect(post?.Properties.MethodResponses).toEqual(expect.arrayContaining([expect.objectContaining({ StatusCode: '202' })]));
  });

  it('a FIFO queue and its DLQ are FIFO, .fifo-named, without content-based dedup; its consumer has no batching window', () => {
    const q = { id: 'chat', fifo: true };
    for (const name of [queueName(q), dlqName(q)]) {
      expect(name.endsWith('.fifo')).toBe(true);
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: name,
        FifoQueue: true,
        ContentBasedDeduplication: false,
        MaximumMessageSize: 1_048_576,
      });
    }
    const fifoId = logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === queueName(q));
    const esm = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')) as Array<{ Properties: Props }>;
    const forFifo = esm.find((e) => JSON.stringify(e.Properties.EventSourceArn).includes(fifoId));
    expect(forFifo?.Properties).toMatchObject({ BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(forFifo?.Properties.MaximumBatchingWindowInSeconds).toBeUndefined();
  });
});

describe('shapes refused at synth', () => {
  it('a direct route to a FIFO queue without its fifo keys (no MessageGroupId source) is refused with a clear error', () => {
    const t = base();
    t.routes[3] = { ...t.routes[3]!, target: { kind: 'queue', queue: 'chat' } };
    expect(() => synthStack({ routes: defineRouteTable(t) })).toThrow(/hook: a route to a FIFO queue needs its fifo keys/);
  });

  it('sibling path parameters with different names are refused (API Gateway cannot deploy them)', () => {
    const t = base();
    t.routes.push({
      id: 'hook-get',
      description: 'x',
      method: 'GET',
      path: '/hooks/{id}',
      bodyLimitBytes: 1,
      target: { kind: 'function', function: 'oauth' },
      auth: 'none',
    });
    expect(() => synthStack({ routes: defineRouteTable(t) })).toThrow(/cannot have both \{token\} and \{id\} under \/hooks/);
  });

  it('a name prefix that cannot start a queue name is refused', () => {
    expect(() => synthStack({ routes: defineRouteTable(base()), props: { namePrefix: 'Amo_Gateway' } })).toThrow(/namePrefix/);
  });
});

describe('a table without routes', () => {
  it('deploys the queues and functions without a REST API (a worker-only stack)', () => {
    const t = base();
    t.routes = [];
    const { template } = synthStack({ routes: defineRouteTable(t) });
    template.resourceCountIs('AWS::ApiGateway::RestApi', 0);
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.resourceCountIs('AWS::Lambda::Function', 2);
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual([
      'AlarmTopicArn',
      'DashboardName',
      'EventBusArn',
      'EventBusName',
      'NextSteps',
      'Queues',
      'SecretNames',
      'SecretsPrefix',
      'TableName',
    ]);
  });
});

describe('stack naming', () => {
  it('derives the queue-name prefix from the stack name', () => {
    expect(kebabCase('AmoGateway')).toBe('amo-gateway');
    expect(kebabCase('AmoGatewayStaging')).toBe('amo-gateway-staging');
    expect(kebabCase('amo_gw2 Prod')).toBe('amo-gw2-prod');
  });

  it('uses the prefix for every queue name', () => {
    const { template } = synthStack({ routes: defineRouteTable(base()), props: { namePrefix: 'amo-staging' } });
    const names = Object.values(template.findResources('AWS::SQS::Queue')).map((q) => (q as { Properties: Props }).Properties.QueueName);
    expect(names.sort()).toEqual(['amo-staging-chat-dlq.fifo', 'amo-staging-chat.fifo', 'amo-staging-std', 'amo-staging-std-dlq']);
  });
});
