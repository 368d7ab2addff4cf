/**
 * A post's fields checked against its form's config: the declared `fields` (required, type,
 * length) and the contact (`contact.phone` / `contact.email`, `contact.requirePhoneOrEmail`).
 * EVERY problem is reported, one entry per field and problem, so a page can mark all of them at
 * once; nothing is queued unless the list is empty.
 *
 * Values are trimmed; a repeated name's non-empty values are joined with ", " (what the queued
 * submission holds). The phone is normalised to E.164 in `forms.defaultCountry` (lib/common/phone.ts:
 * "8 (999) 123-45-67", "+7 999 123 45 67" and "9991234567" are one number); the e-mail is trimmed
 * and lower-cased.
 */
import * as z from '../../../common/zod.ts';
import type { CountryCode } from '../../../common/phone.ts';
import { normalizePhone } from '../../../common/phone.ts';
import type { FieldSpec, FormConfig } from '../config.ts';
import type { FormFields } from './parse.ts';

export const FIELD_ERROR_CODES = [
  'required',
  'too-long',
  'invalid-phone',
  'phone-extension',
  'invalid-email',
  'invalid-number',
  'invalid-date',
  'invalid-url',
  'invalid-checkbox',
  'phone-or-email-required',
] as const;
export type FieldErrorCode = (typeof FIELD_ERROR_CODES)[number];

export interface FieldError {
  field: string;
  code: FieldErrorCode;
  /** For people (English); pages translate by `code`. */
  message: string;
}

export interface ValidSubmission {
  /** Every field (trimmed, repeated values joined), the honeypot and the key field removed. */
  fields: Record<string, string>;
  contact: { phone?: string; email?: string; name?: string };
}

export type Validation = { ok: true; value: ValidSubmission } | { ok: false; errors: FieldError[] };

/** What an e-mail address must look like: the queued submission's own check (zod's), so what passes here is never refused later. Deliverability is not ours to judge. */
const EMAIL = z.string().check(z.maxLength(254), z.email());
const NUMBER = /^[+-]?\d+(?:[.,]\d+)?$/;
const CHECKBOX = new Set(['on', 'off', 'yes', 'no', 'true', 'false', '1', '0', 'да', 'нет', 'y', 'n']);

/** Trimmed values, empty ones dropped, joined with ", ". */
export function joinValues(values: readonly string[]): string {
  return values
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .join(', ');
}

function validDate(s: string): boolean {
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const ru = /^(\d{2})\.(\d{2})\.(\d{4})$/.exec(s);
  const [y, m, d] = iso ? [iso[1], iso[2], iso[3]] : ru ? [ru[3], ru[2], ru[1]] : [];
  if (!y || !m || !d) return false;
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(m) - 1 && date.getUTCDate() === Number(d);
}

function validUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The e-mail as stored and compared: trimmed, lower-cased; undefined when it does not look like one. */
export function normalizeEmail(text: string): string | undefined {
  const e = text.trim().toLowerCase();
  return EMAIL.safeParse(e).success ? e : undefined;
}

function checkType(spec: FieldSpec, value: string, country: CountryCode): { code: FieldErrorCode; message: string } | undefined {
  switch (spec.type) {
    case 'phone': {
      const p = normalizePhone(value, country);
      if (p.ok) return undefined;
      return p.reason === 'extension'
        ? { code: 'phone-extension', message: 'a phone number with an extension cannot be stored; give the number alone' }
        : { code: 'invalid-phone', message: 'not a valid phone number' };
    }
    case 'email':
      return normalizeEmail(value) ? undefined : { code: 'invalid-email', message: 'not a valid e-mail address' };
    case 'number':
      return NUMBER.test(value.replace(/\s/g, '')) ? undefined : { code: 'invalid-number', message: 'not a number' };
    case 'date':
      return validDate(value) ? undefined : { code: 'invalid-date', message: 'not a date (YYYY-MM-DD or DD.MM.YYYY)' };
    case 'url':
      return validUrl(value) ? undefined : { code: 'invalid-url', message: 'not an http(s) URL' };
    case 'checkbox':
      return CHECKBOX.has(value.toLowerCase()) ? undefined : { code: 'invalid-checkbox', message: 'not a checkbox value (on, yes, 1, …)' };
    case 'text':
      return undefined;
  }
}

/** `{field}` → its value ('' when missing), `{form}` → the form id, `{formName}` → its name. */
export function renderTemplate(template: string, fields: Readonly<Record<string, string>>, form: Pick<FormConfig, 'id' | 'name'>): string {
  return template.replace(/\{([^{}]+)\}/g, (_, key: string) => {
    if (key === 'form') return form.id;
    if (key === 'formName') return form.name ?? form.id;
    return fields[key] ?? '';
  });
}

export interface ValidateOptions {
  defaultCountry: CountryCode;
  /** Field names removed before anything else (the honeypot). */
  drop: readonly string[];
}

export function validateSubmission(form: FormConfig, posted: FormFields, opts: ValidateOptions): Validation {
  const drop = new Set(opts.drop);
  const fields: Record<string, string> = {};
  for (const [name, values] of posted) if (!drop.has(name)) fields[name] = joinValues(values);

  const errors: FieldError[] = [];
  for (const [name, spec] of Object.entries(form.fields)) {
    const value = fields[name] ?? '';
    if (value === '') {
      if (spec.required) errors.push({ field: name, code: 'required', message: 'required' });
      continue;
    }
    if ([...value].length > spec.maxLength) {
      errors.push({ field: name, code: 'too-long', message: `at most ${spec.maxLength} characters` });
      continue;
    }
    const bad = checkType(spec, value, opts.defaultCountry);
    if (bad) errors.push({ field: name, ...bad });
  }

  // The contact channels, whether or not `fields` declares them (an undeclared one is still checked:
  // a wrong phone must not become a contact).
  const contact: ValidSubmission['contact'] = {};
  const phoneField = form.contact.phone;
  const emailField = form.contact.email;
  const reported = new Set(errors.map((e) => e.field));
  const phoneText = fields[phoneField] ?? '';
  if (phoneText !== '') {
    const p = normalizePhone(phoneText, opts.defaultCountry);
    if (p.ok) contact.phone = p.e164;
    else if (!reported.has(phoneField))
      errors.push(
        p.reason === 'extension'
          ? {
              field: phoneField,
              code: 'phone-extension',
              message: 'a phone number with an extension cannot be stored; give the number alone',
            }
          : { field: phoneField, code: 'invalid-phone', message: 'not a valid phone number' },
      );
  }
  const emailText = fields[emailField] ?? '';
  if (emailText !== '') {
    const e = normalizeEmail(emailText);
    if (e) contact.email = e;
    else if (!reported.has(emailField)) errors.push({ field: emailField, code: 'invalid-email', message: 'not a valid e-mail address' });
  }
  if (form.contact.requirePhoneOrEmail && phoneText === '' && emailText === '') {
    for (const f of phoneField === emailField ? [phoneField] : [phoneField, emailField]) {
      if (!errors.some((e) => e.field === f && e.code === 'required'))
        errors.push({ field: f, code: 'phone-or-email-required', message: 'give a phone number or an e-mail address' });
    }
  }
  if (errors.length) return { ok: false, errors };

  const name = renderTemplate(form.contact.name, fields, form).trim().slice(0, 255);
  if (name !== '') contact.name = name;
  return { ok: true, value: { fields, contact } };
}
