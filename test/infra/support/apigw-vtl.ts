/**
 * A stand-in for what API Gateway (REST, v1) puts in front of a mapping template: `$input`,
 * `$util`, `$context`, rendered with velocityjs. API Gateway runs Apache Velocity 1.7 on the JVM,
 * so the objects here behave like their Java counterparts where our templates touch them:
 *
 * - `$util.escapeJavaScript` = Apache Commons Lang 2.6 `StringEscapeUtils.escapeJavaScript`
 *   (`'` → `\'`, `"` → `\"`, `\` → `\\`, `/` → `\/`, \b \t \n \f \r, other controls and every
 *   char above 0x7f → `\uXXXX` upper-case). A second variant keeps non-ASCII as is, so the tests
 *   prove our templates do not depend on that detail (assumed: AWS does not document it).
 * - Strings returned to the template are `JavaString`s: Java's `replaceAll` takes a REGEX and
 *   replaces every match, `replace` replaces every literal occurrence (JavaScript's would do
 *   neither), `contains` exists.
 * - `$util.urlEncode` = java.net.URLEncoder (UTF-8); `$util.base64Encode(s)` = base64 of the
 *   UTF-8 bytes of `s`.
 * - `$input.body` = the request bytes decoded as UTF-8 (invalid sequences become U+FFFD, a BOM is
 *   kept) — assumed: API Gateway handles a payload that is not a binary media type as text.
 * - `$input.params()` = `{path, querystring, header}` Java maps; one value per name, the last one
 *   sent (assumed for headers, as in the proxy event's `headers`); header names are matched
 *   case-insensitively and keep the case they were last sent in.
 * - A null argument throws here (Velocity would print the reference's source text, a silent
 *   corruption): the templates must never reach one.
 */
import velocity from 'velocityjs';

export class JavaString {
  constructor(readonly value: string) {}
  /** java.lang.String#replaceAll: a regex, every match. */
  replaceAll(regex: unknown, replacement: unknown): JavaString {
    const re = new RegExp(javaString(regex, 'replaceAll'), 'g');
    const rep = javaString(replacement, 'replaceAll');
    if (/[$\\]/.test(rep)) throw new Error('stand-in: replacement groups/escapes are not modelled');
    return new JavaString(this.value.replace(re, () => rep));
  }
  /** java.lang.String#replace(CharSequence, CharSequence): every literal occurrence. */
  replace(target: unknown, replacement: unknown): JavaString {
    return new JavaString(this.value.split(javaString(target, 'replace')).join(javaString(replacement, 'replace')));
  }
  contains(s: unknown): boolean {
    return this.value.includes(javaString(s, 'contains'));
  }
  toLowerCase(): JavaString {
    return new JavaString(this.value.toLowerCase());
  }
  length(): number {
    return this.value.length;
  }
  toString(): string {
    return this.value;
  }
}

function javaString(v: unknown, where: string): string {
  if (v instanceof JavaString) return v.value;
  if (typeof v === 'string') return v;
  throw new TypeError(`stand-in: ${where} got ${v === null ? 'null' : typeof v}, not a string`);
}

/** A java.util.Map<String, String> as Velocity sees it. */
export class JavaMap {
  private readonly entries = new Map<string, string>();
  constructor(pairs: ReadonlyArray<readonly [string, string]> = [], opts: { caseInsensitive?: boolean } = {}) {
    for (const [k, v] of pairs) {
      if (opts.caseInsensitive) {
        for (const existing of this.entries.keys()) if (existing.toLowerCase() === k.toLowerCase()) this.entries.delete(existing);
      }
      this.entries.set(k, v);
    }
  }
  keySet(): string[] {
    return [...this.entries.keys()];
  }
  get(k: unknown): JavaString | null {
    const v = this.entries.get(javaString(k, 'Map.get'));
    return v === undefined ? null : new JavaString(v);
  }
  containsKey(k: unknown): boolean {
    return this.entries.has(javaString(k, 'Map.containsKey'));
  }
  size(): number {
    return this.entries.size;
  }
}

