/**
 * Lambda-shaped plumbing for the local runner: the invocation context, the SQS event (fields as
 * Lambda's event source mapping gives them), the REST API (v1) proxy event, and invocation with
 * the function's timeout.
 */
import type { Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, Context, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { FunctionDef, Route } from '../../lib/routes.ts';

export const LOCAL_ACCOUNT_ID = '000000000000';

/** Any function's handler as the runner calls it. */
export type LocalInvoke = (event: unknown, context: Context) => Promise<unknown>;

/** Adapt a typed handler (middy or plain) to LocalInvoke; the runner builds the event shape. */
export function asInvoke<E>(h: (event: E, context: Context) => unknown): LocalInvoke {
  return async (event, context) => h(event as E, context);
}

export function lambdaContext(fn: FunctionDef, region: string, deadlineMs: number): Context {
  const functionName = `amo-gateway-${fn.id}`;
  const fail = () => {
    throw new Error('callback-style completion is not supported: return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${new Date().toISOString().slice(0, 10)}/[$LATEST]local`,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: fail,
    fail,
    succeed: fail,
  };
}

export class InvocationTimeoutError extends Error {
  override readonly name = 'InvocationTimeoutError';
}

/**
 * Invoke with the function's timeout. Lambda would freeze the sandbox at the deadline; here the
 * handler's promise is abandoned and the invocation counts as failed (as in AWS).
 */
export async function invoke(fnDef: FunctionDef, handler: LocalInvoke, event: unknown, region: string): Promise<unknown> {
  const timeoutMs = fnDef.timeoutSeconds * 1000;
  const ctx = lambdaContext(fnDef, region, Date.now() + timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(`${fnDef.id} timed out after ${fnDef.timeoutSeconds} s`)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([handler(event, ctx), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An SQS message as ReceiveMessage returns it (with All system and message attributes) → a Lambda SQS record. */
export function sqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
      stringListValues: [],
      binaryListValues: [],
      dataType: v.DataType ?? 'String',
    };
  }
  const attributes: SQSRecord['attributes'] = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? String(Date.now()),
    SenderId: a.SenderId ?? LOCAL_ACCOUNT_ID,
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  if (a.MessageGroupId !== undefined) attributes.MessageGroupId = a.MessageGroupId;
  if (a.MessageDeduplicationId !== undefined) attributes.MessageDeduplicationId = a.MessageDeduplicationId;
  if (a.SequenceNumber !== undefined) attributes.SequenceNumber = a.SequenceNumber;
  const record: SQSRecord = {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
  if (m.MD5OfMessageAttributes) record.md5OfMessageAttributes = m.MD5OfMessageAttributes;
  return record;
}

export function sqsEvent(messages: readonly Message[], queueArn: string, region: string): SQSEvent {
  return { Records: messages.map((m) => sqsRecord(m, queueArn, region)) };
}

export interface ProxyRequest {
  route: Route;
  method: string;
  path: string;
  pathParams: Record<string, string>;
  query: URLSearchParams;
  /** Header pairs in arrival order, original case. */
  headerPairs: ReadonlyArray<readonly [string, string]>;
  body: Buffer;
  requestId: string;
  receivedAt: number;
  sourceIp: string;
  host: string;
}

/** REST API (v1) Lambda proxy event. Bodies are passed as text (no binaryMediaTypes configured). */
export function apiGatewayEvent(r: ProxyRequest): APIGatewayProxyEvent {
  // Maps, then plain objects with own properties (as the runtime's JSON.parse makes them): a name
  // like `valueOf` or `__proto__` must be a key like any other, not the prototype's member.
  const lastAndAll = (pairs: Iterable<readonly [string, string]>) => {
    const last = new Map<string, string>();
    const all = new Map<string, string[]>();
    for (const [k, v] of pairs) {
      last.set(k, v); // API Gateway keeps the last value of a repeated name
      all.set(k, [...(all.get(k) ?? []), v]);
    }
    return { last: Object.fromEntries(last), all: Object.fromEntries(all) };
  };
  const { last: headers, all: multiValueHeaders } = lastAndAll(r.headerPairs);
  const { last: qs, all: mqs } = lastAndAll(r.query);
  const hasQuery = Object.keys(qs).length > 0;
  const userAgent = Object.entries(headers).find(([k]) => k.toLowerCase() === 'user-agent')?.[1] ?? null;
  return {
    resource: r.route.path,
    path: r.path,
    httpMethod: r.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? qs : null,
    multiValueQueryStringParameters: hasQuery ? mqs : null,
    pathParameters: Object.keys(r.pathParams).length ? { ...r.pathParams } : null,
    stageVariables: null,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: r.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: r.sourceIp,
        user: null,
        userAgent,
        userArn: null,
      },
      path: `/local${r.path}`,
      stage: 'local',
      requestId: r.requestId,
      extendedRequestId: r.requestId,
      requestTimeEpoch: r.receivedAt,
      resourceId: 'local',
      resourcePath: r.route.path,
      domainName: r.host,
    },
    body: r.body.length ? r.body.toString('utf8') : null,
    isBase64Encoded: false,
  };
}
