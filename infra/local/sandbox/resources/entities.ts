/**
 * The three "main" entities (leads, contacts, companies): read shapes (leads-api, contacts-api,
 * companies-api examples), strict validation of writes, applying them, and the webhook events a
 * write causes. Routes live in leads.ts and contacts.ts.
 */
import { recordAdded, recordUpdated, snapshot } from '../account-events.ts';
import { applyCustomFields, renderCustomFields, validateCustomFields, type CfUpdate } from '../custom-fields.ts';
import { E, type FieldError } from '../errors.ts';
import type { OutEvent } from '../events.ts';
import { isRecord } from '../http-util.ts';
import type { RestCtx } from '../router.ts';
import type { AccountState, AnyEntity, Company, Contact, EntityKind, Lead, Pipeline, Status } from '../state.ts';
import { companyItem, contactItem, leadItem } from '../webhook-items.ts';
import { Check, link, requestIdOf } from './common.ts';
import { elementLinksOf } from './links.ts';
import { renderLossReason } from './loss-reasons.ts';
import { ownSources } from './sources.ts';
import { applyTagOps, parseTagOps, renderTags, type TagOps } from './tags.ts';

/** amoCRM leads-api: 142 = won, 143 = lost; present in every pipeline. */
export const WON = 142;
export const LOST = 143;

export function firstStage(p: Pipeline): Status | undefined {
  const sorted = [...p.statuses].sort((a, b) => a.sort - b.sort);
  return sorted.find((s) => s.type === 0 && s.id !== WON && s.id !== LOST) ?? sorted[0];
}

function closestTaskAt(state: AccountState, kind: EntityKind, id: number): number | null {
  let best: number | null = null;
  for (const t of state.tasks.values()) {
    if (t.is_completed || t.entity_type !== kind || t.entity_id !== id) continue;
    if (best === null || t.complete_till < best) best = t.complete_till;
  }
  return best;
}

function withList(ctx: RestCtx): string[] {
  const w = ctx.query.with;
  return typeof w === 'string' ? w.split(',').map((s) => s.trim()) : [];
}

export function renderLead(ctx: RestCtx, l: Lead): Record<string, unknown> {
  const w = withList(ctx);
  const emb: Record<string, unknown> = {
    tags: renderTags(ctx.state, 'leads', l.tags),
    companies: l.company_id ? [{ id: l.company_id, _links: link(ctx, `/api/v4/companies/${l.company_id}`) }] : [],
  };
  if (w.includes('contacts'))
    emb.contacts = l.contacts.map((c) => ({ id: c.id, is_main: c.is_main, _links: link(ctx, `/api/v4/contacts/${c.id}`) }));
  // leads-api `with=loss_reason` / `with=catalog_elements`: the same links and reasons their own endpoints show.
  if (w.includes('loss_reason')) {
    const r = l.loss_reason_id !== null ? ctx.state.lossReasons.get(l.loss_reason_id) : undefined;
    emb.loss_reason = r ? [renderLossReason(ctx, r)] : [];
  }
  if (w.includes('catalog_elements')) emb.catalog_elements = elementsEmbedded(ctx, 'leads', l.id);
  return {
    id: l.id,
    name: l.name,
    price: l.price,
    responsible_user_id: l.responsible_user_id,
    group_id: l.group_id,
    status_id: l.status_id,
    pipeline_id: l.pipeline_id,
    loss_reason_id: l.loss_reason_id,
    ...(w.includes('source_id') ? { source_id: l.source_id ?? null } : {}),
    created_by: l.created_by,
    updated_by: l.updated_by,
    created_at: l.created_at,
    updated_at: l.updated_at,
    closed_at: l.closed_at,
    closest_task_at: closestTaskAt(ctx.state, 'leads', l.id),
    is_deleted: false,
    custom_fields_values: renderCustomFields(ctx.state, l.custom),
    score: null,
    account_id: ctx.state.account.id,
    labor_cost: null,
    ...(w.includes('is_price_modified_by_robot') ? { is_price_modified_by_robot: false } : {}),
    _links: link(ctx, `/api/v4/leads/${l.id}`),
    _embedded: emb,
  };
}

