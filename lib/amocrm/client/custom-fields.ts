/**
 * Custom field values, typed both ways: what to send for each field type (including how to
 * *clear* a field — the top complaint about other libraries) and what a read value means.
 *
 * Wire shapes (amoCRM "Примеры заполнения разных типов полей через API"; see the sandbox's
 * custom-fields.ts for the same rules enforced):
 *   text, textarea, streetaddress   {value: "…"}
 *   url                             {value: "https://…"}
 *   numeric, price, monetary        {value: "12.5"}   (amoCRM answers numeric values as strings)
 *   checkbox                        {value: true}
 *   date, date_time, birthday       {value: <unix seconds>}
 *   select, radiobutton             {enum_id: 123}     (one value)
 *   multiselect                     [{enum_id: 1}, {enum_id: 2}]
 *   multitext (PHONE, EMAIL, IM)    {value: "+7…", enum_code: "WORK"}
 *   clear any field                 {field_id, values: null}   (`[]` is not a clear: it is refused)
 */
import type { CustomFieldValue, CustomFieldValueItem } from '../entities.ts';
import { CustomFieldValueError } from './errors.ts';

/** What a write sends per field: by id, or by code for system fields (PHONE, EMAIL…); `values: null` clears. */
export type CustomFieldWrite =
  { field_id: number; values: CustomFieldValueItem[] | null } | { field_code: string; values: CustomFieldValueItem[] | null };

export interface EnumOption {
  id: number;
  value: string;
  code?: string | null;
}

/** The part of a field definition (GET …/custom_fields) the codecs need. */
export interface FieldDefinition {
  id: number;
  name: string;
  type: string;
  code?: string | null;
  enums?: EnumOption[] | null;
}

export type FieldRef = number | { code: string };

/** Phone/email kinds (amoCRM enum codes). */
export type PhoneKind = 'WORK' | 'WORKDD' | 'MOB' | 'FAX' | 'HOME' | 'OTHER';
export type EmailKind = 'WORK' | 'PRIV' | 'OTHER';

export type Choice = string | { enumId: number } | { enumCode: string };
export interface MultitextItem {
  value: string;
  /** Default WORK. */
  enumCode?: string;
  enumId?: number;
}

function target(ref: FieldRef, values: CustomFieldValueItem[] | null): CustomFieldWrite {
  return typeof ref === 'number' ? { field_id: ref, values } : { field_code: ref.code, values };
}

function unixSeconds(v: Date | number, what: string): number {
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) throw new CustomFieldValueError(`${what}: invalid Date`);
    return Math.floor(ms / 1000);
  }
  if (!Number.isInteger(v)) throw new CustomFieldValueError(`${what}: a date is a Date or whole unix seconds, got ${v}`);
  // A millisecond timestamp passed by mistake would land in the year 50 000+.
  if (Math.abs(v) > 1e11) throw new CustomFieldValueError(`${what}: ${v} looks like milliseconds; pass unix seconds or a Date`);
  return v;
}

function choiceItem(c: Choice, enums: EnumOption[] | null | undefined, what: string): CustomFieldValueItem {
  if (typeof c === 'object' && 'enumId' in c) {
    if (enums && !enums.some((e) => e.id === c.enumId)) throw new CustomFieldValueError(`${what}: no option with enum id ${c.enumId}`);
    return { enum_id: c.enumId };
  }
  if (typeof c === 'object') return { enum_code: c.enumCode };
  if (!enums) return { value: c }; // by label, resolved by amoCRM
  const hit = enums.find((e) => e.value === c) ?? enums.find((e) => e.value.toLowerCase() === c.toLowerCase());
  if (!hit) {
    throw new CustomFieldValueError(`${what}: no option "${c}" (options: ${enums.map((e) => `"${e.value}"`).join(', ') || 'none'})`);
  }
  return { enum_id: hit.id };
}

/**
 * Builders without a schema (ids you already know). Each returns one element of
 * `custom_fields_values`. With a pulled schema, prefer `encodeFieldValue` (checks types and labels).
 */
