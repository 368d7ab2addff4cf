/**
 * The worker's side of the 1C API: a queued request (job.ts) → the catalog or corp operation →
 * the request's record (done, with the amoCRM ids per account; or failed once parked). A job that
 * does not parse is parked `invalid-payload`; one already done is not run again (a redelivery).
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { CountryCode } from '../../common/phone.ts';
import type { ContactFinder } from '../../contacts/index.ts';
import { ok, outcomeFromError, park, PermanentError, type Outcome } from '../../pipeline/outcome.ts';
import type { RouteProcessor } from '../../pipeline/registry.ts';
import { deleteByUid, upsertCourse, type AccountResult } from './catalog.ts';
import type { OnecConfig } from './config.ts';
import { corpLead, corpLeadSchema } from './corp.ts';
import { courseSchema, uidRequestSchema } from './course.ts';
import { jobSchema, type OnecJob, type OnecRequestStore } from './job.ts';

export const ONEC_ROUTE = 'onec';
export const PARK_INVALID_PAYLOAD = 'invalid-payload';

export interface OnecProcessorDeps {
  config: OnecConfig;
  clientFor: (accountId: string) => AmoClientForAccount;
  requests: OnecRequestStore;
  /** For corp-lead (lib/contacts). */
  finder?: ContactFinder;
  defaultCountry?: CountryCode;
  now?: () => number;
}

const amoIds = (rs: AccountResult[]) =>
  rs.filter((r) => r.entity_id !== undefined).map((r) => ({ account_id: r.account_id, entity_id: r.entity_id }));

/** Runs one job; the result the record keeps. Throws PermanentError on what can never succeed. */
export async function runJob(deps: OnecProcessorDeps, job: OnecJob): Promise<Record<string, unknown>> {
  const cfg = deps.config;
  const invalid = (m: string) => new PermanentError(PARK_INVALID_PAYLOAD, m);
  switch (job.op) {
    case 'course': {
      if (!cfg.catalog) throw new PermanentError('not-configured', 'no onec.catalog section');
      const c = courseSchema.safeParse(job.payload);
      if (!c.success) throw invalid('the course does not validate');
      const rs = await upsertCourse(deps, cfg.catalog, c.data);
      return { amo_ids: amoIds(rs), accounts: rs };
    }
    case 'course-delete':
    case 'course-doubles': {
      if (!cfg.catalog) throw new PermanentError('not-configured', 'no onec.catalog section');
      const u = uidRequestSchema.safeParse(job.payload);
      if (!u.success) throw invalid('no uid');
      const rs = await deleteByUid(deps, cfg.catalog, u.data.uid, { keepOne: job.op === 'course-doubles' });
      return { accounts: rs };
    }
    case 'corp-lead': {
      if (!cfg.corp || !deps.finder) throw new PermanentError('not-configured', 'no onec.corp section or contact finder');
      const r = corpLeadSchema.safeParse(job.payload);
      if (!r.success) throw invalid('the corp lead does not validate');
      // Progress survives a retry in the request's record (still `queued`), so nothing is added twice.
      const base = { id: job.id, caller: job.caller, op: job.op, receivedAt: job.receivedAt, state: 'queued' as const };
      const known = (await deps.requests.get(job.id))?.progress;
      const res = await corpLead(
        { clientFor: deps.clientFor, finder: deps.finder, defaultCountry: deps.defaultCountry ?? 'RU' },
        cfg.corp,
        r.data,
        job.id,
        known ?? {},
        (progress) => deps.requests.put({ ...base, progress }),
      );
      return {
        amo_ids: [{ account_id: res.account_id, entity_id: res.lead_id }],
        lead_id: res.lead_id,
        contact_id: res.contact_id,
        company_id: res.company_id,
        accounts: [res],
      };
    }
  }
}

export function createOnecProcessor(deps: OnecProcessorDeps): RouteProcessor {
  const now = deps.now ?? Date.now;
  return async (_env, ctx): Promise<Outcome> => {
    let job: OnecJob;
    try {
      job = jobSchema.parse(JSON.parse(ctx.body.toString('utf8')));
    } catch {
      return park(PARK_INVALID_PAYLOAD, 'the 1C job does not parse');
    }
    const rec = await deps.requests.get(job.id);
    if (rec?.state === 'done') return ok();
    const base = { id: job.id, caller: job.caller, op: job.op, receivedAt: job.receivedAt };
    try {
      const result = await runJob(deps, job);
      await deps.requests.put({ ...base, state: 'done', finishedAt: now(), result });
      return ok();
    } catch (e) {
      const outcome = outcomeFromError(e);
      if (outcome.kind === 'park') await deps.requests.put({ ...base, state: 'failed', finishedAt: now(), error: outcome.reason });
      // Still queued, but the caller sees that tries are failing (parked after the queue's attempts).
      if (outcome.kind === 'retry') {
        const progress = (await deps.requests.get(job.id))?.progress;
        await deps.requests.put({ ...base, state: 'queued', error: 'retrying after a failure', ...(progress ? { progress } : {}) });
      }
      return outcome;
    }
  };
}
