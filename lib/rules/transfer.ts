/**
 * The cross-account actions (README.md here): `transfer` copies a lead into another of our
 * accounts (the contact found by a verified phone / e-mail match or created, an open lead of it
 * reused or one created, mapped fields, back-links on both leads, tags, the source lead moved on);
 * `syncBack` makes the origin lead follow when the linked lead is won (with its price) or lost.
 *
 * Exactly once per (event, rule) step: the target lead is found first by its link field (the
 * source lead's id), so a re-run after a crash, a redelivery or a retried step reuses what landed;
 * every add carries a marker derived from the step key and re-checks first on a later attempt,
 * and a lost answer is re-checked by the client's add path (lib/amocrm/client/add.ts).
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import { encodeFieldValue, type CustomFieldWrite, type FieldDefinition } from '../amocrm/client/custom-fields.ts';
import type { EntityPatch } from '../amocrm/client/batching.ts';
import type { Contact, CustomFieldValue, Lead, Note, NoteType } from '../amocrm/entities.ts';
import type { Log } from '../common/log.ts';
import type { SyncBackAction, TransferAction } from './cross-account.ts';
import type { RuleEntity } from './match.ts';
import { fieldInput } from './resolve.ts';
import { fieldText } from './template.ts';

export interface CrossAccountContext {
  /** The client of the rule's own account. */
  source: AmoClientForAccount;
  /** The client of another of our accounts. */
  clientOf(account: string): AmoClientForAccount;
  /** Stable per (event, rule): the markers of the adds. */
  marker(i: number): string;
  /** This step was attempted before: adds re-check before posting. */
  checkFirst: boolean;
  log: Log;
}

export interface CrossAccountResult {
  /** `updated_at` amoCRM answered to our PATCH of the rule's own lead (echo detection). */
  sourceUpdatedAt?: number;
}

const WON = 142;
const LOST = 143;

/**
 * The national part of a phone for comparing two spellings: its last 10 digits (Russian numbers:
 * "8 (999) 123-45-67", "+7 999 1234567" and "79991234567" agree). assumed: enough until the phone
 * normalisation (E.164) is shared; undefined for fewer than 10 digits (not a usable key).
 */
export function phoneKey(v: string): string | undefined {
  const digits = v.replace(/\D/g, '');
  return digits.length >= 10 ? digits.slice(-10) : undefined;
}

export const emailKey = (v: string): string | undefined => {
  const e = v.trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+$/.test(e) ? e : undefined;
};

/** The stored values of a contact's PHONE or EMAIL field. */
export function contactValues(c: Pick<Contact, 'custom_fields_values'>, code: 'PHONE' | 'EMAIL'): string[] {
  const f = c.custom_fields_values?.find((v) => v.field_code === code);
  return (f?.values ?? []).map((v) => String(v.value ?? '')).filter((s) => s !== '');
}

/**
 * The target account's contact with this phone or e-mail, verified: `query` search may miss or
 * over-match (amocrm-api-php #515), so a hit counts only when one of its stored phones / e-mails
 * equals the value (phones by `phoneKey`). Phones first, then e-mails; the oldest match wins.
 */
export async function findContact(target: AmoClientForAccount, phones: string[], emails: string[]): Promise<Contact | undefined> {
  const probes: Array<{ query: string; raw?: boolean; ok: (c: Contact) => boolean }> = [];
  for (const p of phones) {
    const k = phoneKey(p);
    if (!k) continue;
    const ok = (c: Contact) => contactValues(c, 'PHONE').some((v) => phoneKey(v) === k);
    probes.push({ query: k, ok });
    // A substring search misses "8 (999) 123-45-67" by its digits; the spelling itself finds a
    // contact stored with it (the ones a transfer created copy the source's spelling).
    if (p.trim() !== k) probes.push({ query: p.trim(), raw: true, ok });
  }
  for (const e of emails) {
    const k = emailKey(e);
    if (k) probes.push({ query: k, ok: (c) => contactValues(c, 'EMAIL').some((v) => emailKey(v) === k) });
  }
  for (const p of probes) {
    const hits: Contact[] = [];
    const found = p.raw
      ? target.contacts.list({ query: p.query, limit: 50, maxPages: 2 })
      : target.contacts.search(p.query, { limit: 50, maxPages: 2 });
    for await (const c of found) if (p.ok(c)) hits.push(c);
    if (hits.length) return hits.sort((a, b) => a.id - b.id)[0];
  }
  return undefined;
}

const valueOf = (values: CustomFieldValue[] | null | undefined, f: FieldDefinition): string => fieldText(values, f.id);

/** A field write of a plain value, typed for the field. */
const write = (f: FieldDefinition, value: string): CustomFieldWrite => encodeFieldValue(f, fieldInput(f, value));

