/**
 * Entity links (amo-docs entity-links-api): `POST /api/v4/{entity}/{id}/link|unlink`,
 * `GET /api/v4/{entity}/{id}/links`, and the batch forms `POST /api/v4/{entity}/link|unlink`,
 * `GET /api/v4/{entity}/links?filter[entity_id][]=…`.
 *
 * Links are not a table of their own: a lead's contacts and company, a contact's company and the
 * catalog elements of any entity are the same data `with=contacts`, `_embedded.companies`,
 * `with=catalog_elements` show. Customers are not simulated: `customers` as a path is 404, as a
 * `to_entity_type` it is `NotSupportedChoice`.
 */
import { recordLink } from '../account-events.ts';
import { E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import { hal, isRecord, noContent, queryInts, queryString } from '../http-util.ts';
import type { RestCtx, RestHandler, RestRoute } from '../router.ts';
import type { AccountState, ElementLink, EntityKind } from '../state.ts';
import { link, paging, readBatch } from './common.ts';

/** entity-links-api "Общая информация": what each main entity can be linked to (customers left out, see above). */
const TARGETS: Record<EntityKind, readonly string[]> = {
  leads: ['contacts', 'companies', 'catalog_elements'],
  contacts: ['companies', 'catalog_elements'],
  companies: ['contacts', 'leads', 'catalog_elements'],
};

export interface LinkRow {
  entity_id: number;
  entity_type: EntityKind;
  to_entity_id: number;
  to_entity_type: string;
  metadata: Record<string, unknown> | null;
}

export function elementLinksOf(state: AccountState, kind: EntityKind, id: number): ElementLink[] {
  return state.elementLinks.filter((x) => x.entity_type === kind && x.entity_id === id);
}

function elementMeta(x: ElementLink): Record<string, unknown> {
  return { quantity: x.quantity, catalog_id: x.catalog_id, ...(x.price_id !== null ? { price_id: x.price_id } : {}) };
}

/** Every link of one main entity, in the doc example's order: catalog elements, contacts, companies (leads last for companies). */
export function linksOf(state: AccountState, kind: EntityKind, id: number): LinkRow[] {
  const rows: LinkRow[] = [];
  const row = (to_entity_type: string, to_entity_id: number, metadata: Record<string, unknown> | null): void => {
    rows.push({ entity_id: id, entity_type: kind, to_entity_id, to_entity_type, metadata });
  };
  for (const x of elementLinksOf(state, kind, id)) row('catalog_elements', x.element_id, elementMeta(x));
  if (kind === 'leads') {
    const l = state.leads.get(id);
    for (const c of l?.contacts ?? []) row('contacts', c.id, { main_contact: c.is_main });
    if (l?.company_id) row('companies', l.company_id, null);
  } else if (kind === 'contacts') {
    const c = state.contacts.get(id);
    if (c?.company_id) row('companies', c.company_id, null);
  } else {
    for (const c of state.contacts.values()) if (c.company_id === id) row('contacts', c.id, null);
    for (const l of state.leads.values()) if (l.company_id === id) row('leads', l.id, null);
  }
  return rows;
}

/**
 * `filter[to_entity_id]` + `filter[to_entity_type]` ("передается вместе с фильтром …": one without
 * the other → 400 `NotBlank` on the missing one, *assumed*), `filter[to_catalog_id]`.
 */
function filterRows(ctx: RestCtx, rows: LinkRow[]): { ok: true; rows: LinkRow[] } | { ok: false; errs: FieldError[] } {
  const f = isRecord(ctx.query.filter) ? ctx.query.filter : {};
  const toId = queryInts(f.to_entity_id);
  const toType = queryString(f.to_entity_type);
  const errs: FieldError[] = [];
  if (toId && toType === undefined) errs.push(E.blank('filter.to_entity_type'));
  if (toType !== undefined && !toId) errs.push(E.blank('filter.to_entity_id'));
  if (errs.length) return { ok: false, errs };
  const catalogs = queryInts(f.to_catalog_id);
  return {
    ok: true,
    rows: rows.filter(
      (r) =>
        (!toId || (toId.includes(r.to_entity_id) && r.to_entity_type === toType)) &&
        (!catalogs || (r.to_entity_type === 'catalog_elements' && catalogs.includes(Number(r.metadata?.catalog_id)))),
    ),
  };
}

/** entity-links-api list answer: `_total_items`, `_links.self`, `_embedded.links`; paged like other lists, 204 when empty (*assumed*). */
function answerRows(ctx: RestCtx, rows: LinkRow[], withEntity: boolean): ReturnType<RestHandler> {
  const pg = paging(ctx);
  if (!pg.ok) return pg.res;
  const { page, limit } = pg.value;
  const slice = rows.slice((page - 1) * limit, page * limit);
  if (slice.length === 0) return noContent();
  const q = new URLSearchParams(ctx.req.query);
  q.set('page', String(page));
  q.set('limit', String(limit));
  const links: Record<string, { href: string }> = { self: { href: `${ctx.base}${ctx.req.path}?${q.toString()}` } };
  if (page * limit < rows.length) {
    q.set('page', String(page + 1));
    links.next = { href: `${ctx.base}${ctx.req.path}?${q.toString()}` };
  }
  const out = slice.map((r) => (withEntity ? r : { to_entity_id: r.to_entity_id, to_entity_type: r.to_entity_type, metadata: r.metadata }));
  return hal(200, { _total_items: rows.length, _links: links, _embedded: { links: out } });
}

const listOne: RestHandler = (ctx) => {
  const kind = ctx.params.entity as EntityKind;
  const id = Number(ctx.params.id);
  if (!ctx.state.entityMap(kind).has(id)) return noContent(); // *assumed*, like GET of an unknown id
  const f = filterRows(ctx, linksOf(ctx.state, kind, id));
  if (!f.ok) return validationFailed([{ request_id: '0', errors: f.errs }]);
  return answerRows(ctx, f.rows, false);
};

/** "filter[entity_id] … обязательный параметр": missing → 400 `NotBlank` on `filter.entity_id` (*assumed* shape). */
const listMany: RestHandler = (ctx) => {
  const kind = ctx.params.entity as EntityKind;
  const ids = queryInts(isRecord(ctx.query.filter) ? ctx.query.filter.entity_id : undefined);
  if (!ids) return validationFailed([{ request_id: '0', errors: [E.blank('filter.entity_id')] }]);
  const rows = [...new Set(ids)].flatMap((id) => (ctx.state.entityMap(kind).has(id) ? linksOf(ctx.state, kind, id) : []));
  const f = filterRows(ctx, rows);
  if (!f.ok) return validationFailed([{ request_id: '0', errors: f.errs }]);
  return answerRows(ctx, f.rows, true);
};

interface LinkOp {
  kind: EntityKind;
  entityId: number;
  toType: string;
  toId: number;
  catalogId?: number;
  quantity?: number;
  priceId?: number | null;
  isMain?: boolean;
  by?: number;
}

function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Validates one item; paths are relative to the item (`to_entity_id`, `metadata.catalog_id`, …) as in other batches. */
function validateItem(
  ctx: RestCtx,
  kind: EntityKind,
  raw: unknown,
  pathId: number | undefined,
  mode: 'link' | 'unlink',
  errs: FieldError[],
): LinkOp | undefined {
  const s = ctx.state;
  if (!isRecord(raw)) {
    errs.push(E.type('item', 'object'));
    return undefined;
  }
  const before = errs.length;
  const entityId = pathId ?? raw.entity_id;
  if (entityId === undefined || entityId === null) errs.push(E.blank('entity_id'));
  else if (typeof entityId !== 'number' || !Number.isInteger(entityId)) errs.push(E.type('entity_id', 'int'));
  else if (!s.entityMap(kind).has(entityId)) errs.push(E.notFound('entity_id')); // *assumed*: an unknown main entity is a validation error
  const toType = raw.to_entity_type;
  if (toType === undefined || toType === null || toType === '') errs.push(E.blank('to_entity_type'));
  else if (typeof toType !== 'string' || !TARGETS[kind].includes(toType)) errs.push(E.choice('to_entity_type'));
  const toId = raw.to_entity_id;
  if (toId === undefined || toId === null) errs.push(E.blank('to_entity_id'));
  else if (typeof toId !== 'number' || !Number.isInteger(toId)) errs.push(E.type('to_entity_id', 'int'));
  const meta = raw.metadata;
  if (meta !== undefined && meta !== null && !isRecord(meta)) errs.push(E.type('metadata', 'object'));
  if (errs.length > before) return undefined;
  const op: LinkOp = { kind, entityId: entityId as number, toType: toType as string, toId: toId as number };
  const m = isRecord(meta) ? meta : {};
  if (m.updated_by !== undefined) {
    if (!num(m.updated_by) || !s.users.has(m.updated_by)) errs.push(E.choice('metadata.updated_by'));
    else op.by = m.updated_by;
  }
  if (op.toType === 'catalog_elements') {
    // entity-links-api: an element is named with its list: `metadata.catalog_id` (*assumed* required, the doc sends it every time).
    const el = s.elements.get(op.toId);
    if (m.catalog_id === undefined || m.catalog_id === null) errs.push(E.blank('metadata.catalog_id'));
    else if (!num(m.catalog_id) || !Number.isInteger(m.catalog_id)) errs.push(E.type('metadata.catalog_id', 'int'));
    else if (!s.catalogs.has(m.catalog_id)) errs.push(E.notFound('metadata.catalog_id'));
    else if (!el || el.catalog_id !== m.catalog_id) errs.push(E.notFound('to_entity_id'));
    else op.catalogId = m.catalog_id;
    if (mode === 'link') {
      if (m.quantity !== undefined) {
        if (!num(m.quantity) || m.quantity < 0) errs.push(E.type('metadata.quantity', 'int|float ≥ 0'));
        else op.quantity = m.quantity;
      }
      if (m.price_id !== undefined) {
        // "ID поля типа Цена": a `price` field of that list (*assumed* check).
        const priceId = m.price_id;
        const def = num(priceId) ? s.fields.get(priceId) : undefined;
        if (priceId === null) op.priceId = null;
        else if (!def || def.type !== 'price' || def.catalog_id !== op.catalogId) errs.push(E.choice('metadata.price_id'));
        else op.priceId = def.id;
      }
      const cat = op.catalogId !== undefined ? s.catalogs.get(op.catalogId) : undefined;
      // catalogs: `can_link_multiple` false = one element goes to one entity only (*assumed* refusal).
      if (
        cat &&
        !cat.can_link_multiple &&
        s.elementLinks.some((x) => x.element_id === op.toId && !(x.entity_type === kind && x.entity_id === op.entityId))
      ) {
        errs.push(E.invalid('to_entity_id', 'This list does not allow one element to be linked to several entities.'));
      }
    }
  } else {
    const target = s.entityMap(op.toType as EntityKind);
    if (!target.has(op.toId)) errs.push(E.notFound('to_entity_id'));
    if (op.toType === 'contacts' && kind === 'leads' && m.is_main !== undefined) {
      if (typeof m.is_main !== 'boolean') errs.push(E.type('metadata.is_main', 'bool'));
      else op.isMain = m.is_main;
    }
    if (mode === 'link' && errs.length === before) {
      // A lead and a contact each have one company (leads-api: one company per lead; contacts-api `_embedded.companies`):
      // linking a second one is refused, not swapped (*assumed*): unlink the old one first.
      const one = 'An entity has at most one company; unlink the current one first.';
      if (kind === 'leads' && op.toType === 'companies') {
        const cur = s.leads.get(op.entityId)?.company_id;
        if (cur && cur !== op.toId) errs.push(E.invalid('to_entity_id', one));
      } else if (kind === 'contacts' && op.toType === 'companies') {
        const cur = s.contacts.get(op.entityId)?.company_id;
        if (cur && cur !== op.toId) errs.push(E.invalid('to_entity_id', one));
      } else if (kind === 'companies' && op.toType === 'contacts') {
        const cur = s.contacts.get(op.toId)?.company_id;
        if (cur && cur !== op.entityId) errs.push(E.invalid('to_entity_id', one));
      } else if (kind === 'companies' && op.toType === 'leads') {
        const cur = s.leads.get(op.toId)?.company_id;
        if (cur && cur !== op.entityId) errs.push(E.invalid('to_entity_id', one));
      }
    }
  }
  return errs.length > before ? undefined : op;
}

function applyLink(ctx: RestCtx, op: LinkOp): LinkRow {
  const s = ctx.state;
  const by = op.by ?? ctx.userId;
  let metadata: Record<string, unknown> | null = null;
  if (op.toType === 'catalog_elements') {
    let x = s.elementLinks.find((e) => e.entity_type === op.kind && e.entity_id === op.entityId && e.element_id === op.toId);
    if (!x) {
      // *assumed*: quantity defaults to 1.
      x = {
        entity_type: op.kind,
        entity_id: op.entityId,
        element_id: op.toId,
        catalog_id: op.catalogId as number,
        quantity: op.quantity ?? 1,
        price_id: op.priceId ?? null,
      };
      s.elementLinks.push(x);
    } else {
      if (op.quantity !== undefined) x.quantity = op.quantity;
      if (op.priceId !== undefined) x.price_id = op.priceId;
    }
    metadata = elementMeta(x);
  } else if (op.kind === 'leads' && op.toType === 'contacts') {
    const l = s.leads.get(op.entityId);
    if (l) {
      let c = l.contacts.find((x) => x.id === op.toId);
      // *assumed*: the first contact of a lead becomes its main contact unless told otherwise (as on add).
      if (!c) l.contacts.push((c = { id: op.toId, is_main: op.isMain ?? l.contacts.length === 0 }));
      else if (op.isMain !== undefined) c.is_main = op.isMain;
      if (c.is_main) for (const o of l.contacts) if (o !== c) o.is_main = false;
      metadata = { main_contact: c.is_main };
    }
  } else if (op.kind === 'leads' && op.toType === 'companies') {
    const l = s.leads.get(op.entityId);
    if (l) l.company_id = op.toId;
  } else if (op.kind === 'contacts' && op.toType === 'companies') {
    const c = s.contacts.get(op.entityId);
    if (c) c.company_id = op.toId;
  } else if (op.kind === 'companies' && op.toType === 'contacts') {
    const c = s.contacts.get(op.toId);
    if (c) c.company_id = op.entityId;
  } else if (op.kind === 'companies' && op.toType === 'leads') {
    const l = s.leads.get(op.toId);
    if (l) l.company_id = op.entityId;
  }
  touch(ctx, op, by);
  recordLink(s, op.kind, op.entityId, op.toType, op.toId, 'link', by, ctx.now);
  return { entity_id: op.entityId, entity_type: op.kind, to_entity_id: op.toId, to_entity_type: op.toType, metadata };
}

function applyUnlink(ctx: RestCtx, op: LinkOp): void {
  const s = ctx.state;
  const by = op.by ?? ctx.userId;
  let changed = false;
  if (op.toType === 'catalog_elements') {
    const n = s.elementLinks.length;
    s.elementLinks = s.elementLinks.filter((e) => !(e.entity_type === op.kind && e.entity_id === op.entityId && e.element_id === op.toId));
    changed = s.elementLinks.length !== n;
  } else if (op.kind === 'leads' && op.toType === 'contacts') {
    const l = s.leads.get(op.entityId);
    const c = l?.contacts.find((x) => x.id === op.toId);
    if (l && c) {
      l.contacts = l.contacts.filter((x) => x !== c);
      // *assumed*: when the main contact goes, the next one becomes main (a lead with contacts always shows one as main).
      const next = l.contacts[0];
      if (c.is_main && next) next.is_main = true;
      changed = true;
    }
  } else {
    const pairs: Array<[{ company_id: number | null } | undefined, number]> = [];
    if (op.kind === 'leads') pairs.push([s.leads.get(op.entityId), op.toId]);
    if (op.kind === 'contacts') pairs.push([s.contacts.get(op.entityId), op.toId]);
    if (op.kind === 'companies' && op.toType === 'contacts') pairs.push([s.contacts.get(op.toId), op.entityId]);
    if (op.kind === 'companies' && op.toType === 'leads') pairs.push([s.leads.get(op.toId), op.entityId]);
    for (const [holder, company] of pairs) {
      if (holder && holder.company_id === company) {
        holder.company_id = null;
        changed = true;
      }
    }
  }
  // *assumed*: unlinking what is not linked is a no-op (still 204); only real changes touch the entity and record events.
  if (!changed) return;
  touch(ctx, op, by);
  recordLink(s, op.kind, op.entityId, op.toType, op.toId, 'unlink', by, ctx.now);
}

/** *assumed*: a link change moves the main entity's `updated_at`/`updated_by` (so If-Modified-Since readers see it). */
function touch(ctx: RestCtx, op: LinkOp, by: number): void {
  const e = ctx.state.entityMap(op.kind).get(op.entityId);
  if (e) {
    e.updated_at = ctx.now;
    e.updated_by = by;
  }
}

function write(mode: 'link' | 'unlink', perEntity: boolean): RestHandler {
  return (ctx) => {
    const kind = ctx.params.entity as EntityKind;
    const pathId = perEntity ? Number(ctx.params.id) : undefined;
    const body = readBatch(ctx);
    if (!body.ok) return body.res;
    const failed: RequestErrors[] = [];
    const ops: LinkOp[] = [];
    body.value.forEach((item, i) => {
      const errs: FieldError[] = [];
      const op = validateItem(ctx, kind, item, pathId, mode, errs);
      if (op && errs.length === 0) ops.push(op);
      else failed.push({ request_id: String(i), errors: errs });
    });
    // One invalid item fails the whole request and nothing is linked (*assumed*, as for every batch).
    if (failed.length) return validationFailed(failed);
    if (mode === 'unlink') {
      for (const op of ops) applyUnlink(ctx, op);
      return noContent(); // entity-links-api: "204 — Сущности отвязаны успешно"
    }
    const rows = ops.map((op) => applyLink(ctx, op));
    return hal(200, { _total_items: rows.length, _links: link(ctx, ctx.req.path), _embedded: { links: rows } });
  };
}

export function linkRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/{entity}/links', handler: listMany },
    { method: 'POST', template: '/api/v4/{entity}/link', handler: write('link', false) },
    { method: 'POST', template: '/api/v4/{entity}/unlink', handler: write('unlink', false) },
    { method: 'GET', template: '/api/v4/{entity}/{id}/links', handler: listOne },
    { method: 'POST', template: '/api/v4/{entity}/{id}/link', handler: write('link', true) },
    { method: 'POST', template: '/api/v4/{entity}/{id}/unlink', handler: write('unlink', true) },
  ];
}

/** Dropping an element drops its links (v2 delete). */
export function dropElementLinks(state: AccountState, elementIds: number[]): void {
  state.elementLinks = state.elementLinks.filter((x) => !elementIds.includes(x.element_id));
}
