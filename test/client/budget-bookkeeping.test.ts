/**
 * The budget's bookkeeping around a send (completion stamp, 429 pause, the late-slot check) against
 * the sandbox: a failing store write after the fact never replaces amoCRM's answer (a 2xx add that
 * turned into a store error would be retried and create the lead twice), and a slot is never used
 * after its latest send time, however long the awaits before the send took.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmoRateLimitedError, RateBudgetExhaustedError } from '../../lib/amocrm/client/errors.ts';
import type { ClientEvent, FetchLike } from '../../lib/amocrm/client/types.ts';
import type { SleepingClock } from '../../lib/common/clock.ts';
import { MemoryBreakerStore, type BreakerState } from '../../lib/amocrm/client/breaker-store.ts';
import {
  MemoryRateBudget,
  type AcquireOptions,
  type BudgetDecision,
  type BudgetScope,
  type CompleteOptions,
  type RateBudget,
} from '../../lib/amocrm/client/rate-budget.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from './support.ts';

/** What a throttled DynamoDB write looks like, with a token-like string that must not reach the event. */
function throttled(): Error {
  const e = new Error('Rate of requests exceeds the allowed throughput (Bearer eyJhbGciOi.eyJzdWIiOjF9.c2ln)');
  e.name = 'ProvisionedThroughputExceededException';
  return e;
}

/** The in-memory budget, with writes that can be made to fail and a record of what was asked. */
class RecordingBudget implements RateBudget {
  readonly inner = new MemoryRateBudget({ perIntegrationPerSecond: 1_000, perAccountPerSecond: null });
  readonly grants: Array<Extract<BudgetDecision, { kind: 'grant' }>> = [];
  readonly completes: Array<{ id: string } & CompleteOptions> = [];
  failComplete = false;
  failPause = false;
  async acquire(scope: BudgetScope, opts: AcquireOptions): Promise<BudgetDecision> {
    const d = await this.inner.acquire(scope, opts);
    if (d.kind === 'grant') this.grants.push(d);
    return d;
  }
  async complete(scope: BudgetScope, id: string, opts: CompleteOptions): Promise<void> {
    this.completes.push({ id, ...opts });
    if (this.failComplete) throw throttled();
    return this.inner.complete(scope, id, opts);
  }
  async pause(scope: BudgetScope, untilMs: number): Promise<void> {
    if (this.failPause) throw throttled();
    return this.inner.pause(scope, untilMs);
  }
}

function budgetErrors(events: ClientEvent[]): Array<Extract<ClientEvent, { type: 'budget-error' }>> {
  return events.filter((e): e is Extract<ClientEvent, { type: 'budget-error' }> => e.type === 'budget-error');
}

