/**
 * One person's channels in the one form every comparison uses (README.md in this folder): a phone
 * in E.164 (lib/common/phone.ts, read in the account's default country when it has no "+"), an
 * e-mail trimmed and lower-cased. A value that cannot be normalised is not a key: it never matches
 * anything, so a typo can never merge two people.
 */
import type { Contact, CustomFieldValue } from '../amocrm/entities.ts';
import { normalizePhone, type CountryCode } from '../common/phone.ts';
import type { ContactIndexKey, PersonKey } from './types.ts';

/**
 * Local part: the characters RFC 5322's dot-atom allows (no quoted strings: no form sends them);
 * domain: dot-separated labels of letters, digits and inner hyphens, the last one of letters
 * (≥ 2) or an IDN's `xn--` label. Deliberately plain: it refuses what cannot be delivered to, not
 * what is merely unusual.
 */
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^[a-z0-9\u00a0-\uffff](?:[a-z0-9\u00a0-\uffff-]{0,61}[a-z0-9\u00a0-\uffff])?$/;
const TLD = /^(?:[a-z\u00a0-\uffff]{2,63}|xn--[a-z0-9-]{1,59})$/;

/**
 * `value` trimmed and lower-cased when it is a plausible address (one "@", a dot-atom local part
 * ≤ 64, a domain of ≥ 2 labels, ≤ 254 in all); undefined otherwise. Lower-casing the local part
 * too is what amoCRM users expect ("Ivan@Mail.ru" is the same person) although RFC 5321 lets a
 * server tell them apart; no mail provider a form reaches does.
 */
export function normalizeEmail(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  if (v.length < 3 || v.length > 254) return undefined;
  const at = v.lastIndexOf('@');
  if (at <= 0 || v.indexOf('@') !== at) return undefined;
  const local = v.slice(0, at);
  const domain = v.slice(at + 1);
  if (local.length > 64 || !LOCAL.test(local)) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  if (!TLD.test(labels[labels.length - 1] as string)) return undefined;
  return v;
}

/** E.164 of `value` in `defaultCountry`, or undefined (not a valid number, or one with an extension). */
export function normalizePhoneKey(value: string, defaultCountry: CountryCode): string | undefined {
  const r = normalizePhone(value, defaultCountry);
  return r.ok ? r.e164 : undefined;
}

export const phoneKey = (e164: string): ContactIndexKey => `phone:${e164}`;
export const emailKey = (email: string): ContactIndexKey => `email:${email}`;

/** A person's channels normalised again (the contract says they already are; a caller's slip must not become a wrong key). */
export function normalizePerson(person: PersonKey, defaultCountry: CountryCode): PersonKey {
  const phone = person.phone === undefined ? undefined : normalizePhoneKey(person.phone, defaultCountry);
  const email = person.email === undefined ? undefined : normalizeEmail(person.email);
  return { ...(phone ? { phone } : {}), ...(email ? { email } : {}) };
}

/** The index keys of a (normalised) person: phone first. */
export function personKeys(person: PersonKey): ContactIndexKey[] {
  const out: ContactIndexKey[] = [];
  if (person.phone) out.push(phoneKey(person.phone));
  if (person.email) out.push(emailKey(person.email));
  return out;
}

/** The text of a stored multitext value (amoCRM keeps them as strings; a number is read as its digits). */
function textOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Values of the contact's system field `code` (PHONE or EMAIL), whatever format they were typed in. */
function storedValues(fields: readonly CustomFieldValue[] | null | undefined, code: 'PHONE' | 'EMAIL'): string[] {
  const out: string[] = [];
  for (const f of fields ?? []) {
    if (f.field_code !== code) continue;
    for (const v of f.values ?? []) {
      const t = textOf(v.value);
      if (t !== undefined) out.push(t);
    }
  }
  return out;
}

/**
 * Every index key a contact's STORED phones and e-mails normalise to (deduplicated, phones first).
 * This is both what the index holds for the contact and what a candidate is verified against.
 */
export function contactKeys(contact: Pick<Contact, 'custom_fields_values'>, defaultCountry: CountryCode): ContactIndexKey[] {
  const keys = new Set<ContactIndexKey>();
  for (const p of storedValues(contact.custom_fields_values, 'PHONE')) {
    const e164 = normalizePhoneKey(p, defaultCountry);
    if (e164) keys.add(phoneKey(e164));
  }
  for (const e of storedValues(contact.custom_fields_values, 'EMAIL')) {
    const n = normalizeEmail(e);
    if (n) keys.add(emailKey(n));
  }
  return [...keys];
}
