/**
 * API Gateway mapping templates (VTL), generated — never hand-written — so the AWS edge and the
 * local runner build the same envelope (lib/envelope.ts walks the same ENVELOPE_FIELDS list).
 *
 * The request template turns an inbound request into the SQS query-API body
 * `Action=SendMessage&MessageBody=<form-encoded envelope JSON>` (docs/architecture.md#api-gateway-to-sqs). How:
 * - The whole template is ONE line with no whitespace between directives: anything VTL printed
 *   outside the form pairs (a stray newline) would become part of the SQS request.
 * - The JSON is never assembled in a VTL string (Velocity 1.7 string literals cannot hold `"`
 *   portably); instead every piece is form-encoded on its own and the pieces are concatenated.
 *   Percent-encoding is per character, so encode(a + b) decodes exactly like encode(a) + encode(b).
 *   Constant pieces are encoded here, at synth; dynamic pieces by `$util.urlEncode`.
 * - Dynamic strings become JSON with `$util.escapeJavaScript(x).replaceAll("\\'","'")`: the
 *   JavaScript escaper also turns `'` into `\'`, which JSON does not allow, so the idiom AWS
 *   documents turns it back (Velocity 1.7 does not unescape string literals, so the Java regex is
 *   `\\'`: a backslash then a quote; every `'` in the escaper's output is preceded by exactly that).
 * - The body is `$util.base64Encode($input.body)`, never escaped text: the worker gets the bytes.
 */
import { ENVELOPE_FIELDS, type EnvelopeFieldSource } from '../../lib/envelope.ts';
import type { FifoKeyPart } from '../../lib/fifo-keys.ts';
import type { Route } from '../../lib/routes.ts';

/** A piece of the SendMessage body: constant JSON text, or VTL that prints form-encoded text. */
type Piece = { lit: string } | { vtl: string };

/**
 * application/x-www-form-urlencoded encoding with java.net.URLEncoder's rules (what
 * `$util.urlEncode` does): `A-Z a-z 0-9 . - * _` stay, space is `+`, every other UTF-8 byte is
 * `%XX` (upper-case hex). So a constant piece never contains `$` or `#`, which VTL would parse.
 */
export function formUrlEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9.*_-]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** VTL printing the form-encoded JSON string literal (quotes included) of the string `ref`. */
function jsonString(ref: string): Piece[] {
  return [{ lit: '"' }, { vtl: `$!util.urlEncode($util.escapeJavaScript(${ref}).replaceAll("\\\\'","'"))` }, { lit: '"' }];
}

/** VTL names used by the templates; prefixed so they never shadow API Gateway's own variables. */
const V = { params: '$amoP', sep: '$amoSep', key: '$amoK', lower: '$amoLk' } as const;

/** `$name` → `${name}`: the formal notation cannot run into the text that follows it. */
function formal(ref: string): string {
  return `\${${ref.slice(1)}}`;
}

/**
 * A JSON object of a Java map's entries (`$input.params().querystring` / `.header`), keys escaped
 * like values. With `allow`, only entries whose lower-cased name is in the list, printed under that
 * lower-cased name (allow-listed names are `[a-z0-9-]+` per the route schema: safe JSON as they are).
 */
function mapObject(mapRef: string, opts: { allow?: readonly string[] } = {}): Piece[] {
  const { sep, key, lower } = V;
  if (opts.allow && opts.allow.length === 0) return [{ lit: '{}' }];
  const value = jsonString(`${mapRef}.get(${key})`);
  const name: Piece[] = opts.allow ? [{ lit: '"' }, { vtl: formal(lower) }, { lit: '"' }] : jsonString(key);
  // `$amoSep` prints "" before the first entry and a comma before every later one.
  const entry: Piece[] = [{ vtl: formal(sep) }, ...name, { lit: ':' }, ...value, { vtl: `#set(${sep} = "%2C")` }];
  const pieces: Piece[] = [{ lit: '{' }, { vtl: `#set(${sep} = "")#foreach(${key} in ${mapRef}.keySet())` }];
  if (opts.allow) {
    const cond = opts.allow.map((h) => `${lower} == "${h}"`).join(' || ');
    pieces.push({ vtl: `#set(${lower} = ${key}.toLowerCase())#if(${cond})` }, ...entry, { vtl: '#end' });
  } else {
    pieces.push(...entry);
  }
  pieces.push({ vtl: '#end' }, { lit: '}' });
  return pieces;
}