/** contacts-api/companies-api `with=catalog_elements`: `[{id, metadata:{quantity, catalog_id, price_id?}}]`, the entity's element links. */
function elementsEmbedded(ctx: RestCtx, kind: EntityKind, id: number): unknown[] {
  return elementLinksOf(ctx.state, kind, id).map((x) => ({
    id: x.element_id,
    metadata: { quantity: x.quantity, catalog_id: x.catalog_id, ...(x.price_id !== null ? { price_id: x.price_id } : {}) },
  }));
}

export function renderContact(ctx: RestCtx, c: Contact): Record<string, unknown> {
  const w = withList(ctx);
  const emb: Record<string, unknown> = {
    tags: renderTags(ctx.state, 'contacts', c.tags),
    companies: c.company_id ? [{ id: c.company_id, _links: link(ctx, `/api/v4/companies/${c.company_id}`) }] : [],
  };
  if (w.includes('catalog_elements')) emb.catalog_elements = elementsEmbedded(ctx, 'contacts', c.id);
  if (w.includes('leads')) {
    emb.leads = [...ctx.state.leads.values()]
      .filter((l) => l.contacts.some((x) => x.id === c.id))
      .map((l) => ({ id: l.id, _links: link(ctx, `/api/v4/leads/${l.id}`) }));
  }
  return {
    id: c.id,
    name: c.name,
    first_name: c.first_name,
    last_name: c.last_name,
    responsible_user_id: c.responsible_user_id,
    group_id: c.group_id,
    created_by: c.created_by,
    updated_by: c.updated_by,
    created_at: c.created_at,
    updated_at: c.updated_at,
    closest_task_at: closestTaskAt(ctx.state, 'contacts', c.id),
    is_deleted: false,
    is_unsorted: ctx.state.inUnsorted('contacts', c.id),
    custom_fields_values: renderCustomFields(ctx.state, c.custom),
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/contacts/${c.id}`),
    _embedded: emb,
  };
}

export function renderCompany(ctx: RestCtx, c: Company): Record<string, unknown> {
  const w = withList(ctx);
  const emb: Record<string, unknown> = { tags: renderTags(ctx.state, 'companies', c.tags) };
  if (w.includes('catalog_elements')) emb.catalog_elements = elementsEmbedded(ctx, 'companies', c.id);
  if (w.includes('contacts')) {
    emb.contacts = [...ctx.state.contacts.values()]
      .filter((x) => x.company_id === c.id)
      .map((x) => ({ id: x.id, _links: link(ctx, `/api/v4/contacts/${x.id}`) }));
  }
  if (w.includes('leads')) {
    emb.leads = [...ctx.state.leads.values()]
      .filter((l) => l.company_id === c.id)
      .map((l) => ({ id: l.id, _links: link(ctx, `/api/v4/leads/${l.id}`) }));
  }
  return {
    id: c.id,
    name: c.name,
    responsible_user_id: c.responsible_user_id,
    group_id: c.group_id,
    created_by: c.created_by,
    updated_by: c.updated_by,
    created_at: c.created_at,
    updated_at: c.updated_at,
    closest_task_at: closestTaskAt(ctx.state, 'companies', c.id),
    is_deleted: false,
    custom_fields_values: renderCustomFields(ctx.state, c.custom),
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/companies/${c.id}`),
    _embedded: emb,
  };
}

