/**
 * Custom field values: strict validation of what a client writes, merging into an entity, and the
 * two read shapes (REST `custom_fields_values` and the webhook `custom_fields`).
 *
 * Value shapes per type: amoCRM docs "Примеры заполнения разных типов полей через API"
 * (https://www.amocrm.ru/developers/content/crm_platform/custom-fields, cited as [CF-DOC]; summary in
 * docs/amocrm-protocol.md#custom-fields). The error code/path style is docs/amocrm-protocol.md#error-bodies.
 */
import { E, type FieldError } from './errors.ts';
import { isRecord } from './http-util.ts';
import type { AccountState, EntityKind, EnumDef, FieldDef, StoredField, StoredValue } from './state.ts';

/** [CF-DOC] multitext enum codes: PHONE "WORK, WORKDD, MOB, FAX, HOME, OTHER"; EMAIL "WORK, PRIV, OTHER". */
export const PHONE_ENUMS = ['WORK', 'WORKDD', 'MOB', 'FAX', 'HOME', 'OTHER'];
export const EMAIL_ENUMS = ['WORK', 'PRIV', 'OTHER'];

const ENUM_TYPES = new Set(['select', 'multiselect', 'radiobutton', 'category', 'multitext', 'smart_address']);

export interface FieldSeed {
  id?: number;
  name: string;
  type: string;
  code?: string | null;
  sort?: number;
  is_api_only?: boolean;
  enums?: Array<string | { id?: number; value: string; code?: string | null; sort?: number }>;
}

export function addField(
  state: AccountState,
  kind: EntityKind | 'catalogs',
  seed: FieldSeed,
  predefined = false,
  catalogId?: number,
): FieldDef {
  const id = state.claimId('field', seed.id);
  const enums: EnumDef[] | null = seed.enums
    ? seed.enums.map((e, i) => {
        const o = typeof e === 'string' ? { value: e } : e;
        return { id: state.claimId('enum', o.id), value: o.value, sort: o.sort ?? (i + 1) * 10, code: o.code ?? null };
      })
    : ENUM_TYPES.has(seed.type)
      ? []
      : null;
  const def: FieldDef = {
    id,
    name: seed.name,
    code: seed.code ?? null,
    sort: seed.sort ?? 500 + state.fields.size,
    type: seed.type,
    entity_type: kind,
    is_predefined: predefined,
    is_api_only: seed.is_api_only ?? false,
    enums,
    ...(catalogId !== undefined ? { catalog_id: catalogId } : {}),
  };
  state.fields.set(id, def);
  return def;
}

/** Fields every real account has (predefined contact/company fields). */
export function addPredefinedFields(state: AccountState): void {
  for (const kind of ['contacts', 'companies'] as const) {
    addField(state, kind, { name: 'Телефон', type: 'multitext', code: 'PHONE', sort: 4, enums: PHONE_ENUMS }, true);
    addField(state, kind, { name: 'Email', type: 'multitext', code: 'EMAIL', sort: 6, enums: EMAIL_ENUMS }, true);
  }
  addField(state, 'contacts', { name: 'Должность', type: 'text', code: 'POSITION', sort: 2 }, true);
  addField(state, 'companies', { name: 'Web', type: 'url', code: 'WEB', sort: 8 }, true);
  addField(state, 'companies', { name: 'Адрес', type: 'textarea', code: 'ADDRESS', sort: 10 }, true);
}

