/**
 * What a submission writes (no I/O): the lead and new-contact models with their custom fields
 * converted (values.ts), the form's tags, and the note text. A value that does not fit its field is
 * returned in `dropped` and named in the note.
 */
import type { CustomFieldWrite } from '../../amocrm/client/custom-fields.ts';
import type { ContactCreate } from '../../amocrm/client/resources/entities.ts';
import type { FormConfig } from './config.ts';
import type { ResolvedForm } from './resolve.ts';
import type { Submission } from './submission.ts';
import { fieldWrite, render, submitted } from './values.ts';

/** How a submission ended: a new lead, an open lead reused, a repeat within the window, an Unsorted entry. */
export type FormOutcome = 'created' | 'merged' | 'repeat' | 'unsorted';

/** The lead and new-contact models of a submission (custom fields converted, tags), and what could not be written. */
export function modelsOf(sub: Submission, rf: ResolvedForm, timeZone: string) {
  const formName = rf.form.name ?? rf.form.id;
  const dropped: string[] = [];
  const leadCf: CustomFieldWrite[] = [];
  const put = (list: CustomFieldWrite[], def: ResolvedForm['leadFields'][number]['def'], raw: string | undefined, from: string) => {
    if (raw === undefined) return;
    const w = fieldWrite(def, raw);
    if (w.ok) list.push(w.write);
    else if (w.why !== 'empty') dropped.push(`${from} → "${def.name}": ${w.why}`);
  };
  for (const m of rf.leadFields) put(leadCf, m.def, submitted(sub, m.from), m.from);
  for (const c of rf.capture) put(leadCf, c.def, sub.capture[c.key], c.key);
  const contactCf: CustomFieldWrite[] = [];
  if (sub.contact.phone) contactCf.push({ field_code: 'PHONE', values: [{ value: sub.contact.phone, enum_code: 'WORK' }] });
  if (sub.contact.email) contactCf.push({ field_code: 'EMAIL', values: [{ value: sub.contact.email, enum_code: 'WORK' }] });
  for (const m of rf.contactFields) put(contactCf, m.def, submitted(sub, m.from), m.from);
  const priceRaw = rf.form.lead.price ? submitted(sub, rf.form.lead.price) : undefined;
  const price = priceRaw !== undefined ? Math.round(Number(priceRaw.replace(/[\s\u00a0]/g, '').replace(',', '.'))) : undefined;
  if (priceRaw !== undefined && !(price !== undefined && Number.isFinite(price) && price >= 0))
    dropped.push(`${rf.form.lead.price} → price: "${priceRaw.slice(0, 50)}" is not an amount`);
  const tags = tagsOf(sub, rf.form);
  const contactName = render(rf.form.contact.name, sub, formName, timeZone) || sub.contact.phone || sub.contact.email || formName;
  const lead = {
    name: render(rf.form.lead.name, sub, formName, timeZone) || formName,
    ...(price !== undefined && Number.isFinite(price) && price >= 0 ? { price } : {}),
    ...(leadCf.length ? { custom_fields_values: leadCf } : {}),
    ...(tags.length ? { _embedded: { tags: tags.map((name) => ({ name })) } } : {}),
  };
  const contact: ContactCreate = { name: contactName.slice(0, 255), ...(contactCf.length ? { custom_fields_values: contactCf } : {}) };
  return { lead, contact, dropped, tags };
}

export function tagsOf(sub: Submission, form: FormConfig): string[] {
  const out = new Set(form.tags.fixed);
  for (const r of form.tags.rules) {
    const v = sub.fields[r.field];
    if (v !== undefined && v.toLowerCase().includes(r.contains.toLowerCase())) out.add(r.tag);
  }
  return [...out];
}

/** The note of one submission on its lead; undefined when there is nothing to say (a new lead without a comment). */

/** The submission's short reference, the last line of each of its notes (`#1a2b3c4d`). */
export function noteRef(sub: Pick<Submission, 'id'>): string {
  return sub.id.slice(0, 8);
}
/** Reads the reference back from a note's text. */
export const NOTE_REF = /#([0-9a-f]{8})\s*$/;

export function noteText(sub: Submission, f: FormConfig, kind: FormOutcome, timeZone: string, dropped: string[] = []): string | undefined {
  const formName = f.name ?? f.id;
  const body = f.note.template ? render(f.note.template, sub, formName, timeZone) : (submitted(sub, f.note.field) ?? '');
  const lines: string[] = [];
  if (kind !== 'created') lines.push(kind === 'repeat' ? `Повторная заявка: ${formName}` : `Новая заявка: ${formName}`);
  if (body) lines.push(body);
  if (dropped.length) lines.push(`Не записано: ${dropped.join('; ')}`);
  if (!lines.length) return undefined;
  // The submission's reference makes the note unique, so a re-check after a lost answer
  // (notes have no marker field: fingerprint) cannot take another submission's note for it.
  lines.push(`#${noteRef(sub)}`);
  return lines.join('\n').slice(0, 20_000);
}
