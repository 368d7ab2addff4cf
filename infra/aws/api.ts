/**
 * The REST API (API Gateway v1) built from the route table: queue routes are AWS integrations
 * straight to SQS (no Lambda in the ack path, docs/architecture.md#api-gateway-to-sqs), function routes are Lambda proxy
 * integrations, every route resource answers other methods with a JSON 405, and API Gateway's
 * own errors are JSON bodies shaped like the local runner's `{"message": "..."}`.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Route } from '../../lib/routes.ts';
import { fifoBodyModel } from '../../lib/fifo-keys.ts';
import { messageBody, queueErrorResponseTemplate, sendMessageTemplates, vtlLiteral } from './vtl.ts';

export class RouteShapeError extends Error {
  override readonly name = 'RouteShapeError';
}

/** The error messages API Gateway itself answers with: the local runner's texts (infra/local/http.ts). */
export const EDGE_MESSAGES = {
  notFound: 'Not Found',
  methodNotAllowed: 'Method Not Allowed',
  unsupportedMediaType: 'Unsupported Media Type',
  tooLarge: 'Payload Too Large',
  throttled: 'Too Many Requests',
} as const;

const JSON_CT = 'application/json';

/**
 * Content types the 405 answer has a template for. A MOCK integration reads its status from the
 * rendered request template, so a request whose type has no template cannot be answered by the
 * mock (passthrough would hand it an unparsable body → 500); with NEVER it gets 415 instead.
 */
const MOCK_CONTENT_TYPES = [
  JSON_CT,
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'text/plain',
  'text/xml',
  'application/xml',
  'application/octet-stream',
];

export interface ApiProps {
  routes: readonly Route[];
  queueOf: (queueId: string) => sqs.IQueue;
  functionOf: (functionId: string) => lambda.IFunction;
  restApiName: string;
  stageName: string;
  throttle: { rateLimit: number; burstLimit: number };
  logRetention: logs.RetentionDays;
  /** Creates the account-level role API Gateway needs to write access logs (one per account/region). */
  cloudWatchRole: boolean;
}

/** The access log line: `$context.resourcePath` (the template, `/hooks/amocrm/{token}`), never `$context.path`. */
export const ACCESS_LOG_FIELDS: Record<string, string> = {
  requestId: '$context.requestId',
  requestTimeEpoch: '$context.requestTimeEpoch',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatencyMs: '$context.responseLatency',
  integrationStatus: '$context.integration.status',
  integrationLatencyMs: '$context.integration.latency',
  errorType: '$context.error.responseType',
};

/**
 * The stage's method settings, one per route method, keyed `<path>/<METHOD>` as CDK's
 * `methodOptions` wants: detailed CloudWatch metrics (the dashboard's requests per route: API
 * Gateway's Count per resource + method) on the route methods only — not stage-wide, where every
 * 405 mock would publish its own billed metrics too — and the route's own throttle, or the stage's
 * repeated (a method setting does not inherit the stage's). A route's limits may only tighten the
 * stage's: refused at synth otherwise.
 */
export function routeMethodSettings(
  routes: readonly Route[],
  stage: { rateLimit: number; burstLimit: number },
): Record<string, apigw.MethodDeploymentOptions> {
  const out: Record<string, apigw.MethodDeploymentOptions> = {};
  for (const r of routes) {
    if (r.throttle && (r.throttle.rateLimit > stage.rateLimit || r.throttle.burstLimit > stage.burstLimit)) {
      throw new RouteShapeError(
        `${r.id}: its throttle (${r.throttle.rateLimit}/s, burst ${r.throttle.burstLimit}) exceeds the stage's (${stage.rateLimit}/s, burst ${stage.burstLimit}); a route's may only be tighter`,
      );
    }
    out[`${r.path}/${r.method}`] = {
      throttlingRateLimit: r.throttle?.rateLimit ?? stage.rateLimit,
      throttlingBurstLimit: r.throttle?.burstLimit ?? stage.burstLimit,
      // The stage's: a method setting does not inherit them.
      loggingLevel: apigw.MethodLoggingLevel.OFF,
      dataTraceEnabled: false,
      metricsEnabled: true,
    };
  }
  return out;
}

/**
 * API Gateway forbids two sibling resources with different variables (`/a/{x}` next to `/a/{y}`);
 * CloudFormation would only say so at deploy time, so refuse at synth with the routes named.
 */
