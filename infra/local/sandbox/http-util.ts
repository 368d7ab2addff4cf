/**
 * Response builders and body/query parsers shared by the sandbox modules. Content types follow
 * docs/amocrm-protocol.md#hosts: `application/hal+json` on success, `application/problem+json` on error.
 */
import type { SbRequest, SbResponse } from './types.ts';

export const HAL = 'application/hal+json';
export const PROBLEM = 'application/problem+json';

export function hal(status: number, body: unknown, headers: Record<string, string> = {}): SbResponse {
  return { status, headers: { 'content-type': HAL, ...headers }, body: JSON.stringify(body) };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SbResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function problem(status: number, body: Record<string, unknown>): SbResponse {
  return { status, headers: { 'content-type': PROBLEM }, body: JSON.stringify(body) };
}

export function html(status: number, text: string, headers: Record<string, string> = {}): SbResponse {
  return { status, headers: { 'content-type': 'text/html; charset=utf-8', ...headers }, body: text };
}

/** 204 with no body at all (docs/amocrm-protocol.md#empty-answers-and-if-modified-since). */
export function noContent(): SbResponse {
  return { status: 204 };
}

/**
 * Bracketed query (`filter[statuses][0][status_id]=…`) parsed the way amoCRM's PHP does
 * (`parse_str`, see phpParse below): a repeated key keeps its LAST value (`filter[id][0]=1&filter[id][0]=2`
 * → one id, 2); only `[]` appends (`filter[id][]=1&filter[id][]=2` → both).
 */
export function parseQuery(req: SbRequest): Record<string, unknown> {
  return phpParse(req.query.toString());
}

/** Form-urlencoded body, parsed the same PHP way. */
export function parseForm(body: Buffer): Record<string, unknown> {
  return phpParse(body.toString('utf8'));
}

/** A PHP array: ordered keys (ints for canonical integer strings), and PHP's next free index for `[]`. */
class PhpArray {
  readonly map = new Map<string | number, PhpValue>();
  next = 0;

  set(key: string | number, v: PhpValue): void {
    this.map.set(key, v);
    if (typeof key === 'number' && key >= this.next) this.next = key + 1;
  }

  push(v: PhpValue): void {
    this.set(this.next, v);
  }
}
type PhpValue = string | PhpArray;

/** PHP turns "12" into the int key 12, but keeps "012", "+1", "1.0" as strings. */
function phpKey(k: string): string | number {
  return /^(0|-?[1-9]\d*)$/.test(k) && Number.isSafeInteger(Number(k)) ? Number(k) : k;
}

/** PHP's urldecode: `+` is a space, bad escapes stay as they are. */
function phpUrlDecode(s: string): string {
  const plus = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus.replace(/(%[0-9a-fA-F]{2})+/g, (m) => {
      try {
        return decodeURIComponent(m);
      } catch {
        return m;
      }
    });
  }
}

/**
 * PHP's `parse_str` / `$_GET` (main/php_variables.c `php_register_variable_ex`), the parts that
 * matter to an API client: pairs split on `&`, names and values url-decoded; in the top-level name
 * spaces and dots become `_` and an unclosed `[` becomes `_`; `[]` appends at the next integer
 * index, `[k]` sets key k; a later assignment to the same key replaces the earlier one (also a
 * scalar replaced by an array and back); text after a `]` that does not open a new `[` is ignored;
 * nesting deeper than 64 levels drops the pair (PHP's `max_input_nesting_level`). PHP arrays whose
 * keys are all integers come back as JS arrays in PHP's order (what the resources expect), others as
 * objects.
 */
export function phpParse(input: string): Record<string, unknown> {
  const root = new PhpArray();
  for (const pair of input.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = phpUrlDecode(eq < 0 ? pair : pair.slice(0, eq)).replace(/^ +/, '');
    const value = eq < 0 ? '' : phpUrlDecode(pair.slice(eq + 1));
    const path = phpNamePath(name);
    if (!path) continue;
    let cur = root;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i]!;
      let child: PhpValue | undefined = seg === null ? undefined : cur.map.get(phpKey(seg));
      if (!(child instanceof PhpArray)) {
        child = new PhpArray();
        if (seg === null) cur.push(child);
        else cur.set(phpKey(seg), child);
      }
      cur = child;
    }
    const last = path[path.length - 1]!;
    if (last === null) cur.push(value);
    else cur.set(phpKey(last), value);
  }
  const out = phpToJs(root);
  return Array.isArray(out) ? Object.fromEntries(out.map((v, i) => [String(i), v])) : (out as Record<string, unknown>);
}

/** `a[b][]` → ['a', 'b', null] (null = append); undefined when PHP would drop the pair. */
function phpNamePath(name: string): Array<string | null> | undefined {
  const open = name.indexOf('[');
  let top = open < 0 ? name : name.slice(0, open);
  let rest = open < 0 ? '' : name.slice(open);
  if (rest !== '' && !rest.includes(']')) {
    // An unclosed bracket: PHP keeps the whole name, the first `[` turned into `_`.
    top = name.replace('[', '_');
    rest = '';
  }
  top = top.replace(/[ .]/g, '_');
  if (top === '') return undefined;
  const path: Array<string | null> = [top];
  while (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) break; // PHP ignores an unclosed trailing segment
    const seg = rest.slice(1, close);
    path.push(seg === '' ? null : seg);
    if (path.length > 64) return undefined;
    rest = rest.slice(close + 1);
  }
  return path;
}

function phpToJs(v: PhpValue): unknown {
  if (typeof v === 'string') return v;
  const entries = [...v.map.entries()];
  if (entries.every(([k]) => typeof k === 'number')) return entries.map(([, x]) => phpToJs(x));
  return Object.fromEntries(entries.map(([k, x]) => [String(k), phpToJs(x)]));
}

export type JsonParse = { ok: true; value: unknown; empty: boolean } | { ok: false };

export function parseJson(body: Buffer): JsonParse {
  const text = body.toString('utf8').trim();
  if (text === '') return { ok: true, value: undefined, empty: true };
  try {
    return { ok: true, value: JSON.parse(text) as unknown, empty: false };
  } catch {
    return { ok: false };
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A query value that may be given once (`x=1`), as a list (`x[]=1&x[]=2`) or indexed (`x[0]=1`). */
export function queryList(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.flatMap((x) => queryList(x));
  if (isRecord(v)) return Object.values(v).flatMap((x) => queryList(x));
  return [String(v)];
}

export function queryInts(v: unknown): number[] | undefined {
  const list = queryList(v);
  if (list.length === 0) return undefined;
  return list.map((x) => Number(x)).filter((n) => Number.isInteger(n));
}

export function queryString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}
