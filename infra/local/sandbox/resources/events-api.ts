/**
 * `GET /api/v4/events` and `GET /api/v4/events/{id}` (amo-docs events-and-notes "Список событий"):
 * what `account-events.ts` recorded, newest first (*assumed*), at most 100 per page.
 */
import { E, validationFailed, type FieldError } from '../errors.ts';
import { hal, isRecord, noContent, queryInts, queryList } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { AccountEvent, EntityKind } from '../state.ts';
import { inRange, link, listPage } from './common.ts';

const PLURAL: Record<string, EntityKind> = { lead: 'leads', contact: 'contacts', company: 'companies' };

function withList(ctx: RestCtx): string[] {
  return typeof ctx.query.with === 'string' ? ctx.query.with.split(',').map((s) => s.trim()) : [];
}

function render(ctx: RestCtx, e: AccountEvent): Record<string, unknown> {
  const kind = PLURAL[e.entity_type];
  const entity: Record<string, unknown> = { id: e.entity_id };
  // events-and-notes `with=lead_name|contact_name|company_name`: the entity's name next to its id (*assumed* place: `_embedded.entity.name`).
  const w = withList(ctx);
  if (kind && w.includes(`${e.entity_type}_name`)) entity.name = ctx.state.entityMap(kind).get(e.entity_id)?.name ?? null;
  if (kind) entity._links = link(ctx, `/api/v4/${kind}/${e.entity_id}`);
  return {
    id: e.id,
    type: e.type,
    entity_id: e.entity_id,
    entity_type: e.entity_type,
    created_by: e.created_by,
    created_at: e.created_at,
    value_after: e.value_after,
    value_before: e.value_before,
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/events/${e.id}`),
    _embedded: { entity },
  };
}

/** `filter[created_at]=ts` means "created after ts" (the doc); `[from]`/`[to]` a range. */
function createdAt(v: number, f: unknown): boolean {
  if (f === undefined) return true;
  if (isRecord(f)) return inRange(v, f);
  return v > Number(f);
}

type Filter = (e: AccountEvent) => boolean;

function filters(ctx: RestCtx): { ok: true; fs: Filter[] } | { ok: false; errs: FieldError[] } {
  const f = isRecord(ctx.query.filter) ? ctx.query.filter : {};
  const errs: FieldError[] = [];
  const fs: Filter[] = [];
  const ids = queryList(f.id);
  if (ids.length) fs.push((e) => ids.includes(e.id));
  if (f.created_at !== undefined) fs.push((e) => createdAt(e.created_at, f.created_at));
  const by = queryInts(f.created_by);
  // "передаются до 10-ти ID" (created_by and entity_id): more → 400 (*assumed* answer).
  if (by && by.length > 10) errs.push(E.invalid('filter.created_by', 'At most 10 values.'));
  if (by) fs.push((e) => by.includes(e.created_by));
  const entities = queryList(f.entity);
  if (entities.length) fs.push((e) => entities.includes(e.entity_type));
  const entityIds = queryInts(f.entity_id);
  if (entityIds) {
    // "обязательна передача фильтра filter[entity] и не более 1 сущности в нём".
    if (entities.length !== 1)
      errs.push(E.invalid('filter.entity', 'filter[entity_id] needs filter[entity] with exactly one entity type.'));
    if (entityIds.length > 10) errs.push(E.invalid('filter.entity_id', 'At most 10 values.'));
    fs.push((e) => entityIds.includes(e.entity_id));
  }
  const types = queryList(f.type);
  if (types.length) {
    // `custom_field_{ID}_value_changed` selects the `custom_field_value_changed` events of that field.
    const fieldIds = types
      .map((t) => /^custom_field_(\d+)_value_changed$/.exec(t)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number);
    fs.push((e) => types.includes(e.type) || (e.type === 'custom_field_value_changed' && fieldIds.some((id) => firstField(e) === id)));
  }
  const after = isRecord(f.value_after) ? f.value_after : undefined;
  if (after?.leads_statuses !== undefined) {
    const wanted = queryPairs(after.leads_statuses);
    fs.push(
      (e) =>
        e.type === 'lead_status_changed' &&
        e.value_after.some((v) => {
          const st = isRecord(v) && isRecord(v.lead_status) ? v.lead_status : undefined;
          return st !== undefined && wanted.some((w) => w.status === st.id && w.pipeline === st.pipeline_id);
        }),
    );
  }
  if (after?.responsible_user_id !== undefined) {
    const users = String(after.responsible_user_id).split(',').map(Number);
    fs.push(
      (e) =>
        e.type === 'entity_responsible_changed' &&
        e.value_after.some((v) => isRecord(v) && isRecord(v.responsible_user) && users.includes(Number(v.responsible_user.id))),
    );
  }
  return errs.length ? { ok: false, errs } : { ok: true, fs };
}

function firstField(e: AccountEvent): number | undefined {
  const v = [...e.value_after, ...e.value_before][0];
  return isRecord(v) && isRecord(v.custom_field_value) ? Number(v.custom_field_value.field_id) : undefined;
}

function queryPairs(v: unknown): Array<{ pipeline: number; status: number }> {
  const list = Array.isArray(v) ? v : isRecord(v) ? Object.values(v) : [];
  return list.filter(isRecord).map((x) => ({ pipeline: Number(x.pipeline_id), status: Number(x.status_id) }));
}

export function eventRoutes(): RestRoute[] {
  return [
    {
      method: 'GET',
      template: '/api/v4/events',
      handler: (ctx) => {
        const r = filters(ctx);
        if (!r.ok) return validationFailed([{ request_id: '0', errors: r.errs }]);
        const list = ctx.state.events.filter((e) => r.fs.every((fn) => fn(e))).reverse();
        // events-and-notes: "limit … (Максимум – 100)" → over it, the same 422 as any list over its maximum.
        return listPage(
          ctx,
          'events',
          list.map((e) => render(ctx, e)),
          { max: 100 },
        );
      },
    },
    {
      method: 'GET',
      template: '/api/v4/events/{eventKey}',
      handler: (ctx) => {
        const e = ctx.state.events.find((x) => x.id === ctx.params.eventKey);
        return e ? hal(200, render(ctx, e)) : noContent();
      },
    },
  ];
}
