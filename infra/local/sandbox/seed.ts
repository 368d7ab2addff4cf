/**
 * Seeding an account in one call, and the defaults every fresh sandbox account starts with (one
 * admin user, one main pipeline with the usual stages and 142/143, the predefined contact/company
 * fields, task types 1 and 2 — docs/amocrm-protocol.md#tasks: standard types 1 = call, 2 = meeting).
 *
 * Seed rules: dictionaries given in a seed REPLACE the defaults of their kind (users, pipelines,
 * task types); custom fields are ADDED (a seeded field with the code of a predefined one replaces
 * it); entities are ADDED through the same validation as the REST API, so a seed cannot create
 * what a client could not. Seed before issuing tokens: replacing users drops the bootstrap admin.
 */
import { addField, addPredefinedFields, applyCustomFields, validateCustomFields, type FieldSeed } from './custom-fields.ts';
import type { FieldError, RequestErrors } from './errors.ts';
import type { RestCtx } from './router.ts';
import type { AccountState } from './state.ts';
import { ENTITY_KINDS, type EntityKind, type Pipeline, type Status, type User } from './state.ts';
import { applyEntity, LOST, WON, type EntityOp } from './resources/entities.ts';
import { validateAll } from './resources/entity-routes.ts';
import { seedLossReasons } from './resources/loss-reasons.ts';
import { isRecord } from './http-util.ts';

export interface StatusSeed {
  id?: number;
  name: string;
  color?: string;
  sort?: number;
  /** 1 = the "unsorted" stage. */
  type?: 0 | 1;
}

export interface PipelineSeed {
  id?: number;
  name: string;
  is_main?: boolean;
  sort?: number;
  is_unsorted_on?: boolean;
  /** Regular stages in order; 142/143 are added when missing. */
  statuses: StatusSeed[];
}

export interface UserSeed {
  id?: number;
  name: string;
  email?: string;
  is_admin?: boolean;
  group_id?: number;
  lang?: string;
}

export interface CatalogSeed {
  id?: number;
  name: string;
  type?: string;
  fields?: FieldSeed[];
  elements?: Array<{ id?: number; name: string; custom_fields_values?: unknown[] }>;
}

export interface SeedSpec {
  users?: UserSeed[];
  pipelines?: PipelineSeed[];
  customFields?: Partial<Record<EntityKind, FieldSeed[]>>;
  tags?: Partial<Record<EntityKind, Array<string | { id?: number; name: string; color?: string | null }>>>;
  taskTypes?: Array<{ id?: number; name: string; code?: string | null }>;
  /** Lead loss reasons (replace the three defaults). */
  lossReasons?: Array<{ id?: number; name: string; sort?: number }>;
  /** Entities in REST write shape (what POST /api/v4/… takes), optionally with an explicit `id`. */
  companies?: Array<Record<string, unknown>>;
  contacts?: Array<Record<string, unknown>>;
  leads?: Array<Record<string, unknown>>;
  catalogs?: CatalogSeed[];
  webhooks?: Array<{ destination: string; settings: string[]; sort?: number }>;
}

export interface SeedResult {
  users: number[];
  pipelines: Array<{ id: number; name: string; statuses: Array<{ id: number; name: string }> }>;
  customFields: Partial<
    Record<
      EntityKind,
      Array<{ id: number; name: string; code: string | null; type: string; enums: Array<{ id: number; value: string }> | null }>
    >
  >;
  tags: Partial<Record<EntityKind, number[]>>;
  companies: number[];
  contacts: number[];
  leads: number[];
  catalogs: Array<{ id: number; fields: number[]; elements: number[] }>;
  webhooks: number[];
}

export class SeedError extends Error {
  constructor(
    message: string,
    readonly details: unknown,
  ) {
    super(message);
    this.name = 'SeedError';
  }
}

const STATUS_COLORS = ['#99ccff', '#ffff99', '#ffcc66', '#deff81', '#87f2c0', '#f9deff', '#ffc8c8'];

