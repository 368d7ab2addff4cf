/**
 * The forms route as API Gateway proxy events (functions/forms.ts is the front door): the event →
 * a FormRequest → lib/flows/forms/ingress → the proxy result. Bodies reach Lambda as text (the
 * REST API has no binaryMediaTypes), base64 only when API Gateway says so.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createFormsIngress, type FormRequest, type FormsIngressDeps } from '../flows/forms/ingress/ingress.ts';

/** Header names lower-cased; for a repeated header the last value (as API Gateway's `headers`). */
function lowerHeaders(event: APIGatewayProxyEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

export function formRequestFromEvent(event: APIGatewayProxyEvent, now: () => number = Date.now): FormRequest {
  const body = event.body ?? '';
  return {
    method: event.httpMethod,
    formId: event.pathParameters?.form_id ?? '',
    headers: lowerHeaders(event),
    body: Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8'),
    sourceIp: event.requestContext?.identity?.sourceIp ?? '',
    receivedAt: event.requestContext?.requestTimeEpoch ?? now(),
    requestId: event.requestContext?.requestId ?? '',
  };
}

export function createFormsHttpHandler(deps: FormsIngressDeps) {
  const ingress = createFormsIngress(deps);
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const a = await ingress(formRequestFromEvent(event));
    return { statusCode: a.status, headers: a.headers, body: a.body };
  };
}
