/**
 * The handlers leads, contacts and companies share: list with filters and search, get by id,
 * batch add, batch patch, patch one.
 */
import { searchableValues } from '../custom-fields.ts';
import { validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import type { OutEvent } from '../events.ts';
import { hal, isRecord, noContent, queryInts, queryString } from '../http-util.ts';
import type { RestCtx, RestHandler, SearchMode } from '../router.ts';
import type { AnyEntity, Contact, EntityKind, Lead } from '../state.ts';
import { ifModifiedSince, inRange, link, listPage, readBatch, readObject, sortBy } from './common.ts';
import { applyEntity, renderEntity, validateEntity, type EntityOp } from './entities.ts';

function digits(s: string): string {
  return s.replace(/\D/g, '');
}

/**
 * `query` (docs/amocrm-protocol.md#lists-filters-and-search: `query` searches filled fields; nothing more is documented).
 * Every mode: case-insensitive substring over name, id, first/last name and every custom field
 * value. `normalising` also matches a phone-looking query (≥ 5 digits, only phone characters) by its
 * last 10 digits inside a value's digits (`89161234567` finds `+7 (916) 123-45-67`); `literal` and
 * `noisy` do not (zero-archive/amocrm-php #81: "+79995551122 и 89995551122 – разные номера для
 * системы"). `noisy` adds an unrelated hit in listHandler (amocrm-api-php #515). All *assumed*.
 */
export function matchesQuery(e: AnyEntity, q: string, mode: SearchMode = 'literal'): boolean {
  const hay = [e.name, String(e.id), ...searchableValues(e.custom)];
  if ('first_name' in e) hay.push((e as Contact).first_name, (e as Contact).last_name);
  const ql = q.toLowerCase();
  if (hay.some((h) => h.toLowerCase().includes(ql))) return true;
  if (mode !== 'normalising') return false;
  const qd = digits(q);
  if (qd.length >= 5 && /^[\d\s()+-]+$/.test(q)) {
    const tail = qd.slice(-10);
    return searchableValues(e.custom).some((v) => digits(v).includes(tail));
  }
  return false;
}

function filterEntities(ctx: RestCtx, kind: EntityKind, list: AnyEntity[]): AnyEntity[] {
  const f = isRecord(ctx.query.filter) ? ctx.query.filter : {};
  const ids = queryInts(f.id);
  const resp = queryInts(f.responsible_user_id);
  const createdBy = queryInts(f.created_by);
  const updatedBy = queryInts(f.updated_by);
  const names = f.name !== undefined ? [f.name].flat().map(String) : undefined;
  const q = queryString(ctx.query.query);
  const since = ifModifiedSince(ctx);
  const pipelines = queryInts(f.pipeline_id);
  // docs/amocrm-protocol.md#lists-filters-and-search: `filter[statuses][0][pipeline_id]=…&filter[statuses][0][status_id]=…`.
  const statuses =
    f.statuses === undefined
      ? undefined
      : (Array.isArray(f.statuses) ? f.statuses : isRecord(f.statuses) ? Object.values(f.statuses) : [])
          .filter(isRecord)
          .map((s) => ({ pipeline: Number(s.pipeline_id), status: Number(s.status_id) }));
  const leadFilters = (l: Lead): boolean =>
    (!pipelines || pipelines.includes(l.pipeline_id)) &&
    (!statuses || statuses.some((s) => s.pipeline === l.pipeline_id && s.status === l.status_id)) &&
    inRange(l.price, f.price) &&
    inRange(l.closed_at, f.closed_at);
  const filtersKeep = (e: AnyEntity): boolean =>
    (!ids || ids.includes(e.id)) &&
    (!resp || resp.includes(e.responsible_user_id)) &&
    (!createdBy || createdBy.includes(e.created_by)) &&
    (!updatedBy || updatedBy.includes(e.updated_by)) &&
    (!names || names.includes(e.name)) &&
    inRange(e.created_at, f.created_at) &&
    inRange(e.updated_at, f.updated_at) &&
    (since === undefined || e.updated_at > since) &&
    (kind !== 'leads' || leadFilters(e as Lead));
  const mode = ctx.search ?? 'literal';
  let noise: AnyEntity | undefined;
  const out = list.filter((e) => {
    if (!filtersKeep(e)) return false;
    if (!q || matchesQuery(e, q, mode)) return true;
    // `noisy`: the newest entity the filters keep but the query does not (*assumed* pick).
    if (mode === 'noisy' && (!noise || e.id > noise.id)) noise = e;
    return false;
  });
  if (noise) out.push(noise);
  return out;
}

/**
 * leads-api `with=only_deleted`: "вернутся удаленные сделки, которые еще находятся в корзине. В ответ
 * вы получите модель сделки, у которой доступны дату изменения, ID пользователя сделавшего последнее
 * изменение, её ID и параметр is_deleted = true" — only deleted leads, in that reduced model. Other
 * filters still apply (*assumed*). Contacts and companies document no such `with` (it is ignored).
 */
function renderDeletedLead(ctx: RestCtx, l: Lead): Record<string, unknown> {
  return {
    id: l.id,
    updated_by: l.updated_by,
    updated_at: l.updated_at,
    is_deleted: true,
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/leads/${l.id}`),
  };
}

function onlyDeleted(ctx: RestCtx): boolean {
  const w = ctx.query.with;
  return (
    typeof w === 'string' &&
    w
      .split(',')
      .map((s) => s.trim())
      .includes('only_deleted')
  );
}

export function listHandler(kind: EntityKind): RestHandler {
  return (ctx) => {
    if (kind === 'leads' && onlyDeleted(ctx)) {
      const deleted = sortBy(ctx, filterEntities(ctx, kind, [...ctx.state.deletedLeads.values()]), ['created_at', 'updated_at', 'id']);
      return listPage(
        ctx,
        kind,
        deleted.map((e) => renderDeletedLead(ctx, e as Lead)),
      );
    }
    // Contacts and companies of an entry still in Unsorted are not listed (unsorted.ts).
    const all = [...ctx.state.entityMap(kind).values()].filter((e) => kind === 'leads' || !ctx.state.inUnsorted(kind, e.id));
    const sorted = sortBy(ctx, filterEntities(ctx, kind, all), ['created_at', 'updated_at', 'id']);
    return listPage(
      ctx,
      kind,
      sorted.map((e) => renderEntity(ctx, kind, e)),
    );
  };
}

/** leads-api/contacts-api "Получение … по ID": 204 when the id does not exist. */
export function getOneHandler(kind: EntityKind): RestHandler {
  return (ctx) => {
    const e = ctx.state.entityMap(kind).get(Number(ctx.params.id));
    return e ? hal(200, renderEntity(ctx, kind, e)) : noContent();
  };
}

/** Validates every item first; one failing item fails the whole batch (*assumed*), listing every failing request_id (docs/amocrm-protocol.md#error-bodies). */
export function validateAll(
  ctx: RestCtx,
  kind: EntityKind,
  mode: 'add' | 'update',
  items: unknown[],
): { ok: true; ops: EntityOp[] } | { ok: false; failed: RequestErrors[] } {
  const ops: EntityOp[] = [];
  const failed: RequestErrors[] = [];
  items.forEach((item, i) => {
    const errs: FieldError[] = [];
    const op = validateEntity(ctx, kind, mode, item, i, errs);
    if (op && errs.length === 0) ops.push(op);
    else failed.push({ request_id: isRecord(item) && item.request_id !== undefined ? String(item.request_id) : String(i), errors: errs });
  });
  return failed.length ? { ok: false, failed } : { ok: true, ops };
}

export function addHandler(kind: EntityKind): RestHandler {
  return (ctx) => {
    const body = readBatch(ctx);
    if (!body.ok) return body.res;
    const v = validateAll(ctx, kind, 'add', body.value);
    if (!v.ok) return validationFailed(v.failed);
    const events: OutEvent[] = [];
    const out = v.ops.map((op) => {
      const r = applyEntity(ctx, op);
      events.push(...r.events);
      return { id: r.entity.id, request_id: op.requestId, _links: link(ctx, `/api/v4/${kind}/${r.entity.id}`) };
    });
    void ctx.hooks.emit(events);
    return hal(200, { _links: link(ctx, `/api/v4/${kind}`), _embedded: { [kind]: out } });
  };
}

/** leads-api "Редактирование сделок": batch PATCH of an array, each item with its id. */
export function patchHandler(kind: EntityKind): RestHandler {
  return (ctx) => {
    const body = readBatch(ctx);
    if (!body.ok) return body.res;
    const v = validateAll(ctx, kind, 'update', body.value);
    if (!v.ok) return validationFailed(v.failed);
    const events: OutEvent[] = [];
    const out = v.ops.map((op) => {
      const r = applyEntity(ctx, op);
      events.push(...r.events);
      return {
        id: r.entity.id,
        ...(kind === 'contacts' ? { name: r.entity.name } : {}),
        updated_at: r.entity.updated_at,
        _links: link(ctx, `/api/v4/${kind}/${r.entity.id}`),
      };
    });
    void ctx.hooks.emit(events);
    return hal(200, { _links: link(ctx, `/api/v4/${kind}`), _embedded: { [kind]: out } });
  };
}

/** `PATCH /api/v4/{kind}/{id}` with one model (leads-api: "при редактировании одной сделки, передается просто модель"). */
export function patchOneHandler(kind: EntityKind): RestHandler {
  return (ctx) => {
    const body = readObject(ctx);
    if (!body.ok) return body.res;
    const id = Number(ctx.params.id);
    const errs: FieldError[] = [];
    const op = validateEntity(ctx, kind, 'update', body.value, 0, errs, { id });
    if (!op || errs.length)
      return validationFailed([{ request_id: body.value.request_id !== undefined ? String(body.value.request_id) : '0', errors: errs }]);
    const r = applyEntity(ctx, op);
    void ctx.hooks.emit(r.events);
    return hal(200, { id: r.entity.id, updated_at: r.entity.updated_at, _links: link(ctx, `/api/v4/${kind}/${r.entity.id}`) });
  };
}
