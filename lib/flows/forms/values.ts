/**
 * Submitted strings → amoCRM field values (every custom-field type the client can write), and the
 * templates (lead name, contact name, note). A value that does not fit its field is not written
 * and is named in the submission's note instead (the lead is still made: one odd field must not
 * lose a request; the ingress already checked the declared fields).
 */
import { encodeFieldValue, type CustomFieldWrite, type FieldDefinition, type FieldInput } from '../../amocrm/client/custom-fields.ts';
import type { Submission } from './submission.ts';

const TRUE = new Set(['1', 'true', 'yes', 'on', 'y', 'да', 'checked']);
const FALSE = new Set(['0', 'false', 'no', 'off', 'n', 'нет', '']);

/** `31.12.2026`, `2026-12-31`, with an optional ` 10:30[:00]` / `T10:30`; or any ISO 8601 instant. */
function parseDate(raw: string): Date | undefined {
  const s = raw.trim();
  const ru = /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
  const m = ru ? [ru[3], ru[2], ru[1], ru[4], ru[5], ru[6]] : iso ? [iso[1], iso[2], iso[3], iso[4], iso[5], iso[6]] : undefined;
  if (m) {
    const [y, mo, d, h, mi, se] = m.map((x) => (x === undefined ? 0 : Number(x))) as number[];
    // *assumed*: a wall-clock value without a zone is read as UTC (the submission carries no zone).
    const dt = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, se));
    return dt.getUTCDate() === d && dt.getUTCMonth() === (mo as number) - 1 ? dt : undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    const t = Date.parse(s);
    return Number.isNaN(t) ? undefined : new Date(t);
  }
  return undefined;
}

/** What `raw` means for a field of this type; undefined when it cannot be read as one. */
function inputFor(def: FieldDefinition, raw: string): FieldInput | undefined {
  const s = raw.trim();
  switch (def.type) {
    case 'numeric':
    case 'price':
    case 'monetary': {
      const n = Number(s.replace(/[\s\u00a0]/g, '').replace(',', '.'));
      return s !== '' && Number.isFinite(n) ? n : undefined;
    }
    case 'checkbox': {
      const l = s.toLowerCase();
      return TRUE.has(l) ? true : FALSE.has(l) ? false : undefined;
    }
    case 'date':
    case 'date_time':
    case 'birthday':
      return parseDate(s);
    case 'multiselect':
    case 'category':
      return s.split(/\s*[,;]\s*/).filter(Boolean);
    case 'multitext':
      return [{ value: s, enumCode: 'WORK' }];
    default:
      return s;
  }
}

/** The write for one mapped value, or why it cannot be written. */
export function fieldWrite(def: FieldDefinition, raw: string): { ok: true; write: CustomFieldWrite } | { ok: false; why: string } {
  if (raw.trim() === '') return { ok: false, why: 'empty' };
  const input = inputFor(def, raw);
  if (input === undefined) return { ok: false, why: `"${raw.slice(0, 100)}" is not a ${def.type} value` };
  try {
    return { ok: true, write: encodeFieldValue(def, input) };
  } catch (e) {
    return { ok: false, why: e instanceof Error ? e.message : String(e) };
  }
}

/** The value of a submitted field (`from`), the captured value for capture keys. */
export function submitted(sub: Submission, name: string): string | undefined {
  const v = sub.fields[name];
  return v === undefined || v === '' ? undefined : v;
}

/** `YYYY-MM-DD` of `at` in `timeZone`. */
export function dayOf(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(at));
}

/**
 * `{field}` → the submitted value ('' when missing); `{form}` the form id, `{formName}` its name,
 * `{date}` the day received, `{name}`/`{phone}`/`{email}` the contact's (normalised) values.
 */
export function render(template: string, sub: Submission, formName: string, timeZone: string): string {
  const vars: Record<string, string> = {
    form: sub.form,
    formName,
    date: dayOf(sub.receivedAt, timeZone),
    phone: sub.contact.phone ?? '',
    email: sub.contact.email ?? '',
  };
  const name = sub.contact.name ?? sub.fields.name;
  return template
    .replace(/\{([^{}]+)\}/g, (_, key: string) => {
      if (key === 'name') return name ?? '';
      return sub.fields[key] ?? vars[key] ?? '';
    })
    .replace(/\s+/g, ' ')
    .replace(/^[\s:,-]+|[\s:,-]+$/g, '')
    .trim();
}
