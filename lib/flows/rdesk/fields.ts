/**
 * The mapping's targets resolved against the account's lead fields, values encoded type-correctly
 * for each field, and the diff against what the lead holds: only fields whose value differs are
 * written, and a field whose RDESK value is empty is cleared (`values: null`) when it holds one.
 */
import type { CustomFieldWrite, FieldDefinition } from '../../amocrm/client/custom-fields.ts';
import type { CustomFieldValueItem, Lead } from '../../amocrm/entities.ts';
import { PermanentError } from '../../pipeline/outcome.ts';
import type { FieldTarget } from './config.ts';
import { instantOf, timeText, type RdeskValue } from './mapping.ts';

export const RDESK_PARK_REASONS = {
  invalidPayload: 'invalid-payload',
  invalidElement: 'invalid-element',
  badMapping: 'bad-mapping',
  leadNotFound: 'lead-not-found',
  badToken: 'bad-token',
  ipNotAllowed: 'ip-not-allowed',
} as const;

/** A resolved target: the lead's price, or a custom field with its definition. */
export type ResolvedTarget = { kind: 'price' } | { kind: 'field'; def: FieldDefinition };

/** `target` against the account's lead fields; throws PermanentError(`bad-mapping`) when it names none (or several). */
export function resolveTarget(target: FieldTarget, defs: readonly FieldDefinition[], key: string): ResolvedTarget {
  if (target === 'price') return { kind: 'price' };
  const hits =
    typeof target === 'number'
      ? defs.filter((d) => d.id === target)
      : (() => {
          const exact = defs.filter((d) => d.name === target);
          return exact.length ? exact : defs.filter((d) => d.name.trim().toLowerCase() === target.trim().toLowerCase());
        })();
  if (hits.length === 1) return { kind: 'field', def: hits[0] as FieldDefinition };
  throw new PermanentError(
    RDESK_PARK_REASONS.badMapping,
    `rdesk field "${key}": ${hits.length === 0 ? 'no' : `${hits.length}`} lead field${hits.length === 1 ? '' : 's'} ${typeof target === 'number' ? `with id ${target}` : `named "${target}"`}`,
  );
}

const TEXT = new Set(['text', 'textarea', 'streetaddress']);
const NUMERIC = new Set(['numeric', 'price', 'monetary']);
const DATES = new Set(['date', 'date_time', 'birthday']);
const CHOICE = new Set(['select', 'radiobutton']);

function badValue(key: string, def: FieldDefinition, why: string): PermanentError {
  return new PermanentError(
    RDESK_PARK_REASONS.badMapping,
    `rdesk field "${key}" → lead field "${def.name}" (${def.type}, id ${def.id}): ${why}`,
  );
}

/** The wire values for one field (`null` clears it). */
export function encodeValue(key: string, def: FieldDefinition, value: RdeskValue | null, timeZone: string): CustomFieldValueItem[] | null {
  if (value === null) return null;
  const asText = (): string => (value.t === 'time' ? timeText(value.v, timeZone) : value.t === 'number' ? String(value.v) : value.v);
  if (TEXT.has(def.type)) return [{ value: asText() }];
  if (NUMERIC.has(def.type)) {
    if (value.t === 'number') return [{ value: String(value.v) }];
    if (value.t === 'text' && /^-?\d+(\.\d+)?$/.test(value.v)) return [{ value: value.v }];
    throw badValue(key, def, `a ${value.t} value cannot go into a numeric field`);
  }
  if (DATES.has(def.type)) {
    if (value.t !== 'time') throw badValue(key, def, `a ${value.t} value cannot go into a date field`);
    return [{ value: Math.floor(instantOf(value.v, timeZone) / 1000) }];
  }
  if (CHOICE.has(def.type)) {
    const label = asText();
    const hit = def.enums?.find((e) => e.value === label) ?? def.enums?.find((e) => e.value.toLowerCase() === label.toLowerCase());
    if (!hit) throw badValue(key, def, `no option "${label}"`);
    return [{ enum_id: hit.id }];
  }
  throw badValue(key, def, 'unsupported field type for RDESK values');
}

/** A comparable form of a field's values (enum ids win over labels; numbers and numeric strings alike). */
export function canonical(values: readonly CustomFieldValueItem[] | null | undefined): string {
  if (!values || values.length === 0) return '';
  return values.map((v) => (v.enum_id !== undefined ? `e:${v.enum_id}` : `v:${String(v.value ?? '')}`)).join('\u0000');
}

/** What the gateway knows of a lead: its price and each custom field's canonical value. */
export interface LeadState {
  price: number;
  fields: Map<number, string>;
}

export function leadState(lead: Pick<Lead, 'price' | 'custom_fields_values'>): LeadState {
  return {
    price: lead.price ?? 0,
    fields: new Map((lead.custom_fields_values ?? []).map((f) => [f.field_id, canonical(f.values)])),
  };
}

export interface PlannedWrite {
  key: string;
  target: ResolvedTarget;
  value: RdeskValue | null;
}

/** The PATCH body for one lead (undefined when nothing differs) and the state after it. */
export function diff(
  state: LeadState,
  writes: readonly PlannedWrite[],
  timeZone: string,
): { patch: { price?: number; custom_fields_values?: CustomFieldWrite[] } | undefined; after: LeadState } {
  const after: LeadState = { price: state.price, fields: new Map(state.fields) };
  const cfs = new Map<number, CustomFieldWrite>();
  let price: number | undefined;
  for (const w of writes) {
    if (w.target.kind === 'price') {
      const want = w.value === null ? 0 : w.value.t === 'number' ? w.value.v : Number.NaN;
      if (!Number.isInteger(want) || want < 0)
        throw new PermanentError(RDESK_PARK_REASONS.badMapping, `rdesk field "${w.key}" → price: not whole roubles`);
      if (want !== after.price) {
        price = want;
        after.price = want;
      }
      continue;
    }
    const def = w.target.def;
    const values = encodeValue(w.key, def, w.value, timeZone);
    const want = canonical(values);
    if ((after.fields.get(def.id) ?? '') === want) continue;
    cfs.set(def.id, { field_id: def.id, values });
    after.fields.set(def.id, want);
  }
  if (price === undefined && cfs.size === 0) return { patch: undefined, after };
  return {
    patch: { ...(price !== undefined ? { price } : {}), ...(cfs.size ? { custom_fields_values: [...cfs.values()] } : {}) },
    after,
  };
}
