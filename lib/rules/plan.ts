/**
 * What a fired rule writes (pure): tasks, one PATCH of the entity (fields, tags, status) and
 * notes. A value is written only when it differs from what the event already shows, so the
 * update webhook our own PATCH causes plans nothing (README.md here: no loops).
 */
import type { TaskCreate, NoteCreate } from '../amocrm/client/resources/tasks-notes.ts';
import { encodeFieldValue, type CustomFieldWrite } from '../amocrm/client/custom-fields.ts';
import type { EntityPatch } from '../amocrm/client/batching.ts';
import type { AccountSchema } from '../amocrm/client/schema.ts';
import type { CustomFieldValue } from '../amocrm/entities.ts';
import type { RuleEntity } from './match.ts';
import { fieldInput, type CompiledRule, type TaskDue } from './resolve.ts';
import { renderTemplate, type TemplateScope } from './template.ts';
import { normalizePhones } from './phones.ts';

export interface PlannedTask {
  task: TaskCreate;
  /** Set when the responsible is picked round-robin: the executor asks the state for it. */
  roundRobin?: { key: string; userIds: number[] };
}

export interface RulePlan {
  rule: string;
  entity: 'lead' | 'contact';
  entityId: number;
  tasks: PlannedTask[];
  /** Undefined when nothing differs. */
  patch?: EntityPatch;
  notes: NoteCreate[];
  /** normalizePhones: how many phone values were left as they are (not a valid number, or with an extension). */
  phonesLeft?: number;
}

export interface PlanContext {
  /** Epoch ms of the event (its entity's updated_at; the receipt when it has none): due times count from it (the same for every delivery). */
  eventTime: number;
  schema: AccountSchema;
  timeZone: string;
}

export function planRule(rule: CompiledRule, data: RuleEntity, ctx: PlanContext): RulePlan {
  const entityType = rule.entity === 'lead' ? 'leads' : 'contacts';
  const scope = scopeOf(data, ctx.schema);
  const plan: RulePlan = { rule: rule.id, entity: rule.entity, entityId: data.id, tasks: [], notes: [] };
  const patch: EntityPatch = { id: data.id };
  let changed = false;
  for (const a of rule.then) {
    switch (a.kind) {
      case 'task': {
        const task: TaskCreate = {
          task_type_id: a.taskTypeId,
          text: renderTemplate(a.text, scope),
          complete_till: dueAt(a.due, ctx.eventTime, ctx.timeZone),
          entity_id: data.id,
          entity_type: entityType,
        };
        const r = a.responsible;
        const planned: PlannedTask = { task };
        if (r.kind === 'current') {
          if (data.responsible_user_id !== undefined) task.responsible_user_id = data.responsible_user_id;
        } else if (r.kind === 'user') task.responsible_user_id = r.userId;
        else if (r.kind === 'pipeline') {
          const u = data.pipeline_id !== undefined ? r.byPipeline.get(data.pipeline_id) : undefined;
          const fallback = data.responsible_user_id;
          if (u !== undefined) task.responsible_user_id = u;
          else if (fallback !== undefined) task.responsible_user_id = fallback;
        } else planned.roundRobin = { key: `${rule.account}:${rule.id}`, userIds: r.userIds };
        plan.tasks.push(planned);
        break;
      }
      case 'setFields': {
        for (const f of a.fields) {
          const raw = f.value !== null && typeof f.value === 'object' ? renderTemplate(f.value, scope) : f.value;
          const write = encodeFieldValue(f.def, fieldInput(f.def, raw));
          if (sameAsShown(write, data.custom_fields_values)) continue;
          patch.custom_fields_values = [...(patch.custom_fields_values ?? []).filter((w) => fieldIdOf(w) !== f.def.id), write];
          changed = true;
        }
        break;
      }
      case 'addTags': {
        const shown = new Set((data._embedded?.tags ?? []).map((t) => t.name.toLowerCase()));
        const add = a.names.filter((n) => !shown.has(n.toLowerCase()));
        if (add.length) {
          patch.tags_to_add = [...(patch.tags_to_add ?? []), ...add.map((name) => ({ name }))];
          changed = true;
        }
        break;
      }
      case 'removeTags': {
        const shown = new Set((data._embedded?.tags ?? []).map((t) => t.id));
        const del = a.ids.filter((id) => shown.has(id));
        if (del.length) {
          patch.tags_to_delete = [...(patch.tags_to_delete ?? []), ...del.map((id) => ({ id }))];
          changed = true;
        }
        break;
      }
      case 'moveTo': {
        if (data.status_id === a.to.statusId && data.pipeline_id === a.to.pipelineId) break;
        patch.status_id = a.to.statusId;
        patch.pipeline_id = a.to.pipelineId;
        changed = true;
        break;
      }
      case 'normalizePhones': {
        const r = normalizePhones(a.field, data.custom_fields_values, a.defaultCountry);
        if (r.left) plan.phonesLeft = (plan.phonesLeft ?? 0) + r.left;
        if (r.write) {
          patch.custom_fields_values = [...(patch.custom_fields_values ?? []).filter((w) => fieldIdOf(w) !== a.field.id), r.write];
          changed = true;
        }
        break;
      }
      case 'note':
        plan.notes.push({ entity_id: data.id, note_type: 'common', params: { text: renderTemplate(a.text, scope) } });
        break;
    }
  }
  if (changed) plan.patch = patch;
  return plan;
}

