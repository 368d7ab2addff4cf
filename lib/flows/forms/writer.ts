/**
 * The forms writer of one account (README.md "What a submission becomes"): the submissions a
 * worker processes at once (one SQS batch, up to 50) are written together after a short window:
 *
 * 1. each form's names are resolved once (resolve.ts, dictionaries from the client's cache);
 * 2. mode `unsorted`: one `POST /leads/unsorted/forms` per ≤ 50 entries (unsorted.ts);
 * 3. mode `lead`: submissions of the same person (phone or e-mail) are grouped; each person is
 *    claimed in the table (a lease: another container writing for them makes this one defer); a
 *    person whose last lead is within `repeatWindowSeconds` gets a note on that lead (no lookup);
 *    the others are looked up together (the ContactFinder: index, one read, search), an open lead
 *    of a found contact is reused by the merge rules (tags added: one PATCH for all), else a lead
 *    is created (models.ts) with its new contact, or linked to the found one, through `leads/complex` (≤ 50 per
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
import type { ComplexLeadCreate } from '../../amocrm/client/resources/entities.ts';
import type { NoteCreate } from '../../amocrm/client/resources/tasks-notes.ts';
import type { Lead } from '../../amocrm/entities.ts';
import type { Log } from '../../common/log.ts';
import type { ContactFinder, ContactIndexKey, ContactMatch, PersonKey } from '../../contacts/types.ts';
import { DeferError } from '../../pipeline/outcome.ts';
import type { FormConfig } from './config.ts';
import { LOST, resolveForm, WON, type ResolvedForm } from './resolve.ts';
import type { FormsStateStore, PersonRecord } from './state.ts';
import type { Submission } from './submission.ts';
import { modelsOf, NOTE_REF, noteRef, noteText, tagsOf, type FormOutcome } from './models.ts';
import { writeUnsorted } from './unsorted.ts';

/** How long a submission whose person another flush holds waits before it comes back. */
const BUSY_RETRY_SECONDS = 10;
export interface FormUnit {
  sub: Submission;
  form: FormConfig;
  /** A redelivery (retried or deferred before): adds re-check first. */
  redelivery: boolean;
}

export type { FormOutcome };

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
/** People looked up together (the finder's searches of one chunk succeed or fail together). *assumed*: 10 ≈ 1.5 s of a 7/s budget. */
const LOOKUP_CHUNK = 10;

/** A submission waiting for its flush, with how to answer it. */
export interface PendingUnit {
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
  units: PendingUnit[];
  keys: ContactIndexKey[];
  person: PersonKey;
  primary: PendingUnit;
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
  notes: Map<PendingUnit, string>;
}

export class FormWriter {
  private pending: PendingUnit[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => number;
  private readonly timeZone: string;

  constructor(private readonly opts: FormWriterOptions) {
    this.now = opts.now ?? Date.now;
    this.timeZone = opts.timeZone ?? 'Europe/Moscow';
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

  private async flush(batch: PendingUnit[]): Promise<void> {
    const stats: FlushStats = { submissions: batch.length, writes: 0 };
    try {
      const api = this.opts.client();
      // 1. each form's names, once
      const resolved = new Map<string, Promise<ResolvedForm>>();
      const live: Array<{ p: PendingUnit; rf: ResolvedForm }> = [];
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
        unsorted.length ? writeUnsorted(api, unsorted, stats, this.timeZone, this.opts.log) : undefined,
        leads.length ? this.writeLeads(api, leads, stats) : undefined,
      ]);
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.opts.onFlush?.(stats);
    }
  }

  // ---- lead ------------------------------------------------------------------------------------

