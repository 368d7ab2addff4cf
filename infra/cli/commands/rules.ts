/**
 * `rules check` and `rules explain`: the config's rules (lib/rules) resolved against the pulled
 * dictionaries (`schema pull` → schema/<account>.json, relative to the working directory) without
 * touching amoCRM or the table — `check` prints the rule table, `explain` what an event would do.
 * The config comes from the target (--local, --stack …) or --config / AMO_CONFIG_FILE /
 * ./amo.config.json.
 */
import { readFileSync } from 'node:fs';
import { parseAccountWebhook } from '../../../lib/amocrm/webhooks/index.ts';
import type { WebhookEvent } from '../../../lib/amocrm/webhooks/types.ts';
import type { Config } from '../../../lib/config/schema.ts';
import {
  isEmptyPlan,
  loadRules,
  matchRules,
  planRule,
  ruleEntity,
  RulesConfigError,
  type CompiledAction,
  type CompiledRule,
  type CompiledRules,
} from '../../../lib/rules/index.ts';
import { CliError, type CliIO, type Command, type OptionValues } from '../command.ts';
import { loadCliConfig } from '../system.ts';
import { resolveTarget, TARGET_OPTIONS } from '../target.ts';
import { str } from '../format.ts';

async function configOf(values: OptionValues, io: CliIO): Promise<Config> {
  const targeted = values.local === true || str(values.stack) || str(values.table) || io.env.AMO_STACK_NAME;
  const configFile = targeted ? (await resolveTarget(values, io)).configFile : (str(values.config) ?? io.env.AMO_CONFIG_FILE);
  return loadCliConfig({ configFile }, io);
}

function compiled(config: Config): CompiledRules {
  try {
    const c = loadRules(config);
    if (!c) throw new CliError('the config has no rules (section "rules.list")', 1);
    return c;
  } catch (e) {
    if (e instanceof RulesConfigError) throw new CliError(e.message, 1, { cause: e });
    throw e;
  }
}

function describeAction(a: CompiledAction): string {
  switch (a.kind) {
    case 'task': {
      const due =
        a.due.kind === 'in'
          ? `in ${a.due.seconds} s`
          : `at ${String(a.due.hour).padStart(2, '0')}:${String(a.due.minute).padStart(2, '0')}${a.due.days ? ` +${a.due.days} d` : ''}`;
      const who =
        a.responsible.kind === 'user'
          ? `user ${a.responsible.userId}`
          : a.responsible.kind === 'roundRobin'
            ? `round-robin ${a.responsible.userIds.join(',')}`
            : a.responsible.kind;
      return `task type ${a.taskTypeId} "${a.text.source}" due ${due} for ${who}`;
    }
    case 'setFields':
      return `set ${a.fields.map((f) => `${f.def.name}#${f.def.id}=${f.value === null ? 'clear' : typeof f.value === 'object' ? `"${f.value.source}"` : String(f.value)}`).join(', ')}`;
    case 'addTags':
      return `add tags ${a.names.join(', ')}`;
    case 'removeTags':
      return `remove tags ${a.ids.join(', ')}`;
    case 'moveTo':
      return `move to ${a.to.pipelineId}/${a.to.statusId}`;
    case 'note':
      return `note "${a.text.source}"`;
    case 'transfer':
      return `transfer to ${a.to} ${a.status.pipelineId}/${a.status.statusId} (link ${a.linkField.name}#${a.linkField.id}${a.moveSourceTo ? `, source → ${a.moveSourceTo.pipelineId}/${a.moveSourceTo.statusId}` : ''})`;
    case 'syncBack':
      return `sync back to ${a.to} via ${a.linkField.name}#${a.linkField.id}`;
    case 'normalizePhones':
      return `phones (${a.field.name}#${a.field.id}) to E.164, default country ${a.defaultCountry}`;
  }
}

function whenOf(r: CompiledRule): string {
  const s = (x: { statusId: number; pipelineId?: number } | undefined) => (x ? `${x.pipelineId ?? '*'}/${x.statusId}` : '*');
  return r.kinds[0] === 'lead.status' ? `lead.status ${s(r.from)} → ${s(r.to)}` : r.kinds.join(',');
}

