/**
 * Where a direct route to a FIFO queue takes its MessageGroupId and MessageDeduplicationId from
 * (docs/architecture.md#fifo-keys): a list of parts — literal text, a path parameter, or a string
 * field of the JSON body named by a dotted path — concatenated. The API Gateway template prints
 * the same parts (infra/aws/vtl.ts: `$input.path('$.a.b')`, `$input.params().path`), the local
 * runner computes them here, and test/infra/vtl.test.ts proves both agree.
 *
 * A request whose body lacks a field, or carries one that is not a string of the allowed
 * characters, is refused at the edge with 400 `{"message":"Invalid request body"}`: API Gateway's
 * request validator with the model fifoBodyModel() builds, the local runner with fifoKeys(). So SQS
 * never sees an empty or over-long id (SendMessage would refuse it: a 5xx the sender retries forever).
 */
import * as z from './common/zod.ts';

/**
 * A body id: 1..64 characters SQS takes in a group / deduplication id (alphanumerics and
 * punctuation, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html),
 * narrowed to a set that needs no escaping anywhere (JSON, VTL, URLs).
 */
export const FIFO_BODY_ID_PATTERN = '^[A-Za-z0-9_.:@+=-]{1,64}$';
const BODY_ID = new RegExp(FIFO_BODY_ID_PATTERN);

const bodyPath = z.string().check(z.regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/, 'a dotted path of lower-case JSON keys'));
const part = z.union([
  z.strictObject({ lit: z.string().check(z.regex(/^[A-Za-z0-9_.:@+=-]{1,16}$/)) }),
  z.strictObject({ param: z.string().check(z.regex(/^[a-z_][a-z0-9_]*$/)) }),
  z.strictObject({ body: bodyPath }),
]);
export type FifoKeyPart = z.infer<typeof part>;

export const fifoKeysSchema = z.strictObject({
  /** Messages of one group are delivered in order, one group at a time. */
  groupId: z.array(part).check(z.minLength(1)),
  /** SQS drops a second message with the same id within 5 minutes (content-based otherwise: not allowed here). */
  dedupId: z.array(part).check(z.minLength(1)),
});
export type FifoKeys = z.infer<typeof fifoKeysSchema>;

export const INVALID_BODY_MESSAGE = 'Invalid request body';

/** The body fields the keys read (for the edge's model). */
export function fifoBodyPaths(keys: FifoKeys): string[] {
  return [...new Set([...keys.groupId, ...keys.dedupId].flatMap((p) => ('body' in p ? [p.body] : [])))];
}

function bodyField(json: unknown, path: string): unknown {
  let v: unknown = json;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/**
 * The ids of one request, as the edge computes them; undefined when the body is not a JSON object
 * with every field the keys read (the request is refused with 400 then). Path parameters come
 * decoded, as API Gateway hands them to templates.
 */
export function fifoKeys(
  keys: FifoKeys,
  params: Readonly<Record<string, string>>,
  body: Uint8Array,
): { groupId: string; dedupId: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const render = (parts: readonly FifoKeyPart[]): string | undefined => {
    let out = '';
    for (const p of parts) {
      if ('lit' in p) out += p.lit;
      else if ('param' in p) out += params[p.param] ?? '';
      else {
        const v = bodyField(json, p.body);
        if (typeof v !== 'string' || !BODY_ID.test(v)) return undefined;
        out += v;
      }
    }
    return out;
  };
  const groupId = render(keys.groupId);
  const dedupId = render(keys.dedupId);
  return groupId === undefined || dedupId === undefined ? undefined : { groupId, dedupId };
}

/**
 * The JSON Schema (draft 4, what API Gateway models take) a request body must meet: an object
 * with each field the keys read present as a string of FIFO_BODY_ID_PATTERN. Other fields are
 * left to the worker (which parks an invalid payload with its reason).
 */
export function fifoBodyModel(keys: FifoKeys): Record<string, unknown> {
  type Node = { type: 'object'; required: string[]; properties: Record<string, unknown> };
  const root: Node = { type: 'object', required: [], properties: {} };
  for (const path of fifoBodyPaths(keys)) {
    const segs = path.split('.');
    let node = root;
    segs.forEach((k, i) => {
      if (!node.required.includes(k)) node.required.push(k);
      if (i === segs.length - 1) node.properties[k] = { type: 'string', pattern: FIFO_BODY_ID_PATTERN };
      else {
        const next = (node.properties[k] as Node | undefined) ?? { type: 'object', required: [], properties: {} };
        node.properties[k] = next;
        node = next;
      }
    });
  }
  return { $schema: 'http://json-schema.org/draft-04/schema#', ...root };
}

/** The channels' sizes: a group / deduplication id SQS takes is at most 128 characters. */
export const SQS_FIFO_ID_MAX = 128;
