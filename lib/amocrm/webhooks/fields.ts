/**
 * zod building blocks that read decoded webhook leaves (always strings) into REST-like values.
 * Rules (README.md): ids, timestamps and prices become numbers; an empty string means "not set";
 * text stays exactly as sent (no trimming, no unquoting); lists `{"0":…,"1":…}` become arrays.
 */
import * as z from '../../common/zod.ts';
import type { CustomFieldValue, CustomFieldValueItem, Tag } from '../entities.ts';
import type { WebhookDate } from './types.ts';

/** Drop keys whose value is undefined, so events compare and serialise cleanly. */
export function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

const blankToUndefined = (v: unknown): unknown => (v === '' ? undefined : v);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const INDEX = /^(0|[1-9]\d{0,8})$/;

/** Items of a `[n]`-keyed object in index order; null when it is not such an object. */
export function listItems(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (!isRecord(v)) return null;
  const keys = Object.keys(v);
  if (!keys.every((k) => INDEX.test(k))) return null;
  return keys.sort((a, b) => Number(a) - Number(b)).map((k) => v[k]);
}

/**
 * Dense lists (`[0]…[n-1]`) → arrays, recursively; anything else (maps keyed by ids or names)
 * stays an object. Leaves are untouched. Used for free-form blocks like unsorted `source_data`.
 */
export function listify(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(listify);
  if (!isRecord(v)) return v;
  const keys = Object.keys(v);
  const dense = keys.length > 0 && keys.every((k, i) => k === String(i));
  if (dense) return keys.map((k) => listify(v[k]));
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = listify(v[k]);
  return out;
}

/** A list in the body (`x[0]…`, or `x=` for an empty one) read with `item`. */
export function listOf<T extends z.ZodMiniType>(item: T) {
  return z.preprocess((v) => (v === '' ? [] : (listItems(v) ?? v)), z.array(item));
}

const DIGITS = /^\d{1,15}$/;
const DECIMAL = /^-?\d{1,15}(\.\d{1,6})?$/;

/** A non-negative integer sent as decimal digits (ids, unix timestamps). */
export const uint = z.pipe(z.string().check(z.regex(DIGITS, { error: 'expected a decimal integer' })), z.transform(Number));
/** Optional uint; `""` means not set. */
export const optUint = z.preprocess(blankToUndefined, z.optional(uint));
/** Optional decimal (price); `""` means not set. */
export const optDecimal = z.preprocess(
  blankToUndefined,
  z.optional(z.pipe(z.string().check(z.regex(DECIMAL, { error: 'expected a decimal number' })), z.transform(Number))),
);
/** Optional text, kept exactly as sent (an empty string stays ""). */
export const optText = z.optional(z.string());
/** `0`/`1` (also `true`/`false`) → boolean; `""` means not set. */
export const optFlag = z.preprocess(
  blankToUndefined,
  z.optional(
    z.pipe(
      z.enum(['0', '1', 'true', 'false'], { error: 'expected 0 or 1' }),
      z.transform((s) => s === '1' || s === 'true'),
    ),
  ),
);

const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** Read a date string without guessing a time zone (see WebhookDate). Never fails. */
export function readDate(given: string): WebhookDate {
  if (DIGITS.test(given)) return { given, unix: Number(given) };
  const naive = NAIVE.exec(given);
  if (naive) {
    const [, y, mo, d, h, mi, s = '00'] = naive;
    const local = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
    // Reject 2017-02-30 or 25:00: Date.UTC rolls them over, so compare after a round trip.
    const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    if (Number.isFinite(t) && new Date(t).toISOString().slice(0, 19) === local) return { given, local };
    return { given };
  }
  if (WITH_OFFSET.test(given)) {
    const t = Date.parse(given.replace(' ', 'T'));
    if (Number.isFinite(t)) return { given, unix: Math.floor(t / 1000) };
  }
  return { given };
}

/** Optional date string → WebhookDate; `""` means not set. */
export const optDate = z.preprocess(blankToUndefined, z.optional(z.pipe(z.string(), z.transform(readDate))));

/** `tags[i][id|name]` → Tag. */
export const tagSchema = z.pipe(
  z.looseObject({ id: optUint, name: z.string({ error: 'tag name required' }) }),
  z.transform((t): Tag => compact({ id: t.id, name: t.name })),
);

/** A structured value (catalog items, linked entity): kept decoded, lists as arrays. */
const objectValue = z.pipe(
  z.record(z.string(), z.unknown()),
  z.transform((o) => listify(o) as Record<string, unknown>),
);

/**
 * One entry of `custom_fields[i][values]`: `[j][value]` (+ `[j][enum]`), or the bare form
 * `[j]=<value>` that date fields (and the doc's checkbox/text examples) use.
 */
const cfValueSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { value: v } : v),
  z.pipe(
    z.looseObject({
      value: z.optional(z.union([z.string(), objectValue])),
      enum: optUint,
      enum_id: optUint,
      enum_code: optText,
      subtype: optText,
    }),
    z.transform((v): CustomFieldValueItem =>
      compact({ value: v.value, enum_id: v.enum ?? v.enum_id, enum_code: v.enum_code, subtype: v.subtype }),
    ),
  ),
);

/** `custom_fields[i][id|name|code|values]` → REST `custom_fields_values[i]`. */
export const customFieldSchema = z.pipe(
  z.looseObject({
    id: uint,
    name: optText,
    code: optText,
    values: z.optional(listOf(cfValueSchema)),
  }),
  z.transform((f): CustomFieldValue => compact({ field_id: f.id, field_name: f.name, field_code: f.code, values: f.values ?? [] })),
);

/** `linked_leads_id[<id>][ID]=<id>` → ids, ascending (the map's key order; body order carries no meaning). */
export const linkedIdsSchema = z.pipe(
  z.record(z.string(), z.union([z.looseObject({ ID: optUint }), z.string()])),
  z.transform((m, ctx): number[] => {
    const ids: number[] = [];
    for (const [key, v] of Object.entries(m)) {
      const fromValue = typeof v === 'string' ? (v === '' ? undefined : v) : v.ID;
      const id = typeof fromValue === 'number' ? fromValue : DIGITS.test(fromValue ?? key) ? Number(fromValue ?? key) : NaN;
      if (!Number.isFinite(id)) {
        ctx.issues.push({ code: 'custom', message: 'expected a lead id', input: v, path: [key] });
        continue;
      }
      ids.push(id);
    }
    return ids.sort((a, b) => a - b);
  }),
);

/** `*_result[leads][0]=<id>` → `{leads: [ids]}`. */
export const idListsSchema = z.record(z.string(), listOf(uint));
