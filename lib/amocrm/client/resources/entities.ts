/**
 * Leads, contacts, companies (REST v4): list (async iterator), get (cached with revalidation),
 * add (markers + re-check, ≤ 50 per request), update (coalesced, ≤ 50 per request), and for leads
 * the complex add (lead + contact + company in one call, ≤ 50).
 */
import type { Company, Contact, Lead, Tag } from '../../entities.ts';
import { assignByFingerprint, matchesSent, type AddOptions, type AddTarget, type Found } from '../add.ts';
import { coalesceUpdates, type EntityPatch, type TagRef } from '../batching.ts';
import { httpDate, type Revalidation } from '../cache.ts';
import { findField, type CustomFieldWrite } from '../custom-fields.ts';
import { addBatches, getOne, listAll, listIter, patchBatches, type ListParams, type MainEntity, type ResourceContext } from './common.ts';

/** Fields an add may carry (any entity), typed loosely on purpose: amoCRM validates. */
export interface EntityCreateBase {
  name?: string;
  responsible_user_id?: number;
  created_by?: number;
  created_at?: number;
  custom_fields_values?: CustomFieldWrite[];
  /** Set on send from the marker; you may set your own. */
  request_id?: string;
  tags_to_add?: TagRef[];
  _embedded?: { tags?: Array<Pick<Tag, 'name'> | { id: number }>; [k: string]: unknown };
}

export interface LeadCreate extends EntityCreateBase {
  price?: number;
  status_id?: number;
  pipeline_id?: number;
  loss_reason_id?: number;
  _embedded?: EntityCreateBase['_embedded'] & { contacts?: Array<{ id: number; is_main?: boolean }>; companies?: Array<{ id: number }> };
}
export interface ContactCreate extends EntityCreateBase {
  first_name?: string;
  last_name?: string;
}
export type CompanyCreate = EntityCreateBase;

/** A complex add item: one lead with at most one new-or-existing contact and company. */
export interface ComplexLeadCreate extends Omit<LeadCreate, '_embedded'> {
  _embedded?: EntityCreateBase['_embedded'] & {
    contacts?: Array<ContactCreate | { id: number }>;
    companies?: Array<CompanyCreate | { id: number }>;
  };
}

export interface AddedRef {
  id: number;
  request_id: string;
}
export interface ComplexAdded {
  id: number;
  contact_id: number | null;
  company_id: number | null;
  request_id: string[];
  merged: boolean;
}
export interface UpdatedRef {
  id: number;
  updated_at?: number;
}

export interface GetOptions {
  with?: string[];
  /** Use the entity cache (fresh → no request; stale → If-Modified-Since revalidation). Default true. */
  cache?: boolean;
}

const LEAD_IGNORED = ['created_at', 'updated_at', 'created_by', 'updated_by'];

/** The national number (last 10 digits) of a phone-like query; undefined for anything else. */
export function phoneTail(q: string): string | undefined {
  if (!/^[\d\s()+-]+$/.test(q)) return undefined;
  const digits = q.replace(/\D/g, '');
  return digits.length >= 10 ? digits.slice(-10) : undefined;
}

/** Does the entity's name or any custom field value carry these digits (formatting ignored)? */
function carriesDigits(e: { name?: string; custom_fields_values?: Lead['custom_fields_values'] }, digits: string): boolean {
  const texts = [e.name ?? '', ...(e.custom_fields_values ?? []).flatMap((f) => (f.values ?? []).map((v) => String(v.value ?? '')))];
  return texts.some((t) => t.replace(/\D/g, '').includes(digits));
}

export class EntityApi<
  T extends { id: number; updated_at?: number; custom_fields_values?: Lead['custom_fields_values'] },
  TCreate extends EntityCreateBase,
