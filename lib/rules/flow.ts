/**
 * The rules engine as flows of the flow registry (lib/ingest/flows.ts): one flow per rule, named
 * `rule-<id>`, so each (event, rule) is its own idempotency step (`<event key>#flow:rule-<id>`).
 *
 * Per event and rule: match (pure; no match → no call at all) → skip the echo of this rule's own write →
 * count a hop for the entity (over the limit → stop, log, count `RulesHopLimit`) → plan (pure;
 * only values that differ from the event) → write through the batch writer, with markers derived
 * from the step key so a retried step re-checks instead of posting twice. "Retried" is either
 * signal: the step's first-attempt mark is already there, or the delivery says it may have run
 * (`FlowContext.mayHaveRun`: a redelivery, a claim left by a holder that died).
 */
import { createHash } from 'node:crypto';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { AccountConfig } from '../config/schema.ts';
import type { FlowContext, FlowRegistry } from '../ingest/flows.ts';
import type { WebhookEvent } from '../amocrm/webhooks/types.ts';
import { METRIC } from '../metrics.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import { ruleEntity, ruleMatches } from './match.ts';
import { isEmptyPlan, planRule } from './plan.ts';
import type { CompiledRule, CompiledRules } from './resolve.ts';
import type { RulesState } from './state.ts';
import { BatchWriter, type WriteSet } from './writer.ts';
import { runSyncBack, runTransfer } from './transfer.ts';

export interface RulesFlowDeps {
  rules: CompiledRules;
  /** The REST client of one of our accounts. */
  client(account: AccountConfig): AmoClientForAccount;
  /** The REST client of another of our accounts, by id (transfer / syncBack). */
  clientById?(account: string): AmoClientForAccount;
  state: RulesState;
  writer?: BatchWriter;
  metrics?: MetricsSink;
}

/** How long an echo of our own write is recognised, and a first-attempt mark kept. assumed: amoCRM delivers (and redelivers) within hours. */
export const ECHO_TTL_SECONDS = 6 * 3600;
export const ATTEMPT_TTL_SECONDS = 3 * 86_400;

export const flowNameOf = (rule: Pick<CompiledRule, 'id'>): string => `rule-${rule.id}`;

/** The echo of one rule's write: the same rule ignores it; other rules may chain on it (a cycle meets the hop limit). */
const echoKey = (rule: string, account: string, entity: string, id: number, updatedAt: number) =>
  `echo:${account}:${rule}:${entity}:${id}:${updatedAt}`;

/** A marker (request_id) per written item, the same on every retry of the step. */
export function stepMarker(stepKey: string, i: number): string {
  return `r${createHash('sha256').update(`${stepKey}#${i}`).digest('hex').slice(0, 24)}`;
}

/** Registers one flow per compiled rule. */
export function registerRules(registry: FlowRegistry, deps: RulesFlowDeps): FlowRegistry {
  const writer = deps.writer ?? new BatchWriter();
  for (const rule of deps.rules.rules) registry.on(rule.kinds, flowNameOf(rule), (ev, ctx) => runRule(rule, ev, ctx, deps, writer));
  return registry;
}

