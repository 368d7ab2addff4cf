/**
 * Form-urlencoded decoding for amoCRM webhook bodies: bytes → text → nested object, with the
 * limits of docs/architecture.md#form-urlencoded-parsing, plus the body order of the `entity[action][index]` items (a JS object
 * cannot keep it: `leads[update]…&contacts[add]…&leads[status]…` nests both `leads` actions
 * under one key).
 */
import qs from 'qs';

/**
 * qs options for webhook bodies. Why not the defaults: `depth: 5` leaves
 * `leads[status][0][custom_fields][0][values][0][value]` as a literal key `"[0][value]"`, and
 * `arrayLimit: 20` turns the 21st custom field into an object key — both silently.
 *
 * - depth 16: the deepest real shape is 10 groups
 *   (`unsorted[add][0][data][contacts][0][custom_fields][0][values][0][enum]`); catalog
 *   "items" values add one more. `strictDepth` rejects deeper keys instead of folding the rest
 *   into one literal segment.
 * - parameterLimit 20 000: a contact with 36 custom fields and 32 linked leads is ~250 pairs;
 *   a body that still fits the 1 MiB queue message (~768 KiB before base64) stays well inside.
 *   `throwOnLimitExceeded` makes an over-long body a rejection, not a silent truncation.
 * - parseArrays false: qs turns `[n]` into an array slot only while n < arrayLimit, and with
 *   `throwOnLimitExceeded` it rejects larger n — but amoCRM keys maps by entity id
 *   (`linked_leads_id[9982719][ID]`, a real body), which would be rejected (or, without the
 *   throw, a 10-million-slot sparse array). So every `[n]` stays an object key and the parser
 *   reads lists itself (`listOf` in fields.ts). arrayLimit 250 then bounds only `a[]=` /
 *   repeated keys, which amoCRM does not send.
 * - duplicates `combine`: a repeated leaf becomes an array, which the item schemas reject
 *   instead of silently keeping the first or last value.
 */
export const WEBHOOK_QS_OPTIONS = {
  depth: 16,
  strictDepth: true,
  arrayLimit: 250,
  parameterLimit: 20_000,
  throwOnLimitExceeded: true,
  parseArrays: false,
  duplicates: 'combine',
  allowPrototypes: false,
  allowDots: false,
  comma: false,
  charset: 'utf-8',
  charsetSentinel: false,
  interpretNumericEntities: false,
} as const satisfies qs.IParseOptions;

export class FormDecodeError extends Error {
  override readonly name = 'FormDecodeError';
  constructor(
    message: string,
    readonly kind: 'encoding' | 'limits',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Body bytes → text. Throws FormDecodeError('encoding') on bytes that are not UTF-8. */
export function bodyText(body: Uint8Array | string): string {
  if (typeof body === 'string') return body;
  try {
    return utf8.decode(body);
  } catch (cause) {
    throw new FormDecodeError('body bytes are not valid UTF-8', 'encoding', { cause });
  }
}

/**
 * One key or value: `+` is a space, `%XX` a UTF-8 byte (PHP urlencode / http_build_query, which
 * amoCRM uses). So `%2B` is a literal `+` and `+` a space. Unlike qs's default decoder, a
 * malformed escape is an error, not a value kept half-decoded.
 */
export function decodeComponent(s: string): string {
  if (s.indexOf('%') === -1) return s.indexOf('+') === -1 ? s : s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch (cause) {
    throw new FormDecodeError(
      'malformed percent-encoding (a "%" not followed by two hex digits, or bytes that are not UTF-8)',
      'encoding',
      { cause },
    );
  }
}

/** Text → nested object with WEBHOOK_QS_OPTIONS. Throws FormDecodeError. */
export function parseForm(text: string): Record<string, unknown> {
  try {
    return qs.parse(text, { ...WEBHOOK_QS_OPTIONS, decoder: (str: string) => decodeComponent(str) });
  } catch (e) {
    if (e instanceof FormDecodeError) throw e;
    if (e instanceof RangeError) throw new FormDecodeError(e.message, 'limits', { cause: e });
    throw e;
  }
}

/** Key of the body-order map: body key, action and item index (empty for a scalar action). */
export function orderKey(entity: string, action: string, index: string): string {
  return `${entity}\u0000${action}\u0000${index}`;
}

const ITEM_KEY = /^([^[\]]*)\[([^[\]]*)\](?:\[([^[\]]*)\])?/;

/**
 * First position in the body of every `entity[action][index]` prefix, so events can be put back
 * in body order. Splits pairs the way qs does (`]=` before `=`) and decodes keys the same way.
 */
export function bodyOrder(text: string): Map<string, number> {
  const order = new Map<string, number>();
  const parts = text.replace(/%5B/gi, '[').replace(/%5D/gi, ']').split('&');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    const bracketEq = part.indexOf(']=');
    const pos = bracketEq === -1 ? part.indexOf('=') : bracketEq + 1;
    const rawKey = pos === -1 ? part : part.slice(0, pos);
    let key: string;
    try {
      key = decodeComponent(rawKey);
    } catch {
      continue; // parseForm has already accepted the body; this cannot happen, and order is a nicety
    }
    const m = ITEM_KEY.exec(key);
    if (!m) continue;
    const k = orderKey(m[1] ?? '', m[2] ?? '', m[3] ?? '');
    if (!order.has(k)) order.set(k, i);
  }
  return order;
}