export function checkRouteShapes(routes: readonly Route[]): void {
  const variableAt = new Map<string, { name: string; route: string }>();
  for (const r of routes) {
    const segs = r.path.split('/').filter(Boolean);
    segs.forEach((seg, i) => {
      if (!seg.startsWith('{')) return;
      const parent = `/${segs.slice(0, i).join('/')}`;
      const seen = variableAt.get(parent);
      if (seen && seen.name !== seg) {
        throw new RouteShapeError(
          `routes ${seen.route} and ${r.id}: API Gateway cannot have both ${seen.name} and ${seg} under ${parent}; use one parameter name`,
        );
      }
      variableAt.set(parent, { name: seg, route: r.id });
    });
  }
}

export class GatewayApi extends Construct {
  readonly api: apigw.RestApi;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    checkRouteShapes(props.routes);

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: props.restApiName,
      description: 'amo-gateway inbound routes (generated from lib/routes.ts)',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: props.cloudWatchRole,
      // No binaryMediaTypes: every payload is text to API Gateway, so `$input.body` is the body
      // decoded as UTF-8 and base64Encode() gives back its exact bytes when it was valid UTF-8 —
      // every sender's is (README: differences).
      deployOptions: {
        stageName: props.stageName,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        // Per route (method settings override the stage's `/*/*`): detailed metrics, and less for the public function routes.
        methodOptions: routeMethodSettings(props.routes, props.throttle),
        // API-level Count / 4XXError / 5XXError come without detailed metrics (free); per method only for the routes (above).
        metricsEnabled: false,
        // Execution logs would record raw paths (route tokens) and, with data trace, bodies.
        loggingLevel: apigw.MethodLoggingLevel.OFF,
        dataTraceEnabled: false,
      },
    });

    this.addGatewayResponses();

    const byPath = new Map<string, Route[]>();
    for (const r of props.routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
    const roles = new Map<string, iam.Role>();
    for (const [path, routes] of byPath) {
      const resource = this.api.root.resourceForPath(path);
      for (const route of routes) {
        if (route.target.kind === 'queue') {
          const queueId = route.target.queue;
          const queue = props.queueOf(queueId);
          if (queue.fifo && !route.fifo) {
            throw new RouteShapeError(
              `route ${route.id} targets FIFO queue ${queueId} directly: a FIFO SendMessage needs a MessageGroupId and the route table has no source for one; put a function route in front of the queue instead`,
            );
          }
          let role = roles.get(queueId);
          if (!role) {
            role = this.sendRole(queueId, queue);
            roles.set(queueId, role);
          }
          this.addQueueMethod(resource, route, queue, role);
        } else {
          resource.addMethod(route.method, new apigw.LambdaIntegration(props.functionOf(route.target.function), { proxy: true }));
        }
      }
      this.addMethodNotAllowed(
        resource,
        routes.map((r) => r.method),
      );
    }
  }

  /** The role API Gateway assumes to call SQS: SendMessage on this one queue, nothing else. */
  private sendRole(queueId: string, queue: sqs.IQueue): iam.Role {
    const role = new iam.Role(this, `SendTo-${queueId}`, {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: `API Gateway to SQS: SendMessage on ${queueId}`,
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
    return role;
  }

  private addQueueMethod(resource: apigw.IResource, route: Route, queue: sqs.IQueue, role: iam.IRole): void {
    // The route schema guarantees an ack for queue routes; a missing one is a programming error.
    const ack = route.ack;
    if (!ack) throw new RouteShapeError(`route ${route.id}: a queue route needs its fixed ack`);
    const ackStatus = String(ack.status);
    const integration = new apigw.AwsIntegration({
      service: 'sqs',
      // The query API's queue URL path: /<account>/<queue name>.
      path: `${Aws.ACCOUNT_ID}/${queue.queueName}`,
      integrationHttpMethod: 'POST',
      options: {
        credentialsRole: role,
        passthroughBehavior: apigw.PassthroughBehavior.NEVER,
        requestParameters: { 'integration.request.header.Content-Type': "'application/x-www-form-urlencoded'" },
        requestTemplates: sendMessageTemplates(route),
        // amoCRM waits 2 s, amojo 5 s: an SQS call still pending at 5 s has failed for both, so
        // answer (504) instead of holding the connection for API Gateway's default 29 s. A send
        // that landed anyway only makes a duplicate, which idempotency absorbs (docs/architecture.md#idempotency-keys).
        timeout: Duration.seconds(5),
        integrationResponses: [
          // Matched against SQS's HTTP status. Only a 2xx is the ack; everything else (the default
          // response) is a 5xx so the sender retries, bar "message too long" → 413 (vtl.ts).
          { statusCode: ackStatus, selectionPattern: '2\\d{2}', responseTemplates: { [JSON_CT]: vtlLiteral(ack.body) } },
          { statusCode: '500', responseTemplates: { [JSON_CT]: queueErrorResponseTemplate() } },
        ],
      },
    });
    resource.addMethod(route.method, integration, {
      methodResponses: [{ statusCode: ackStatus }, { statusCode: '500' }, { statusCode: '413' }],
      ...this.edgeChecks(route),
    });
  }

  /**
   * What the edge checks before a direct route stores anything: the API key of the usage plan
   * (`edge-api-key`: 403 `{"message":"Forbidden"}` without it) and, for a FIFO route, the body
   * fields its group and deduplication ids come from (400 `{"message":"Invalid request body"}`,
   * lib/fifo-keys.ts). The local runner (infra/local/http.ts) answers the same.
   */
  private edgeChecks(route: Route): Partial<apigw.MethodOptions> {
    const out: { apiKeyRequired?: boolean; requestValidator?: apigw.IRequestValidator; requestModels?: Record<string, apigw.IModel> } = {};
    if (route.auth === 'edge-api-key') {
      out.apiKeyRequired = true;
      if (!this.usagePlan) {
        // The key's value is generated by API Gateway (never in the template): `aws apigateway get-api-key --include-value`.
        this.usagePlan = this.api.addUsagePlan('EdgeKeys', { apiStages: [{ stage: this.api.deploymentStage }] });
        this.apiKey = this.api.addApiKey('InboundKey', { description: 'x-api-key of the edge-api-key routes (lib/routes.ts)' });
        this.usagePlan.addApiKey(this.apiKey);
      }
    }
    if (route.fifo) {
      const modelId = route.id.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase());
      out.requestModels = {
        [JSON_CT]: this.api.addModel(`${modelId}Body`, { contentType: JSON_CT, schema: fifoBodyModel(route.fifo) as apigw.JsonSchema }),
      };
      this.bodyValidator ??= this.api.addRequestValidator('BodyValidator', { validateRequestBody: true, validateRequestParameters: false });
      out.requestValidator = this.bodyValidator;
    }
    return out;
  }

  private usagePlan: apigw.UsagePlan | undefined;
  /** The key of the `edge-api-key` routes (its value only via `aws apigateway get-api-key --include-value`); absent without such routes. */
  apiKey: apigw.IApiKey | undefined;
  private bodyValidator: apigw.RequestValidator | undefined;

  /** `ANY` on a route's resource: the route's own methods win, everything else gets a JSON 405 with Allow. */
  private addMethodNotAllowed(resource: apigw.IResource, methods: readonly string[]): void {
    const allowed = [...new Set(methods)].sort();
    const allow = allowed.join(', ');
    const mock = new apigw.MockIntegration({
      passthroughBehavior: apigw.PassthroughBehavior.NEVER,
      requestTemplates: Object.fromEntries(MOCK_CONTENT_TYPES.map((ct) => [ct, '{"statusCode": 405}'])),
      integrationResponses: [
        {
          statusCode: '405',
          responseTemplates: { [JSON_CT]: messageBody(EDGE_MESSAGES.methodNotAllowed, { allow: allowed }) },
          responseParameters: { 'method.response.header.Allow': `'${allow}'` },
        },
      ],
    });
    resource.addMethod('ANY', mock, {
      methodResponses: [{ statusCode: '405', responseParameters: { 'method.response.header.Allow': true } }],
    });
  }

  private addGatewayResponses(): void {
    const json = (message: string) => ({ [JSON_CT]: messageBody(message) });
    // An unknown path (or a method on a resource with none) is "Missing Authentication Token" 403
    // to API Gateway: answer it as the 404 it is.
    this.api.addGatewayResponse('NotFound', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      templates: json(EDGE_MESSAGES.notFound),
    });
    this.api.addGatewayResponse('UnsupportedMediaType', {
      type: apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE,
      statusCode: '415',
      templates: json(EDGE_MESSAGES.unsupportedMediaType),
    });
    this.api.addGatewayResponse('TooLarge', {
      type: apigw.ResponseType.REQUEST_TOO_LARGE,
      statusCode: '413',
      templates: json(EDGE_MESSAGES.tooLarge),
    });
    this.api.addGatewayResponse('Throttled', {
      type: apigw.ResponseType.THROTTLED,
      statusCode: '429',
      templates: json(EDGE_MESSAGES.throttled),
    });
    // Everything else keeps its status; `$context.error.messageString` is already a quoted JSON string.
    const generic = { [JSON_CT]: '{"message":$context.error.messageString}' };
    this.api.addGatewayResponse('Default4xx', { type: apigw.ResponseType.DEFAULT_4XX, templates: generic });
    this.api.addGatewayResponse('Default5xx', { type: apigw.ResponseType.DEFAULT_5XX, templates: generic });
  }
}