export function addPipeline(state: AccountState, seed: PipelineSeed): Pipeline {
  const id = state.claimId('pipeline', seed.id);
  const statuses: Status[] = seed.statuses.map((s, i) => ({
    id: state.claimId('status', s.id),
    name: s.name,
    sort: s.sort ?? (i + 1) * 10,
    is_editable: s.type !== 1,
    color: s.color ?? STATUS_COLORS[i % STATUS_COLORS.length] ?? '#99ccff',
    type: s.type ?? 0,
  }));
  if (!statuses.some((s) => s.id === WON))
    statuses.push({ id: WON, name: 'Успешно реализовано', sort: 10000, is_editable: false, color: '#CCFF66', type: 0 });
  if (!statuses.some((s) => s.id === LOST))
    statuses.push({ id: LOST, name: 'Закрыто и не реализовано', sort: 11000, is_editable: false, color: '#D5D8DB', type: 0 });
  const p: Pipeline = {
    id,
    name: seed.name,
    sort: seed.sort ?? state.pipelines.size + 1,
    is_main: seed.is_main ?? state.pipelines.size === 0,
    is_unsorted_on: seed.is_unsorted_on ?? statuses.some((s) => s.type === 1),
    is_archive: false,
    statuses,
  };
  state.pipelines.set(id, p);
  return p;
}

function addUser(state: AccountState, u: UserSeed, first: boolean): User {
  const id = state.claimId('user', u.id);
  const user: User = {
    id,
    name: u.name,
    email: u.email ?? `user${id}@example.test`,
    lang: u.lang ?? 'ru',
    is_admin: u.is_admin ?? first,
    group_id: u.group_id ?? 0,
  };
  state.users.set(id, user);
  return user;
}

/** A fresh account: what a newly registered amoCRM account has. */
export function bootstrap(state: AccountState): void {
  addUser(state, { name: 'Администратор', email: 'admin@example.test', is_admin: true }, true);
  addPipeline(state, {
    name: 'Воронка',
    is_main: true,
    is_unsorted_on: true,
    statuses: [
      { name: 'Неразобранное', type: 1, color: '#c1c1c1' },
      { name: 'Первичный контакт' },
      { name: 'Переговоры' },
      { name: 'Принимают решение' },
      { name: 'Согласование договора' },
    ],
  });
  addPredefinedFields(state);
  state.taskTypes.set(1, { id: 1, name: 'Связаться', code: 'FOLLOW_UP' });
  state.taskTypes.set(2, { id: 2, name: 'Встреча', code: 'MEETING' });
  seedLossReasons(state);
}

/** Runs entity seeds through the REST validation; `id` in an item forces that id. */
function seedEntities(
  ctx: RestCtx,
  kind: EntityKind,
  items: Array<Record<string, unknown>>,
  adjust?: (op: EntityOp, i: number) => void,
): number[] {
  const v = validateAll(ctx, kind, 'add', items);
  if (!v.ok) throw new SeedError(`seed: invalid ${kind}`, v.failed satisfies RequestErrors[]);
  const idKind = kind === 'leads' ? 'lead' : kind === 'contacts' ? 'contact' : 'company';
  return v.ops.map((op, i) => {
    adjust?.(op, i);
    const wanted = items[i]?.id;
    if (typeof wanted === 'number') {
      if (ctx.state.entityMap(kind).has(wanted)) throw new SeedError(`seed: ${kind} id ${wanted} already exists`, null);
      return ctx.state.withId(idKind, wanted, () => applyEntity(ctx, op).entity.id);
    }
    return applyEntity(ctx, op).entity.id;
  });
}

