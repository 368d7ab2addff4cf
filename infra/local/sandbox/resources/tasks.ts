/**
 * `/api/v4/tasks` (docs/amocrm-protocol.md#tasks): add requires `text` and `complete_till`; the responsible user defaults
 * to the current user; list filters `filter[responsible_user_id|is_completed|task_type|entity_type|
 * entity_id|id|updated_at]`, `order` by created_at|complete_till|id, limit 250.
 */
import { E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import type { OutEvent } from '../events.ts';
import { hal, isRecord, noContent, queryInts, queryList } from '../http-util.ts';
import type { RestCtx, RestHandler, RestRoute } from '../router.ts';
import type { EntityKind, Task } from '../state.ts';
import { taskItem } from '../webhook-items.ts';
import { Check, ifModifiedSince, inRange, link, listPage, readBatch, readObject, requestIdOf, sortBy } from './common.ts';

const TASK_ENTITY_TYPES = ['leads', 'contacts', 'companies', 'customers'];

export function renderTask(ctx: RestCtx, t: Task): Record<string, unknown> {
  return {
    id: t.id,
    created_by: t.created_by,
    updated_by: t.updated_by,
    created_at: t.created_at,
    updated_at: t.updated_at,
    responsible_user_id: t.responsible_user_id,
    group_id: t.group_id,
    entity_id: t.entity_id,
    entity_type: t.entity_type,
    is_completed: t.is_completed,
    task_type_id: t.task_type_id,
    text: t.text,
    duration: t.duration,
    complete_till: t.complete_till,
    result: t.result ?? [],
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/tasks/${t.id}`),
  };
}

interface TaskOp {
  requestId: string;
  id?: number;
  set: Partial<Task>;
}

function validateTask(
  ctx: RestCtx,
  raw: unknown,
  i: number,
  mode: 'add' | 'update',
  errs: FieldError[],
  pathId?: number,
): TaskOp | undefined {
  if (!isRecord(raw)) {
    errs.push(E.type('item', 'object'));
    return undefined;
  }
  const c = new Check(errs);
  const op: TaskOp = { requestId: requestIdOf(raw, i), set: {} };
  const before = errs.length;
  if (mode === 'update') {
    const id = pathId ?? c.int(raw, 'id');
    if (typeof id !== 'number') {
      if (raw.id === undefined) errs.push(E.blank('id'));
      return undefined;
    }
    if (!ctx.state.tasks.has(id)) {
      errs.push(E.notFound('id'));
      return undefined;
    }
    op.id = id;
  }
  const text = c.str(raw, 'text', { required: mode === 'add' });
  if (text !== undefined) op.set.text = text;
  const till = c.int(raw, 'complete_till', { min: 0 });
  if (typeof till === 'number') op.set.complete_till = till;
  else if (mode === 'add' && raw.complete_till === undefined) errs.push(E.blank('complete_till'));
  const resp = c.int(raw, 'responsible_user_id');
  if (typeof resp === 'number') {
    if (ctx.state.users.has(resp)) op.set.responsible_user_id = resp;
    else errs.push(E.choice('responsible_user_id'));
  }
  const type = c.int(raw, 'task_type_id');
  if (typeof type === 'number') {
    if (ctx.state.taskTypes.has(type)) op.set.task_type_id = type;
    else errs.push(E.choice('task_type_id'));
  }
  for (const k of ['duration', 'created_by', 'updated_by', 'created_at', 'updated_at'] as const) {
    const v = c.int(raw, k, { min: 0 });
    if (typeof v === 'number') op.set[k] = v;
  }
  const done = c.bool(raw, 'is_completed');
  if (done !== undefined) op.set.is_completed = done;
  if (raw.result !== undefined) {
    if (isRecord(raw.result) && typeof raw.result.text === 'string') op.set.result = { text: raw.result.text };
    else errs.push(E.type('result.text', 'string'));
  }
  if (raw.entity_type !== undefined || raw.entity_id !== undefined) {
    const et = c.str(raw, 'entity_type', { required: true });
    const eid = c.int(raw, 'entity_id');
    if (et !== undefined && !TASK_ENTITY_TYPES.includes(et)) errs.push(E.choice('entity_type'));
    else if (et !== undefined && typeof eid === 'number') {
      // *assumed*: the entity must exist (customers are not simulated, so they never do).
      if (et === 'customers' || !ctx.state.entityMap(et as EntityKind).has(eid)) errs.push(E.notFound('entity_id'));
      else {
        op.set.entity_type = et;
        op.set.entity_id = eid;
      }
    } else if (raw.entity_id === undefined) errs.push(E.blank('entity_id'));
  }
  return errs.length === before ? op : undefined;
}

function applyTask(ctx: RestCtx, op: TaskOp): { task: Task; events: OutEvent[] } {
  const s = op.set;
  if (op.id === undefined) {
    const responsible = s.responsible_user_id ?? ctx.userId;
    const t: Task = {
      id: ctx.state.nextId('task'),
      created_by: s.created_by ?? ctx.userId,
      updated_by: s.updated_by ?? ctx.userId,
      created_at: s.created_at ?? ctx.now,
      updated_at: s.updated_at ?? ctx.now,
      responsible_user_id: responsible,
      group_id: ctx.state.users.get(responsible)?.group_id ?? 0,
      entity_id: s.entity_id ?? null,
      entity_type: s.entity_type ?? null,
      is_completed: s.is_completed ?? false,
      task_type_id: s.task_type_id ?? 1,
      text: s.text ?? '',
      duration: s.duration ?? 0,
      complete_till: s.complete_till ?? ctx.now,
      result: s.result ?? null,
    };
    ctx.state.tasks.set(t.id, t);
    return { task: t, events: [{ setting: 'add_task', entity: 'task', action: 'add', item: taskItem(ctx.state, t) }] };
  }
  const t = ctx.state.tasks.get(op.id);
  if (!t) throw new Error(`task ${op.id} vanished between validation and apply`);
  const oldResponsible = t.responsible_user_id;
  Object.assign(t, s);
  t.updated_at = s.updated_at ?? ctx.now;
  t.updated_by = s.updated_by ?? ctx.userId;
  const events: OutEvent[] = [];
  // webhooks-api lists `responsible_task`; its item is *assumed* to be the task's with
  // `old_responsible_user_id`, as `leads[responsible]` is (docs/amocrm-protocol.md#delivery-format, fixture webhook-08).
  if (t.responsible_user_id !== oldResponsible) {
    events.push({
      setting: 'responsible_task',
      entity: 'task',
      action: 'responsible',
      item: { ...taskItem(ctx.state, t), old_responsible_user_id: String(oldResponsible) },
    });
  }
  events.push({ setting: 'update_task', entity: 'task', action: 'update', item: taskItem(ctx.state, t) });
  return { task: t, events };
}

function write(mode: 'add' | 'update'): RestHandler {
  return (ctx) => {
    const body = readBatch(ctx);
    if (!body.ok) return body.res;
    const ops: TaskOp[] = [];
    const failed: RequestErrors[] = [];
    body.value.forEach((item, i) => {
      const errs: FieldError[] = [];
      const op = validateTask(ctx, item, i, mode, errs);
      if (op) ops.push(op);
      else failed.push({ request_id: requestIdOf(item, i), errors: errs });
    });
    if (failed.length) return validationFailed(failed);
    const events: OutEvent[] = [];
    const out = ops.map((op) => {
      const { task, events: mine } = applyTask(ctx, op);
      events.push(...mine);
      return mode === 'add'
        ? { id: task.id, request_id: op.requestId, _links: link(ctx, `/api/v4/tasks/${task.id}`) }
        : { id: task.id, updated_at: task.updated_at, request_id: op.requestId, _links: link(ctx, `/api/v4/tasks/${task.id}`) };
    });
    void ctx.hooks.emit(events);
    return hal(200, { _links: link(ctx, '/api/v4/tasks'), _embedded: { tasks: out } });
  };
}

/**
 * tasks-api `filter[updated_at]`: "Можно передать timestamp, в таком случае будут возвращены задачи,
 * которые были изменены после переданного значения" — a bare timestamp means "changed after" (strictly
 * after: *assumed*), `[from]`/`[to]` bound both ways (inclusive, *assumed*), as for the other lists.
 */
function updatedFilter(updatedAt: number, f: unknown): boolean {
  if (f === undefined || isRecord(f) || Array.isArray(f)) return inRange(updatedAt, f);
  const after = Number(f);
  return Number.isFinite(after) ? updatedAt > after : true;
}

function list(ctx: RestCtx) {
  const f = isRecord(ctx.query.filter) ? ctx.query.filter : {};
  const ids = queryInts(f.id);
  const resp = queryInts(f.responsible_user_id);
  const types = queryInts(f.task_type);
  const entTypes = queryList(f.entity_type);
  const entIds = queryInts(f.entity_id);
  const done = f.is_completed === undefined ? undefined : ['1', 'true'].includes(String(f.is_completed));
  const since = ifModifiedSince(ctx);
  const tasks = [...ctx.state.tasks.values()].filter(
    (t) =>
      (!ids || ids.includes(t.id)) &&
      (!resp || resp.includes(t.responsible_user_id)) &&
      (!types || types.includes(t.task_type_id)) &&
      (entTypes.length === 0 || (t.entity_type !== null && entTypes.includes(t.entity_type))) &&
      (!entIds || (t.entity_id !== null && entIds.includes(t.entity_id))) &&
      (done === undefined || t.is_completed === done) &&
      updatedFilter(t.updated_at, f.updated_at) &&
      (since === undefined || t.updated_at > since),
  );
  return listPage(
    ctx,
    'tasks',
    sortBy(ctx, tasks, ['created_at', 'complete_till', 'id']).map((t) => renderTask(ctx, t)),
  );
}

export function taskRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/tasks', handler: list },
    { method: 'POST', template: '/api/v4/tasks', handler: write('add') },
    { method: 'PATCH', template: '/api/v4/tasks', handler: write('update') },
    {
      method: 'GET',
      template: '/api/v4/tasks/{id}',
      handler: (ctx) => {
        const t = ctx.state.tasks.get(Number(ctx.params.id));
        return t ? hal(200, renderTask(ctx, t)) : noContent();
      },
    },
    {
      method: 'PATCH',
      template: '/api/v4/tasks/{id}',
      handler: (ctx) => {
        const body = readObject(ctx);
        if (!body.ok) return body.res;
        const errs: FieldError[] = [];
        const op = validateTask(ctx, body.value, 0, 'update', errs, Number(ctx.params.id));
        if (!op) return validationFailed([{ request_id: requestIdOf(body.value, 0), errors: errs }]);
        const { task, events } = applyTask(ctx, op);
        void ctx.hooks.emit(events);
        return hal(200, { id: task.id, updated_at: task.updated_at, _links: link(ctx, `/api/v4/tasks/${task.id}`) });
      },
    },
  ];
}