  private async writeLeads(api: AmoClientForAccount, items: Array<{ p: PendingUnit; rf: ResolvedForm }>, stats: FlushStats): Promise<void> {
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
      g.primary = g.units[0] as PendingUnit;
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
            // Back soon, not at the lease's end: the holder gives the claim back when its flush
            // ends (seconds), and a deferral is not an attempt. The lease only bounds a dead holder.
            const left = Math.ceil((c.until - this.now()) / 1000);
            fail(g, new DeferError('forms-person-busy', Math.min(BUSY_RETRY_SECONDS, Math.max(2, left))));
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

      // 4. the others' contacts, all at once (one index read, one read of the candidates); when
      //    that fails (amoCRM 5xx, a timeout, no budget slot in time), again LOOKUP_CHUNK people at
      //    a time, so a failed search fails only its chunk and the rest of the batch goes on —
      //    all-or-nothing, a full batch under faults came back whole every time and never got done.
      const matches = new Map<Group, ContactMatch | undefined>();
      const lookup = rest.filter((g) => g.keys.length);
      const find = async (gs: Group[]) => {
        const found = await this.opts.finder.find(
          account,
          gs.map((g) => g.person),
          { trustFinishedIndex: gs.map((g) => g.rf.form.contact.trustFinishedIndex) },
        );
        gs.forEach((g, j) => matches.set(g, found[j]));
      };
      if (lookup.length) {
        try {
          await find(lookup);
        } catch (e) {
          if (lookup.length <= LOOKUP_CHUNK) for (const g of lookup) fail(g, e);
          else
            for (let i = 0; i < lookup.length; i += LOOKUP_CHUNK) {
              const chunk = lookup.slice(i, i + LOOKUP_CHUNK);
              await find(chunk).catch((e2: unknown) => {
                for (const g of chunk) fail(g, e2);
              });
            }
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
        const { lead, contact, dropped } = modelsOf(sub, g.rf, this.timeZone);
        g.notes.set(g.primary, noteText(sub, g.rf.form, 'created', this.timeZone, dropped) ?? '');
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
        .map((g) => ({ g, tags: [...new Set(g.units.flatMap((u) => tagsOf(u.unit.sub, u.unit.form)))] }))
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
      const notes: Array<{ g: Group; u: PendingUnit; note: NoteCreate; marker: string }> = [];
      for (const g of groups) {
        if (g.failed || g.leadId === undefined) continue;
        for (const u of g.units) {
          const kind = u === g.primary ? (g.outcome as FormOutcome) : 'repeat';
          const text = u === g.primary && g.notes.has(u) ? g.notes.get(u) : noteText(u.unit.sub, u.unit.form, kind, this.timeZone);
          if (text)
            notes.push({ g, u, note: { entity_id: g.leadId, note_type: 'common', params: { text } }, marker: `${markerOf(u.unit.sub)}:n` });
        }
      }
      // A delivery that may have run before (a worker that died after its writes, before its
      // records): its note may be there already under other words (that run made the lead, this
      // one reuses it: "Новая заявка: …" instead of the bare comment), which the client's
      // fingerprint re-check cannot see. The submission's reference ends every note: look for it.
      const maybeThere = notes.filter((n) => n.u.unit.redelivery);
      if (maybeThere.length) {
        try {
          const written = await refsOnLeads(
            api,
            [...new Set(maybeThere.map((n) => n.note.entity_id))],
            Math.min(...maybeThere.map((n) => n.u.unit.sub.receivedAt)),
          );
          for (const n of maybeThere) if (written.has(`${n.note.entity_id}:${noteRef(n.u.unit.sub)}`)) notes.splice(notes.indexOf(n), 1);
        } catch (e) {
          for (const n of maybeThere) fail(n.g, e);
          notes.splice(0, notes.length, ...notes.filter((n) => !n.u.unit.redelivery));
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
}

/** The add marker of a submission: stable across redeliveries. */
export function markerOf(sub: Submission): string {
  return `form:${sub.id}`;
}

/** `entity id:reference` of every note on `leadIds` changed since `sinceMs` (minus a minute of clock slack), read in one list. */
async function refsOnLeads(api: AmoClientForAccount, leadIds: number[], sinceMs: number): Promise<Set<string>> {
  const out = new Set<string>();
  const from = Math.floor(sinceMs / 1000) - 60;
  for await (const note of api.notes('leads').list(undefined, { filter: { entity_id: leadIds, updated_at: { from } } })) {
    const text = (note.params as { text?: unknown } | undefined)?.text;
    const ref = typeof text === 'string' ? NOTE_REF.exec(text)?.[1] : undefined;
    if (ref) out.add(`${note.entity_id}:${ref}`);
  }
  return out;
}