export async function runRule(
  rule: CompiledRule,
  ev: WebhookEvent,
  ctx: FlowContext,
  deps: RulesFlowDeps,
  writer: BatchWriter,
): Promise<void> {
  if (!ruleMatches(rule, ctx.account.id, ev)) return;
  const e = ruleEntity(ev);
  if (!e) return;
  const account = ctx.account.id;
  const now = ctx.now();
  const updatedAt = (e.data as { updated_at?: number }).updated_at;
  if (typeof updatedAt === 'number' && (await deps.state.has(echoKey(rule.id, account, e.entity, e.data.id, updatedAt), now))) {
    ctx.log.debug('rules: echo of our own write skipped', { account, rule: rule.id, entity: e.entity, entityId: e.data.id });
    return;
  }
  // Hops count rule runs, not attempts: a retried step (its first-attempt mark is there) was
  // counted by its first attempt, and counting it again would stop it at the limit unwritten.
  const first = await deps.state.firstAttempt(`attempt:${ctx.stepKey}`, ATTEMPT_TTL_SECONDS, now);
  if (first) {
    const hops = await deps.state.hop(`${account}:${e.entity}:${e.data.id}`, deps.rules.hopWindowSeconds, now);
    if (hops > deps.rules.hopLimit) {
      ctx.log.warn('rules: hop limit', { account, rule: rule.id, entity: e.entity, entityId: e.data.id, hops, limit: deps.rules.hopLimit });
      deps.metrics?.count(METRIC.rulesHopLimit, { account });
      return;
    }
  }
  deps.metrics?.count(METRIC.rulesFired, { account });
  const acc = deps.rules.accounts.get(account);
  if (!acc) return;
  // Cross-account actions (transfer.ts) run first, each call in turn: their adds need what the searches found.
  for (const a of rule.then) {
    if (a.kind !== 'transfer' && a.kind !== 'syncBack') continue;
    const cross = {
      source: deps.client(ctx.account),
      clientOf: (id: string) => {
        if (!deps.clientById) throw new Error(`rules: no client for account "${id}" (RulesFlowDeps.clientById)`);
        return deps.clientById(id);
      },
      marker: (i: number) => stepMarker(ctx.stepKey, i),
      checkFirst: !first || ctx.mayHaveRun === true,
      log: ctx.log,
    };
    const r = a.kind === 'transfer' ? await runTransfer(a, e.data, cross) : await runSyncBack(a, e.data, cross);
    if (r.sourceUpdatedAt !== undefined)
      await deps.state.remember(echoKey(rule.id, account, e.entity, e.data.id, r.sourceUpdatedAt), ECHO_TTL_SECONDS, now);
  }
  // Due times count from the event's own time (the entity's updated_at, which every delivery of
  // the event repeats), not from this delivery's receipt: a second delivery (an edge duplicate,
  // amoCRM's redelivery) must plan the same task, or its re-check cannot find the first one.
  const eventTime = typeof updatedAt === 'number' ? updatedAt * 1000 : ctx.receivedAt;
  const plan = planRule(rule, e.data, { eventTime, schema: acc.schema, timeZone: acc.settings.timeZone });
  // How many, never which: phone numbers stay out of the logs.
  if (plan.phonesLeft)
    ctx.log.warn('rules: phones left as they are', { account, rule: rule.id, entityId: e.data.id, count: plan.phonesLeft });
  if (isEmptyPlan(plan)) {
    ctx.log.debug('rules: nothing to write', { account, rule: rule.id, entityId: e.data.id });
    return;
  }
  for (const [i, t] of plan.tasks.entries()) {
    const rr = t.roundRobin;
    // Kept per step and task: a retry must plan the same responsible, or its re-check misses the task.
    if (rr)
      t.task.responsible_user_id =
        rr.userIds[
          await deps.state.keep(`rr:${ctx.stepKey}#${i}`, ATTEMPT_TTL_SECONDS, now, () =>
            deps.state.nextRoundRobin(rr.key, rr.userIds.length),
          )
        ];
  }
  const kind = e.entity === 'lead' ? 'leads' : 'contacts';
  const set: WriteSet = {
    tasks: plan.tasks.map((t) => t.task),
    taskMarkers: plan.tasks.map((_, i) => stepMarker(ctx.stepKey, i)),
    checkFirst: !first || ctx.mayHaveRun === true,
    leadPatches: plan.patch && e.entity === 'lead' ? [plan.patch] : [],
    contactPatches: plan.patch && e.entity === 'contact' ? [plan.patch] : [],
    notes: plan.notes.map((note, i) => ({ entity: kind, note, marker: stepMarker(ctx.stepKey, 1000 + i) })),
  };
  const result = await writer.write(account, deps.client(ctx.account), set);
  const echoed = result.updatedAt.get(`${e.entity}:${e.data.id}`);
  if (echoed !== undefined) await deps.state.remember(echoKey(rule.id, account, e.entity, e.data.id, echoed), ECHO_TTL_SECONDS, now);
  ctx.log.info('rules: fired', {
    account,
    rule: rule.id,
    entity: e.entity,
    entityId: e.data.id,
    tasks: set.tasks.length,
    patched: plan.patch !== undefined,
    notes: set.notes.length,
  });
}