/** The target lead that already carries the link to `sourceId` (a re-run, a retried step). */
async function linkedLead(target: AmoClientForAccount, linkField: FieldDefinition, sourceId: number): Promise<Lead | undefined> {
  for await (const l of target.leads.search(String(sourceId), { limit: 50, maxPages: 2 }))
    if (valueOf(l.custom_fields_values, linkField) === String(sourceId)) return l;
  return undefined;
}

/** An open lead of the contact in the pipeline (the last one, as MZPO's "склейка" took). */
async function openLeadOf(target: AmoClientForAccount, contactId: number, pipelineId: number): Promise<Lead | undefined> {
  // A contact's leads come with `with=leads` (its entity links list companies and elements, not leads).
  const contact = await target.contacts.get(contactId, { with: ['leads'], cache: false });
  const ids = (contact?._embedded?.leads ?? []).map((l) => l.id);
  if (!ids.length) return undefined;
  const leads: Lead[] = [];
  for await (const l of target.leads.list({ filter: { id: ids } })) leads.push(l);
  const open = leads.filter((l) => l.pipeline_id === pipelineId && l.status_id !== WON && l.status_id !== LOST).sort((a, b) => a.id - b.id);
  return open[open.length - 1];
}

/**
 * Copies the notes of `types` from one entity to another account's entity, skipping those the
 * target already has (same type and params), so a re-run copies nothing twice.
 */
async function copyNotes(
  ctx: CrossAccountContext,
  kind: 'leads' | 'contacts',
  fromId: number,
  toId: number,
  types: NoteType[],
  target: AmoClientForAccount,
  markerBase: number,
): Promise<void> {
  const want = new Set<string>(types);
  // Keys sorted: the answer need not list params in the order they were sent.
  const canon = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([k, x]) => [k, canon(x)]),
        )
      : v;
  const key = (n: Pick<Note, 'note_type' | 'params'>) => `${n.note_type ?? ''}:${JSON.stringify(canon(n.params ?? {}))}`;
  const source: Note[] = [];
  for await (const n of ctx.source.notes(kind).list(fromId)) if (n.note_type && want.has(n.note_type)) source.push(n);
  if (!source.length) return;
  source.sort((x, y) => x.id - y.id);
  const there = new Set<string>();
  for await (const n of target.notes(kind).list(toId)) there.add(key(n));
  const copy = source.filter((n) => !there.has(key(n)));
  if (!copy.length) return;
  await target.notes(kind).add(
    copy.map((n) => ({ entity_id: toId, note_type: n.note_type!, params: (n.params ?? {}) as Record<string, unknown> })),
    { markers: copy.map((n) => ctx.marker(markerBase + source.indexOf(n))), checkFirst: ctx.checkFirst },
  );
}

