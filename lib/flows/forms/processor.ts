/**
 * The processor of route `forms` (README.md "What a submission becomes"): one queued site-form
 * submission per message.
 *
 * 1. the body must parse as a submission (submission.ts) → else park `invalid-payload`;
 * 2. its form must still be in the config → else park `unknown-form` (the config changed since it
 *    was accepted: replay it once the form is back);
 * 3. under the idempotency guard (key: the submission id) it is handed to its account's
 *    FormWriter, which writes the batch's submissions together; a redelivered submission that
 *    completed is skipped, one that failed half-way re-checks its adds (`checkFirst`).
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { Log } from '../../common/log.ts';
import type { MetricsSink } from '../../common/metrics-sink.ts';
import type { ContactFinder } from '../../contacts/types.ts';
import type { IdempotencyGuard, OnceRun } from '../../ingest/idempotency.ts';
import { METRIC } from '../../metrics.ts';
import { ok, park } from '../../pipeline/outcome.ts';
import type { ProcessorMap, RouteProcessor } from '../../pipeline/registry.ts';
import type { FormConfig, FormsConfig } from './config.ts';
import { FORMS_PARK_REASONS } from './resolve.ts';
import type { FormsStateStore } from './state.ts';
import { submissionSchema } from './submission.ts';
import { FormWriter, type FlushStats } from './writer.ts';

export const FORMS_ROUTE = 'forms';

export interface FormsDeps {
  config: FormsConfig;
  clientFor: (accountId: string) => AmoClientForAccount;
  /** The contact dedupe of each account (lib/contacts). */
  finder: ContactFinder;
  /** Claims, repeat records and round-robin turns (the table). */
  state: FormsStateStore;
  guard?: IdempotencyGuard;
  log?: Log;
  metrics?: MetricsSink;
  /** Writer tuning (tests, bench). */
  windowMs?: number;
  claimHoldMs?: number;
  claimWaitMs?: number;
  timeZone?: string;
  now?: () => number;
  onFlush?: (account: string, stats: FlushStats) => void;
}

export function createFormsProcessors(deps: FormsDeps): { processors: ProcessorMap; writers: ReadonlyMap<string, FormWriter> } {
  const forms = new Map<string, FormConfig>(deps.config.list.map((f) => [f.id, f]));
  const writers = new Map<string, FormWriter>();
  const writerOf = (account: string): FormWriter => {
    let w = writers.get(account);
    if (!w) {
      w = new FormWriter({
        account,
        client: () => deps.clientFor(account),
        finder: deps.finder,
        state: deps.state,
        ...(deps.windowMs !== undefined ? { windowMs: deps.windowMs } : {}),
        ...(deps.claimHoldMs !== undefined ? { claimHoldMs: deps.claimHoldMs } : {}),
        ...(deps.claimWaitMs !== undefined ? { claimWaitMs: deps.claimWaitMs } : {}),
        ...(deps.timeZone ? { timeZone: deps.timeZone } : {}),
        ...(deps.now ? { now: deps.now } : {}),
        ...(deps.log ? { log: deps.log } : {}),
        onFlush: (stats) => {
          if (stats.writes) deps.metrics?.count(METRIC.formAmoWrites, { account }, stats.writes);
          deps.onFlush?.(account, stats);
        },
      });
      writers.set(account, w);
    }
    return w;
  };

  const processor: RouteProcessor = async (env, ctx) => {
    let json: unknown;
    try {
      json = JSON.parse(ctx.body.toString('utf8'));
    } catch {
      return park(FORMS_PARK_REASONS.invalidPayload, 'the body is not JSON');
    }
    const parsed = submissionSchema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      return park(
        FORMS_PARK_REASONS.invalidPayload,
        `not a form submission: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'}`,
      );
    }
    const sub = parsed.data;
    const form = forms.get(sub.form);
    if (!form)
      return park(FORMS_PARK_REASONS.unknownForm, `form "${sub.form}" is not in the config (changed since the submission was accepted)`);
    // May have run before (a retry, a re-receive, the journal's mark after a local crash; or a claim
    // left by a holder that died): the adds re-check first (docs/architecture.md#failure-semantics).
    const run = (once?: OnceRun) => writerOf(form.account).submit({ sub, form, redelivery: ctx.mayHaveRun || once?.resumed === true });
    const r = deps.guard ? await deps.guard.once(`forms:${sub.id}`, run) : { status: 'ran' as const, value: await run() };
    if (r.status === 'ran') {
      deps.metrics?.count(METRIC.formSubmissions, { form: form.id, outcome: r.value.outcome });
      ctx.log.debug('form submission', { form: form.id, outcome: r.value.outcome, leadId: r.value.leadId });
    } else ctx.log.debug('form submission already done', { form: form.id });
    return ok();
  };
  return { processors: { [FORMS_ROUTE]: processor }, writers };
}
