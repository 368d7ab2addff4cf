/**
 * Lists (catalogs) and their elements (docs/amocrm-protocol.md#catalogs): `GET|POST|PATCH /api/v4/catalogs`,
 * `GET|PATCH /api/v4/catalogs/{id}`, `GET|POST|PATCH /api/v4/catalogs/{id}/elements`,
 * `GET|PATCH /api/v4/catalogs/{id}/elements/{id}`. At most 10 lists per account (docs/amocrm-protocol.md#catalogs).
 * No v4 DELETE: no v4 delete of elements is documented (docs/amocrm-protocol.md#catalogs), so the sandbox
 * answers 405 to it. Elements are deleted the way the old systems did it: the legacy
 * `POST /api/v2/catalog_elements {"delete": [ids]}` (amocrm.ru/developers/content/catalogs/elements;
 * the `{add|update|delete}` envelope and `_embedded.items` answer of the v2 lists page, amo-docs catalogs).
 */
import { badRequest } from '../errors.ts';
import { dropElementLinks } from './links.ts';
import { applyCustomFields, renderCustomFields, validateCustomFields, type CfUpdate } from '../custom-fields.ts';
import { E, limitPerPage, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import { hal, isRecord, noContent, queryInts, queryString } from '../http-util.ts';
import type { RestCtx, RestHandler, RestRoute } from '../router.ts';
import type { Catalog, CatalogElement } from '../state.ts';
import { Check, link, listPage, readItems, readObject, requestIdOf } from './common.ts';
import { searchableValues } from '../custom-fields.ts';

export const MAX_CATALOGS = 10;
const CATALOG_TYPES = ['regular', 'invoices', 'products'];

function renderCatalog(ctx: RestCtx, c: Catalog): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    created_by: c.created_by,
    updated_by: c.updated_by,
    created_at: c.created_at,
    updated_at: c.updated_at,
    sort: c.sort,
    type: c.type,
    can_add_elements: c.can_add_elements,
    can_show_in_cards: false,
    can_link_multiple: c.can_link_multiple,
    can_be_deleted: true,
    sdk_widget_code: null,
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/catalogs/${c.id}`),
  };
}

function renderElement(ctx: RestCtx, e: CatalogElement): Record<string, unknown> {
  return {
    id: e.id,
    name: e.name,
    created_by: e.created_by,
    updated_by: e.updated_by,
    created_at: e.created_at,
    updated_at: e.updated_at,
    is_deleted: false,
    custom_fields_values: renderCustomFields(ctx.state, e.custom),
    catalog_id: e.catalog_id,
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/catalogs/${e.catalog_id}/elements/${e.id}`),
  };
}

function catalogWrite(mode: 'add' | 'update', one = false): RestHandler {
  return (ctx) => {
    const read = readItems(ctx, one ? Number(ctx.params.catalogId) : undefined);
    if (!read.ok) return read.res;
    const items = read.value;
    const failed: RequestErrors[] = [];
    let room = MAX_CATALOGS - ctx.state.catalogs.size;
    items.forEach((item, i) => {
      const errs: FieldError[] = [];
      const c = new Check(errs);
      if (!isRecord(item)) errs.push(E.type('item', 'object'));
      else {
        c.str(item, 'name', { required: mode === 'add' });
        if (item.type !== undefined && (typeof item.type !== 'string' || !CATALOG_TYPES.includes(item.type))) errs.push(E.choice('type'));
        c.int(item, 'sort');
        c.bool(item, 'can_add_elements');
        c.bool(item, 'can_link_multiple');
        if (mode === 'update' && (typeof item.id !== 'number' || !ctx.state.catalogs.has(item.id)))
          errs.push(item.id === undefined ? E.blank('id') : E.notFound('id'));
        if (mode === 'add' && room-- <= 0) errs.push(E.invalid('name', `An account has at most ${MAX_CATALOGS} lists.`));
      }
      if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
    });
    if (failed.length) return validationFailed(failed);
    const out = items.map((item, i) => {
      const o = item as Record<string, unknown>;
      let cat: Catalog;
      if (mode === 'add') {
        cat = {
          id: ctx.state.nextId('catalog'),
          name: String(o.name),
          type: typeof o.type === 'string' ? o.type : 'regular',
          sort: typeof o.sort === 'number' ? o.sort : 10,
          created_by: ctx.userId,
          updated_by: ctx.userId,
          created_at: ctx.now,
          updated_at: ctx.now,
          can_add_elements: o.can_add_elements !== false,
          can_link_multiple: o.can_link_multiple !== false,
        };
        ctx.state.catalogs.set(cat.id, cat);
      } else {
        cat = ctx.state.catalogs.get(o.id as number) as Catalog;
        if (typeof o.name === 'string') cat.name = o.name;
        if (typeof o.sort === 'number') cat.sort = o.sort;
        if (typeof o.can_add_elements === 'boolean') cat.can_add_elements = o.can_add_elements;
        if (typeof o.can_link_multiple === 'boolean') cat.can_link_multiple = o.can_link_multiple;
        cat.updated_at = ctx.now;
        cat.updated_by = ctx.userId;
      }
      return { ...renderCatalog(ctx, cat), request_id: requestIdOf(item, i) };
    });
    return one ? hal(200, out[0]) : hal(200, { _links: link(ctx, '/api/v4/catalogs'), _embedded: { catalogs: out } });
  };
}