export interface CfUpdate {
  field_id: number;
  /** null = clear the field. */
  values: StoredValue[] | null;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

function findEnum(def: FieldDef, v: Record<string, unknown>): EnumDef | undefined | 'none' {
  const enums = def.enums ?? [];
  if (v.enum_id !== undefined) return enums.find((e) => e.id === v.enum_id);
  if (v.enum_code !== undefined) {
    // Multitext enums carry the code as their value (WORK, MOB…); select enums have a separate code.
    return enums.find((e) => (e.code ?? e.value) === v.enum_code || e.value === v.enum_code);
  }
  return 'none';
}

/**
 * The keys a value may carry, per field type ([CF-DOC] examples): plain types take only `value`,
 * enum types `value`/`enum_id`/`enum_code`. Anything else → 400 `FieldNotExpected` "This field was
 * not expected." on `…values.N.<key>` (Krukov/amocrm_api #68, #112, #116: `enum_code` sent for a
 * field that takes none). Types missing here (legal_entity, items, file…) are not checked (*assumed*).
 */
const PLAIN_KEYS = ['value'];
const ENUM_KEYS = ['value', 'enum_id', 'enum_code'];
const VALUE_KEYS: Record<string, string[]> = {
  text: PLAIN_KEYS,
  textarea: PLAIN_KEYS,
  streetaddress: PLAIN_KEYS,
  tracking_data: PLAIN_KEYS,
  numeric: PLAIN_KEYS,
  price: PLAIN_KEYS,
  monetary: PLAIN_KEYS,
  checkbox: PLAIN_KEYS,
  url: PLAIN_KEYS,
  date: PLAIN_KEYS,
  date_time: PLAIN_KEYS,
  birthday: PLAIN_KEYS,
  select: ENUM_KEYS,
  multiselect: ENUM_KEYS,
  radiobutton: ENUM_KEYS,
  category: ENUM_KEYS,
  multitext: ENUM_KEYS,
  smart_address: ENUM_KEYS,
};

function validateValue(def: FieldDef, raw: unknown, path: string, errs: FieldError[]): StoredValue | undefined {
  if (!isRecord(raw)) {
    errs.push(E.type(path, 'object'));
    return undefined;
  }
  const allowed = VALUE_KEYS[def.type];
  const extra = allowed ? Object.keys(raw).filter((k) => !allowed.includes(k)) : [];
  if (extra.length) {
    for (const k of extra) errs.push(E.notExpected(`${path}.${k}`));
    return undefined;
  }
  const v = raw.value;
  switch (def.type) {
    case 'text':
    case 'textarea':
    case 'streetaddress':
    case 'tracking_data':
      if (typeof v === 'string' || typeof v === 'number') return { value: String(v) };
      errs.push(E.type(`${path}.value`, 'string'));
      return undefined;
    case 'numeric':
    case 'price':
    case 'monetary':
      // [CF-DOC] example sends numeric as the string "1.5"; numbers are accepted too.
      if ((typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())))
        return { value: String(v).trim() };
      errs.push(E.type(`${path}.value`, 'numeric'));
      return undefined;
    case 'checkbox':
      // [CF-DOC] "value | bool".
      if (typeof v === 'boolean') return { value: v };
      errs.push(E.type(`${path}.value`, 'bool'));
      return undefined;
    case 'url':
      if (typeof v === 'string') {
        try {
          const u = new URL(v);
          if (u.protocol === 'http:' || u.protocol === 'https:') return { value: v };
        } catch {
          /* fall through to the error */
        }
      }
      errs.push(E.invalid(`${path}.value`, 'This value is not a valid URL.'));
      return undefined;
    case 'date':
    case 'date_time':
    case 'birthday':
      // [CF-DOC] "Unix Timestamp отметка или время в формате RFC-3339"; stored and returned as unix seconds (*assumed*).
      if (typeof v === 'number' && Number.isInteger(v)) return { value: v };
      if (typeof v === 'string' && RFC3339.test(v) && !Number.isNaN(Date.parse(v))) return { value: Math.floor(Date.parse(v) / 1000) };
      errs.push(E.type(`${path}.value`, 'timestamp|RFC-3339'));
      return undefined;
    case 'select':
    case 'multiselect':
    case 'radiobutton':
    case 'category': {
      // [CF-DOC] "может быть передано как значение, как символьный код значения, так и ID значения".
      let e = findEnum(def, raw);
      if (e === 'none') e = typeof v === 'string' ? def.enums?.find((x) => x.value === v) : undefined;
      if (!e) {
        errs.push(
          E.choice(raw.enum_id !== undefined ? `${path}.enum_id` : raw.enum_code !== undefined ? `${path}.enum_code` : `${path}.value`),
        );
        return undefined;
      }
      return { value: e.value, enum_id: e.id, enum_code: e.code };
    }
    case 'multitext':
    case 'smart_address': {
      // [CF-DOC] multitext: "необходимо передать поля value и enum_id или enum_code".
      if (typeof v !== 'string' && typeof v !== 'number') {
        errs.push(E.type(`${path}.value`, 'string'));
        return undefined;
      }
      const e = findEnum(def, raw);
      if (e === 'none') {
        errs.push(E.blank(`${path}.enum_code`));
        return undefined;
      }
      if (!e) {
        errs.push(E.choice(raw.enum_id !== undefined ? `${path}.enum_id` : `${path}.enum_code`));
        return undefined;
      }
      return { value: String(v), enum_id: e.id, enum_code: e.code ?? e.value };
    }
    default:
      // legal_entity, items, file, linked_entity…: stored as given (*assumed*; not used by the gateway).
      if (v === undefined) {
        errs.push(E.blank(`${path}.value`));
        return undefined;
      }
      return { value: v };
  }
}

/**
 * Validates `custom_fields_values` of one entity. `path` is the prefix, e.g.
 * `custom_fields_values` → errors like `custom_fields_values.0.field_id` (docs/amocrm-protocol.md#error-bodies).
 */