/** The path parameters a route path declares, in order (`/a/{x}/b/{y}` → x, y). */
export function pathParamNames(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
}

function fieldValue(route: Route, source: EnvelopeFieldSource): Piece[] {
  switch (source.kind) {
    case 'const':
      return [{ lit: JSON.stringify(source.value) }];
    case 'routeId':
      return [{ lit: JSON.stringify(route.id) }];
    case 'pathParams': {
      // Keys come from the route path (known at synth), values from API Gateway (already decoded).
      const names = pathParamNames(route.path);
      const pieces: Piece[] = [{ lit: '{' }];
      names.forEach((name, i) => {
        if (i > 0) pieces.push({ lit: ',' });
        pieces.push({ lit: `${JSON.stringify(name)}:` }, ...jsonString(`${V.params}.path.get("${name}")`));
      });
      pieces.push({ lit: '}' });
      return pieces;
    }
    case 'query':
      // `$input.params().querystring` holds one value per name: the last one sent.
      return mapObject(`${V.params}.querystring`);
    case 'headers':
      return mapObject(`${V.params}.header`, { allow: route.headers });
    case 'bodyBase64':
      return [{ lit: '"' }, { vtl: '$!util.urlEncode($util.base64Encode($input.body))' }, { lit: '"' }];
    case 'receivedAt':
      // An epoch-ms number: digits only, nothing to encode.
      return [{ vtl: '$context.requestTimeEpoch' }];
    case 'requestId':
      return jsonString('$context.requestId');
    case 'sourceIp':
      return jsonString('$context.identity.sourceIp');
    default: {
      const unknown: never = source;
      throw new Error(`vtl: no mapping for envelope field source ${JSON.stringify(unknown)}`);
    }
  }
}

function render(pieces: Piece[]): string {
  // Merge adjacent constants first so the template reads as few, longer encoded runs.
  let out = '';
  let pending = '';
  for (const p of pieces) {
    if ('lit' in p) {
      pending += p.lit;
    } else {
      out += formUrlEncode(pending) + p.vtl;
      pending = '';
    }
  }
  return out + formUrlEncode(pending);
}

/** The SendMessage request template of a queue route (the same text for each of its content types). */
export function sendMessageTemplate(route: Route): string {
  if (route.target.kind !== 'queue') throw new Error(`vtl: route ${route.id} does not target a queue`);
  for (const name of pathParamNames(route.path)) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`vtl: route ${route.id}: unexpected path parameter name "${name}"`);
  }
  const pieces: Piece[] = [{ lit: '{' }];
  ENVELOPE_FIELDS.forEach((field, i) => {
    if (i > 0) pieces.push({ lit: ',' });
    pieces.push({ lit: `${JSON.stringify(field.name)}:` }, ...fieldValue(route, field.source));
  });
  pieces.push({ lit: '}' });
  // A FIFO route's group and deduplication ids (lib/fifo-keys.ts); the request validator has
  // already refused a body without the fields, so each prints a non-empty id.
  const fifo = route.fifo
    ? `MessageGroupId=${render(fifoKey(route.fifo.groupId))}&MessageDeduplicationId=${render(fifoKey(route.fifo.dedupId))}&`
    : '';
  const send = `Action=SendMessage&${fifo}MessageBody=${render(pieces)}`;
  return `#set(${V.params} = $input.params())#if($input.body.length() > ${route.bodyLimitBytes})${tooLargeRequest(route)}#{else}${send}#{end}`;
}