function elementWrite(mode: 'add' | 'update', one = false): RestHandler {
  return (ctx) => {
    const catalogId = Number(ctx.params.catalogId);
    if (!ctx.state.catalogs.has(catalogId)) return noContent(); // *assumed*
    const read = readItems(ctx, one ? Number(ctx.params.id) : undefined);
    if (!read.ok) return read.res;
    const items = read.value;
    const defs = ctx.state.fieldsOf('catalogs', catalogId);
    const failed: RequestErrors[] = [];
    const cfs: CfUpdate[][] = [];
    items.forEach((item, i) => {
      const errs: FieldError[] = [];
      const c = new Check(errs);
      if (!isRecord(item)) errs.push(E.type('item', 'object'));
      else {
        c.str(item, 'name', { required: mode === 'add' });
        if (mode === 'update') {
          const el = typeof item.id === 'number' ? ctx.state.elements.get(item.id) : undefined;
          if (!el || el.catalog_id !== catalogId) errs.push(item.id === undefined ? E.blank('id') : E.notFound('id'));
        }
        cfs[i] = validateCustomFields(defs, item.custom_fields_values, errs);
      }
      if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
    });
    if (failed.length) return validationFailed(failed);
    const out = items.map((item, i) => {
      const o = item as Record<string, unknown>;
      let el: CatalogElement;
      if (mode === 'add') {
        el = {
          id: ctx.state.nextId('element'),
          catalog_id: catalogId,
          name: String(o.name),
          created_by: ctx.userId,
          updated_by: ctx.userId,
          created_at: ctx.now,
          updated_at: ctx.now,
          custom: applyCustomFields([], cfs[i] ?? []),
        };
        ctx.state.elements.set(el.id, el);
      } else {
        el = ctx.state.elements.get(o.id as number) as CatalogElement;
        if (typeof o.name === 'string') el.name = o.name;
        el.custom = applyCustomFields(el.custom, cfs[i] ?? []);
        el.updated_at = ctx.now;
        el.updated_by = ctx.userId;
      }
      return { ...renderElement(ctx, el), request_id: requestIdOf(item, i) };
    });
    return one ? hal(200, out[0]) : hal(200, { _links: link(ctx, ctx.req.path), _embedded: { elements: out } });
  };
}