export function validateCustomFields(defs: FieldDef[], input: unknown, errs: FieldError[], path = 'custom_fields_values'): CfUpdate[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) {
    errs.push(E.type(path, 'array'));
    return [];
  }
  const out: CfUpdate[] = [];
  input.forEach((item, i) => {
    const p = `${path}.${i}`;
    if (!isRecord(item)) {
      errs.push(E.type(p, 'object'));
      return;
    }
    let def: FieldDef | undefined;
    if (item.field_id !== undefined) def = defs.find((d) => d.id === item.field_id);
    else if (item.field_code !== undefined) def = defs.find((d) => d.code !== null && d.code === item.field_code);
    else {
      errs.push(E.blank(`${p}.field_id`));
      return;
    }
    if (!def) {
      errs.push(E.choice(item.field_id !== undefined ? `${p}.field_id` : `${p}.field_code`));
      return;
    }
    // Clearing: `values: null` (amocrm-api-php NullCustomFieldValueCollection::toApi() returns null;
    // issue #352: "Для того, что бы очистить поле нужно передать null"). `[]` is refused (*assumed*:
    // the docs never show it, so a client relying on it is relying on nothing).
    if (item.values === null) {
      out.push({ field_id: def.id, values: null });
      return;
    }
    if (!Array.isArray(item.values) || item.values.length === 0) {
      errs.push(Array.isArray(item.values) ? E.blank(`${p}.values`) : E.type(`${p}.values`, 'array'));
      return;
    }
    if ((def.type === 'select' || def.type === 'radiobutton' || def.type === 'checkbox') && item.values.length > 1) {
      errs.push(E.invalid(`${p}.values`, 'This field takes a single value.')); // *assumed*
      return;
    }
    const values: StoredValue[] = [];
    const before = errs.length;
    item.values.forEach((raw, j) => {
      const sv = validateValue(def, raw, `${p}.values.${j}`, errs);
      if (sv) values.push(sv);
    });
    if (errs.length === before) out.push({ field_id: def.id, values });
  });
  return out;
}

/**
 * Applies updates: fields not mentioned stay (amocrm-api-php #352: "Обновляются только переданные
 * значения"), mentioned ones are replaced, `null` removes the field.
 */
export function applyCustomFields(current: StoredField[], updates: CfUpdate[]): StoredField[] {
  const next = current.map((f) => ({ ...f }));
  for (const u of updates) {
    const i = next.findIndex((f) => f.field_id === u.field_id);
    if (u.values === null) {
      if (i >= 0) next.splice(i, 1);
    } else if (i >= 0) next[i] = { field_id: u.field_id, values: u.values };
    else next.push({ field_id: u.field_id, values: u.values });
  }
  return next;
}

/** REST read shape (leads-api / contacts-api examples): `null` when the entity has no values. */
export function renderCustomFields(state: AccountState, stored: StoredField[]): Array<Record<string, unknown>> | null {
  const out: Array<Record<string, unknown>> = [];
  for (const f of stored) {
    const def = state.fields.get(f.field_id);
    if (!def) continue;
    out.push({
      field_id: def.id,
      field_name: def.name,
      field_code: def.code,
      field_type: def.type,
      values: f.values.map((v) => {
        const o: Record<string, unknown> = { value: v.value };
        if (v.enum_id !== undefined) {
          o.enum_id = v.enum_id;
          o.enum_code = v.enum_code ?? null;
        }
        return o;
      }),
    });
  }
  return out.length ? out : null;
}

/**
 * Webhook shape (fixtures webhook-02/03/10): `{id, name, values:[{value, enum}], code?}`, all strings;
 * date fields as bare `[values][0]=<unix>` (webhook-03), like the webhook encoder for leads.
 */
export function webhookCustomFields(state: AccountState, stored: StoredField[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const f of stored) {
    const def = state.fields.get(f.field_id);
    if (!def) continue;
    const o: Record<string, unknown> = {
      id: String(def.id),
      name: def.name,
      values: f.values.map((v) => {
        const val =
          typeof v.value === 'boolean' ? (v.value ? '1' : '0') : typeof v.value === 'object' ? JSON.stringify(v.value) : String(v.value);
        if (def.type === 'date' || def.type === 'date_time' || def.type === 'birthday') return val;
        return v.enum_id !== undefined ? { value: val, enum: String(v.enum_id) } : { value: val };
      }),
    };
    if (def.code) o.code = def.code;
    out.push(o);
  }
  return out;
}

/** Text used by `query` search: every stored value as a string. */
export function searchableValues(stored: StoredField[]): string[] {
  return stored.flatMap((f) => f.values.map((v) => (typeof v.value === 'string' || typeof v.value === 'number' ? String(v.value) : '')));
}

export function renderFieldDef(def: FieldDef, base: string): Record<string, unknown> {
  const path = def.entity_type === 'catalogs' ? `catalogs/${def.catalog_id}` : def.entity_type;
  return {
    id: def.id,
    name: def.name,
    type: def.type,
    code: def.code,
    sort: def.sort,
    is_api_only: def.is_api_only,
    enums: def.enums
      ? def.enums.map((e) => ({ id: e.id, value: e.value, sort: e.sort, ...(e.code !== null ? { code: e.code } : {}) }))
      : null,
    group_id: null,
    required_statuses: [],
    is_deletable: !def.is_predefined,
    is_predefined: def.is_predefined,
    entity_type: def.entity_type,
    remind: null,
    _links: { self: { href: `${base}/api/v4/${path}/custom_fields/${def.id}` } },
  };
}
