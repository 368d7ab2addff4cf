/**
 * The lead writer of one RDESK account: pushes submitted while a flush window is open (the
 * messages of one SQS batch are processed concurrently) are written together:
 *
 * 1. per lead and push kind, the newest push wins (its own time; ties and pushes without one by
 *    arrival); the others resolve `superseded` — they are not written at all;
 * 2. RDESK lead ids → amoCRM lead ids (identity; mock-lead-id mode: the `ID_<id>` stand-in);
 * 3. the leads not read within `leadCacheSeconds` are read by `filter[id][]`, ≤ 250 per GET;
 *    a lead amoCRM does not have is parked `lead-not-found` (or created, by policy);
 * 4. each lead's fields are diffed against what it holds; only changed fields are sent, ≤ 50
 *    leads per PATCH (the client's batching);
 * 5. with a push order store, each lead with a push to apply is claimed first (one conditional
 *    write; a lead already holding the push too, without a lease): a push older than one claimed
 *    by any container resolves `stale` (not written); the claim is given back when the PATCH
 *    fails (README.md "Ordering").
 *
 * An amoCRM failure of a step fails every push that depended on it with the same error (the
 * client's errors carry their pipeline outcome: defer, retry or park).
 */
import { randomUUID } from 'node:crypto';
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { FieldDefinition } from '../../amocrm/client/custom-fields.ts';
import type { Lead } from '../../amocrm/entities.ts';
import type { Log } from '../../common/log.ts';
import { DeferError, PermanentError } from '../../pipeline/outcome.ts';
import type { RdeskAccountConfig } from './config.ts';
import { diff, leadState, RDESK_PARK_REASONS, resolveTarget, type LeadState, type PlannedWrite } from './fields.ts';
import type { LeadMapStore } from './lead-map.ts';
import { orderKey, type OrderKeys, type PushOrderStore } from './push-order.ts';
import type { DesiredLead } from './mapping.ts';
import type { RdeskKind } from './payload.ts';

export interface PushUnit {
  kind: RdeskKind;
  desired: DesiredLead;
  /** Arrival at the edge (the envelope's receivedAt) and a unique id (request id, element index): the order's tie-breakers. */
  arrival?: { at: number; id: string };
}

/** `stale`: a newer push of the lead was already applied (by any container); nothing was written. */
export type UnitResult = { status: 'written' | 'unchanged' | 'superseded' | 'stale'; leadId: number };

export interface LeadWriterOptions {
  account: RdeskAccountConfig;
  client: () => AmoClientForAccount;
  /** mock-lead-id mode and the `create` policy keep their map here. */
  leadMap?: LeadMapStore;
  /** How long submissions gather before a flush (ms). Default 40. */
  windowMs?: number;
  now?: () => number;
  log?: Log;
  /** How long a mock claim is held, and how long a loser waits for the winner's lead (ms). */
  claimHoldMs?: number;
  claimWaitMs?: number;
  /** Ordering across containers (README.md "Ordering"); absent: within this container only. */
  order?: PushOrderStore;
  /** How long a claim of the push order shields the PATCH that follows it, and how long another writer waits for it (ms). */
  orderHoldMs?: number;
  orderWaitMs?: number;
}

export const MOCK_NAME_PREFIX = 'ID_';
const READ_CHUNK = 250;

interface Pending {
  unit: PushUnit;
  seq: number;
  resolve: (r: UnitResult) => void;
  reject: (e: unknown) => void;
}

interface Known {
  at: number;
  state: LeadState;
  /** The newest push time applied per kind (an older push that arrives later is superseded). */
  applied: Partial<Record<RdeskKind, number>>;
}

export class LeadWriter {
  private pending: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private seq = 0;
  private readonly known = new Map<number, Known>();
  private readonly mapped = new Map<number, number>();
  private readonly now: () => number;
  /** Flushes run one at a time: a later one sees what the earlier one wrote. */
  private chain: Promise<void> = Promise.resolve();
  /** This writer's name in the push order's lease: its own earlier claims never block it (flushes run one at a time). */
  private readonly owner = randomUUID();