export const cf = {
  text: (field: FieldRef, value: string): CustomFieldWrite => target(field, [{ value }]),
  textarea: (field: FieldRef, value: string): CustomFieldWrite => target(field, [{ value }]),
  url: (field: FieldRef, value: string): CustomFieldWrite => {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new CustomFieldValueError(`url field: "${value}" is not an http(s) URL`);
    return target(field, [{ value }]);
  },
  numeric: (field: FieldRef, value: number): CustomFieldWrite => {
    if (!Number.isFinite(value)) throw new CustomFieldValueError(`numeric field: ${value} is not a finite number`);
    return target(field, [{ value: String(value) }]);
  },
  checkbox: (field: FieldRef, value: boolean): CustomFieldWrite => target(field, [{ value }]),
  date: (field: FieldRef, value: Date | number): CustomFieldWrite => target(field, [{ value: unixSeconds(value, 'date field') }]),
  dateTime: (field: FieldRef, value: Date | number): CustomFieldWrite => target(field, [{ value: unixSeconds(value, 'date_time field') }]),
  select: (field: FieldRef, choice: Choice, enums?: EnumOption[]): CustomFieldWrite =>
    target(field, [choiceItem(choice, enums, 'select field')]),
  multiselect: (field: FieldRef, choices: Choice[], enums?: EnumOption[]): CustomFieldWrite => {
    if (choices.length === 0) return target(field, null); // "no options chosen" is a clear
    return target(
      field,
      choices.map((c) => choiceItem(c, enums, 'multiselect field')),
    );
  },
  multitext: (field: FieldRef, items: Array<string | MultitextItem>): CustomFieldWrite => {
    if (items.length === 0) return target(field, null);
    return target(
      field,
      items.map((i) => {
        const it = typeof i === 'string' ? { value: i } : i;
        return it.enumId !== undefined ? { value: it.value, enum_id: it.enumId } : { value: it.value, enum_code: it.enumCode ?? 'WORK' };
      }),
    );
  },
  phone: (items: Array<string | { value: string; kind?: PhoneKind }>, field: FieldRef = { code: 'PHONE' }): CustomFieldWrite =>
    cf.multitext(
      field,
      items.map((i) => (typeof i === 'string' ? { value: i } : { value: i.value, enumCode: i.kind ?? 'WORK' })),
    ),
  email: (items: Array<string | { value: string; kind?: EmailKind }>, field: FieldRef = { code: 'EMAIL' }): CustomFieldWrite =>
    cf.multitext(
      field,
      items.map((i) => (typeof i === 'string' ? { value: i } : { value: i.value, enumCode: i.kind ?? 'WORK' })),
    ),
  /** Empties the field (amoCRM: `values: null`). */
  clear: (field: FieldRef): CustomFieldWrite => target(field, null),
};

/** What `encodeFieldValue` accepts for each type; `null` always clears. */
export type FieldInput = string | number | boolean | Date | Choice | Choice[] | Array<string | MultitextItem> | null;

const TEXT_TYPES = new Set(['text', 'textarea', 'streetaddress', 'tracking_data']);
const NUMERIC_TYPES = new Set(['numeric', 'price', 'monetary']);
const DATE_TYPES = new Set(['date', 'date_time', 'birthday']);
const SINGLE_CHOICE = new Set(['select', 'radiobutton']);
const MULTI_CHOICE = new Set(['multiselect', 'category']);

/** Encode `input` for the field `def`, checking that the value fits the field's type and options. */
export function encodeFieldValue(def: FieldDefinition, input: FieldInput): CustomFieldWrite {
  const what = `field "${def.name}" (${def.type}, id ${def.id})`;
  if (input === null) return cf.clear(def.id);
  const wrong = (expected: string) =>
    new CustomFieldValueError(
      `${what}: expected ${expected}, got ${input instanceof Date ? 'Date' : Array.isArray(input) ? 'array' : typeof input}`,
    );
  if (TEXT_TYPES.has(def.type)) {
    if (typeof input !== 'string' && typeof input !== 'number') throw wrong('a string');
    return cf.text(def.id, String(input));
  }
  if (def.type === 'url') {
    if (typeof input !== 'string') throw wrong('a URL string');
    return cf.url(def.id, input);
  }
  if (NUMERIC_TYPES.has(def.type)) {
    const n = typeof input === 'string' && input.trim() !== '' ? Number(input) : input;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw wrong('a number');
    return cf.numeric(def.id, n);
  }
  if (def.type === 'checkbox') {
    if (typeof input !== 'boolean') throw wrong('a boolean');
    return cf.checkbox(def.id, input);
  }
  if (DATE_TYPES.has(def.type)) {
    if (!(input instanceof Date) && typeof input !== 'number') throw wrong('a Date or unix seconds');
    return target(def.id, [{ value: unixSeconds(input, what) }]);
  }
  if (SINGLE_CHOICE.has(def.type)) {
    if (Array.isArray(input) || typeof input === 'number' || typeof input === 'boolean' || input instanceof Date)
      throw wrong('one option (label or {enumId})');
    return cf.select(def.id, input as Choice, def.enums ?? []);
  }
  if (MULTI_CHOICE.has(def.type)) {
    const list = Array.isArray(input) ? input : [input];
    if (list.some((c) => typeof c === 'number' || typeof c === 'boolean' || c instanceof Date)) throw wrong('options (labels or {enumId})');
    return cf.multiselect(def.id, list as Choice[], def.enums ?? []);
  }
  if (def.type === 'multitext') {
    const list = Array.isArray(input) ? input : [input];
    const items = list.map((x) => {
      if (typeof x === 'string') return { value: x };
      if (x && typeof x === 'object' && 'value' in x && typeof x.value === 'string') return x as MultitextItem;
      throw wrong('strings or {value, enumCode}');
    });
    const codes = new Set((def.enums ?? []).map((e) => e.code ?? e.value));
    for (const it of items) {
      if (it.enumCode && codes.size && !codes.has(it.enumCode))
        throw new CustomFieldValueError(`${what}: no enum code ${it.enumCode} (codes: ${[...codes].join(', ')})`);
    }
    return cf.multitext(def.id, items);
  }
  throw new CustomFieldValueError(`${what}: writing this field type is not supported by the client`);
}

