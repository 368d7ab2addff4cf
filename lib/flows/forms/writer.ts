/**
 * The forms writer of one account (README.md "What a submission becomes"): the submissions a
 * worker processes at once (one SQS batch, up to 50) are written together after a short window:
 *
 * 1. each form's names are resolved once (resolve.ts, dictionaries from the client's cache);
 * 2. mode `unsorted`: one `POST /leads/unsorted/forms` per ≤ 50 entries;
 * 3. mode `lead`: submissions of the same person (phone or e-mail) are grouped; each person is
 *    claimed in the table (a lease: another container writing for them makes this one defer); a
 *    person whose last lead is within `repeatWindowSeconds` gets a note on that lead (no lookup);
 *    the others are looked up together (the ContactFinder: index, one read, search), an open lead
 *    of a found contact is reused by the merge rules (tags added: one PATCH for all), else a lead
 *    is created with its new contact, or linked to the found one, through `leads/complex` (≤ 50 per
 *    request, tags and fields in the same write); every note in one `POST /leads/notes`;
 * 4. adds carry markers derived from the submission id, and a redelivered submission adds with
 *    `checkFirst` (the client re-checks what a lost answer may have created before sending);
 * 5. the person's record (lead, contact, time) is stored as the claim is released.
 *
 * A failure fails the submissions that depended on the failed call (the client's errors carry
 * their pipeline outcome); whatever was written is recorded, so the retry continues from it.
 */
import { randomUUID } from 'node:crypto';
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { CustomFieldWrite } from '../../amocrm/client/custom-fields.ts';
import type { ComplexLeadCreate, ContactCreate } from '../../amocrm/client/resources/entities.ts';
import type { NoteCreate } from '../../amocrm/client/resources/tasks-notes.ts';
import type { FormMetadata, UnsortedCreate } from '../../amocrm/client/resources/unsorted.ts';
import type { Lead } from '../../amocrm/entities.ts';
import type { Log } from '../../common/log.ts';
import type { ContactFinder, ContactIndexKey, ContactMatch, PersonKey } from '../../contacts/types.ts';
import { DeferError } from '../../pipeline/outcome.ts';
import type { FormConfig } from './config.ts';
import { LOST, resolveForm, WON, type ResolvedForm } from './resolve.ts';
import type { FormsStateStore, PersonRecord } from './state.ts';
import type { Submission } from './submission.ts';
import { fieldWrite, render, submitted } from './values.ts';

export interface FormUnit {
  sub: Submission;
  form: FormConfig;
  /** A redelivery (retried or deferred before): adds re-check first. */
  redelivery: boolean;
}

export type FormOutcome = 'created' | 'merged' | 'repeat' | 'unsorted';

export interface FormResult {
  outcome: FormOutcome;
  leadId?: number;
  contactId?: number;
  /** Unsorted mode: the entry's uid. */
  uid?: string;
}

/** What one flush sent to amoCRM (the bench and the metrics). */
export interface FlushStats {
  submissions: number;
  writes: number;
}

export interface FormWriterOptions {
  account: string;
  client: () => AmoClientForAccount;
  finder: ContactFinder;
  /** Claims and records across containers (the table); absent: one container's memory only. */
  state: FormsStateStore;
  /** How long submissions gather before a flush (ms). Default 40. */
  windowMs?: number;
  /** How long a person's claim shields the writes that follow it (ms). Default 120 000 (under the queue's 180 s visibility). */
  claimHoldMs?: number;
  /** How long a person claimed by another writer is waited for before the submission defers (ms). Default 3 000. */
  claimWaitMs?: number;
  /** The `{date}` of templates. Default Europe/Moscow (*assumed*: the accounts this replaces are Russian). */
  timeZone?: string;
  now?: () => number;
  log?: Log;
  onFlush?: (stats: FlushStats) => void;
}

const CHUNK = 50;
const READ_CHUNK = 250;

interface Pending {
  unit: FormUnit;
  resolve: (r: FormResult) => void;
  reject: (e: unknown) => void;
}

/** Index keys of a submission's person (none when it carries neither channel). */
export function personKeys(c: Submission['contact']): ContactIndexKey[] {
  return [...(c.phone ? [`phone:${c.phone}` as const] : []), ...(c.email ? [`email:${c.email}` as const] : [])];
}