/** Events from a file: a webhook body as amoCRM posts it (form-encoded), or a bus event / its detail (JSON). */
function eventsOf(file: string): WebhookEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2, { cause: e });
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const j = JSON.parse(trimmed) as { detail?: unknown } & Record<string, unknown>;
    const d = (j.detail ?? j) as { kind?: string; entity?: string; action?: string; data?: unknown; entityId?: unknown };
    if (typeof d.kind !== 'string' || !d.data) throw new CliError(`${file}: JSON without "kind" and "data" (an amocrm.* event detail)`, 2);
    return [
      {
        kind: d.kind,
        entity: d.entity ?? d.kind.split('.')[0],
        action: d.action ?? d.kind.split('.')[1],
        family: 'account',
        account: { subdomain: '' },
        entityId: d.entityId,
        data: d.data,
        raw: {},
        index: 0,
        path: '',
        idempotencyKey: 'explain',
      } as WebhookEvent,
    ];
  }
  const parsed = parseAccountWebhook(trimmed, { 'content-type': 'application/x-www-form-urlencoded' });
  if (!parsed.ok) throw new CliError(`${file}: not an amoCRM webhook body: ${parsed.error.code}: ${parsed.error.message}`, 2);
  return parsed.events;
}

export const rulesCommands: Command[] = [
  {
    path: ['rules', 'check'],
    summary: 'resolve every name of the rules against the pulled dictionaries and print the rule table',
    details:
      'Pipelines, statuses, fields, task types, users and tags are named as people see them; each is\n' +
      "looked up in the account's dictionary (rules.accounts.<id>.dictionary, default schema/<id>.json;\n" +
      "write it with `schema pull`). Unknown or ambiguous names fail with the rule's path and the closest\n" +
      'candidates (exit 1). No amoCRM call, no table access.',
    options: { ...TARGET_OPTIONS },
    async run({ io, values }) {
      const c = compiled(await configOf(values, io));
      io.out(`${c.rules.length} rule(s) resolve (hop limit ${c.hopLimit} per ${c.hopWindowSeconds} s):`);
      for (const r of c.rules) {
        io.out(
          `${r.id}  [${r.account}]  when ${whenOf(r)}${Object.keys(r.if).length ? `  if ${JSON.stringify(r.if, (k, v: unknown) => (k === 'def' ? undefined : v))}` : ''}`,
        );
        for (const a of r.then) io.out(`    → ${describeAction(a)}`);
      }
      return 0;
    },
  },
  {
    path: ['rules', 'explain'],
    summary: 'which rules an event would fire and what they would write (nothing is written)',
    args: '<event file>',
    positionals: { min: 1, max: 1 },
    details:
      'The file is a webhook body as amoCRM posts it (form-encoded), or an amocrm.* event (or its detail)\n' +
      'as JSON. Values the event already shows are not written (as the worker does).',
    options: {
      ...TARGET_OPTIONS,
      account: {
        type: 'string',
        valueName: 'id',
        description: 'our account id the event belongs to (default: the only one, or by subdomain)',
      },
    },
    async run({ io, values, positionals }) {
      const config = await configOf(values, io);
      const c = compiled(config);
      const events = eventsOf(positionals[0]!);
      for (const ev of events) {
        const account =
          str(values.account) ??
          config.accounts.find((a) => a.subdomain === ev.account.subdomain.toLowerCase())?.id ??
          (config.accounts.length === 1 ? config.accounts[0]!.id : undefined);
        if (!account) throw new CliError('--account is required (the event names no configured account)', 2);
        const rules = matchRules(c.rules, account, ev);
        const e = ruleEntity(ev);
        io.out(
          `${ev.kind} #${String(ev.entityId ?? '?')} [${account}]: ${rules.length ? rules.map((r) => r.id).join(', ') : 'no rule fires (no amoCRM call)'}`,
        );
        const acc = c.accounts.get(account);
        if (!e || !acc) continue;
        for (const r of rules) {
          const plan = planRule(r, e.data, { eventTime: Date.now(), schema: acc.schema, timeZone: acc.settings.timeZone });
          // A transfer or a sync back depends on what the other account holds (the contact search, the
          // linked lead): it is named here, not simulated (explain never calls amoCRM).
          const crossAccount = r.then.filter((a) => a.kind === 'transfer' || a.kind === 'syncBack');
          for (const a of crossAccount)
            io.out(`  ${r.id}: ${describeAction(a)} — reads and writes account ${a.to} at run time (not simulated here)`);
          if (isEmptyPlan(plan) && crossAccount.length === 0) io.out(`  ${r.id}: nothing to write (the event already shows it)`);
          for (const t of plan.tasks)
            io.out(
              `  ${r.id}: POST /api/v4/tasks ${JSON.stringify(t.task)}${t.roundRobin ? ` (responsible: round-robin over ${t.roundRobin.userIds.join(', ')})` : ''}`,
            );
          if (plan.patch) io.out(`  ${r.id}: PATCH /api/v4/${e.entity}s ${JSON.stringify(plan.patch)}`);
          for (const n of plan.notes) io.out(`  ${r.id}: POST /api/v4/${e.entity}s/notes ${JSON.stringify(n)}`);
        }
      }
      return 0;
    },
  },
];