> {
  private readonly withVariants = new Set<string>(['']);
  constructor(
    protected readonly ctx: ResourceContext,
    readonly kind: MainEntity,
  ) {}

  protected get path(): string {
    return `/api/v4/${this.kind}`;
  }

  /** Every entity matching `params`, page by page. */
  list(params: ListParams = {}): AsyncGenerator<T, void, undefined> {
    return listIter<T>(this.ctx, this.path, this.kind, params);
  }

  /**
   * `query` search (phone, email, name…). amoCRM documents only "поиск по заполненным полям": it may
   * miss a phone written another way ("+79995551122 и 89995551122 – разные номера для системы",
   * zero-archive/amocrm-php #81, which advises searching without the country code) and may return
   * entities that do not match (amocrm-api-php #515). So a phone-like query (only phone characters,
   * ≥ 10 digits) is sent as its last 10 digits and only hits carrying those digits in a field value
   * or the name are kept. Other queries pass through as they are: check what comes back.
   */
  async *search(query: string | number, params: Omit<ListParams, 'query'> = {}): AsyncGenerator<T, void, undefined> {
    const tail = phoneTail(String(query));
    if (tail === undefined) {
      yield* this.list({ ...params, query });
      return;
    }
    for await (const e of this.list({ ...params, query: tail })) if (carriesDigits(e, tail)) yield e;
  }

  private cacheKey(id: number, w: string): string {
    return `${this.ctx.cachePrefix}:${this.kind}:${id}:${w}`;
  }

  /** One entity, or undefined when amoCRM has none with this id (204). */
  async get(id: number, opts: GetOptions = {}): Promise<T | undefined> {
    const w = [...(opts.with ?? [])].sort().join(',');
    const query = w ? { with: w } : undefined;
    if (opts.cache === false) return getOne<T>(this.ctx, `${this.path}/${id}`, query);
    this.withVariants.add(w);
    return this.ctx.cache.entity<T>(
      this.cacheKey(id, w),
      () => getOne<T>(this.ctx, `${this.path}/${id}`, query),
      async (since): Promise<Revalidation<T>> => {
        const res = await this.ctx.core.request<{ _embedded?: Record<string, T[]> }>(this.ctx.account, {
          method: 'GET',
          path: this.path,
          query: { filter: { id: [id] }, ...(w ? { with: w } : {}) },
          headers: { 'if-modified-since': httpDate(since) },
        });
        if (res.status === 204) return { kind: 'not-modified' };
        const hit = res.body?._embedded?.[this.kind]?.find((x) => x.id === id);
        return hit ? { kind: 'modified', value: hit } : { kind: 'not-modified' };
      },
    );
  }

  /** Drop cached copies of these entities (after a write, or when a webhook says they changed). */
  async invalidate(ids: number[]): Promise<void> {
    await Promise.all(ids.flatMap((id) => [...this.withVariants].map((w) => this.ctx.cache.invalidate(this.cacheKey(id, w)))));
  }

  protected addTarget(): AddTarget<TCreate, AddedRef> {
    const markerField = this.ctx.markerFields[this.kind];
    return {
      path: this.path,
      embeddedKey: this.kind,
      mark: (item, marker) => {
        const out: TCreate = { ...item, request_id: marker };
        if (markerField !== undefined) {
          out.custom_fields_values = [
            ...(item.custom_fields_values ?? []).filter((w) => !('field_id' in w) || w.field_id !== markerField),
            { field_id: markerField, values: [{ value: marker }] },
          ];
        }
        return out;
      },
      result: (raw) => ({ id: Number(raw.id), request_id: String(raw.request_id) }),
      recheck: (pending, since) => this.recheck(pending, since, markerField),
    };
  }

  /** Find what pending adds became: by marker field when configured, else by fingerprint since `since`. */
  protected async recheck(
    pending: Array<{ item: EntityCreateBase; marker: string }>,
    since: number,
    markerField: number | undefined,
  ): Promise<Array<Found<AddedRef>>> {
    if (markerField !== undefined) {
      const out: Array<Found<AddedRef>> = [];
      for (const p of pending) {
        const hits = (await listAll(this.list({ query: p.marker, limit: 50, maxPages: 2 }))).filter((e) => {
          const f = findField(e, markerField);
          return f?.values?.some((v) => v.value === p.marker);
        });
        if (hits.length > 1) out.push({ kind: 'ambiguous', candidates: hits.length });
        else out.push(hits[0] ? { kind: 'found', result: { id: hits[0].id, request_id: p.marker } } : { kind: 'missing' });
      }
      return out;
    }
    const candidates = await listAll(
      this.list({
        filter: { created_at: { from: since, to: Math.floor(this.ctx.core.clock.now() / 1000) + this.ctx.addPolicy.clockSlackSeconds } },
        order: { id: 'asc' },
      }),
    );
    const found = assignByFingerprint(
      pending.map((p) => p.item as Record<string, unknown>),
      candidates,
      (sent, cand) => matchesSent(sent, cand as unknown as Record<string, unknown>, LEAD_IGNORED),
    );
    return found.map((f, i) => (f.kind === 'found' ? { kind: 'found', result: { id: f.result.id, request_id: pending[i]!.marker } } : f));
  }

  /**
   * Add entities (≤ 50 per request). Never duplicated by a retry: see add.ts. Pass `checkFirst`
   * (and stable `markers`) when this is a redelivery of a message whose add may have landed.
   */
  async add(items: TCreate[], opts: AddOptions = {}): Promise<AddedRef[]> {
    return addBatches(this.ctx, this.addTarget(), items, opts);
  }

  /**
   * Update entities: patches of the same id are coalesced into one (later wins, custom fields
   * merged per field), then sent ≤ 50 per PATCH. The cache entries of these ids are dropped.
   */
  async update(patches: EntityPatch[], opts: { coalesce?: boolean } = {}): Promise<UpdatedRef[]> {
    const body = opts.coalesce === false ? patches : coalesceUpdates(patches);
    try {
      return await patchBatches<EntityPatch, UpdatedRef>(this.ctx, this.path, this.kind, body);
    } finally {
      await this.invalidate(body.map((p) => p.id));
    }
  }

  /** PATCH one entity. */
  async updateOne(id: number, patch: Omit<EntityPatch, 'id'>): Promise<UpdatedRef> {
    try {
      const res = await this.ctx.core.request<UpdatedRef>(this.ctx.account, { method: 'PATCH', path: `${this.path}/${id}`, body: patch });
      return res.body ?? { id };
    } finally {
      await this.invalidate([id]);
    }
  }
}

