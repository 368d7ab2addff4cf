/**
 * `pull-schema`: the account's dictionary (pipelines + statuses, custom fields with enums, tags,
 * task types, users) written to a JSON file the typed config reads, so flows *name* things
 * (`schema.status('Воронка', 'Успешно')`) instead of carrying magic ids. The CLI wiring comes
 * later (`amo-gateway schema pull <account> --out schema/<account>.json`).
 *
 * Lookups match names exactly first, then ignoring case and repeated spaces; an unknown or
 * ambiguous name throws SchemaLookupError listing the closest names.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from '../../common/zod.ts';
import { encodeFieldValue, type CustomFieldWrite, type FieldDefinition, type FieldInput } from './custom-fields.ts';
import { SchemaLookupError } from './errors.ts';
import type { AmoClientForAccount } from './client.ts';
import { listAll, type MainEntity } from './resources/common.ts';

export const SCHEMA_VERSION = 1;

const int = () => z.number().check(z.int());
/** zod's `.nullable().optional()`. */
const maybe = <T extends z.ZodMiniType>(t: T) => z.optional(z.nullable(t));
const enumSchema = z.object({ id: int(), value: z.string(), code: maybe(z.string()) });
const fieldSchema = z.object({
  id: int(),
  name: z.string(),
  code: maybe(z.string()),
  type: z.string(),
  enums: maybe(z.array(enumSchema)),
});
const named = z.object({ id: int(), name: z.string() });
const byEntity = <T extends z.ZodMiniType>(t: T) => z.object({ leads: z.array(t), contacts: z.array(t), companies: z.array(t) });

export const accountSchemaJson = z.object({
  version: z.literal(SCHEMA_VERSION),
  pulledAt: z.string(),
  account: z.object({ id: int(), name: z.string(), subdomain: z.string() }),
  pipelines: z.array(
    z.object({
      id: int(),
      name: z.string(),
      is_main: z.boolean(),
      statuses: z.array(z.object({ id: int(), name: z.string(), sort: z.number() })),
    }),
  ),
  customFields: byEntity(fieldSchema),
  tags: byEntity(named),
  taskTypes: z.array(z.object({ id: int(), name: z.string(), code: maybe(z.string()) })),
  users: z.array(z.object({ id: int(), name: z.string(), email: z.optional(z.string()) })),
});

export type AccountSchemaJson = z.infer<typeof accountSchemaJson>;

const ENTITIES: readonly MainEntity[] = ['leads', 'contacts', 'companies'];

/** Reads the dictionary from amoCRM (fresh, past the cache). About 10 requests for a typical account. */
export async function pullSchema(client: AmoClientForAccount, now: Date = new Date()): Promise<AccountSchemaJson> {
  const account = await client.account.get();
  const pipelines = await client.pipelines.list({ refresh: true });
  const customFields = { leads: [], contacts: [], companies: [] } as AccountSchemaJson['customFields'];
  const tags = { leads: [], contacts: [], companies: [] } as AccountSchemaJson['tags'];
  for (const kind of ENTITIES) {
    const defs = await client.customFields(kind).list({ refresh: true });
    customFields[kind] = defs.map((d) => ({
      id: d.id,
      name: d.name,
      code: d.code ?? null,
      type: d.type,
      enums: d.enums ? d.enums.map((e) => ({ id: e.id, value: e.value, ...(e.code ? { code: e.code } : {}) })) : null,
    }));
    tags[kind] = (await listAll(client.tags(kind).list())).map((t) => ({ id: Number(t.id), name: t.name }));
  }
  const taskTypes = await client.account.taskTypes({ refresh: true });
  const users = await client.users.list({ refresh: true });
  return {
    version: SCHEMA_VERSION,
    pulledAt: now.toISOString(),
    account: { id: account.id, name: account.name, subdomain: account.subdomain },
    pipelines: [...pipelines]
      .sort((a, b) => a.sort - b.sort || a.id - b.id)
      .map((p) => ({
        id: p.id,
        name: p.name,
        is_main: p.is_main,
        statuses: [...p._embedded.statuses].sort((a, b) => a.sort - b.sort).map((s) => ({ id: s.id, name: s.name, sort: s.sort })),
      })),
    customFields,
    tags,
    taskTypes: taskTypes.map((t) => ({ id: t.id, name: t.name, code: t.code ?? null })),
    users: users.map((u) => ({ id: u.id, name: u.name, email: u.email })),
  };
}