  constructor(private readonly opts: LeadWriterOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Resolves once the push is written (or found unchanged, or superseded); rejects with a pipeline error. */
  submit(unit: PushUnit): Promise<UnitResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ unit, seq: this.seq++, resolve, reject });
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        const batch = this.pending;
        this.pending = [];
        this.chain = this.chain.then(() => this.flush(batch));
      }, this.opts.windowMs ?? 40);
    });
  }

  /** Forget what was read (tests; an operator edit that must be overwritten at once). */
  forget(): void {
    this.known.clear();
  }

  private async flush(batch: Pending[]): Promise<void> {
    const cfg = this.opts.account;
    // 1. the newest push per (lead, kind)
    const winners = new Map<string, Pending>();
    for (const p of batch) {
      const key = `${p.unit.kind}:${p.unit.desired.rdeskLeadId}`;
      const cur = winners.get(key);
      if (!cur || newer(p, cur)) {
        if (cur) cur.resolve({ status: 'superseded', leadId: cur.unit.desired.rdeskLeadId });
        winners.set(key, p);
      } else p.resolve({ status: 'superseded', leadId: p.unit.desired.rdeskLeadId });
    }
    let live = [...winners.values()];
    const fail = (ps: Pending[], e: unknown) => ps.forEach((p) => p.reject(e));
    try {
      const api = this.opts.client();
      const defs = await api.customFields('leads').list();
      // 2. RDESK ids → amoCRM ids
      const ids = new Map<Pending, number>();
      if (cfg.mockLeadId) {
        const resolved = await Promise.allSettled(live.map((p) => this.standIn(api, p.unit.desired.rdeskLeadId, cfg.mockLeadId ?? {})));
        live = live.filter((p, i) => {
          const r = resolved[i] as PromiseSettledResult<number>;
          if (r.status === 'rejected') return (void p.reject(r.reason), false);
          ids.set(p, r.value);
          return true;
        });
      } else for (const p of live) ids.set(p, this.mapped.get(p.unit.desired.rdeskLeadId) ?? p.unit.desired.rdeskLeadId);

      // 3. read what is not trusted
      const t = this.now();
      const ttl = cfg.leadCacheSeconds * 1000;
      const toRead = [...new Set([...ids.values()].filter((id) => !this.isFresh(id, t, ttl)))];
      const found = new Set<number>();
      for (let i = 0; i < toRead.length; i += READ_CHUNK) {
        const chunk = toRead.slice(i, i + READ_CHUNK);
        for await (const lead of api.leads.list({ filter: { id: chunk }, limit: READ_CHUNK })) {
          found.add(lead.id);
          this.remember(lead, t);
        }
      }
      const missing = new Set(toRead.filter((id) => !found.has(id)));
      if (missing.size) {
        for (const id of missing) this.known.delete(id);
        const notFound = live.filter((p) => missing.has(ids.get(p) as number));
        live = live.filter((p) => !missing.has(ids.get(p) as number));
        if (cfg.leadNotFound.action === 'park' || cfg.mockLeadId) {
          fail(notFound, new PermanentError(RDESK_PARK_REASONS.leadNotFound, 'amoCRM has no lead with this lead_id'));
        } else {
          const place = cfg.leadNotFound;
          const made = await Promise.allSettled(notFound.map((p) => this.standIn(api, p.unit.desired.rdeskLeadId, place, true)));
          notFound.forEach((p, i) => {
            const r = made[i] as PromiseSettledResult<number>;
            if (r.status === 'rejected') return p.reject(r.reason);
            ids.set(p, r.value);
            live.push(p);
          });
          const fresh = [
            ...new Set(notFound.map((p) => ids.get(p)).filter((id): id is number => id !== undefined && !this.isFresh(id, t, ttl))),
          ];
          for (let i = 0; i < fresh.length; i += READ_CHUNK)
            for await (const lead of api.leads.list({ filter: { id: fresh.slice(i, i + READ_CHUNK) }, limit: READ_CHUNK }))
              this.remember(lead, t);
        }
      }

      // 4. diff per lead (both kinds of one lead merged into one patch), then PATCH in batches
      const byLead = new Map<number, Pending[]>();
      for (const p of live) {
        const id = ids.get(p) as number;
        byLead.set(id, [...(byLead.get(id) ?? []), p]);
      }
      const patches: Array<{ id: number; price?: number; custom_fields_values?: unknown[] }> = [];
      const results = new Map<Pending, UnitResult>();
      const afterById = new Map<number, LeadState>();
      for (const [leadId, ps] of byLead) {
        const known = this.known.get(leadId);
        if (!known) {
          fail(ps, new DeferError('rdesk-lead-unread', 5));
          continue;
        }
        let state = known.state;
        let patch: { price?: number; custom_fields_values?: unknown[] } = {};
        const kept: Pending[] = [];
        for (const p of ps) {
          const applied = known.applied[p.unit.kind];
          const pt = p.unit.desired.pushTime;
          if (applied !== undefined && pt !== undefined && pt < applied) {
            results.set(p, { status: 'superseded', leadId });
            continue;
          }
          try {
            const writes = this.plan(p.unit, defs);
            const d = diff(state, writes, cfg.timeZone);
            state = d.after;
            if (d.patch) {
              patch = {
                ...patch,
                ...(d.patch.price !== undefined ? { price: d.patch.price } : {}),
                custom_fields_values: [...(patch.custom_fields_values ?? []), ...(d.patch.custom_fields_values ?? [])],
              };
              results.set(p, { status: 'written', leadId });
            } else results.set(p, { status: 'unchanged', leadId });
            kept.push(p);
          } catch (e) {
            p.reject(e);
          }
        }
        if (patch.price !== undefined || patch.custom_fields_values?.length) {
          if (!patch.custom_fields_values?.length) delete patch.custom_fields_values;
          patches.push({ id: leadId, ...patch });
        }
        afterById.set(leadId, state);
        byLead.set(leadId, kept);
      }
      // 5. ordering across containers: claim the slot of each lead with a push to apply (one
      // conditional write per lead). A lead whose fields already hold the push is claimed too,
      // without a lease (nothing in flight to shield): amoCRM may hold it because an earlier try's
      // PATCH landed and then failed at the client, which gave the slot back — unclaimed, an older
      // push delivered later would take the slot and overwrite the newer values.
      const claims = new Map<number, { keys: OrderKeys; previous: OrderKeys }>();
      const claimedAt = this.now();
      const holdMs = this.opts.orderHoldMs ?? 30_000;
      const patched = new Set(patches.map((pt) => pt.id));
      const toClaim = [...byLead].filter(([, ps]) => ps.length > 0);
      if (this.opts.order && toClaim.length) {
        const outcomes = await Promise.all(toClaim.map(([id, ps]) => this.claimOrder(id, ps, patched.has(id) ? holdMs : 0)));
        const lost = new Set<number>();
        toClaim.forEach(([id, ps], i) => {
          const o = outcomes[i] as Awaited<ReturnType<LeadWriter['claimOrder']>>;
          if (o.kind === 'claimed') {
            if (patched.has(id)) claims.set(id, { keys: o.keys, previous: o.previous });
            return;
          }
          // Not written here: the lead's copy may be stale (another container wrote it).
          lost.add(id);
          this.known.delete(id);
          afterById.delete(id);
          for (const p of ps) {
            results.delete(p);
            if (o.kind === 'stale' && o.kinds.has(p.unit.kind)) {
              this.opts.log?.debug('rdesk push older than the applied one: skipped', { leadId: id, kind: p.unit.kind });
              p.resolve({ status: 'stale', leadId: id });
            } else p.reject(o.kind === 'busy' ? o.error : new DeferError('rdesk-order-recheck', 1));
          }
          byLead.delete(id);
        });
        if (lost.size) patches.splice(0, patches.length, ...patches.filter((pt) => !lost.has(pt.id)));
      }
      if (patches.length) {
        try {
          await api.leads.update(patches as Parameters<typeof api.leads.update>[0]);
          if (claims.size && this.now() - claimedAt > holdMs) {
            // The lease ended before the PATCH did: a newer push elsewhere may have written first (README "Ordering").
            this.opts.log?.warn('rdesk PATCH outlived its push order lease', { leads: claims.size, ms: this.now() - claimedAt });
          }
        } catch (e) {
          // Not applied: give the slots back so the next delivery (or an older push) may write.
          await Promise.all(
            [...claims].map(([id, c]) => this.opts.order?.revert(cfg.account, id, c.keys, c.previous, this.owner).catch(() => undefined)),
          );
          for (const pt of patches) this.known.delete(pt.id);
          for (const p of results.keys()) p.reject(e);
          return;
        }
      }
      for (const [leadId, ps] of byLead) {
        const known = this.known.get(leadId);
        const after = afterById.get(leadId);
        if (known && after) {
          known.state = after;
          for (const p of ps) {
            const pt = p.unit.desired.pushTime;
            if (pt !== undefined) known.applied[p.unit.kind] = Math.max(known.applied[p.unit.kind] ?? pt, pt);
          }
        }
      }
      for (const [p, r] of results) p.resolve(r);
    } catch (e) {
      fail(live, e);
    }
  }

  /**
   * Claims the push order of one lead for the pushes about to be patched: `claimed`; `stale` (the
   * kinds of which a newer push was claimed elsewhere); `busy` (another writer's PATCH may still be
   * in flight and its lease outlived `orderWaitMs`: defer).
   */
  private async claimOrder(
    leadId: number,
    ps: Pending[],
    holdMs: number,
  ): Promise<
    | { kind: 'claimed'; keys: OrderKeys; previous: OrderKeys }
    | { kind: 'stale'; kinds: Set<RdeskKind> }
    | { kind: 'busy'; error: DeferError }
  > {
    const store = this.opts.order as PushOrderStore;
    const keys: OrderKeys = {};
    for (const p of ps) {
      const a = p.unit.arrival ?? { at: 0, id: `${this.owner}:${p.seq}` };
      const k = orderKey(p.unit.desired.pushTime, a.at, a.id);
      if ((keys[p.unit.kind] ?? '') < k) keys[p.unit.kind] = k;
    }
    const until = this.now() + (this.opts.orderWaitMs ?? 5_000);
    for (;;) {
      const r = await store.claim(this.opts.account.account, leadId, keys, this.owner, holdMs);
      if (r.ok) return { kind: 'claimed', keys, previous: r.previous };
      const kinds = new Set(
        (Object.entries(keys) as Array<[RdeskKind, string]>).filter(([kind, k]) => (r.claimed[kind] ?? '') > k).map(([kind]) => kind),
      );
      if (kinds.size) return { kind: 'stale', kinds };
      if (this.now() >= until) {
        // Back when the lease ends (or, when the writer gave it up meanwhile, sooner: at least 1 s).
        const left = Math.ceil(((r.until ?? 0) - this.now()) / 1000);
        return { kind: 'busy', error: new DeferError('rdesk-order-busy', Math.min(30, Math.max(1, left))) };
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  private isFresh(id: number, t: number, ttl: number): boolean {
    const k = this.known.get(id);
    return k !== undefined && t - k.at < ttl;
  }

  private remember(lead: Lead, t: number): void {
    const prev = this.known.get(lead.id);
    this.known.set(lead.id, { at: t, state: leadState(lead), applied: prev?.applied ?? {} });
  }

  private plan(unit: PushUnit, defs: readonly FieldDefinition[]): PlannedWrite[] {
    const targets = this.opts.account.fields[unit.kind] as Record<string, string | number | undefined>;
    const values = unit.desired.values as Record<string, PlannedWrite['value'] | undefined>;
    const out: PlannedWrite[] = [];
    for (const [key, target] of Object.entries(targets)) {
      if (target === undefined) continue;
      out.push({ key, target: resolveTarget(target, defs, key), value: values[key] ?? null });
    }
    return out;
  }

  /**
   * The stand-in lead of an RDESK lead id: the mapping if stored; else, under the id's claim, the
   * lead named exactly `ID_<id>` (found by search, exact name only) or a new one in `place`.
   */
  private async standIn(
    api: AmoClientForAccount,
    rdeskLeadId: number,
    place: { pipelineId?: number; statusId?: number },
    remember = false,
  ): Promise<number> {
    const hit = this.mapped.get(rdeskLeadId);
    if (hit !== undefined) return hit;
    const store = this.opts.leadMap;
    if (!store) throw new PermanentError(RDESK_PARK_REASONS.badMapping, 'stand-in leads need the lead map store (DynamoDB table)');
    const account = this.opts.account.account;
    const stored = await store.get(account, rdeskLeadId);
    if (stored !== undefined) return this.keep(rdeskLeadId, stored);
    const owner = randomUUID();
    if (!(await store.claim(account, rdeskLeadId, owner, this.opts.claimHoldMs ?? 30_000))) {
      // Another delivery is creating it: wait for its mapping, then defer (a redelivery will find it).
      const until = this.now() + (this.opts.claimWaitMs ?? 5_000);
      while (this.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        const got = await store.get(account, rdeskLeadId);
        if (got !== undefined) return this.keep(rdeskLeadId, got);
      }
      throw new DeferError('rdesk-stand-in-pending', 5);
    }
    try {
      const name = `${MOCK_NAME_PREFIX}${rdeskLeadId}`;
      let id: number | undefined;
      for await (const lead of api.leads.list({ query: name, limit: 50, maxPages: 4 })) {
        if (lead.name === name) {
          id = id === undefined ? lead.id : Math.min(id, lead.id);
        }
      }
      if (id === undefined) {
        const [added] = await api.leads.add(
          [
            {
              name,
              ...(place.pipelineId ? { pipeline_id: place.pipelineId } : {}),
              ...(place.statusId ? { status_id: place.statusId } : {}),
            },
          ],
          { markers: [`rdesk-${account}-${rdeskLeadId}`] },
        );
        if (!added) throw new Error('amoCRM returned no lead for the add');
        id = added.id;
      }
      await store.put(account, rdeskLeadId, id);
      this.opts.log?.info('rdesk stand-in lead', { account, rdeskLeadId, leadId: id, remember });
      return this.keep(rdeskLeadId, id);
    } catch (e) {
      await store.release(account, rdeskLeadId, owner).catch(() => undefined);
      throw e;
    }
  }

  private keep(rdeskLeadId: number, leadId: number): number {
    this.mapped.set(rdeskLeadId, leadId);
    return leadId;
  }
}

/**
 * Is `a` newer than `b`: by the pushes' own times when both carry one, else (and on ties) by
 * arrival at the edge — the order key the push order store compares (`orderKey`). Never by the
 * order the batch's messages were submitted in: SQS standard queues keep no order, and a redelivery
 * or duplicate of an older push may reach the worker after a newer one, in the same batch.
 * Submission order only decides between pushes without an arrival (tests of the writer alone).
 */
function newer(a: Pending, b: Pending): boolean {
  const ta = a.unit.desired.pushTime;
  const tb = b.unit.desired.pushTime;
  if (ta !== undefined && tb !== undefined && ta !== tb) return ta > tb;
  const [aa, ab] = [a.unit.arrival, b.unit.arrival];
  if (aa && ab) {
    if (aa.at !== ab.at) return aa.at > ab.at;
    if (aa.id !== ab.id) return aa.id > ab.id;
  }
  return a.seq > b.seq;
}