export function renderEntity(ctx: RestCtx, kind: EntityKind, e: AnyEntity): Record<string, unknown> {
  if (kind === 'leads') return renderLead(ctx, e as Lead);
  if (kind === 'contacts') return renderContact(ctx, e as Contact);
  return renderCompany(ctx, e as Company);
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

export interface EntityOp {
  kind: EntityKind;
  requestId: string;
  /** Set for updates. */
  id?: number;
  set: Record<string, unknown>;
  cf: CfUpdate[];
  tags: TagOps;
  /** Leads on add: `_embedded.contacts` / `_embedded.companies` (leads-api "Добавление сделок"). */
  contacts?: Array<{ id: number; is_main: boolean }>;
  /** Leads on add (`_embedded.companies`); contacts created by complex add or seeds. */
  companyId?: number;
}

const INT_FIELDS_COMMON = ['created_by', 'updated_by', 'created_at', 'updated_at'];

/**
 * Validates one item of a batch. Errors go to `errs` with paths like `custom_fields_values.0.field_id`
 * (docs/amocrm-protocol.md#error-bodies), prefixed by `prefix` for nested entities (complex add). Unknown keys are ignored (*assumed*).
 */
export function validateEntity(
  ctx: RestCtx,
  kind: EntityKind,
  mode: 'add' | 'update',
  raw: unknown,
  index: number,
  errs: FieldError[],
  opts: { prefix?: string; id?: number; embeddedLinks?: boolean } = {},
): EntityOp | undefined {
  const prefix = opts.prefix ?? '';
  const c = new Check(errs, prefix);
  if (!isRecord(raw)) {
    errs.push(E.type(prefix || 'item', 'object'));
    return undefined;
  }
  const state = ctx.state;
  const op: EntityOp = { kind, requestId: requestIdOf(raw, index), set: {}, cf: [], tags: { add: [], del: [] } };
  if (mode === 'update') {
    const id = opts.id ?? c.int(raw, 'id');
    if (id === undefined || id === null) {
      if (raw.id === undefined) errs.push(E.blank(c.p('id')));
      return undefined;
    }
    if (!state.entityMap(kind).has(id)) {
      errs.push(E.notFound(c.p('id'))); // *assumed*: updating an unknown id is a validation error
      return undefined;
    }
    op.id = id;
  }
  const before = errs.length;
  const name = c.str(raw, 'name');
  if (name !== undefined) op.set.name = name;
  for (const k of INT_FIELDS_COMMON) {
    const v = c.int(raw, k, { min: 0 });
    if (typeof v === 'number') op.set[k] = v;
  }
  const resp = c.int(raw, 'responsible_user_id');
  if (typeof resp === 'number') {
    if (!state.users.has(resp)) errs.push(E.choice(c.p('responsible_user_id')));
    else op.set.responsible_user_id = resp;
  }
  if (kind === 'contacts') {
    for (const k of ['first_name', 'last_name']) {
      const v = c.str(raw, k);
      if (v !== undefined) op.set[k] = v;
    }
  }
  if (kind === 'leads') validateLeadFields(ctx, raw, op, c, mode);
  if (kind === 'leads' && typeof op.set.loss_reason_id === 'number') {
    // *assumed*: a loss reason must exist and is only taken by a lead that is (or is being) closed as lost (143).
    const cur = op.id !== undefined ? state.leads.get(op.id) : undefined;
    const status = typeof op.set.status_id === 'number' ? op.set.status_id : cur?.status_id;
    if (!state.lossReasons.has(op.set.loss_reason_id)) errs.push(E.choice(c.p('loss_reason_id')));
    else if (status !== LOST)
      errs.push(E.invalid(c.p('loss_reason_id'), 'A loss reason is set only on a lead closed as lost (status 143).'));
  }
  if ((mode === 'update' || kind !== 'leads') && raw._embedded !== undefined) {
    // leads-api/contacts-api: "при создании и редактировании можно передать только теги" in `_embedded` (a lead's add also
    // takes contacts and companies, above). What amoCRM answers for anything else is undocumented; the sandbox refuses it
    // (*assumed*) instead of a 200 that links nothing: links are made with POST /api/v4/{entity}/{id}/link (entity-links-api).
    if (!isRecord(raw._embedded)) errs.push(E.type(c.p('_embedded'), 'object'));
    else for (const k of Object.keys(raw._embedded)) if (k !== 'tags') errs.push(notExpected(c.p(`_embedded.${k}`)));
  }
  op.cf = validateCustomFields(state.fieldsOf(kind), raw.custom_fields_values, errs, c.p('custom_fields_values'));
  op.tags = parseTagOps(state, kind, raw, errs, prefix);
  if (kind === 'leads' && mode === 'add' && opts.embeddedLinks !== false && isRecord(raw._embedded)) {
    const emb = raw._embedded;
    // leads-api "Добавление сделок" documents `_embedded` tags, contacts, companies and source; `metadata` (an
    // Unsorted entry) belongs to leads/complex and the Unsorted API: refused here (*assumed*), not silently dropped.
    for (const k of Object.keys(emb))
      if (!['tags', 'contacts', 'companies', 'source'].includes(k)) errs.push(notExpected(c.p(`_embedded.${k}`)));
    if (emb.source !== undefined) {
      const src = emb.source;
      if (!isRecord(src)) errs.push(E.type(c.p('_embedded.source'), 'object'));
      else if (src.type !== undefined && src.type !== 'widget') errs.push(E.choice(c.p('_embedded.source.type')));
      else if (src.external_id === undefined || src.external_id === null || src.external_id === '')
        errs.push(E.blank(c.p('_embedded.source.external_id')));
      else {
        // As on leads/complex: one of the integration's own sources (else NotFound, *assumed*); without a
        // pipeline_id the lead goes to the source's pipeline, first stage ("сделка будет добавлена в воронку,
        // в которой находится источник").
        const found = ownSources(ctx).find((x) => x.external_id === String(src.external_id));
        if (!found) errs.push(E.notFound(c.p('_embedded.source.external_id')));
        else {
          op.set.source_id = found.id;
          const p = raw.pipeline_id === undefined ? state.pipelines.get(found.pipeline_id) : undefined;
          const stage = p ? firstStage(p) : undefined;
          if (p && stage) {
            op.set.pipeline_id = p.id;
            op.set.status_id = stage.id;
          }
        }
      }
    }
    if (emb.contacts !== undefined) {
      if (!Array.isArray(emb.contacts)) errs.push(E.type(c.p('_embedded.contacts'), 'array'));
      else {
        op.contacts = [];
        emb.contacts.forEach((x, i) => {
          if (!isRecord(x) || typeof x.id !== 'number') errs.push(E.blank(c.p(`_embedded.contacts.${i}.id`)));
          else if (!state.contacts.has(x.id)) errs.push(E.notFound(c.p(`_embedded.contacts.${i}.id`)));
          else op.contacts?.push({ id: x.id, is_main: x.is_main === true || x.is_main === 'true' || (i === 0 && x.is_main === undefined) });
        });
      }
    }
    if (emb.companies !== undefined) {
      const first = Array.isArray(emb.companies) ? emb.companies[0] : undefined;
      if (!Array.isArray(emb.companies) || emb.companies.length > 1)
        errs.push(E.invalid(c.p('_embedded.companies'), 'A lead has at most one company.'));
      else if (first !== undefined) {
        if (!isRecord(first) || typeof first.id !== 'number') errs.push(E.blank(c.p('_embedded.companies.0.id')));
        else if (!state.companies.has(first.id)) errs.push(E.notFound(c.p('_embedded.companies.0.id')));
        else op.companyId = first.id;
      }
    }
  }
  return errs.length === before ? op : undefined;
}

/** Symfony's wording for a key the endpoint does not take (*assumed* for `_embedded` on edit). */
function notExpected(path: string): FieldError {
  return { code: 'FieldNotExpected', path, detail: 'This field was not expected.' };
}

function validateLeadFields(ctx: RestCtx, raw: Record<string, unknown>, op: EntityOp, c: Check, mode: 'add' | 'update'): void {
  const state = ctx.state;
  const price = c.int(raw, 'price', { min: 0 });
  if (typeof price === 'number') op.set.price = price;
  const closed = c.int(raw, 'closed_at', { min: 0, nullable: true });
  if (closed !== undefined) op.set.closed_at = closed;
  const loss = c.int(raw, 'loss_reason_id', { nullable: true });
  if (loss !== undefined) op.set.loss_reason_id = loss;
  const pid = c.int(raw, 'pipeline_id');
  const sid = c.int(raw, 'status_id');
  if ((raw.pipeline_id !== undefined && typeof pid !== 'number') || (raw.status_id !== undefined && typeof sid !== 'number')) return;
  const cur = op.id !== undefined ? state.leads.get(op.id) : undefined;
  const pipeline = typeof pid === 'number' ? state.pipelines.get(pid) : cur ? state.pipelines.get(cur.pipeline_id) : state.mainPipeline();
  if (!pipeline) {
    c.errs.push(E.choice(c.p('pipeline_id')));
    return;
  }
  if (typeof sid === 'number') {
    // *assumed*: the stage must belong to the target pipeline (the given one, else the lead's own).
    if (!pipeline.statuses.some((s) => s.id === sid)) {
      c.errs.push(E.choice(c.p('status_id')));
      return;
    }
    op.set.status_id = sid;
    op.set.pipeline_id = pipeline.id;
  } else if (mode === 'add' || (cur && cur.pipeline_id !== pipeline.id)) {
    // leads-api: status_id defaults to "первый этап главной воронки"; the unsorted stage is skipped (*assumed*).
    const first = firstStage(pipeline);
    if (!first) {
      c.errs.push(E.choice(c.p('pipeline_id')));
      return;
    }
    op.set.status_id = first.id;
    op.set.pipeline_id = pipeline.id;
  }
}

export interface Applied {
  entity: AnyEntity;
  events: OutEvent[];
}

function groupOf(state: AccountState, userId: number): number {
  return state.users.get(userId)?.group_id ?? 0;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** Applies a validated op: creates or updates the entity and returns the webhook events it causes. */
export function applyEntity(ctx: RestCtx, op: EntityOp, actingUser = ctx.userId): Applied {
  const state = ctx.state;
  const now = ctx.now;
  const s = op.set;
  if (op.id === undefined) {
    const kindId = op.kind === 'leads' ? 'lead' : op.kind === 'contacts' ? 'contact' : 'company';
    const id = state.nextId(kindId);
    const responsible = num(s.responsible_user_id) ?? actingUser;
    const base = {
      id,
      name: typeof s.name === 'string' ? s.name : '',
      responsible_user_id: responsible,
      group_id: groupOf(state, responsible),
      created_by: num(s.created_by) ?? actingUser,
      updated_by: num(s.updated_by) ?? num(s.created_by) ?? actingUser,
      created_at: num(s.created_at) ?? now,
      updated_at: num(s.updated_at) ?? num(s.created_at) ?? now,
      custom: applyCustomFields([], op.cf),
      tags: applyTagOps(state, op.kind, [], op.tags),
    };
    if (op.kind === 'leads') {
      const statusId = num(s.status_id) ?? 0;
      const lead: Lead = {
        ...base,
        // *assumed*: amoCRM names an unnamed lead "Сделка #<id>".
        name: base.name || `Сделка #${id}`,
        price: num(s.price) ?? 0,
        status_id: statusId,
        pipeline_id: num(s.pipeline_id) ?? 0,
        loss_reason_id: (s.loss_reason_id as number | null | undefined) ?? null,
        closed_at: s.closed_at !== undefined ? (s.closed_at as number | null) : statusId === WON || statusId === LOST ? now : null,
        contacts: op.contacts ?? [],
        company_id: op.companyId ?? null,
        ...(num(s.source_id) !== undefined ? { source_id: num(s.source_id) } : {}),
      };
      state.leads.set(id, lead);
      recordAdded(state, 'leads', lead, actingUser);
      return { entity: lead, events: [{ setting: 'add_lead', entity: 'leads', action: 'add', item: leadItem(state, lead) }] };
    }
    if (op.kind === 'contacts') {
      const first = typeof s.first_name === 'string' ? s.first_name : '';
      const last = typeof s.last_name === 'string' ? s.last_name : '';
      const contact: Contact = {
        ...base,
        name: base.name || `${first} ${last}`.trim(),
        first_name: first,
        last_name: last,
        company_id: op.companyId ?? null,
      };
      state.contacts.set(id, contact);
      recordAdded(state, 'contacts', contact, actingUser);
      return {
        entity: contact,
        events: [{ setting: 'add_contact', entity: 'contacts', action: 'add', item: contactItem(state, contact) }],
      };
    }
    const company: Company = { ...base };
    state.companies.set(id, company);
    recordAdded(state, 'companies', company, actingUser);
    return { entity: company, events: [{ setting: 'add_company', entity: 'contacts', action: 'add', item: companyItem(state, company) }] };
  }

  const e = state.entityMap(op.kind).get(op.id);
  if (!e) throw new Error(`entity ${op.kind}#${op.id} vanished between validation and apply`);
  const before = snapshot(e);
  const oldResponsible = e.responsible_user_id;
  if (typeof s.name === 'string') e.name = s.name;
  if (typeof s.responsible_user_id === 'number') {
    e.responsible_user_id = s.responsible_user_id;
    e.group_id = groupOf(state, s.responsible_user_id);
  }
  if (typeof s.created_by === 'number') e.created_by = s.created_by;
  if (typeof s.created_at === 'number') e.created_at = s.created_at;
  e.updated_by = num(s.updated_by) ?? actingUser;
  e.updated_at = num(s.updated_at) ?? now;
  e.custom = applyCustomFields(e.custom, op.cf);
  e.tags = applyTagOps(state, op.kind, e.tags, op.tags);
  const events: OutEvent[] = [];
  const respChanged = oldResponsible !== e.responsible_user_id;
  if (op.kind === 'leads') {
    const l = e as Lead;
    const oldStatus = l.status_id;
    const oldPipeline = l.pipeline_id;
    if (typeof s.price === 'number') l.price = s.price;
    if (s.loss_reason_id !== undefined) l.loss_reason_id = s.loss_reason_id as number | null;
    if (typeof s.status_id === 'number') l.status_id = s.status_id;
    if (typeof s.pipeline_id === 'number') l.pipeline_id = s.pipeline_id;
    const statusChanged = l.status_id !== oldStatus || l.pipeline_id !== oldPipeline;
    if (s.closed_at !== undefined) l.closed_at = s.closed_at as number | null;
    else if (statusChanged) l.closed_at = l.status_id === WON || l.status_id === LOST ? now : null; // *assumed*
    if (statusChanged && l.status_id !== LOST && s.loss_reason_id === undefined) l.loss_reason_id = null; // *assumed*: reopening drops the reason
    if (statusChanged)
      events.push({ setting: 'status_lead', entity: 'leads', action: 'status', item: leadItem(state, l, { oldStatusId: oldStatus }) });
    if (respChanged)
      events.push({
        setting: 'responsible_lead',
        entity: 'leads',
        action: 'responsible',
        item: leadItem(state, l, { oldResponsibleUserId: oldResponsible }),
      });
    events.push({
      setting: 'update_lead',
      entity: 'leads',
      action: 'update',
      item: leadItem(state, l, statusChanged ? { oldStatusId: oldStatus } : {}),
    });
  } else if (op.kind === 'contacts') {
    const ct = e as Contact;
    if (typeof s.first_name === 'string') ct.first_name = s.first_name;
    if (typeof s.last_name === 'string') ct.last_name = s.last_name;
    if (typeof s.name !== 'string' && (s.first_name !== undefined || s.last_name !== undefined))
      ct.name = `${ct.first_name} ${ct.last_name}`.trim();
    if (respChanged)
      events.push({
        setting: 'responsible_contact',
        entity: 'contacts',
        action: 'responsible',
        item: contactItem(state, ct, { oldResponsibleUserId: oldResponsible }),
      });
    events.push({ setting: 'update_contact', entity: 'contacts', action: 'update', item: contactItem(state, ct) });
  } else {
    if (respChanged)
      events.push({
        setting: 'responsible_company',
        entity: 'contacts',
        action: 'responsible',
        item: companyItem(state, e, { oldResponsibleUserId: oldResponsible }),
      });
    events.push({ setting: 'update_company', entity: 'contacts', action: 'update', item: companyItem(state, e) });
  }
  recordUpdated(state, op.kind, e, before, actingUser, e.updated_at);
  return { entity: e, events };
}
