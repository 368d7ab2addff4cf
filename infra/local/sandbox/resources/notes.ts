/**
 * Notes (amoCRM events-and-notes): `GET|POST|PATCH /api/v4/{entity}/notes`, `GET|POST|PATCH
 * /api/v4/{entity}/{entityId}/notes`, `GET|PATCH /api/v4/{entity}/{entityId}/notes/{id}`,
 * `GET|PATCH /api/v4/{entity}/notes/{id}`. `params` are checked per note type (note-params.ts).
 * Adding one fires `note_lead|note_contact|note_company` (docs/amocrm-protocol.md#subscriptions) and records its event.
 */
import { recordNote } from '../account-events.ts';
import { E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import type { OutEvent } from '../events.ts';
import { hal, isRecord, noContent, queryInts, queryList } from '../http-util.ts';
import type { RestCtx, RestHandler, RestRoute } from '../router.ts';
import type { EntityKind, Note } from '../state.ts';
import { noteItem } from '../webhook-items.ts';
import { inRange, link, listPage, readBatch, readItems, requestIdOf } from './common.ts';
import { checkNoteParams, NOTE_PARAMS } from './note-params.ts';

/** The ten note types of events-and-notes "Типы примечаний". */
const NOTE_TYPES = new Set(Object.keys(NOTE_PARAMS));
const SETTING: Record<EntityKind, string> = { leads: 'note_lead', contacts: 'note_contact', companies: 'note_company' };

function render(ctx: RestCtx, n: Note): Record<string, unknown> {
  return {
    id: n.id,
    entity_id: n.entity_id,
    created_by: n.created_by,
    updated_by: n.updated_by,
    created_at: n.created_at,
    updated_at: n.updated_at,
    responsible_user_id: n.responsible_user_id,
    group_id: n.group_id,
    note_type: n.note_type,
    params: n.params,
    account_id: ctx.state.account.id,
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
  const notes = [...ctx.state.notes.values()].filter(
    (n) =>
      n.entity_type === kind &&
      (entityId === undefined || n.entity_id === entityId) &&
      (!ids || ids.includes(n.id)) &&
      (types.length === 0 || types.includes(n.note_type)) &&
      (!entIds || entIds.includes(n.entity_id)) &&
      inRange(n.updated_at, f.updated_at),
  );
  return listPage(
    ctx,
    'notes',
    notes.map((n) => render(ctx, n)),
  );
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
      else checkNoteParams(item.note_type, item.params, errs);
      if (errs.length === 0)
        ok.push({
          requestId: requestIdOf(item, i),
          entityId: eid as number,
          type: item.note_type as string,
          params: item.params as Record<string, unknown>,
          ...(typeof item.created_by === 'number' ? { created_by: item.created_by } : {}),
        });
    }
    if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  const events: OutEvent[] = [];
  const out = ok.map((o) => {
    const n: Note = {
      id: ctx.state.nextId('note'),
      entity_type: kind,
      entity_id: o.entityId,
      created_by: o.created_by ?? ctx.userId,
      updated_by: ctx.userId,
      created_at: ctx.now,
      updated_at: ctx.now,
      responsible_user_id: ctx.userId,
      group_id: ctx.state.users.get(ctx.userId)?.group_id ?? 0,
      note_type: o.type,
      params: o.params,
    };
    ctx.state.notes.set(n.id, n);
    recordNote(ctx.state, n);
    events.push({ setting: SETTING[kind], entity: kind === 'leads' ? 'leads' : 'contacts', action: 'note', item: noteItem(ctx.state, n) });
    return { id: n.id, entity_id: n.entity_id, request_id: o.requestId, _links: link(ctx, `/api/v4/${kind}/${n.entity_id}/notes/${n.id}`) };
  });
  void ctx.hooks.emit(events);
  return hal(200, { _links: link(ctx, ctx.req.path), _embedded: { notes: out } });
};

/**
 * events-and-notes "Редактирование примечаний": a batch (array, each with `id`) or one model at
 * `…/notes/{id}`; answer `{id, entity_id, updated_at, _links}` per note. *assumed*: `params` replace
 * the stored ones and are checked against the note's type like on add; `note_type`, when given,
 * must be the note's own (a note does not change type); a note not on the path's entity → `NotFound`.
 * `PATCH /api/v4/{entity}/notes/{id}` is not in the doc (its GET twin is): served the same way, *assumed*.
 */
function patch(one: boolean): RestHandler {
  return (ctx) => {
    const kind = ctx.params.entity as EntityKind;
    const pathEntity = ctx.params.entityId ? Number(ctx.params.entityId) : undefined;
    const read = readItems(ctx, one ? Number(ctx.params.id) : undefined);
    if (!read.ok) return read.res;
    const failed: RequestErrors[] = [];
    const ok: Array<{ note: Note; params?: Record<string, unknown> }> = [];
    read.value.forEach((item, i) => {
      const errs: FieldError[] = [];
      if (!isRecord(item)) errs.push(E.type('item', 'object'));
      else {
        const n = typeof item.id === 'number' ? ctx.state.notes.get(item.id) : undefined;
        if (item.id === undefined) errs.push(E.blank('id'));
        else if (!n || n.entity_type !== kind || (pathEntity !== undefined && n.entity_id !== pathEntity)) errs.push(E.notFound('id'));
        else {
          if (item.entity_id !== undefined && item.entity_id !== n.entity_id)
            errs.push(E.invalid('entity_id', 'A note does not move to another entity.'));
          if (item.note_type !== undefined && item.note_type !== n.note_type) errs.push(E.choice('note_type'));
          if (item.params !== undefined) checkNoteParams(n.note_type, item.params, errs);
          if (errs.length === 0) ok.push({ note: n, ...(isRecord(item.params) ? { params: item.params } : {}) });
        }
      }
      if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
    });
    if (failed.length) return validationFailed(failed);
    const out = ok.map(({ note, params }) => {
      if (params) note.params = params;
      note.updated_at = ctx.now;
      note.updated_by = ctx.userId;
      return {
        id: note.id,
        entity_id: note.entity_id,
        updated_at: note.updated_at,
        _links: link(ctx, `/api/v4/${note.entity_type}/${note.entity_id}/notes/${note.id}`),
      };
    });
    return one ? hal(200, out[0]) : hal(200, { _links: link(ctx, ctx.req.path), _embedded: { notes: out } });
  };
}

export function noteRoutes(): RestRoute[] {
  return [
    { method: 'PATCH', template: '/api/v4/{entity}/notes', handler: patch(false) },
    { method: 'PATCH', template: '/api/v4/{entity}/{entityId}/notes', handler: patch(false) },
    { method: 'PATCH', template: '/api/v4/{entity}/{entityId}/notes/{id}', handler: patch(true) },
    { method: 'PATCH', template: '/api/v4/{entity}/notes/{id}', handler: patch(true) },
    {
      method: 'GET',
      template: '/api/v4/{entity}/notes/{id}',
      handler: (ctx) => {
        const n = ctx.state.notes.get(Number(ctx.params.id));
        return n && n.entity_type === ctx.params.entity ? hal(200, render(ctx, n)) : noContent();
      },
    },
    { method: 'GET', template: '/api/v4/{entity}/notes', handler: list },
    { method: 'POST', template: '/api/v4/{entity}/notes', handler: add },
    { method: 'GET', template: '/api/v4/{entity}/{entityId}/notes', handler: list },
    { method: 'POST', template: '/api/v4/{entity}/{entityId}/notes', handler: add },
    {
      method: 'GET',
      template: '/api/v4/{entity}/{entityId}/notes/{id}',
      handler: (ctx) => {
        const n = ctx.state.notes.get(Number(ctx.params.id));
        return n && n.entity_type === ctx.params.entity && n.entity_id === Number(ctx.params.entityId)
          ? hal(200, render(ctx, n))
          : noContent();
      },
    },
  ];
}