export async function runTransfer(a: TransferAction, ev: RuleEntity, ctx: CrossAccountContext): Promise<CrossAccountResult> {
  const target = ctx.clientOf(a.to);
  const src = await ctx.source.leads.get(ev.id, { with: ['contacts'], cache: false });
  if (!src) {
    ctx.log.warn('rules: transfer: the source lead is gone', { leadId: ev.id, to: a.to });
    return {};
  }
  const mapped: CustomFieldWrite[] = [];
  for (const m of a.fields) {
    const v = valueOf(src.custom_fields_values, m.from);
    if (v !== '') mapped.push(write(m.to, v));
  }
  mapped.push(write(a.linkField, String(src.id)));

  // 1. The contact there: verified match, else created (the source contact's name, phones, e-mails).
  const srcContactRef = src._embedded?.contacts?.find((c) => c.is_main) ?? src._embedded?.contacts?.[0];
  const srcContact = srcContactRef ? await ctx.source.contacts.get(srcContactRef.id, { cache: false }) : undefined;
  let contactId: number | undefined;
  let contactFound = false;
  if (srcContact) {
    const phones = contactValues(srcContact, 'PHONE');
    const emails = contactValues(srcContact, 'EMAIL');
    const found = await findContact(target, phones, emails);
    contactFound = found !== undefined;
    if (found) contactId = found.id;
    else {
      const cfs: CustomFieldWrite[] = [];
      if (phones.length) cfs.push({ field_code: 'PHONE', values: phones.map((value) => ({ value, enum_code: 'WORK' })) });
      if (emails.length) cfs.push({ field_code: 'EMAIL', values: emails.map((value) => ({ value, enum_code: 'WORK' })) });
      const [added] = await target.contacts.add([{ name: srcContact.name ?? `Контакт ${srcContact.id}`, custom_fields_values: cfs }], {
        markers: [ctx.marker(2000)],
        checkFirst: ctx.checkFirst,
      });
      contactId = added?.id;
    }
  }

  // 2. The lead there: the one already linked to this source lead, an open one of the contact, or a new one.
  let lead = await linkedLead(target, a.linkField, src.id);
  if (!lead && a.reuseOpen && contactFound && contactId !== undefined) lead = await openLeadOf(target, contactId, a.status.pipelineId);
  let targetId: number;
  if (lead) {
    targetId = lead.id;
    const shown = lead.custom_fields_values;
    const cfs = mapped.filter((w) => {
      const id = 'field_id' in w ? w.field_id : undefined;
      const def = id === a.linkField.id ? a.linkField : a.fields.find((m) => m.to.id === id)?.to;
      return !def || valueOf(shown, def) !== String(w.values?.map((v) => v.value ?? '').join(', ') ?? '');
    });
    const has = new Set((lead._embedded?.tags ?? []).map((t) => t.name.toLowerCase()));
    const tags = a.tags.filter((t) => !has.has(t.toLowerCase()));
    if (cfs.length || tags.length) {
      const patch: EntityPatch = { id: lead.id };
      if (cfs.length) patch.custom_fields_values = cfs;
      if (tags.length) patch.tags_to_add = tags.map((name) => ({ name }));
      await target.leads.update([patch]);
    }
  } else {
    const [added] = await target.leads.add(
      [
        {
          name: src.name ?? `Сделка ${src.id}`,
          pipeline_id: a.status.pipelineId,
          status_id: a.status.statusId,
          custom_fields_values: mapped,
          ...(a.tags.length ? { _embedded: { tags: a.tags.map((name) => ({ name })) } } : {}),
        },
      ],
      { markers: [ctx.marker(2001)], checkFirst: ctx.checkFirst },
    );
    if (!added) throw new Error('rules: transfer: amoCRM answered no lead id');
    targetId = added.id;
  }
  // Linking what is linked changes nothing (entity-links-api), so a re-run may repeat it.
  if (contactId !== undefined) await target.links('leads').link(targetId, [{ to_entity_id: contactId, to_entity_type: 'contacts' }]);
  if (a.notes.length) {
    await copyNotes(ctx, 'leads', src.id, targetId, a.notes, target, 3000);
    if (srcContact && contactId !== undefined) await copyNotes(ctx, 'contacts', srcContact.id, contactId, a.notes, target, 4000);
  }

  // 3. The source lead: the back-link and the next stage, only what differs.
  const patch: EntityPatch = { id: src.id };
  let changed = false;
  if (a.backLinkField && valueOf(src.custom_fields_values, a.backLinkField) !== String(targetId)) {
    patch.custom_fields_values = [write(a.backLinkField, String(targetId))];
    changed = true;
  }
  if (a.moveSourceTo && (src.status_id !== a.moveSourceTo.statusId || src.pipeline_id !== a.moveSourceTo.pipelineId)) {
    patch.status_id = a.moveSourceTo.statusId;
    patch.pipeline_id = a.moveSourceTo.pipelineId;
    changed = true;
  }
  ctx.log.info('rules: transferred', { leadId: src.id, to: a.to, targetLeadId: targetId, reused: lead !== undefined, contactFound });
  if (!changed) return {};
  const [u] = await ctx.source.leads.update([patch]);
  return u?.updated_at !== undefined ? { sourceUpdatedAt: u.updated_at } : {};
}

export async function runSyncBack(a: SyncBackAction, ev: RuleEntity, ctx: CrossAccountContext): Promise<CrossAccountResult> {
  let data: Pick<Lead, 'status_id' | 'price' | 'custom_fields_values'> = ev as Lead;
  let raw = valueOf(ev.custom_fields_values, a.linkField);
  if (raw === '' || ev.status_id === undefined) {
    // The webhook may carry no custom fields: read the lead.
    const fresh = await ctx.source.leads.get(ev.id, { cache: false });
    if (!fresh) return {};
    data = fresh;
    raw = valueOf(fresh.custom_fields_values, a.linkField);
  }
  const status = data.status_id;
  if (status !== WON && status !== LOST) return {};
  const originId = Number(raw.trim());
  if (!Number.isSafeInteger(originId) || originId <= 0) {
    if (raw !== '') ctx.log.warn('rules: syncBack: the link field holds no lead id', { leadId: ev.id, to: a.to });
    return {};
  }
  const origin = ctx.clientOf(a.to);
  const lead = await origin.leads.get(originId, { cache: false });
  if (!lead) {
    ctx.log.warn('rules: syncBack: the origin lead is gone', { leadId: ev.id, to: a.to, originId });
    return {};
  }
  const patch: EntityPatch = { id: originId };
  let changed = false;
  if (lead.status_id !== status) {
    patch.status_id = status;
    if (lead.pipeline_id !== undefined) patch.pipeline_id = lead.pipeline_id;
    changed = true;
  }
  if (status === WON && a.price && typeof data.price === 'number' && lead.price !== data.price) {
    patch.price = data.price;
    changed = true;
  }
  if (!changed) return {};
  await origin.leads.update([patch]);
  ctx.log.info('rules: synced back', { leadId: ev.id, to: a.to, originId, status });
  return {};
}