export function applySeed(given: RestCtx, spec: SeedSpec): SeedResult {
  let ctx = given;
  const state = ctx.state;
  const res: SeedResult = {
    users: [],
    pipelines: [],
    customFields: {},
    tags: {},
    companies: [],
    contacts: [],
    leads: [],
    catalogs: [],
    webhooks: [],
  };
  if (spec.users?.length) {
    state.users.clear();
    res.users = spec.users.map((u, i) => addUser(state, u, i === 0).id);
    // Seeded entities are created by the new admin: the bootstrap admin the context was made for is
    // gone, and entities must never point at a user `/api/v4/users` does not list.
    ctx = { ...ctx, userId: state.currentUserId() };
  }
  if (spec.pipelines?.length) {
    state.pipelines.clear();
    for (const p of spec.pipelines) addPipeline(state, p);
  }
  res.pipelines = [...state.pipelines.values()].map((p) => ({
    id: p.id,
    name: p.name,
    statuses: p.statuses.map((s) => ({ id: s.id, name: s.name })),
  }));
  if (spec.taskTypes?.length) {
    state.taskTypes.clear();
    for (const t of spec.taskTypes) {
      const id = t.id ?? state.nextId('taskType');
      state.taskTypes.set(id, { id, name: t.name, code: t.code ?? null });
    }
  }
  if (spec.lossReasons?.length) {
    state.lossReasons.clear();
    spec.lossReasons.forEach((r, i) => {
      const id = state.claimId('lossReason', r.id);
      state.lossReasons.set(id, { id, name: r.name, sort: r.sort ?? (i + 1) * 100_000, created_at: ctx.now, updated_at: ctx.now });
    });
  }
  for (const kind of ENTITY_KINDS) {
    const fields = spec.customFields?.[kind];
    if (!fields) continue;
    res.customFields[kind] = fields.map((f) => {
      if (f.code) for (const d of state.fieldsOf(kind)) if (d.code === f.code) state.fields.delete(d.id);
      const d = addField(state, kind, f);
      return { id: d.id, name: d.name, code: d.code, type: d.type, enums: d.enums?.map((e) => ({ id: e.id, value: e.value })) ?? null };
    });
  }
  for (const kind of ENTITY_KINDS) {
    const tags = spec.tags?.[kind];
    if (!tags) continue;
    res.tags[kind] = tags.map((t) => {
      const o = typeof t === 'string' ? { name: t } : t;
      const id = state.claimId('tag', o.id);
      state.tags[kind].set(id, { id, name: o.name, color: o.color ?? null });
      return id;
    });
  }
  if (spec.companies) res.companies = seedEntities(ctx, 'companies', spec.companies);
  if (spec.contacts) {
    // A seeded contact may name its company (`_embedded.companies[0].id`), which the REST add does not take.
    const companyOf = (c: Record<string, unknown>): number | undefined => {
      const emb = isRecord(c._embedded) ? c._embedded : undefined;
      const comp = emb && Array.isArray(emb.companies) && isRecord(emb.companies[0]) ? emb.companies[0].id : undefined;
      return typeof comp === 'number' && state.companies.has(comp) ? comp : undefined;
    };
    // …so it is taken off before the REST validation (which refuses `_embedded` keys other than tags on a contact add).
    const noCompany = spec.contacts.map((c) => {
      if (!isRecord(c._embedded) || c._embedded.companies === undefined) return c;
      const { companies: _companies, ...emb } = c._embedded;
      return { ...c, _embedded: emb };
    });
    res.contacts = seedEntities(ctx, 'contacts', noCompany, (op, i) => {
      const comp = companyOf(spec.contacts?.[i] ?? {});
      if (comp !== undefined) op.companyId = comp;
    });
  }
  if (spec.leads) res.leads = seedEntities(ctx, 'leads', spec.leads);
  for (const c of spec.catalogs ?? []) {
    const id = state.claimId('catalog', c.id);
    state.catalogs.set(id, {
      id,
      name: c.name,
      type: c.type ?? 'regular',
      sort: 10,
      created_by: ctx.userId,
      updated_by: ctx.userId,
      created_at: ctx.now,
      updated_at: ctx.now,
      can_add_elements: true,
      can_link_multiple: true,
    });
    const fields = (c.fields ?? []).map((f) => addField(state, 'catalogs', f, false, id).id);
    const defs = state.fieldsOf('catalogs', id);
    const elements = (c.elements ?? []).map((e, i) => {
      const errs: FieldError[] = [];
      const cf = validateCustomFields(defs, e.custom_fields_values, errs);
      if (errs.length) throw new SeedError(`seed: invalid element ${i} of catalog ${c.name}`, errs);
      const eid = state.claimId('element', e.id);
      state.elements.set(eid, {
        id: eid,
        catalog_id: id,
        name: e.name,
        created_by: ctx.userId,
        updated_by: ctx.userId,
        created_at: ctx.now,
        updated_at: ctx.now,
        custom: applyCustomFields([], cf),
      });
      return eid;
    });
    res.catalogs.push({ id, fields, elements });
  }
  for (const w of spec.webhooks ?? []) {
    const id = state.nextId('webhook');
    state.webhooks.set(id, {
      id,
      destination: w.destination,
      settings: [...w.settings],
      sort: w.sort ?? 1,
      created_at: ctx.now,
      updated_at: ctx.now,
      created_by: ctx.userId,
    });
    res.webhooks.push(id);
  }
  return res;
}