/** A person's submissions in this flush (joined by any shared phone or e-mail). */
interface Group {
  units: Pending[];
  keys: ContactIndexKey[];
  person: PersonKey;
  primary: Pending;
  rf: ResolvedForm;
  claimed: boolean;
  /** Where the submissions go. */
  leadId?: number;
  contactId?: number;
  outcome?: FormOutcome;
  /** A new contact was made (the finder is told). */
  newContact?: boolean;
  failed?: unknown;
  /** Notes, per unit. */
  notes: Map<Pending, string>;
}

export class FormWriter {
  private pending: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: FormWriterOptions) {
    this.now = opts.now ?? Date.now;
  }

  submit(unit: FormUnit): Promise<FormResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ unit, resolve, reject });
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        const batch = this.pending;
        this.pending = [];
        void this.flush(batch);
      }, this.opts.windowMs ?? 40);
    });
  }

  private async flush(batch: Pending[]): Promise<void> {
    const stats: FlushStats = { submissions: batch.length, writes: 0 };
    try {
      const api = this.opts.client();
      // 1. each form's names, once
      const resolved = new Map<string, Promise<ResolvedForm>>();
      const live: Array<{ p: Pending; rf: ResolvedForm }> = [];
      await Promise.all(
        batch.map(async (p) => {
          const f = p.unit.form;
          if (!resolved.has(f.id)) resolved.set(f.id, resolveForm(api, f));
          try {
            live.push({ p, rf: await (resolved.get(f.id) as Promise<ResolvedForm>) });
          } catch (e) {
            p.reject(e);
          }
        }),
      );
      const unsorted = live.filter((x) => x.rf.form.mode === 'unsorted');
      const leads = live.filter((x) => x.rf.form.mode === 'lead');
      await Promise.all([
        unsorted.length ? this.writeUnsorted(api, unsorted, stats) : undefined,
        leads.length ? this.writeLeads(api, leads, stats) : undefined,
      ]);
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.opts.onFlush?.(stats);
    }
  }

  // ---- unsorted ------------------------------------------------------------------------------

  private unsortedEntry(sub: Submission, rf: ResolvedForm): { entry: UnsortedCreate<FormMetadata>; dropped: string[] } {
    const f = rf.form;
    const formName = f.name ?? f.id;
    const { lead, contact, dropped } = this.models(sub, rf, formName);
    // amoCRM wants a page (`form_page` is required): the posting page, else the form's site, else its id.
    const page = sub.meta.page ?? sub.meta.referer ?? f.origins.find((o) => o !== '*') ?? `form ${f.id}`;
    return {
      entry: {
        // *assumed*: the source uid is the submission's own (unique), unless the config names one:
        // amoCRM refuses a second entry with the same source, form and time, which makes a
        // redelivered add fail instead of duplicating.
        source_uid: f.unsorted?.sourceUid ?? sub.id,
        source_name: f.unsorted?.sourceName ?? formName,
        ...(rf.unsortedPipelineId !== undefined ? { pipeline_id: rf.unsortedPipelineId } : {}),
        created_at: Math.floor(sub.receivedAt / 1000),
        metadata: {
          form_id: f.id,
          form_name: formName,
          form_page: page,
          form_sent_at: Math.floor(sub.receivedAt / 1000),
          ...(sub.meta.ip ? { ip: sub.meta.ip } : {}),
          ...(sub.meta.referer ? { referer: sub.meta.referer } : {}),
        },
        // The models are the REST add ones, typed loosely by the Unsorted client.
        _embedded: { leads: [lead], contacts: [{ ...contact } as Record<string, unknown>] },
      },
      dropped,
    };
  }

  private async writeUnsorted(api: AmoClientForAccount, items: Array<{ p: Pending; rf: ResolvedForm }>, stats: FlushStats): Promise<void> {
    let todo = items.map((x) => ({ ...x, ...this.unsortedEntry(x.p.unit.sub, x.rf) }));
    // A redelivery whose entry may have landed (lost answer): look for it first (one list per pipeline).
    const again = todo.filter((x) => x.p.unit.redelivery);
    if (again.length) {
      const pipelines = [...new Set(again.map((x) => x.entry.pipeline_id))];
      const seen: Array<{ uid: string; source_uid: string | null; metadata: Record<string, unknown> }> = [];
      for (const pid of pipelines) {
        for await (const e of api.unsorted.list({
          filter: { category: ['forms'], ...(pid !== undefined ? { pipeline_id: pid } : {}) },
          order: { created_at: 'desc' },
          limit: READ_CHUNK,
          maxPages: 1,
        }))
          seen.push(e);
      }
      todo = todo.filter((x) => {
        const m = x.entry.metadata;
        const hit = seen.find(
          (e) =>
            e.source_uid === x.entry.source_uid &&
            String(e.metadata.form_id) === String(m.form_id) &&
            Number(e.metadata.form_sent_at) === m.form_sent_at,
        );
        if (hit) x.p.resolve({ outcome: 'unsorted', uid: hit.uid });
        return !hit;
      });
    }
    for (let i = 0; i < todo.length; i += CHUNK) {
      const chunk = todo.slice(i, i + CHUNK);
      try {
        stats.writes++;
        const made = await api.unsorted.addForms(chunk.map((x, j) => ({ ...x.entry, request_id: String(j) })));
        chunk.forEach((x, j) => {
          const m = made.find((u) => u.request_id === String(j)) ?? made[j];
          if (x.dropped.length) this.opts.log?.warn('form values not written', { form: x.rf.form.id, fields: x.dropped.length });
          x.p.resolve({
            outcome: 'unsorted',
            ...(m ? { uid: m.uid } : {}),
            ...(m?._embedded.leads[0] ? { leadId: m._embedded.leads[0].id } : {}),
            ...(m?._embedded.contacts[0] ? { contactId: m._embedded.contacts[0].id } : {}),
          });
        });
      } catch (e) {
        for (const x of chunk) x.p.reject(e);
      }
    }
  }

  // ---- lead ------------------------------------------------------------------------------------

  /** The lead and new-contact models of a submission (custom fields converted), and what could not be written. */
  private models(sub: Submission, rf: ResolvedForm, formName: string) {
    const dropped: string[] = [];
    const tz = this.opts.timeZone ?? 'Europe/Moscow';
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
    const tags = this.tagsOf(sub, rf.form);
    const contactName = render(rf.form.contact.name, sub, formName, tz) || sub.contact.phone || sub.contact.email || formName;
    const lead = {
      name: render(rf.form.lead.name, sub, formName, tz) || formName,
      ...(price !== undefined && Number.isFinite(price) && price >= 0 ? { price } : {}),
      ...(leadCf.length ? { custom_fields_values: leadCf } : {}),
      ...(tags.length ? { _embedded: { tags: tags.map((name) => ({ name })) } } : {}),
    };
    const contact: ContactCreate = { name: contactName.slice(0, 255), ...(contactCf.length ? { custom_fields_values: contactCf } : {}) };
    return { lead, contact, dropped, tags };
  }

  private tagsOf(sub: Submission, form: FormConfig): string[] {
    const out = new Set(form.tags.fixed);
    for (const r of form.tags.rules) {
      const v = sub.fields[r.field];
      if (v !== undefined && v.toLowerCase().includes(r.contains.toLowerCase())) out.add(r.tag);
    }
    return [...out];
  }

  /** The note of one submission on its lead; undefined when there is nothing to say (a new lead without a comment). */
  private noteText(sub: Submission, rf: ResolvedForm, kind: FormOutcome, dropped: string[]): string | undefined {
    const f = rf.form;
    const formName = f.name ?? f.id;
    const tz = this.opts.timeZone ?? 'Europe/Moscow';
    const body = f.note.template ? render(f.note.template, sub, formName, tz) : (submitted(sub, f.note.field) ?? '');
    const lines: string[] = [];
    if (kind !== 'created') lines.push(kind === 'repeat' ? `Повторная заявка: ${formName}` : `Новая заявка: ${formName}`);
    if (body) lines.push(body);
    if (dropped.length) lines.push(`Не записано: ${dropped.join('; ')}`);
    if (!lines.length) return undefined;
    // The submission's reference makes the note unique, so a re-check after a lost answer
    // (notes have no marker field: fingerprint) cannot take another submission's note for it.
    lines.push(`#${sub.id.slice(0, 8)}`);
    return lines.join('\n').slice(0, 20_000);
  }

  private async writeLeads(api: AmoClientForAccount, items: Array<{ p: Pending; rf: ResolvedForm }>, stats: FlushStats): Promise<void> {
    const t = this.now();
    const store = this.opts.state;
    const account = this.opts.account;
    // Each flush claims as its own owner: two flushes of this container that overlap (messages
    // reaching the writer more than a window apart) must not both write for one person.
    const owner = randomUUID();
    // 1. group by person (any shared channel), the earliest submission first
    items.sort((a, b) => a.p.unit.sub.receivedAt - b.p.unit.sub.receivedAt);
    const groups: Group[] = [];
    const byKey = new Map<string, Group>();
    for (const { p, rf } of items) {
      const keys = personKeys(p.unit.sub.contact);
      const hits = [...new Set(keys.map((k) => byKey.get(k)).filter((g): g is Group => g !== undefined))];
      let g: Group;
      if (hits.length === 0) {
        g = { units: [], keys: [], person: {}, primary: p, rf, claimed: false, notes: new Map() };
        groups.push(g);
      } else {
        g = hits[0] as Group;
        // One submission carrying the phone of one group and the e-mail of another joins them.
        for (const o of hits.slice(1)) {
          g.units.push(...o.units);
          g.keys.push(...o.keys);
          groups.splice(groups.indexOf(o), 1);
        }
      }
      g.units.push(p);
      for (const k of keys) if (!g.keys.includes(k)) g.keys.push(k);
      for (const k of g.keys) byKey.set(k, g);
    }
    for (const g of groups) {
      g.units.sort((a, b) => a.unit.sub.receivedAt - b.unit.sub.receivedAt);
      g.primary = g.units[0] as Pending;
      g.rf = items.find((x) => x.p === g.primary)?.rf as ResolvedForm;
      const c = g.primary.unit.sub.contact;
      g.person = { ...(c.phone ? { phone: c.phone } : {}), ...(c.email ? { email: c.email } : {}) };
      for (const u of g.units) {
        const o = u.unit.sub.contact;
        if (!g.person.phone && o.phone) g.person.phone = o.phone;
        if (!g.person.email && o.email) g.person.email = o.email;
      }
    }
    const fail = (g: Group, e: unknown) => {
      g.failed ??= e;
    };

    // 2. claim each person (conditional writes); a person claimed elsewhere defers
    const hold = this.opts.claimHoldMs ?? 120_000;
    const records = new Map<Group, PersonRecord | undefined>();
    await Promise.all(
      groups.map(async (g) => {
        if (!g.keys.length) return;
        try {
          const until = this.now() + (this.opts.claimWaitMs ?? 3_000);
          let c = await store.claim(account, g.keys, owner, hold);
          // The other writer is usually done within a second or two: wait for it, then defer.
          while (!c.ok && this.now() < until) {
            await new Promise((r) => setTimeout(r, 100));
            c = await store.claim(account, g.keys, owner, hold);
          }
          if (!c.ok) {
            const left = Math.ceil((c.until - this.now()) / 1000);
            fail(g, new DeferError('forms-person-busy', Math.min(60, Math.max(2, left))));
            return;
          }
          g.claimed = true;
          const newest = c.records.reduce<PersonRecord | undefined>((a, r) => (r && (!a || r.at > a.at) ? r : a), undefined);
          records.set(g, newest);
        } catch (e) {
          fail(g, e);
        }
      }),
    );

    try {
      // 3. a repeat within the window: the same lead, one more note
      const rest: Group[] = [];
      for (const g of groups) {
        if (g.failed) continue;
        const r = records.get(g);
        const window = g.rf.form.repeatWindowSeconds * 1000;
        if (r && Math.abs(g.primary.unit.sub.receivedAt - r.at) <= window) {
          g.leadId = r.leadId;
          if (r.contactId !== undefined) g.contactId = r.contactId;
          g.outcome = 'repeat';
        } else rest.push(g);
      }

      // 4. the others' contacts, all at once
      const matches = new Map<Group, ContactMatch | undefined>();
      const lookup = rest.filter((g) => g.keys.length);
      if (lookup.length) {
        try {
          const found = await this.opts.finder.find(
            account,
            lookup.map((g) => g.person),
          );
          lookup.forEach((g, i) => matches.set(g, found[i]));
        } catch (e) {
          for (const g of lookup) fail(g, e);
        }
      }

      // 5. merge rules: an open lead of the contact (one read for every candidate)
      const candidates = new Map<Group, number[]>();
      for (const g of rest) {
        const m = matches.get(g);
        if (!m || g.failed) continue;
        g.contactId = m.contactId;
        if (g.rf.form.merge.reuseOpenLead)
          candidates.set(
            g,
            (m.contact._embedded?.leads ?? []).map((l) => l.id),
          );
      }
      const ids = [...new Set([...candidates.values()].flat())];
      const leads = new Map<number, Lead>();
      try {
        for (let i = 0; i < ids.length; i += READ_CHUNK)
          for await (const l of api.leads.list({ filter: { id: ids.slice(i, i + READ_CHUNK) }, limit: READ_CHUNK })) leads.set(l.id, l);
      } catch (e) {
        for (const g of candidates.keys()) fail(g, e);
      }
      for (const [g, lids] of candidates) {
        if (g.failed) continue;
        const m = g.rf.form.merge;
        const oldest = Math.floor(t / 1000) - m.maxAgeDays * 86_400;
        const open = lids
          .map((id) => leads.get(id))
          .filter((l): l is Lead => l !== undefined)
          .filter(
            (l) =>
              l.status_id !== WON &&
              l.status_id !== LOST &&
              !g.rf.exceptPipelines.has(l.pipeline_id ?? -1) &&
              !g.rf.exceptStatuses.has(`${l.pipeline_id}:${l.status_id}`) &&
              (l.created_at ?? 0) >= oldest,
          )
          .sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0) || b.id - a.id);
        if (open[0]) {
          g.leadId = open[0].id;
          g.outcome = 'merged';
        }
      }

      // 6. new leads: leads/complex (new contact, or the found one by id), ≤ 50 per request
      const create = rest.filter((g) => !g.failed && g.leadId === undefined);
      const rr = new Map<string, number>();
      const rrForms = new Map<string, { n: number; users: number[] }>();
      for (const g of create) {
        const r = g.rf.responsible;
        if (r && 'roundRobin' in r) rrForms.set(g.rf.form.id, { n: (rrForms.get(g.rf.form.id)?.n ?? 0) + 1, users: r.roundRobin });
      }
      await Promise.all(
        [...rrForms].map(async ([form, { n }]) => {
          try {
            rr.set(form, await store.turns(account, form, n));
          } catch (e) {
            for (const g of create) if (g.rf.form.id === form) fail(g, e);
          }
        }),
      );
      const complex: Array<{ g: Group; item: ComplexLeadCreate }> = [];
      for (const g of create) {
        if (g.failed) continue;
        const sub = g.primary.unit.sub;
        const formName = g.rf.form.name ?? g.rf.form.id;
        const { lead, contact, dropped } = this.models(sub, g.rf, formName);
        g.notes.set(g.primary, this.noteText(sub, g.rf, 'created', dropped) ?? '');
        const r = g.rf.responsible;
        let responsible: number | undefined;
        if (r && 'user' in r) responsible = r.user;
        else if (r) {
          const turn = rr.get(g.rf.form.id) ?? 0;
          rr.set(g.rf.form.id, turn + 1);
          responsible = r.roundRobin[turn % r.roundRobin.length];
        }
        const who = responsible !== undefined ? { responsible_user_id: responsible } : {};
        complex.push({
          g,
          item: {
            ...lead,
            pipeline_id: g.rf.pipelineId,
            status_id: g.rf.statusId,
            ...who,
            _embedded: {
              ...lead._embedded,
              contacts: [g.contactId !== undefined ? { id: g.contactId } : { ...contact, ...who }],
            },
          },
        });
        g.outcome = 'created';
        if (g.contactId === undefined) g.newContact = true;
      }
      for (const again of [false, true]) {
        const part = complex.filter((c) => c.g.units.some((u) => u.unit.redelivery) === again);
        for (let i = 0; i < part.length; i += CHUNK) {
          const chunk = part.slice(i, i + CHUNK);
          try {
            stats.writes++;
            const made = await api.leads.addComplex(
              chunk.map((c) => c.item),
              { markers: chunk.map((c) => markerOf(c.g.primary.unit.sub)), checkFirst: again },
            );
            chunk.forEach((c, j) => {
              const m = made[j];
              if (!m) return fail(c.g, new Error('leads/complex answered fewer leads than sent'));
              c.g.leadId = m.id;
              if (m.contact_id !== null) c.g.contactId = m.contact_id;
            });
          } catch (e) {
            for (const c of chunk) fail(c.g, e);
          }
        }
      }
      // Tell the finder about the contacts just made (its index stays fresh without a webhook).
      await Promise.all(
        create
          .filter((g) => g.newContact && g.contactId !== undefined && !g.failed)
          .map((g) =>
            this.opts.finder
              .remember(account, g.contactId as number, g.person)
              .catch((e: unknown) => this.opts.log?.warn('contact index not updated', { error: String(e) })),
          ),
      );

      // 7. reused leads: the form's tags (one PATCH for every lead)
      const tagged = groups.filter((g) => !g.failed && g.outcome === 'merged');
      const patches = tagged
        .map((g) => ({ g, tags: [...new Set(g.units.flatMap((u) => this.tagsOf(u.unit.sub, u.unit.form)))] }))
        .filter((x) => x.tags.length);
      if (patches.length) {
        try {
          stats.writes += Math.ceil(patches.length / CHUNK);
          await api.leads.update(patches.map((x) => ({ id: x.g.leadId as number, tags_to_add: x.tags.map((name) => ({ name })) })));
        } catch (e) {
          for (const x of patches) fail(x.g, e);
        }
      }

      // 8. notes: one per submission that has something to say, all in one POST
      const notes: Array<{ g: Group; u: Pending; note: NoteCreate; marker: string }> = [];
      for (const g of groups) {
        if (g.failed || g.leadId === undefined) continue;
        for (const u of g.units) {
          const kind = u === g.primary ? (g.outcome as FormOutcome) : 'repeat';
          const text = u === g.primary && g.notes.has(u) ? g.notes.get(u) : this.noteFor(u.unit, kind);
          if (text)
            notes.push({ g, u, note: { entity_id: g.leadId, note_type: 'common', params: { text } }, marker: `${markerOf(u.unit.sub)}:n` });
        }
      }
      for (const again of [false, true]) {
        const part = notes.filter((n) => n.u.unit.redelivery === again);
        if (!part.length) continue;
        try {
          stats.writes += Math.ceil(part.length / CHUNK);
          await api.notes('leads').add(
            part.map((n) => n.note),
            { markers: part.map((n) => n.marker), checkFirst: again },
          );
        } catch (e) {
          for (const n of part) fail(n.g, e);
        }
      }
    } finally {
      // 9. the person's record (when a lead is known, even if a later step failed: the retry
      //    continues on it), then the claim is given back
      await Promise.all(
        groups
          .filter((g) => g.claimed)
          .map(async (g) => {
            const at = Math.max(...g.units.map((u) => u.unit.sub.receivedAt));
            const record =
              g.leadId !== undefined
                ? { leadId: g.leadId, at, ...(g.contactId !== undefined ? { contactId: g.contactId } : {}) }
                : undefined;
            await store.release(account, g.keys, owner, record).catch((e: unknown) => {
              this.opts.log?.warn('forms claim not released (its lease ends it)', { error: String(e) });
            });
          }),
      );
    }

    for (const g of groups) {
      if (g.failed !== undefined || g.leadId === undefined) {
        for (const u of g.units) u.reject(g.failed ?? new Error('no lead was found or made'));
        continue;
      }
      for (const u of g.units)
        u.resolve({
          outcome: u === g.primary ? (g.outcome as FormOutcome) : 'repeat',
          leadId: g.leadId,
          ...(g.contactId !== undefined ? { contactId: g.contactId } : {}),
        });
    }
  }

  private noteFor(unit: FormUnit, kind: FormOutcome): string | undefined {
    // Names were resolved for the flush; only the form's own texts are needed here.
    const rf = { form: unit.form } as ResolvedForm;
    return this.noteText(unit.sub, rf, kind, []);
  }
}

/** The add marker of a submission: stable across redeliveries. */
export function markerOf(sub: Submission): string {
  return `form:${sub.id}`;
}