describe('budget bookkeeping never masks the request', () => {
  let sb: TestSandbox;
  beforeAll(async () => {
    sb = await sandbox({ fast: true });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('complete() throws after a 2xx add: the add returns its result, one POST, one lead; the error is reported redacted', async () => {
    const budget = new RecordingBudget();
    budget.failComplete = true;
    const { client, events } = fastClient(sb, { budget });
    const before = sb.admin.count({ method: 'POST', route: '/api/v4/leads' });
    const [lead] = await client.forAccount(ACCOUNT).leads.add([{ name: 'Completed despite the store' }]);
    expect(lead!.id).toBeGreaterThan(0);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/leads' }) - before).toBe(1);
    expect(budget.completes.filter((c) => c.how === 'answered')).toHaveLength(1);
    const errs = budgetErrors(events);
    expect(errs).toEqual([expect.objectContaining({ op: 'complete' })]);
    expect(errs[0]!.error).toContain('ProvisionedThroughputExceededException');
    expect(errs[0]!.error).not.toContain('eyJhbGciOi');
  });

  it('pause() throws after a 429: the caller still gets AmoRateLimitedError (defer), not the store error', async () => {
    const strict = await sandbox({ limits: { perIntegrationPerSecond: 1, violationsBeforeBlock: 1000 } });
    try {
      const budget = new RecordingBudget();
      budget.failPause = true;
      const { client, events } = fastClient(strict, { budget, mode: 'defer' });
      const acc = client.forAccount(ACCOUNT);
      const results = await Promise.allSettled([0, 1, 2].map(() => acc.request({ method: 'GET', path: '/api/v4/account' })));
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
      expect(failures.length).toBeGreaterThan(0);
      for (const f of failures) expect(f).toBeInstanceOf(AmoRateLimitedError);
      expect(budgetErrors(events).filter((e) => e.op === 'pause')).toHaveLength(failures.length);
    } finally {
      await strict.close();
    }
  });
});

/** Time that only moves when told to: sleeps pass at once, a slow store read moves it on. */
class VirtualClock implements SleepingClock {
  t = Date.now();
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    if (ms > 0) this.t += ms;
  }
}

describe('the late-slot check comes after every await before the send', () => {
  let sb: TestSandbox;
  beforeAll(async () => {
    sb = await sandbox({ fast: true });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('a breaker read that takes longer than the slot allows: the slot is given up and a new one taken; nothing is sent late', async () => {
    const clock = new VirtualClock();
    const budget = new RecordingBudget();
    const lateness = budget.inner.cfg.maxLatenessMs;
    // The 2nd read is the budget layer's re-check right before the send (the 1st is the breaker
    // layer's); it "takes" longer than the slot's lateness allowance, as a throttled DynamoDB read would.
    let reads = 0;
    const breaker = new MemoryBreakerStore();
    const slowBreaker = Object.assign(Object.create(breaker) as MemoryBreakerStore, {
      get: async (host: string): Promise<BreakerState> => {
        reads += 1;
        if (reads === 2) clock.t += lateness + 350;
        return breaker.get(host);
      },
    });
    const sent: Array<{ at: number; latestSendAt: number | undefined }> = [];
    const recordingFetch: FetchLike = (input, init) => {
      sent.push({ at: clock.now(), latestSendAt: budget.grants.at(-1)?.latestSendAt });
      return fetch(input, init);
    };
    const { client, events } = fastClient(sb, { budget, breaker: slowBreaker, breakerCacheMs: 0, clock, fetch: recordingFetch });
    const res = await client.forAccount(ACCOUNT).request({ method: 'GET', path: '/api/v4/account' });
    expect(res.status).toBe(200);
    expect(sent).toHaveLength(1);
    // The give-up is reported (the burst bench counts them: under load they burnt slots).
    expect(events.filter((e) => e.type === 'budget-late')).toEqual([{ type: 'budget-late', lateMs: 350 }]);
    expect(sent[0]!.at).toBeLessThanOrEqual(sent[0]!.latestSendAt!);
    // The first slot was given up unsent, the second one carried the request.
    expect(budget.grants).toHaveLength(2);
    expect(budget.completes.map((c) => [c.id, c.how])).toEqual([
      [budget.grants[0]!.id, 'not-sent'],
      [budget.grants[1]!.id, 'answered'],
    ]);
  });

  it('a breaker store that stays slow (defer mode): deferred with RateBudgetExhaustedError after maxBudgetWaitMs, nothing sent', async () => {
    const clock = new VirtualClock();
    const budget = new RecordingBudget();
    const breaker = new MemoryBreakerStore();
    let reads = 0;
    const slowBreaker = Object.assign(Object.create(breaker) as MemoryBreakerStore, {
      get: async (host: string): Promise<BreakerState> => {
        // Without a bound the client would give up and re-take slots forever: fail, do not hang.
        if (++reads > 50) throw new Error('still asking after 50 slow reads: the client never defers');
        clock.t += budget.inner.cfg.maxLatenessMs + 100;
        return breaker.get(host);
      },
    });
    const before = sb.admin.count({});
    const { client, events } = fastClient(sb, {
      budget,
      breaker: slowBreaker,
      breakerCacheMs: 0,
      clock,
      mode: 'defer',
      maxBudgetWaitMs: 2_000,
    });
    const e = await client
      .forAccount(ACCOUNT)
      .request({ method: 'GET', path: '/api/v4/account' })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RateBudgetExhaustedError);
    expect(sb.admin.count({})).toBe(before);
    expect(budget.completes.every((c) => c.how === 'not-sent')).toBe(true);
    expect(budget.grants.length).toBeGreaterThan(1);
    expect(events).toContainEqual(expect.objectContaining({ type: 'deferred', reason: 'rate-budget' }));
  });
});
