/**
 * `GET /api/v4/{leads|contacts|companies}/custom_fields[/{id}]` and
 * `GET /api/v4/catalogs/{catalogId}/custom_fields` (custom-fields doc: "Метод возвращает до 50
 * полей за один запрос", limit max 250), plus `POST` to create fields (admin-only in amoCRM).
 */
import { addField, renderFieldDef } from '../custom-fields.ts';
import { customFieldNotFound, E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import { hal, isRecord, noContent, queryList } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { EntityKind } from '../state.ts';
import { link, listPage, readBatch, requestIdOf } from './common.ts';

const KNOWN_TYPES = new Set([
  'text',
  'numeric',
  'checkbox',
  'select',
  'multiselect',
  'date',
  'url',
  'textarea',
  'radiobutton',
  'streetaddress',
  'smart_address',
  'birthday',
  'legal_entity',
  'date_time',
  'price',
  'category',
  'items',
  'tracking_data',
  'linked_entity',
  'chained_list',
  'monetary',
  'file',
  'payer',
  'supplier',
  'multitext',
]);

function list(ctx: RestCtx, kind: EntityKind | 'catalogs', catalogId?: number) {
  const types = isRecord(ctx.query.filter) ? queryList(ctx.query.filter.type) : [];
  const defs = ctx.state.fieldsOf(kind, catalogId).filter((d) => types.length === 0 || types.includes(d.type));
  return listPage(
    ctx,
    'custom_fields',
    defs.map((d) => renderFieldDef(d, ctx.base)),
    { total: true },
  );
}

function create(ctx: RestCtx) {
  const catalogId = ctx.params.catalogId !== undefined ? Number(ctx.params.catalogId) : undefined;
  if (catalogId !== undefined && !ctx.state.catalogs.has(catalogId)) return noContent(); // *assumed*, like the list's other calls on an unknown list
  const kind: EntityKind | 'catalogs' = catalogId !== undefined ? 'catalogs' : (ctx.params.entity as EntityKind);
  const body = readBatch(ctx);
  if (!body.ok) return body.res;
  const failed: RequestErrors[] = [];
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    if (!isRecord(item)) errs.push(E.type('item', 'object'));
    else {
      if (typeof item.name !== 'string' || item.name.trim() === '') errs.push(E.blank('name'));
      if (typeof item.type !== 'string' || !KNOWN_TYPES.has(item.type)) errs.push(E.choice('type'));
      if (item.enums !== undefined && (!Array.isArray(item.enums) || item.enums.some((e) => !isRecord(e) || typeof e.value !== 'string')))
        errs.push(E.type('enums', 'array of {value}'));
    }
    if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  const out = body.value.map((item, i) => {
    const o = item as {
      name: string;
      type: string;
      code?: string;
      sort?: number;
      enums?: Array<{ value: string; sort?: number; code?: string }>;
    };
    const def = addField(
      ctx.state,
      kind,
      {
        name: o.name,
        type: o.type,
        code: o.code ?? null,
        ...(o.sort !== undefined ? { sort: o.sort } : {}),
        ...(o.enums ? { enums: o.enums } : {}),
      },
      false,
      catalogId,
    );
    return { ...renderFieldDef(def, ctx.base), request_id: requestIdOf(item, i) };
  });
  return hal(200, { _total_items: out.length, _links: link(ctx, ctx.req.path), _embedded: { custom_fields: out } });
}

export function customFieldRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/{entity}/custom_fields', handler: (ctx) => list(ctx, ctx.params.entity as EntityKind) },
    { method: 'POST', template: '/api/v4/{entity}/custom_fields', handler: create },
    {
      method: 'GET',
      template: '/api/v4/{entity}/custom_fields/{id}',
      handler: (ctx) => {
        const d = ctx.state.fields.get(Number(ctx.params.id));
        // Not the 204 of an unknown lead: amocrm-api-php #403 shows amoCRM answering an unknown field with
        // 404 `{"title":"Not Found","type":"https://httpstatus.es/404","status":404,"detail":"Custom field not found"}`.
        return d && d.entity_type === ctx.params.entity ? hal(200, renderFieldDef(d, ctx.base)) : customFieldNotFound();
      },
    },
    {
      method: 'GET',
      template: '/api/v4/catalogs/{catalogId}/custom_fields',
      handler: (ctx) => list(ctx, 'catalogs', Number(ctx.params.catalogId)),
    },
    // custom-fields: "POST /api/v4/catalogs/{catalog_id}/custom_fields" creates a list's fields; its elements validate against them.
    { method: 'POST', template: '/api/v4/catalogs/{catalogId}/custom_fields', handler: create },
    {
      method: 'GET',
      template: '/api/v4/catalogs/{catalogId}/custom_fields/{id}',
      handler: (ctx) => {
        const d = ctx.state.fields.get(Number(ctx.params.id));
        return d && d.entity_type === 'catalogs' && d.catalog_id === Number(ctx.params.catalogId)
          ? hal(200, renderFieldDef(d, ctx.base))
          : customFieldNotFound();
      },
    },
  ];
}