/**
 * The route's body limit at the edge. A template cannot answer by itself, so a body over the limit
 * is sent as a SendMessage SQS must refuse, and the integration response turns that refusal into a
 * 413 (queueErrorResponseTemplate): `DelaySeconds=901` is over SQS's 900 s maximum, a parameter
 * these templates never send otherwise, so its name in SQS's error marks the refusal as ours
 * (*assumed*: SQS's InvalidParameterValue message names the parameter, as its documented errors
 * do). Nothing is queued and the body is not forwarded.
 *
 * `$input.body.length()` counts UTF-16 units, not bytes: a body with more units than the limit has
 * more bytes too (every unit is ≥ 1 byte of UTF-8), so what is refused here is always over the
 * limit; an ASCII body (amoCRM's form-urlencoded hooks) is measured exactly; a non-ASCII body under
 * the limit in units but over it in bytes still reaches the worker, which parks it body-too-large.
 */
function tooLargeRequest(route: Route): string {
  // A FIFO queue would refuse a send without its ids first: give it ids, so DelaySeconds is the one fault.
  const fifo = route.fifo ? 'MessageGroupId=too-large&MessageDeduplicationId=too-large&' : '';
  return `Action=SendMessage&${fifo}DelaySeconds=${EDGE_TOO_LARGE_DELAY}&MessageBody=too-large`;
}

/** The out-of-range DelaySeconds of a refused body (SQS allows 0–900). */
export const EDGE_TOO_LARGE_DELAY = 901;
/** What SQS's refusal of that send contains (the parameter's name). */
export const EDGE_TOO_LARGE_MARKER = 'DelaySeconds';

/** The pieces printing one FIFO id: literals, decoded path parameters, body fields by JSONPath. */
function fifoKey(parts: readonly FifoKeyPart[]): Piece[] {
  return parts.map((p): Piece => {
    if ('lit' in p) return { lit: p.lit };
    if ('param' in p) return { vtl: `$!util.urlEncode(${V.params}.path.get("${p.param}"))` };
    // Dotted lower-case keys only (the schema's pattern), so the JSONPath needs no quoting.
    return { vtl: `$!util.urlEncode($input.path('$.${p.body}'))` };
  });
}

/** One request template per content type the route accepts (anything else → 415 with NEVER). */
export function sendMessageTemplates(route: Route): Record<string, string> {
  const template = sendMessageTemplate(route);
  return Object.fromEntries(route.contentTypes.map((ct) => [ct, template]));
}

/**
 * Literal text as a VTL template: as is when it holds nothing VTL would interpret, else inside an
 * unparsed block `#[[…]]#`.
 */
export function vtlLiteral(text: string): string {
  if (!/[$#\\]/.test(text)) return text;
  if (text.includes(']]#')) throw new Error(`vtl: cannot embed literal text containing "]]#": ${JSON.stringify(text)}`);
  return `#[[${text}]]#`;
}

/** A `{"message": "...", ...}` body, the shape the local runner answers errors with; safe as a VTL template. */
export function messageBody(message: string, extra: Record<string, unknown> = {}): string {
  return vtlLiteral(JSON.stringify({ message, ...extra }));
}

/** What the sender reads when SQS did not take the message (as the local runner says it). */
export const QUEUE_ERROR_MESSAGE = 'Could not store the request; try again';
/** What the sender reads when the body is too large for the queue. */
export const TOO_LARGE_MESSAGE = 'Payload Too Large';

/** SQS rejects a message over the queue's maximum size with this text (400 InvalidParameterValue). */
export const SQS_TOO_LONG_MARKER = 'Message must be shorter than';

/**
 * The integration response for any SQS answer that is not 2xx. A 5xx makes amoCRM retry, so that
 * is the default; the SQS refusals a retry can never fix — the message is too long for the queue,
 * or the template refused a body over the route's limit (tooLargeRequest) — become 413 through `$context.responseOverride.status`. SQS's own error text is never
 * echoed (it names the account and queue).
 */
export function queueErrorResponseTemplate(): string {
  // `#{else}`/`#{end}`: the formal notation, so the `{` of the JSON that follows cannot be misread.
  return `#if($input.body.contains("${SQS_TOO_LONG_MARKER}") || $input.body.contains("${EDGE_TOO_LARGE_MARKER}"))#set($context.responseOverride.status = 413)${messageBody(TOO_LARGE_MESSAGE)}#{else}${messageBody(QUEUE_ERROR_MESSAGE)}#{end}`;
}
