/**
 * A form's names → the account's ids, against the live dictionaries read through the client's
 * cache (pipelines with statuses, users, lead and contact fields: trusted for the cache's TTL, no
 * request per submission). An unknown or ambiguous name throws PermanentError(`unknown-name`)
 * naming it: the submission is parked, never written somewhere else.
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { FieldDefinition } from '../../amocrm/client/custom-fields.ts';
import type { Pipeline, User } from '../../amocrm/client/resources/dictionaries.ts';
import { PermanentError } from '../../pipeline/outcome.ts';
import type { FormConfig } from './config.ts';
import { DEFAULT_CAPTURE } from './shared.ts';

export const FORMS_PARK_REASONS = {
  invalidPayload: 'invalid-payload',
  unknownForm: 'unknown-form',
  unknownName: 'unknown-name',
} as const;

/** amoCRM's closed stages, the same in every pipeline ([amo-docs leads_pipelines]: 142 won, 143 lost). */
export const WON = 142;
export const LOST = 143;
/** The Unsorted stage's type ([amo-docs leads_pipelines]: `type` 1). */
const UNSORTED_TYPE = 1;

export interface MappedField {
  from: string;
  def: FieldDefinition;
}

export interface ResolvedForm {
  form: FormConfig;
  pipelineId: number;
  statusId: number;
  /** Fixed responsible, or the users taking turns (ids); neither: amoCRM's default. */
  responsible?: { user: number } | { roundRobin: number[] };
  leadFields: MappedField[];
  contactFields: MappedField[];
  /** Capture key → lead field. */
  capture: Array<{ key: string; def: FieldDefinition }>;
  exceptPipelines: ReadonlySet<number>;
  exceptStatuses: ReadonlySet<string>;
  /** Unsorted mode: the pipeline the entry waits in (undefined: the main one). */
  unsortedPipelineId?: number;
}

function unknown(form: FormConfig, what: string, name: string | number, hits: number, options: string[]): PermanentError {
  const near = options
    .slice(0, 8)
    .map((o) => `"${o}"`)
    .join(', ');
  return new PermanentError(
    FORMS_PARK_REASONS.unknownName,
    `form "${form.id}": ${hits === 0 ? 'no' : `${hits}`} ${what}${hits > 1 ? 's' : ''} ${typeof name === 'number' ? `with id ${name}` : `named "${name}"`}${hits === 0 && near ? ` (known: ${near})` : ''}`,
  );
}

/** Exact name first, then trimmed and case-insensitive; a number is an id. */
function byName<T extends { id: number; name: string }>(items: readonly T[], name: string | number): T[] {
  if (typeof name === 'number') return items.filter((i) => i.id === name);
  const exact = items.filter((i) => i.name === name);
  if (exact.length) return exact;
  const n = name.trim().toLowerCase();
  return items.filter((i) => i.name.trim().toLowerCase() === n);
}

function one<T extends { id: number; name: string }>(form: FormConfig, what: string, items: readonly T[], name: string | number): T {
  const hits = byName(items, name);
  if (hits.length === 1) return hits[0] as T;
  throw unknown(
    form,
    what,
    name,
    hits.length,
    items.map((i) => i.name),
  );
}

/** A field by name, id, or amoCRM's field code (UTM_SOURCE, PHONE…). */
function field(form: FormConfig, kind: 'lead' | 'contact', defs: readonly FieldDefinition[], ref: string | number): FieldDefinition {
  const hits = byName(defs, ref);
  if (hits.length === 1) return hits[0] as FieldDefinition;
  if (hits.length === 0 && typeof ref === 'string') {
    const coded = defs.filter((d) => d.code && d.code.toUpperCase() === ref.toUpperCase());
    if (coded.length === 1) return coded[0] as FieldDefinition;
  }
  throw unknown(
    form,
    `${kind} field`,
    ref,
    hits.length,
    defs.map((d) => d.name),
  );
}

function user(form: FormConfig, users: readonly User[], ref: string | number): number {
  const hits =
    typeof ref === 'string' && ref.includes('@') ? users.filter((u) => u.email.toLowerCase() === ref.toLowerCase()) : byName(users, ref);
  if (hits.length === 1) return (hits[0] as User).id;
  throw unknown(
    form,
    'user',
    ref,
    hits.length,
    users.map((u) => u.name),
  );
}

/** The first working stage of a pipeline: by sort, skipping Unsorted and the closed ones (amoCRM's own default for a new lead). */
function firstStage(p: Pipeline): number | undefined {
  return [...p._embedded.statuses].sort((a, b) => a.sort - b.sort).find((s) => s.type !== UNSORTED_TYPE && s.id !== WON && s.id !== LOST)
    ?.id;
}

export async function resolveForm(api: AmoClientForAccount, form: FormConfig): Promise<ResolvedForm> {
  const [pipelines, users, leadDefs, contactDefs] = await Promise.all([
    api.pipelines.list(),
    form.responsible ? api.users.list() : Promise.resolve([] as User[]),
    api.customFields('leads').list(),
    api.customFields('contacts').list(),
  ]);
  const pipelineOf = (ref: string | number) => one(form, 'pipeline', pipelines, ref);
  const statusOf = (p: Pipeline, ref: string | number) => one(form, `status of pipeline "${p.name}"`, p._embedded.statuses, ref).id;

  const pipe = pipelineOf(form.lead.pipeline);
  const statusId = form.lead.status !== undefined ? statusOf(pipe, form.lead.status) : firstStage(pipe);
  if (statusId === undefined) throw unknown(form, `working status of pipeline "${pipe.name}"`, '(first)', 0, []);

  const responsible = !form.responsible
    ? undefined
    : 'user' in form.responsible
      ? { user: user(form, users, form.responsible.user) }
      : { roundRobin: form.responsible.roundRobin.map((u) => user(form, users, u)) };

  const leadFields: MappedField[] = [];
  const contactFields: MappedField[] = [];
  for (const m of form.mapping) {
    if (m.to === 'lead') leadFields.push({ from: m.from, def: field(form, 'lead', leadDefs, m.field) });
    else contactFields.push({ from: m.from, def: field(form, 'contact', contactDefs, m.field) });
  }
  // Capture: a target named in the config must exist; the built-in defaults only where the
  // account has them (an account without tracking fields must not park every submission).
  const capture: ResolvedForm['capture'] = [];
  for (const [key, target] of Object.entries(form.capture === false ? {} : form.capture)) {
    try {
      capture.push({ key, def: field(form, 'lead', leadDefs, target) });
    } catch (e) {
      if (DEFAULT_CAPTURE[key] !== target) throw e;
    }
  }

  const exceptPipelines = new Set(form.merge.exceptPipelines.map((p) => pipelineOf(p).id));
  const exceptStatuses = new Set(
    form.merge.exceptStatuses.map((s) => {
      const p = pipelineOf(s.pipeline);
      return `${p.id}:${statusOf(p, s.status)}`;
    }),
  );
  const unsortedPipelineId = form.unsorted?.pipeline !== undefined ? pipelineOf(form.unsorted.pipeline).id : undefined;
  return {
    form,
    pipelineId: pipe.id,
    statusId,
    ...(responsible ? { responsible } : {}),
    leadFields,
    contactFields,
    capture,
    exceptPipelines,
    exceptStatuses,
    ...(unsortedPipelineId !== undefined ? { unsortedPipelineId } : {}),
  };
}