function hex4(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

export type EscapeVariant = 'commons-lang-2.6' | 'keeps-non-ascii';

/** StringEscapeUtils.escapeJavaScript (Commons Lang 2.6), per UTF-16 unit like Java. */
export function escapeJavaScript(s: string, variant: EscapeVariant = 'commons-lang-2.6'): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    const c = s[i] ?? '';
    if (ch > 0x7f) out += variant === 'commons-lang-2.6' ? `\\u${hex4(ch)}` : c;
    else if (ch < 32) {
      const named: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
      out += named[ch] ?? `\\u${hex4(ch)}`;
    } else if (c === "'") out += "\\'";
    else if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '/') out += '\\/';
    else out += c;
  }
  return out;
}

/** java.net.URLEncoder.encode(s, UTF-8). */
export function javaUrlEncode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9.*_-]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface ApiGatewayRequest {
  body: Uint8Array;
  /** Path parameters as API Gateway hands them to templates (decoded). */
  path: Record<string, string>;
  /** Query pairs in the order sent. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Header pairs in the order sent, names as sent. */
  headers: ReadonlyArray<readonly [string, string]>;
  requestId: string;
  requestTimeEpoch: number;
  sourceIp: string;
}

function util(variant: EscapeVariant) {
  return {
    escapeJavaScript: (s: unknown) => new JavaString(escapeJavaScript(javaString(s, '$util.escapeJavaScript'), variant)),
    urlEncode: (s: unknown) => javaUrlEncode(javaString(s, '$util.urlEncode')),
    urlDecode: (s: unknown) => decodeURIComponent(javaString(s, '$util.urlDecode').replace(/\+/g, ' ')),
    base64Encode: (s: unknown) => Buffer.from(javaString(s, '$util.base64Encode'), 'utf8').toString('base64'),
    base64Decode: (s: unknown) => Buffer.from(javaString(s, '$util.base64Decode'), 'base64').toString('utf8'),
    parseJson: (s: unknown) => JSON.parse(javaString(s, '$util.parseJson')) as unknown,
  };
}

/** What API Gateway's `$input.body` holds for a non-binary payload (assumed: UTF-8 text, BOM kept). */
export function bodyAsApiGatewayText(body: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(body);
}

const parsed = new Map<string, ReturnType<typeof velocity.parse>>();

function renderVtl(template: string, context: Record<string, unknown>): string {
  let asts = parsed.get(template);
  if (!asts) {
    asts = velocity.parse(template);
    parsed.set(template, asts);
  }
  return new velocity.Compile(asts, { escape: false }).render(context);
}

/** Renders an integration REQUEST template the way API Gateway would for this request. */
export function renderRequestTemplate(template: string, req: ApiGatewayRequest, variant: EscapeVariant = 'commons-lang-2.6'): string {
  const params = {
    path: new JavaMap(Object.entries(req.path)),
    querystring: new JavaMap(req.query),
    header: new JavaMap(req.headers, { caseInsensitive: true }),
  };
  return renderVtl(template, {
    input: { body: new JavaString(bodyAsApiGatewayText(req.body)), params: () => params, path: (p: unknown) => inputPath(req.body, p) },
    util: util(variant),
    context: { requestId: req.requestId, requestTimeEpoch: req.requestTimeEpoch, identity: { sourceIp: req.sourceIp } },
  });
}

/**
 * `$input.path('$.a.b')`: the value at a dotted JSONPath of the body parsed as JSON (only the
 * dotted form the FIFO keys use); a string comes back as a Java string, a missing one as null.
 */
function inputPath(body: Uint8Array, path: unknown): unknown {
  const p = javaString(path, '$input.path');
  if (!/^\$(\.[a-z_][a-z0-9_]*)+$/.test(p)) throw new Error(`stand-in: unsupported JSONPath ${p}`);
  let v: unknown = JSON.parse(bodyAsApiGatewayText(body));
  for (const k of p.slice(2).split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'string' ? new JavaString(v) : (v ?? null);
}

/** Renders an integration RESPONSE template over a backend answer; returns the body and any status override. */
export function renderResponseTemplate(template: string, backendBody: string): { body: string; status?: number } {
  const context: { responseOverride: { status?: number } } = { responseOverride: {} };
  const body = renderVtl(template, { input: { body: new JavaString(backendBody) }, util: util('commons-lang-2.6'), context });
  return context.responseOverride.status === undefined ? { body } : { body, status: context.responseOverride.status };
}