// ---- reading ---------------------------------------------------------------------------------

export interface ChoiceValue {
  enumId: number;
  label: string;
  enumCode?: string | null;
}
export interface MultitextValue {
  value: string;
  enumCode?: string | null;
  enumId?: number;
}
export type DecodedValue = string | number | boolean | Date | ChoiceValue | ChoiceValue[] | MultitextValue[] | unknown;

/** The field's entry in an entity, by id or code. `undefined` when the entity has no value in it. */
export function findField(entity: { custom_fields_values?: CustomFieldValue[] | null }, ref: FieldRef): CustomFieldValue | undefined {
  const list = entity.custom_fields_values ?? [];
  return typeof ref === 'number' ? list.find((f) => f.field_id === ref) : list.find((f) => f.field_code === ref.code);
}

function asNumber(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A read value as a JS value: text → string, numeric → number, checkbox → boolean, date types →
 * Date, select → {enumId, label}, multiselect → [{enumId, label}], multitext → [{value, enumCode}].
 * Uses the entry's own `field_type` unless a definition is given.
 */
export function decodeField(entry: CustomFieldValue, def?: FieldDefinition): DecodedValue {
  const type = def?.type ?? entry.field_type ?? 'text';
  const values = entry.values ?? [];
  const first = values[0];
  if (TEXT_TYPES.has(type) || type === 'url') return first?.value === undefined ? undefined : String(first.value);
  if (NUMERIC_TYPES.has(type)) return asNumber(first?.value);
  if (type === 'checkbox') return first?.value === true || first?.value === '1' || first?.value === 1 || first?.value === 'true';
  if (DATE_TYPES.has(type)) {
    const v = first?.value;
    const n = asNumber(v);
    if (n !== undefined) return new Date(n * 1000);
    if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return new Date(v);
    return undefined;
  }
  const choice = (v: CustomFieldValueItem): ChoiceValue => ({
    enumId: Number(v.enum_id),
    label: String(v.value ?? ''),
    ...(v.enum_code !== undefined ? { enumCode: v.enum_code } : {}),
  });
  if (SINGLE_CHOICE.has(type)) return first ? choice(first) : undefined;
  if (MULTI_CHOICE.has(type)) return values.map(choice);
  if (type === 'multitext') {
    return values.map((v) => ({
      value: String(v.value ?? ''),
      ...(v.enum_code !== undefined ? { enumCode: v.enum_code } : {}),
      ...(v.enum_id !== undefined ? { enumId: v.enum_id } : {}),
    }));
  }
  return values.length === 1 ? first?.value : values.map((v) => v.value);
}

/** `decodeField(findField(entity, ref))`, or undefined when the field is empty. */
export function readField(
  entity: { custom_fields_values?: CustomFieldValue[] | null },
  ref: FieldRef,
  def?: FieldDefinition,
): DecodedValue {
  const e = findField(entity, ref);
  return e ? decodeField(e, def) : undefined;
}

/** Merge two `custom_fields_values` lists per field (id or code): later wins, a clear included. */
export function mergeFieldWrites(earlier: readonly CustomFieldWrite[], later: readonly CustomFieldWrite[]): CustomFieldWrite[] {
  const key = (w: CustomFieldWrite) => ('field_id' in w ? `id:${w.field_id}` : `code:${w.field_code}`);
  const out = new Map<string, CustomFieldWrite>();
  for (const w of [...earlier, ...later]) {
    const k = key(w);
    out.delete(k); // keep the order of the latest write
    out.set(k, w);
  }
  return [...out.values()];
}
