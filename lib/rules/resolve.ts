/**
 * Rules with names → rules with ids, against each account's pulled dictionary (README.md here).
 * Every problem of every rule is collected and reported at once, each with the rule's path
 * (`rules.list[2] "new-lead-call" then[0].task.type`) and the closest candidates, so a typo
 * fails synth, `npm start` and the CLI before anything runs.
 */
import type { AccountSchema } from '../amocrm/client/schema.ts';
import { encodeFieldValue, type FieldDefinition } from '../amocrm/client/custom-fields.ts';
import type { MainEntity } from '../amocrm/client/resources/common.ts';
import type { NameOrId, RuleInput, RulesAccountConfig, RulesConfig } from './config.ts';
import type { CountryCode } from '../common/phone.ts';
import { compileTemplate, isConstant, renderTemplate, type Template } from './template.ts';
import { compileCrossAccount, type CrossAccountAction } from './cross-account.ts';

export class RulesConfigError extends Error {
  override readonly name = 'RulesConfigError';
  constructor(readonly issues: string[]) {
    super(`the rules do not resolve against the pulled dictionaries:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
}

export interface StatusId {
  statusId: number;
  /** Undefined for 142/143 named by id: they exist in every pipeline. */
  pipelineId?: number;
}

export type TaskResponsible =
  | { kind: 'current' }
  | { kind: 'pipeline'; byPipeline: ReadonlyMap<number, number> }
  | { kind: 'user'; userId: number }
  | { kind: 'roundRobin'; userIds: number[] };

export type TaskDue = { kind: 'in'; seconds: number } | { kind: 'at'; hour: number; minute: number; days: number };

export type FieldValueSpec = Template | number | boolean | null;

export type CompiledAction =
  | { kind: 'task'; taskTypeId: number; text: Template; due: TaskDue; responsible: TaskResponsible }
  | { kind: 'setFields'; fields: Array<{ def: FieldDefinition; value: FieldValueSpec }> }
  | { kind: 'addTags'; names: string[] }
  | { kind: 'removeTags'; ids: number[] }
  | { kind: 'moveTo'; to: Required<StatusId> }
  | { kind: 'note'; text: Template }
  | CrossAccountAction
  /** The account's PHONE field (by its system code) and the country of numbers written without one. */
  | { kind: 'normalizePhones'; field: FieldDefinition; defaultCountry: CountryCode };

export interface CompiledRule {
  id: string;
  account: string;
  description?: string;
  /** `rules.list[i] "id"`: where the rule is in the config. */
  path: string;
  entity: 'lead' | 'contact';
  /** Event kinds the rule listens to (`lead.status`, …). */
  kinds: string[];
  from?: StatusId;
  to?: StatusId;
  if: {
    statuses?: StatusId[];
    pipelines?: number[];
    tagsAll?: number[];
    tagsNone?: number[];
    fields?: Array<{ def: FieldDefinition; op: 'equals' | 'contains' | 'empty'; value: string | number | boolean }>;
    responsible?: number[];
    source?: number[];
  };
  then: CompiledAction[];
}

export interface CompiledRules {
  rules: CompiledRule[];
  /** Per account: its dictionary and settings (names for templates, the time zone). */
  accounts: Map<string, { schema: AccountSchema; settings: RulesAccountConfig }>;
  hopLimit: number;
  hopWindowSeconds: number;
}

/** The dictionary file of an account when the config names none. */
export const defaultDictionaryPath = (account: string): string => `schema/${account}.json`;

const KIND_OF: Record<string, string> = {
  'lead:status': 'lead.status',
  'lead:added': 'lead.add',
  'lead:responsible': 'lead.responsible',
  'lead:updated': 'lead.update',
  'contact:added': 'contact.add',
  'contact:updated': 'contact.update',
};

/** Every event kind a rule can listen to (the flow registers for these). */
export const RULE_EVENT_KINDS = [...new Set(Object.values(KIND_OF))];

/**
 * Resolves `config` against the dictionaries `schemas` gives per account (a missing dictionary is
 * an issue of every rule of that account). Throws RulesConfigError listing every problem.
 */
export function resolveRules(config: RulesConfig, schemas: (account: string) => AccountSchema | Error): CompiledRules {
  const issues: string[] = [];
  const accounts = new Map<string, { schema: AccountSchema; settings: RulesAccountConfig }>();
  const settingsOf = (a: string): RulesAccountConfig => config.accounts[a] ?? { timeZone: 'Europe/Moscow' };
  const rules: CompiledRule[] = [];
  config.list.forEach((rule, i) => {
    const path = `rules.list[${i}] "${rule.id}"`;
    let entry = accounts.get(rule.account);
    if (!entry) {
      const s = schemas(rule.account);
      if (s instanceof Error) {
        issues.push(`${path}: no dictionary for account "${rule.account}": ${s.message} (run: amo-gateway schema pull ${rule.account})`);
        return;
      }
      entry = { schema: s, settings: settingsOf(rule.account) };
      accounts.set(rule.account, entry);
    }
    // Another account named by a transfer / syncBack: its dictionary resolves the target's names.
    const other = (a: string): AccountSchema => {
      const known = accounts.get(a);
      if (known) return known.schema;
      const s = schemas(a);
      if (s instanceof Error) throw new Error(`no dictionary for account "${a}": ${s.message} (run: amo-gateway schema pull ${a})`);
      accounts.set(a, { schema: s, settings: settingsOf(a) });
      return s;
    };
    const compiled = compileRule(rule, path, entry.schema, entry.settings, issues, other);
    if (compiled) rules.push(compiled);
  });
  if (issues.length) throw new RulesConfigError(issues);
  return { rules, accounts, hopLimit: config.hopLimit, hopWindowSeconds: config.hopWindowSeconds };
}

function compileRule(
  rule: RuleInput,
  path: string,
  schema: AccountSchema,
  settings: RulesAccountConfig,
  issues: string[],
  other: (account: string) => AccountSchema = () => {
    throw new Error('no other account');
  },
): CompiledRule | undefined {
  const before = issues.length;
  const at = <T>(where: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      issues.push(`${path} ${where}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const entity: 'lead' | 'contact' = 'lead' in rule.when ? 'lead' : 'contact';
  const cfEntity: MainEntity = entity === 'lead' ? 'leads' : 'contacts';
  const kinds = ['lead' in rule.when ? KIND_OF[`lead:${rule.when.lead}`]! : KIND_OF[`contact:${rule.when.contact}`]!];
  const out: CompiledRule = { id: rule.id, account: rule.account, path, entity, kinds, if: {}, then: [] };
  if (rule.description !== undefined) out.description = rule.description;
  if ('lead' in rule.when && rule.when.lead === 'status') {
    const w = rule.when;
    if (w.from !== undefined) {
      const s = at('when.from', () => statusOf(schema, w.from!));
      if (s) out.from = s;
    }
    if (w.to !== undefined) {
      const s = at('when.to', () => statusOf(schema, w.to!));
      if (s) out.to = s;
    }
  }
  const c = rule.if;
  if (c?.status) out.if.statuses = c.status.map((s, j) => at(`if.status[${j}]`, () => statusOf(schema, s))).filter(isDefined);
  if (c?.pipeline) out.if.pipelines = c.pipeline.map((p, j) => at(`if.pipeline[${j}]`, () => pipelineOf(schema, p))).filter(isDefined);
  if (c?.tags?.all) out.if.tagsAll = c.tags.all.map((t, j) => at(`if.tags.all[${j}]`, () => tagOf(schema, cfEntity, t))).filter(isDefined);
  if (c?.tags?.none)
    out.if.tagsNone = c.tags.none.map((t, j) => at(`if.tags.none[${j}]`, () => tagOf(schema, cfEntity, t))).filter(isDefined);
  if (c?.responsible)
    out.if.responsible = c.responsible.map((u, j) => at(`if.responsible[${j}]`, () => userOf(schema, u))).filter(isDefined);
  if (c?.source) {
    if (entity !== 'lead') issues.push(`${path} if.source: only lead rules have a source`);
    out.if.source = [...c.source];
  }
  if (c?.fields) {
    out.if.fields = c.fields
      .map((f, j) =>
        at(`if.fields[${j}]`, () => {
          const def = fieldOf(schema, cfEntity, f.field);
          if ('equals' in f) return { def, op: 'equals' as const, value: f.equals };
          if ('contains' in f) return { def, op: 'contains' as const, value: f.contains };
          return { def, op: 'empty' as const, value: f.empty };
        }),
      )
      .filter(isDefined);
  }
  rule.then.forEach((a, j) => {
    const where = `then[${j}]`;
    const field = (name: string) => fieldOf(schema, cfEntity, name);
    let compiled: CompiledAction | undefined;
    if ('task' in a) {
      const t = a.task;
      compiled = at(`${where}.task`, () => {
        const taskTypeId = typeof t.type === 'number' ? t.type : schema.taskType(t.type);
        const text = compileTemplate(t.text, field);
        const due: TaskDue =
          'in' in t.due
            ? { kind: 'in', seconds: t.due.in }
            : { kind: 'at', hour: Number(t.due.at.slice(0, 2)), minute: Number(t.due.at.slice(3)), days: t.due.days ?? 0 };
        let responsible: TaskResponsible;
        if (t.responsible === 'current') responsible = { kind: 'current' };
        else if (t.responsible === 'pipeline') {
          const map = new Map<number, number>();
          for (const [p, u] of Object.entries(settings.pipelineResponsible ?? {}))
            map.set(pipelineOf(schema, /^\d+$/.test(p) ? Number(p) : p), userOf(schema, u));
          if (!map.size) throw new Error(`responsible "pipeline" needs rules.accounts.${rule.account}.pipelineResponsible`);
          responsible = { kind: 'pipeline', byPipeline: map };
        } else if ('user' in t.responsible) responsible = { kind: 'user', userId: userOf(schema, t.responsible.user) };
        else responsible = { kind: 'roundRobin', userIds: t.responsible.roundRobin.map((u) => userOf(schema, u)) };
        return { kind: 'task', taskTypeId, text, due, responsible };
      });
    } else if ('setFields' in a) {
      const fields: Array<{ def: FieldDefinition; value: FieldValueSpec }> = [];
      for (const [name, v] of Object.entries(a.setFields)) {
        const f = at(`${where}.setFields["${name}"]`, () => {
          const def = field(name);
          const value: FieldValueSpec = typeof v === 'string' ? compileTemplate(v, field) : v;
          // A constant value is checked against the field's type and options now, not at the first event.
          if (value === null || typeof value !== 'object' || isConstant(value))
            encodeFieldValue(def, fieldInput(def, typeof value === 'object' && value !== null ? renderTemplate(value, { id: 0 }) : value));
          return { def, value };
        });
        if (f) fields.push(f);
      }
      compiled = { kind: 'setFields', fields };
    } else if ('addTags' in a) {
      compiled = { kind: 'addTags', names: [...a.addTags] };
    } else if ('removeTags' in a) {
      compiled = {
        kind: 'removeTags',
        ids: a.removeTags.map((t, k) => at(`${where}.removeTags[${k}]`, () => tagOf(schema, cfEntity, t))).filter(isDefined),
      };
    } else if ('moveTo' in a) {
      compiled = at(`${where}.moveTo`, () => {
        if (entity !== 'lead') throw new Error('only leads have a status');
        const s = statusOf(schema, a.moveTo);
        if (s.pipelineId === undefined) throw new Error(`status ${s.statusId} is in every pipeline: name it "Pipeline / Status"`);
        return { kind: 'moveTo', to: { statusId: s.statusId, pipelineId: s.pipelineId } };
      });
    } else if ('transfer' in a || 'syncBack' in a) {
      compiled = at(`${where}.${'transfer' in a ? 'transfer' : 'syncBack'}`, () => {
        if (entity !== 'lead') throw new Error('only leads are transferred');
        return compileCrossAccount(a, rule.account, schema, other);
      });
    } else if ('normalizePhones' in a) {
      compiled = at(`${where}.normalizePhones`, () => {
        if (entity !== 'contact') throw new Error("only contact rules: a lead event does not carry its contacts' phones");
        // The config's refine checked the code against libphonenumber's list.
        const defaultCountry = a.normalizePhones.defaultCountry as CountryCode;
        return { kind: 'normalizePhones', field: schema.fieldByCode('contacts', 'PHONE'), defaultCountry };
      });
    } else {
      compiled = at(`${where}.note`, () => ({ kind: 'note', text: compileTemplate(a.note.text, field) }));
    }
    if (compiled) out.then.push(compiled);
  });
  return issues.length === before ? out : undefined;
}

const isDefined = <T>(x: T | undefined): x is T => x !== undefined;

/** "Pipeline / Status" (split on the last " / "), a status name found in exactly one pipeline, or an id. */
export function statusOf(schema: AccountSchema, ref: NameOrId): StatusId {
  const pipelines = schema.json.pipelines;
  if (typeof ref === 'number') {
    const owners = pipelines.filter((p) => p.statuses.some((s) => s.id === ref));
    if (!owners.length) throw new Error(`no status with id ${ref} in the dictionary`);
    return owners.length === 1 ? { statusId: ref, pipelineId: owners[0]!.id } : { statusId: ref };
  }
  const cut = ref.lastIndexOf(' / ');
  if (cut > 0) {
    const s = schema.status(ref.slice(0, cut), ref.slice(cut + 3));
    return { statusId: s.statusId, pipelineId: s.pipelineId };
  }
  const owners = pipelines.flatMap((p) =>
    p.statuses.filter((s) => s.name.trim().toLowerCase() === ref.trim().toLowerCase()).map((s) => ({ p, s })),
  );
  if (owners.length === 1) return { statusId: owners[0]!.s.id, pipelineId: owners[0]!.p.id };
  if (owners.length > 1)
    throw new Error(
      `status "${ref}" is ambiguous: it is in ${owners.map((o) => `"${o.p.name} / ${o.s.name}"`).join(', ')}; name it "Pipeline / Status"`,
    );
  const all = pipelines.flatMap((p) => p.statuses.map((s) => `"${p.name} / ${s.name}"`));
  throw new Error(`unknown status "${ref}" (statuses: ${all.slice(0, 8).join(', ')}${all.length > 8 ? ', …' : ''})`);
}

function pipelineOf(schema: AccountSchema, ref: NameOrId): number {
  if (typeof ref === 'number') {
    if (!schema.json.pipelines.some((p) => p.id === ref)) throw new Error(`no pipeline with id ${ref} in the dictionary`);
    return ref;
  }
  return schema.pipeline(ref).id;
}

function tagOf(schema: AccountSchema, entity: MainEntity, ref: NameOrId): number {
  if (typeof ref === 'number') return ref;
  return schema.tag(entity, ref);
}

function userOf(schema: AccountSchema, ref: NameOrId): number {
  if (typeof ref === 'number') {
    if (!schema.json.users.some((u) => u.id === ref)) throw new Error(`no user with id ${ref} in the dictionary`);
    return ref;
  }
  return schema.user(ref);
}

export function fieldOf(schema: AccountSchema, entity: MainEntity, ref: NameOrId | string): FieldDefinition {
  if (typeof ref === 'number') {
    const f = schema.json.customFields[entity].find((d) => d.id === ref);
    if (!f) throw new Error(`no ${entity} field with id ${ref} in the dictionary`);
    return f;
  }
  return schema.field(entity, ref);
}

/**
 * A rendered value → what the client's field codec takes for this field's type: numbers for
 * numeric fields, unix seconds for dates (digits or an ISO date), booleans for checkboxes
 * ("true"/"да"/"1"), option labels for choices (", " between several).
 */
export function fieldInput(def: FieldDefinition, v: string | number | boolean | null): string | number | boolean | string[] | null {
  if (v === null) return null;
  if (typeof v !== 'string') return v;
  if (['date', 'date_time', 'birthday'].includes(def.type)) {
    if (/^\d+$/.test(v)) return Number(v);
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new Error(`field "${def.name}" (${def.type}): "${v}" is not a date`);
    return Math.floor(t / 1000);
  }
  if (def.type === 'checkbox') return ['true', '1', 'да', 'yes'].includes(v.trim().toLowerCase());
  if (['multiselect', 'category'].includes(def.type)) return v.split(', ').filter((s) => s !== '');
  return v;
}