/** Is this plan a no-op (nothing to write)? */
export function isEmptyPlan(p: RulePlan): boolean {
  return p.tasks.length === 0 && p.patch === undefined && p.notes.length === 0;
}

function scopeOf(d: RuleEntity, schema: AccountSchema): TemplateScope {
  const p = schema.json.pipelines.find((x) => x.id === d.pipeline_id);
  const s = p?.statuses.find((x) => x.id === d.status_id);
  const u = schema.json.users.find((x) => x.id === d.responsible_user_id);
  return {
    id: d.id,
    name: d.name,
    price: d.price,
    custom_fields_values: d.custom_fields_values,
    statusName: s?.name,
    pipelineName: p?.name,
    responsibleName: u?.name,
  };
}

const fieldIdOf = (w: CustomFieldWrite): number | string => ('field_id' in w ? w.field_id : w.field_code);

/** Does the event already show exactly this value (or, for a clear, no value)? */
function sameAsShown(write: CustomFieldWrite, shown: CustomFieldValue[] | null | undefined): boolean {
  const id = fieldIdOf(write);
  const cur = shown?.find((v) => v.field_id === id || v.field_code === id);
  if (write.values === null) return !cur || !cur.values?.length;
  if (!cur?.values) return false;
  const key = (v: { value?: unknown; enum_id?: number }) => (v.enum_id !== undefined ? `e${v.enum_id}` : `v${String(v.value)}`);
  const a = write.values.map(key).sort();
  const b = cur.values
    .map((v) => (v.enum_id !== undefined && a.some((k) => k.startsWith('e')) ? `e${v.enum_id}` : `v${String(v.value)}`))
    .sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Unix seconds of the task's deadline. */
export function dueAt(due: TaskDue, eventTimeMs: number, timeZone: string): number {
  if (due.kind === 'in') return Math.floor(eventTimeMs / 1000) + due.seconds;
  const local = localParts(eventTimeMs, timeZone);
  let t = zonedToUtc(local.y, local.m, local.d + due.days, due.hour, due.minute, timeZone);
  // "at 10:00" with days 0 means the next 10:00: tomorrow when today's has passed.
  if (due.days === 0 && t <= eventTimeMs) t = zonedToUtc(local.y, local.m, local.d + 1, due.hour, due.minute, timeZone);
  return Math.floor(t / 1000);
}

function localParts(ms: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number } {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), h: Number(p.hour), min: Number(p.minute) };
}

/** Epoch ms of a wall-clock time in `timeZone` (days may overflow the month: Date.UTC normalises). */
function zonedToUtc(y: number, m: number, d: number, h: number, min: number, timeZone: string): number {
  const wall = Date.UTC(y, m - 1, d, h, min);
  let t = wall;
  for (let i = 0; i < 2; i++) {
    const l = localParts(t, timeZone);
    const offset = Date.UTC(l.y, l.m - 1, l.d, l.h, l.min) - Math.floor(t / 60_000) * 60_000;
    t = wall - offset;
  }
  return t;
}