/** pull + write (pretty JSON, newline-terminated, stable order so diffs are readable). */
export async function pullSchemaToFile(client: AmoClientForAccount, file: string): Promise<AccountSchemaJson> {
  const schema = await pullSchema(client);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(schema, null, 2)}\n`, 'utf8');
  return schema;
}

export async function loadSchemaFile(file: string): Promise<AccountSchema> {
  return AccountSchema.from(JSON.parse(await readFile(file, 'utf8')) as unknown);
}

const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();

function distance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d = Array.from({ length: m + 1 }, (_, i) => [i, ...new Array<number>(n).fill(0)]);
  for (let j = 1; j <= n; j++) d[0]![j] = j;
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[m]![n]!;
}

/** Find one item by name: exact, then normalized; errors name the closest candidates. */
export function findByName<T>(items: readonly T[], name: string, nameOf: (t: T) => string, what: string): T {
  const exact = items.filter((t) => nameOf(t) === name);
  if (exact.length === 1) return exact[0]!;
  const loose = exact.length ? exact : items.filter((t) => norm(nameOf(t)) === norm(name));
  if (loose.length === 1) return loose[0]!;
  if (loose.length > 1) throw new SchemaLookupError(`${what} "${name}" is ambiguous: ${loose.length} items have this name; use the id`);
  const close = [...new Set(items.map(nameOf))]
    .map((n) => ({ n, d: distance(norm(n), norm(name)) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => `"${x.n}"`);
  throw new SchemaLookupError(
    `unknown ${what} "${name}"${close.length ? ` (closest: ${close.join(', ')})` : ' (none defined)'}; run pull-schema if it was added recently`,
  );
}

/** Built-in task types every account has (docs/amocrm-protocol.md#tasks). */
const BUILTIN_TASK_TYPES = [
  { id: 1, names: ['Звонок', 'Связаться', 'Follow-up', 'Call'] },
  { id: 2, names: ['Встреча', 'Meeting'] },
];

/** Typed lookups over a pulled schema. */
export class AccountSchema {
  private constructor(readonly json: AccountSchemaJson) {}

  static from(raw: unknown): AccountSchema {
    const parsed = accountSchemaJson.safeParse(raw);
    if (!parsed.success)
      throw new SchemaLookupError(
        `schema file is not valid: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      );
    return new AccountSchema(parsed.data);
  }

  pipeline(name: string): { id: number; name: string } {
    const p = findByName(this.json.pipelines, name, (x) => x.name, 'pipeline');
    return { id: p.id, name: p.name };
  }

  /** `status('Воронка', 'Успешно реализовано')` → `{pipelineId, statusId}`. */
  status(pipelineName: string, statusName: string): { pipelineId: number; statusId: number } {
    const p = findByName(this.json.pipelines, pipelineName, (x) => x.name, 'pipeline');
    const s = findByName(p.statuses, statusName, (x) => x.name, `status of pipeline "${p.name}"`);
    return { pipelineId: p.id, statusId: s.id };
  }

  field(entity: MainEntity, name: string): FieldDefinition {
    return findByName(this.json.customFields[entity], name, (f) => f.name, `${entity} field`);
  }

  /** By system code (PHONE, EMAIL, POSITION…). */
  fieldByCode(entity: MainEntity, code: string): FieldDefinition {
    const f = this.json.customFields[entity].find((x) => x.code === code);
    if (!f) throw new SchemaLookupError(`no ${entity} field with code ${code}`);
    return f;
  }

  enumId(entity: MainEntity, fieldName: string, label: string): number {
    const f = this.field(entity, fieldName);
    if (!f.enums?.length) throw new SchemaLookupError(`${entity} field "${f.name}" (${f.type}) has no options`);
    return findByName(f.enums, label, (e) => e.value, `option of ${entity} field "${f.name}"`).id;
  }

  /** A ready `custom_fields_values` element: the field by name, the value checked against its type and options. */
  value(entity: MainEntity, fieldName: string, input: FieldInput): CustomFieldWrite {
    return encodeFieldValue(this.field(entity, fieldName), input);
  }

  taskType(name: string): number {
    const custom = this.json.taskTypes.filter((t) => t.name === name || norm(t.name) === norm(name));
    if (custom.length === 1) return custom[0]!.id;
    const builtin = BUILTIN_TASK_TYPES.find((b) => b.names.some((n) => norm(n) === norm(name)));
    if (builtin && custom.length === 0) return builtin.id;
    return findByName(this.json.taskTypes, name, (t) => t.name, 'task type').id;
  }

  /** A user by name or e-mail. */
  user(nameOrEmail: string): number {
    const byEmail = this.json.users.filter((u) => u.email !== undefined && norm(u.email) === norm(nameOrEmail));
    if (byEmail.length === 1) return byEmail[0]!.id;
    return findByName(this.json.users, nameOrEmail, (u) => u.name, 'user').id;
  }

  tag(entity: MainEntity, name: string): number {
    return findByName(this.json.tags[entity], name, (t) => t.name, `${entity} tag`).id;
  }
}