export function catalogRoutes(): RestRoute[] {
  return [
    {
      method: 'GET',
      template: '/api/v4/catalogs',
      handler: (ctx) => {
        const type = isRecord(ctx.query.filter) ? queryString(ctx.query.filter.type) : undefined;
        return listPage(
          ctx,
          'catalogs',
          [...ctx.state.catalogs.values()].filter((c) => !type || c.type === type).map((c) => renderCatalog(ctx, c)),
        );
      },
    },
    { method: 'POST', template: '/api/v4/catalogs', handler: catalogWrite('add') },
    { method: 'PATCH', template: '/api/v4/catalogs', handler: catalogWrite('update') },
    {
      method: 'GET',
      template: '/api/v4/catalogs/{catalogId}',
      handler: (ctx) => {
        const c = ctx.state.catalogs.get(Number(ctx.params.catalogId));
        return c ? hal(200, renderCatalog(ctx, c)) : noContent();
      },
    },
    { method: 'PATCH', template: '/api/v4/catalogs/{catalogId}', handler: catalogWrite('update', true) },
    {
      method: 'GET',
      template: '/api/v4/catalogs/{catalogId}/elements',
      handler: (ctx) => {
        const catalogId = Number(ctx.params.catalogId);
        if (!ctx.state.catalogs.has(catalogId)) return noContent();
        // docs/amocrm-protocol.md#catalogs: element search by `query` and `filter[id][]`; amocrm-api-php sends a top-level `id` too.
        const ids = queryInts(isRecord(ctx.query.filter) ? ctx.query.filter.id : ctx.query.id);
        const q = queryString(ctx.query.query)?.toLowerCase();
        const els = [...ctx.state.elements.values()].filter(
          (e) =>
            e.catalog_id === catalogId &&
            (!ids || ids.includes(e.id)) &&
            (!q || e.name.toLowerCase().includes(q) || searchableValues(e.custom).some((v) => v.toLowerCase().includes(q))),
        );
        return listPage(
          ctx,
          'elements',
          els.map((e) => renderElement(ctx, e)),
        );
      },
    },
    { method: 'POST', template: '/api/v4/catalogs/{catalogId}/elements', handler: elementWrite('add') },
    { method: 'PATCH', template: '/api/v4/catalogs/{catalogId}/elements', handler: elementWrite('update') },
    {
      method: 'GET',
      template: '/api/v4/catalogs/{catalogId}/elements/{id}',
      handler: (ctx) => {
        const e = ctx.state.elements.get(Number(ctx.params.id));
        return e && e.catalog_id === Number(ctx.params.catalogId) ? hal(200, renderElement(ctx, e)) : noContent();
      },
    },
    { method: 'PATCH', template: '/api/v4/catalogs/{catalogId}/elements/{id}', handler: elementWrite('update', true) },
    { method: 'POST', template: '/api/v2/catalog_elements', handler: v2Elements },
  ];
}

/**
 * `POST /api/v2/catalog_elements` with `{"delete": [id, …]}` (ids as numbers or numeric strings, as
 * PHP sends them). *assumed*: only `delete` is simulated (`add`/`update` → 400 pointing at v4);
 * an id that is not an element → 400 and nothing is deleted; the answer is the v2 envelope
 * `{_links:{self:{href,method}}, _embedded:{items:[]}}`; a deleted element's links go with it.
 */
function v2Elements(ctx: RestCtx) {
  const parsed = readObject(ctx);
  if (!parsed.ok) return parsed.res;
  const b = parsed.value;
  if (b.add !== undefined || b.update !== undefined)
    return badRequest(
      'Only "delete" is simulated on /api/v2/catalog_elements; add and update elements through /api/v4/catalogs/{id}/elements',
    );
  if (!Array.isArray(b.delete) || b.delete.length === 0) return badRequest('"delete" must be a non-empty array of element ids');
  if (b.delete.length > ctx.maxEntities) return limitPerPage(ctx.maxEntities);
  const ids = b.delete.map((x) => (typeof x === 'number' ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : NaN));
  const missing = b.delete.filter((_x, i) => !ctx.state.elements.has(ids[i] as number));
  if (missing.length) return badRequest(`Elements not found: ${missing.map(String).join(', ')}`);
  for (const id of ids) ctx.state.elements.delete(id);
  dropElementLinks(ctx.state, ids);
  return hal(200, { _links: { self: { href: '/api/v2/catalog_elements', method: 'post' } }, _embedded: { items: [] } });
}
