/**
 * The `normalizePhones` action (pure): the contact's PHONE values as the event shows them → the
 * same list in E.164 (lib/common/phone.ts), written only when something differs.
 *
 * - Each value keeps its type: the enum the event shows (`enum_id`, else `enum_code`; WORK when
 *   it shows neither, amoCRM's own default for a multitext value).
 * - A value that is not a valid number (or carries an extension) stays exactly as it is, in its
 *   place, and is counted in `left` (the flow logs the count, never the number).
 * - Values that normalise to the same number are one phone: the first is kept (with its type),
 *   the later ones are dropped. "8 (999) 123-45-67" WORK and "+79991234567" MOB → one WORK value.
 * - Nothing changed (every value already E.164, no duplicates) → no write, so the update webhook
 *   our own PATCH causes plans nothing.
 */
import type { CustomFieldWrite, FieldDefinition } from '../amocrm/client/custom-fields.ts';
import type { CustomFieldValue, CustomFieldValueItem } from '../amocrm/entities.ts';
import { normalizePhone, type CountryCode } from '../common/phone.ts';

export interface PhonesPlan {
  /** The whole PHONE field to write (a multitext write replaces every value), or undefined. */
  write?: CustomFieldWrite;
  /** Values left as they are. */
  left: number;
}

export function normalizePhones(
  field: FieldDefinition,
  shown: CustomFieldValue[] | null | undefined,
  defaultCountry: CountryCode,
): PhonesPlan {
  const cur = shown?.find((v) => v.field_id === field.id || (v.field_code != null && v.field_code === field.code));
  const values = cur?.values ?? [];
  const out: CustomFieldValueItem[] = [];
  const seen = new Set<string>();
  let left = 0;
  let changed = false;
  for (const v of values) {
    const text = typeof v.value === 'string' ? v.value : typeof v.value === 'number' ? String(v.value) : undefined;
    if (text === undefined) {
      out.push(v); // not a text value: not ours to judge, kept
      continue;
    }
    const r = normalizePhone(text, defaultCountry);
    const value = r.ok ? r.e164 : text;
    if (!r.ok) left++;
    if (seen.has(value)) {
      changed = true; // a duplicate: dropped
      continue;
    }
    seen.add(value);
    if (value !== v.value) changed = true;
    out.push(v.enum_id != null ? { value, enum_id: v.enum_id } : { value, enum_code: v.enum_code ?? 'WORK' });
  }
  return changed ? { write: { field_id: field.id, values: out }, left } : { left };
}
