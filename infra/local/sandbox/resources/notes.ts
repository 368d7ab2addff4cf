/**
 * Notes (amoCRM events-and-notes): `GET|POST /api/v4/{entity}/notes`, `GET|POST
 * /api/v4/{entity}/{entityId}/notes`, `GET /api/v4/{entity}/{entityId}/notes/{id}`.
 * Adding one fires `note_lead|note_contact|note_company` (docs/amocrm-protocol.md#subscriptions).
 */
import { E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import type { OutEvent } from '../events.ts';
import { hal, isRecord, noContent, queryInts, queryList } from '../http-util.ts';
import type { RestCtx, RestHandler, RestRoute } from '../router.ts';
import type { EntityKind, Note } from '../state.ts';
import { noteItem } from '../webhook-items.ts';
import { inRange, link, listPage, readBatch, requestIdOf } from './common.ts';

/** Note types of events-and-notes; params checked only for those the gateway writes (*assumed*). */
const NOTE_TYPES = new Set(['common', 'call_in', 'call_out', 'service_message', 'extended_service_message', 'message_cashier', 'geolocation', 'sms_in', 'sms_out', 'attachment']);
const SETTING: Record<EntityKind, string> = { leads: 'note_lead', contacts: 'note_contact', companies: 'note_company' };

function render(ctx: RestCtx, n: Note): Record<string, unknown> {
  return {
    id: n.id, entity_id: n.entity_id, created_by: n.created_by, updated_by: n.updated_by, created_at: n.created_at,
    updated_at: n.updated_at, responsible_user_id: n.responsible_user_id, group_id: n.group_id, note_type: n.note_type,
    params: n.params, account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/${n.entity_type}/${n.entity_id}/notes/${n.id}`),
  };
}

function list(ctx: RestCtx) {
  const kind = ctx.params.entity as EntityKind;
  const entityId = ctx.params.entityId ? Number(ctx.params.entityId) : undefined;
  const f = isRecord(ctx.query.filter) ? ctx.query.filter : {};
  const ids = queryInts(f.id);
  const types = queryList(f.note_type);
  const entIds = queryInts(f.entity_id);
  const notes = [...ctx.state.notes.values()].filter((n) => n.entity_type === kind && (entityId === undefined || n.entity_id === entityId)
    && (!ids || ids.includes(n.id)) && (types.length === 0 || types.includes(n.note_type)) && (!entIds || entIds.includes(n.entity_id))
    && inRange(n.updated_at, f.updated_at));
  return listPage(ctx, 'notes', notes.map((n) => render(ctx, n)));
}

const add: RestHandler = (ctx) => {
  const kind = ctx.params.entity as EntityKind;
  const pathEntity = ctx.params.entityId ? Number(ctx.params.entityId) : undefined;
  if (pathEntity !== undefined && !ctx.state.entityMap(kind).has(pathEntity)) return noContent(); // *assumed*
  const body = readBatch(ctx);
  if (!body.ok) return body.res;
  const failed: RequestErrors[] = [];
  const ok: Array<{ requestId: string; entityId: number; type: string; params: Record<string, unknown>; created_by?: number }> = [];
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    if (!isRecord(item)) errs.push(E.type('item', 'object'));
    else {
      const eid = pathEntity ?? item.entity_id;
      if (typeof eid !== 'number') errs.push(E.blank('entity_id'));
      else if (!ctx.state.entityMap(kind).has(eid)) errs.push(E.notFound('entity_id'));
      if (typeof item.note_type !== 'string' || !NOTE_TYPES.has(item.note_type)) errs.push(E.choice('note_type'));
      if (!isRecord(item.params)) errs.push(E.type('params', 'object'));
      else if (['common', 'sms_in', 'sms_out', 'service_message'].includes(String(item.note_type)) && (typeof item.params.text !== 'string' || item.params.text === '')) errs.push(E.blank('params.text'));
      if (errs.length === 0) ok.push({ requestId: requestIdOf(item, i), entityId: eid as number, type: item.note_type as string, params: item.params as Record<string, unknown>, ...(typeof item.created_by === 'number' ? { created_by: item.created_by } : {}) });
    }
    if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  const events: OutEvent[] = [];
  const out = ok.map((o) => {
    const n: Note = {
      id: ctx.state.nextId('note'), entity_type: kind, entity_id: o.entityId, created_by: o.created_by ?? ctx.userId,
      updated_by: ctx.userId, created_at: ctx.now, updated_at: ctx.now, responsible_user_id: ctx.userId,
      group_id: ctx.state.users.get(ctx.userId)?.group_id ?? 0, note_type: o.type, params: o.params,
    };
    ctx.state.notes.set(n.id, n);
    events.push({ setting: SETTING[kind], entity: kind === 'leads' ? 'leads' : 'contacts', action: 'note', item: noteItem(ctx.state, n) });
    return { id: n.id, entity_id: n.entity_id, request_id: o.requestId, _links: link(ctx, `/api/v4/${kind}/${n.entity_id}/notes/${n.id}`) };
  });
  void ctx.hooks.emit(events);
  return hal(200, { _links: link(ctx, ctx.req.path), _embedded: { notes: out } });
};

export function noteRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/{entity}/notes', handler: list },
    { method: 'POST', template: '/api/v4/{entity}/notes', handler: add },
    { method: 'GET', template: '/api/v4/{entity}/{entityId}/notes', handler: list },
    { method: 'POST', template: '/api/v4/{entity}/{entityId}/notes', handler: add },
    {
      method: 'GET',
      template: '/api/v4/{entity}/{entityId}/notes/{id}',
      handler: (ctx) => {
        const n = ctx.state.notes.get(Number(ctx.params.id));
        return n && n.entity_type === ctx.params.entity && n.entity_id === Number(ctx.params.entityId) ? hal(200, render(ctx, n)) : noContent();
      },
    },
  ];
}
