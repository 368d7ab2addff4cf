/**
 * The envelope: what an inbound request becomes on a queue (docs/architecture.md#envelope). Defined once here; the
 * API Gateway mapping templates (infra/aws/vtl.ts) are generated from ENVELOPE_FIELDS and the
 * local runner builds the same object with buildEnvelope(), and a test proves both agree.
 *
 * The body is base64 of the exact bytes, so signatures over raw bytes (amojo's HMAC) still hold
 * and no character set is ever guessed at the edge.
 */
import * as z from './common/zod.ts';

export const ENVELOPE_VERSION = 1 as const;

/** Where each envelope field comes from. The VTL generator and buildEnvelope() both walk this list. */
export type EnvelopeFieldSource =
  | { kind: 'const'; value: number }
  | { kind: 'routeId' }
  | { kind: 'pathParams' }
  | { kind: 'query' }
  | { kind: 'headers' }
  | { kind: 'bodyBase64' }
  | { kind: 'receivedAt' }
  | { kind: 'requestId' }
  | { kind: 'sourceIp' };

export const ENVELOPE_FIELDS = [
  { name: 'v', source: { kind: 'const', value: ENVELOPE_VERSION } },
  { name: 'route', source: { kind: 'routeId' } },
  { name: 'params', source: { kind: 'pathParams' } },
  { name: 'query', source: { kind: 'query' } },
  { name: 'headers', source: { kind: 'headers' } },
  { name: 'body', source: { kind: 'bodyBase64' } },
  { name: 'receivedAt', source: { kind: 'receivedAt' } },
  { name: 'requestId', source: { kind: 'requestId' } },
  { name: 'sourceIp', source: { kind: 'sourceIp' } },
] as const satisfies ReadonlyArray<{ name: string; source: EnvelopeFieldSource }>;

// A pure call (annotated so) that builds the schema: a bundle that only writes envelopes (the onec
// function) neither holds nor builds it — esbuild drops an unused pure call, not the calls inside.
export const envelopeSchema = /* @__PURE__ */ (() => {
  const stringMap = z.record(z.string(), z.string());
  const count = () => z.number().check(z.int(), z.nonnegative());
  return z.object({
    v: z.literal(ENVELOPE_VERSION),
    route: z.string().check(z.minLength(1)),
    params: stringMap,
    query: stringMap,
    headers: stringMap,
    body: z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'body must be base64')),
    receivedAt: count(),
    requestId: z.string(),
    sourceIp: z.string(),
    /**
     * Worker-side bookkeeping, never set at the edge. `attempt` counts failed tries (the *retry*
     * outcome); deferrals do not count (docs/architecture.md#failure-semantics).
     */
    attempt: z.optional(count()),
    deferrals: z.optional(count()),
    lastError: z.optional(z.string()),
    /**
     * Epoch ms of the last `dlq replay`. The deferral cap measures a message's age from it (else from
     * `receivedAt`), so a replayed `deferred-too-long` message gets a fresh window.
     */
    replayedAt: z.optional(count()),
  });
})();

export type Envelope = z.infer<typeof envelopeSchema>;

/** What the edge knows about a request, whatever the edge is (API Gateway, the local runner). */
export interface InboundRequest {
  routeId: string;
  pathParams: Record<string, string>;
  /** Query parameters; for a repeated name the last value wins (as `$input.params().querystring`). */
  query: Record<string, string>;
  /**
   * Raw header names as received; for a repeated header the LAST value wins (API Gateway's
   * `$input.params().header` holds one value per name, so the mapping template cannot join them).
   */
  headers: Record<string, string>;
  body: Uint8Array;
  receivedAt: number;
  requestId: string;
  sourceIp: string;
}

/** Lower-case the header names and keep only the route's allow-list (itself lower-case). */
export function allowListHeaders(headers: Record<string, string>, allow: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const wanted = new Set(allow.map((h) => h.toLowerCase()));
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (wanted.has(lower)) out[lower] = value;
  }
  return out;
}

export function buildEnvelope(req: InboundRequest, headerAllowList: readonly string[]): Envelope {
  const out: Record<string, unknown> = {};
  for (const field of ENVELOPE_FIELDS) {
    const src: EnvelopeFieldSource = field.source;
    switch (src.kind) {
      case 'const':
        out[field.name] = src.value;
        break;
      case 'routeId':
        out[field.name] = req.routeId;
        break;
      case 'pathParams':
        out[field.name] = { ...req.pathParams };
        break;
      case 'query':
        out[field.name] = { ...req.query };
        break;
      case 'headers':
        out[field.name] = allowListHeaders(req.headers, headerAllowList);
        break;
      case 'bodyBase64':
        out[field.name] = Buffer.from(req.body).toString('base64');
        break;
      case 'receivedAt':
        out[field.name] = req.receivedAt;
        break;
      case 'requestId':
        out[field.name] = req.requestId;
        break;
      case 'sourceIp':
        out[field.name] = req.sourceIp;
        break;
    }
  }
  return envelopeSchema.parse(out);
}

/**
 * An envelope as an SQS message body: JSON with every character outside printable ASCII written
 * as a `\uXXXX` escape. SQS refuses a body holding characters outside its set (#x9, #xA, #xD,
 * #x20–#xD7FF, #xE000–#xFFFD, #x10000–#x10FFFF [SQS SendMessage API reference]), and a path
 * parameter, query value or header decoded from the request may hold any of them (`%EF%BF%BF` is
 * U+FFFF); escaped, the body is plain ASCII and parses back to the same envelope. API Gateway's
 * mapping template already writes strings this way (`$util.escapeJavaScript` escapes every
 * non-ASCII character), so the local runner and the worker's re-sends now send what AWS's edge does.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
 */
export function envelopeMessageBody(envelope: unknown): string {
  return JSON.stringify(envelope).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

/** Parse an SQS message body into an envelope; throws EnvelopeError with the reason. */
export function parseEnvelope(messageBody: string): Envelope {
  let raw: unknown;
  try {
    raw = JSON.parse(messageBody);
  } catch (cause) {
    throw new EnvelopeError('message body is not JSON', { cause });
  }
  const parsed = envelopeSchema.safeParse(raw);
  if (!parsed.success) {
    throw new EnvelopeError(
      `not an envelope: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** The exact body bytes of an envelope. */
export function envelopeBody(env: Envelope): Buffer {
  return Buffer.from(env.body, 'base64');
}
