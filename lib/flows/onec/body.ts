/**
 * A 1C request body → a plain object. 1C HTTP services post JSON or PHP-style form fields
 * (`amo_ids[0][account_id]=19453687`, as the old MZPO API read them through `$_POST`); both become
 * the same nested object, so one schema validates either.
 */
import { mediaType } from '../../common/media-type.ts';

export type BodyValue = string | number | boolean | null | BodyValue[] | { [k: string]: BodyValue };

export class BodyError extends Error {
  override readonly name = 'BodyError';
}

/** Parses by media type; throws BodyError on a body that is not what its type says. */
export function parseBody(contentType: string | undefined, raw: string): Record<string, BodyValue> {
  const type = mediaType(contentType);
  if (type === 'application/json') {
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      throw new BodyError('the body is not valid JSON');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BodyError('the body must be a JSON object');
    return v as Record<string, BodyValue>;
  }
  if (type === 'application/x-www-form-urlencoded') return parseBracketForm(raw);
  throw new BodyError(`unsupported content type ${type || '(none)'}`);
}

/** `a[0][b]=1&a[0][c]=2&x=y` → `{a: [{b: '1', c: '2'}], x: 'y'}`; numeric keys make arrays (in key order). */
export function parseBracketForm(raw: string): Record<string, BodyValue> {
  const root: Record<string, BodyValue> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m) {
      root[key] = value;
      continue;
    }
    const path = [m[1] as string, ...[...(m[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1] as string)];
    let node: Record<string, BodyValue> = root;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i] as string;
      const next = node[k];
      if (typeof next !== 'object' || next === null) node[k] = {};
      node = node[k] as Record<string, BodyValue>;
    }
    const last = path[path.length - 1] as string;
    if (last === '') {
      // `a[]=1&a[]=2`: append.
      const n = Object.keys(node).length;
      node[String(n)] = value;
    } else node[last] = value;
  }
  return arraysFromIndexes(root) as Record<string, BodyValue>;
}

function arraysFromIndexes(v: BodyValue): BodyValue {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  const fixed = Object.fromEntries(keys.map((k) => [k, arraysFromIndexes(v[k] as BodyValue)]));
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k)))
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => fixed[k] as BodyValue);
  return fixed;
}