export class LeadsApi extends EntityApi<Lead, LeadCreate> {
  constructor(ctx: ResourceContext) {
    super(ctx, 'leads');
  }

  /**
   * `POST /api/v4/leads/complex`: each lead with at most one contact and one company (new or by
   * id), ≤ 50 per request (docs/amocrm-protocol.md#entity-limits). Markers go on the lead; the re-check reads the lead
   * back with its contact and company.
   */
  async addComplex(items: ComplexLeadCreate[], opts: AddOptions = {}): Promise<ComplexAdded[]> {
    const base = this.addTarget() as unknown as AddTarget<ComplexLeadCreate, AddedRef>;
    const target: AddTarget<ComplexLeadCreate, ComplexAdded> = {
      path: '/api/v4/leads/complex',
      mark: base.mark,
      result: (raw) => ({
        id: Number(raw.id),
        contact_id: raw.contact_id === null || raw.contact_id === undefined ? null : Number(raw.contact_id),
        company_id: raw.company_id === null || raw.company_id === undefined ? null : Number(raw.company_id),
        request_id: Array.isArray(raw.request_id) ? raw.request_id.map(String) : [String(raw.request_id)],
        merged: raw.merged === true,
      }),
      recheck: async (pending, since) => {
        const leadsOnly = pending.map((p) => {
          const { _embedded: _e, ...lead } = p.item;
          return { item: lead, marker: p.marker };
        });
        const found = await this.recheck(leadsOnly, since, this.ctx.markerFields.leads);
        const out: Array<Found<ComplexAdded>> = [];
        for (const [i, f] of found.entries()) {
          if (f.kind !== 'found') {
            out.push(f);
            continue;
          }
          const lead = await this.get(f.result.id, { with: ['contacts'], cache: false });
          const contact = lead?._embedded?.contacts?.[0]?.id ?? null;
          const company = lead?._embedded?.companies?.[0]?.id ?? null;
          out.push({
            kind: 'found',
            result: { id: f.result.id, contact_id: contact, company_id: company, request_id: [pending[i]!.marker], merged: false },
          });
        }
        return out;
      },
    };
    return addBatches(this.ctx, target, items, opts, 50);
  }
}

export class ContactsApi extends EntityApi<Contact, ContactCreate> {
  constructor(ctx: ResourceContext) {
    super(ctx, 'contacts');
  }
}

export class CompaniesApi extends EntityApi<Company, CompanyCreate> {
  constructor(ctx: ResourceContext) {
    super(ctx, 'companies');
  }
}
