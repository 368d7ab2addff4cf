/**
 * Which rules an event fires (pure): the rule's account and event kind, the stage change
 * (`from` → `to`), then every `if` condition over what the event itself shows.
 */
import type { CustomFieldValue, Tag } from '../amocrm/entities.ts';
import type { WebhookEvent } from '../amocrm/webhooks/types.ts';
import { fieldText } from './template.ts';
import type { CompiledRule, StatusId } from './resolve.ts';

/** The entity data of the events rules listen to (leads and contacts). */
export interface RuleEntity {
  id: number;
  name?: string;
  price?: number;
  status_id?: number;
  pipeline_id?: number;
  old_status_id?: number;
  old_pipeline_id?: number;
  responsible_user_id?: number;
  source_id?: number | null;
  custom_fields_values?: CustomFieldValue[] | null;
  _embedded?: { tags?: Tag[] };
}

/** The event's entity when it is one rules can act on (lead or contact with an id), else undefined. */
export function ruleEntity(ev: WebhookEvent): { entity: 'lead' | 'contact'; data: RuleEntity } | undefined {
  if (ev.kind === 'raw') return undefined;
  if (ev.entity !== 'lead' && ev.entity !== 'contact') return undefined;
  const data = ev.data as RuleEntity;
  if (typeof data?.id !== 'number') return undefined;
  return { entity: ev.entity, data };
}

const statusIs = (s: StatusId, statusId: number | undefined, pipelineId: number | undefined): boolean =>
  statusId === s.statusId && (s.pipelineId === undefined || pipelineId === undefined || pipelineId === s.pipelineId);

export function ruleMatches(rule: CompiledRule, account: string, ev: WebhookEvent): boolean {
  if (rule.account !== account || !rule.kinds.includes(ev.kind)) return false;
  const e = ruleEntity(ev);
  if (!e || e.entity !== rule.entity) return false;
  const d = e.data;
  if (rule.to && !statusIs(rule.to, d.status_id, d.pipeline_id)) return false;
  // amoCRM's account webhooks carry no old_pipeline_id; a move between pipelines is matched on the status alone.
  if (rule.from && !statusIs(rule.from, d.old_status_id, d.old_pipeline_id)) return false;
  const c = rule.if;
  if (c.statuses && !c.statuses.some((s) => statusIs(s, d.status_id, d.pipeline_id))) return false;
  if (c.pipelines && (d.pipeline_id === undefined || !c.pipelines.includes(d.pipeline_id))) return false;
  const tags = new Set((d._embedded?.tags ?? []).map((t) => t.id).filter((x): x is number => typeof x === 'number'));
  if (c.tagsAll && !c.tagsAll.every((t) => tags.has(t))) return false;
  if (c.tagsNone && c.tagsNone.some((t) => tags.has(t))) return false;
  if (c.responsible && (d.responsible_user_id === undefined || !c.responsible.includes(d.responsible_user_id))) return false;
  if (c.source && (typeof d.source_id !== 'number' || !c.source.includes(d.source_id))) return false;
  for (const f of c.fields ?? []) {
    const text = fieldText(d.custom_fields_values, f.def.id);
    const values = (d.custom_fields_values?.find((v) => v.field_id === f.def.id)?.values ?? []).map((v) =>
      v.value === undefined || v.value === null ? '' : String(v.value),
    );
    if (f.op === 'empty' && (text === '') !== f.value) return false;
    if (f.op === 'contains' && !text.toLowerCase().includes(String(f.value).toLowerCase())) return false;
    if (f.op === 'equals') {
      const want = String(f.value);
      // Checkboxes arrive as "1"/"0" or true/false depending on the sender.
      const norm = (s: string) => (f.def.type === 'checkbox' ? String(s === '1' || s === 'true') : s);
      if (!values.some((v) => norm(v) === norm(want))) return false;
    }
  }
  return true;
}

/** The rules `ev` fires, in config order. */
export function matchRules(rules: readonly CompiledRule[], account: string, ev: WebhookEvent): CompiledRule[] {
  return rules.filter((r) => ruleMatches(r, account, ev));
}
