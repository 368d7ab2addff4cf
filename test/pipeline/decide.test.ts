import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffSeconds, DEFAULT_BACKOFF_POLICY } from '../../lib/pipeline/backoff.ts';
import { decide, parkRaw, type Action, type QueuePolicy } from '../../lib/pipeline/decide.ts';
import { DEFAULT_DEFERRAL_POLICY, fifoDeferralFloor, type DeferralPolicy } from '../../lib/pipeline/deferral.ts';
import type { FifoCounts } from '../../lib/pipeline/fifo-ledger.ts';
import { defer, ok, park, retry, type Outcome } from '../../lib/pipeline/outcome.ts';
import { replayBody } from '../../lib/dlq/present.ts';
import { parseEnvelope } from '../../lib/envelope.ts';
import { envelope } from './fixtures.ts';
import { constant, seeded } from './seeded.ts';

const std: QueuePolicy = { id: 'rdesk', fifo: false, maxAttempts: 5 };
const fifo: QueuePolicy = { id: 'chat', fifo: true, maxAttempts: 5 };

function run(
  outcome: Outcome,
  opts: {
    queue?: QueuePolicy;
    attempt?: number;
    deferrals?: number;
    receiveCount?: number;
    random?: () => number;
    ageSeconds?: number;
    deferral?: Partial<DeferralPolicy>;
    fifoCounts?: FifoCounts;
  } = {},
): Action {
  const env = envelope({
    ...(opts.attempt !== undefined ? { attempt: opts.attempt } : {}),
    ...(opts.deferrals !== undefined ? { deferrals: opts.deferrals } : {}),
  });
  return decide({
    envelope: env,
    outcome,
    queue: opts.queue ?? std,
    receiveCount: opts.receiveCount ?? 1,
    random: opts.random ?? constant(0.5),
    now: env.receivedAt + (opts.ageSeconds ?? 0) * 1000,
    ...(opts.deferral ? { deferral: opts.deferral } : {}),
    ...(opts.fifoCounts ? { fifoCounts: opts.fifoCounts } : {}),
  });
}

describe('decide: standard queue', () => {
  it('ok → delete', () => {
    expect(run(ok())).toEqual({ kind: 'delete' });
    expect(run(ok(), { attempt: 4, deferrals: 9 })).toEqual({ kind: 'delete' });
  });

  it('retry below maxAttempts → resend with attempt + 1, lastError and full-jitter delay', () => {
    for (let prior = 0; prior < std.maxAttempts - 1; prior++) {
      const a = run(retry('HTTP 503 from amoCRM'), { attempt: prior, random: constant(0.999_999) });
      expect(a.kind).toBe('resend');
      if (a.kind !== 'resend') continue;
      expect(a.cause).toBe('retry');
      expect(a.envelope.attempt).toBe(prior + 1);
      expect(a.envelope.lastError).toBe('HTTP 503 from amoCRM');
      expect(a.delaySeconds).toBe(backoffSeconds(prior + 1, constant(0.999_999)));
      expect(a.delaySeconds).toBe(2 ** (prior + 1));
    }
  });

  it('a missing attempt counter counts as 0', () => {
    const a = run(retry('x'));
    expect(a.kind === 'resend' && a.envelope.attempt).toBe(1);
  });

  it('the maxAttempts-th failure parks out-of-attempts with the envelope carrying the count', () => {
    const a = run(retry('timeout'), { attempt: std.maxAttempts - 1 });
    expect(a).toMatchObject({ kind: 'park', reason: 'out-of-attempts', attempts: 5, lastError: 'timeout' });
    if (a.kind === 'park') expect(a.envelope).toMatchObject({ attempt: 5, lastError: 'timeout' });
    // Also when the counter somehow already passed the limit.
    expect(run(retry('x'), { attempt: 40 })).toMatchObject({ kind: 'park', reason: 'out-of-attempts', attempts: 41 });
  });

  it('maxAttempts 1 parks on the first failure', () => {
    expect(run(retry('x'), { queue: { ...std, maxAttempts: 1 } })).toMatchObject({ kind: 'park', reason: 'out-of-attempts', attempts: 1 });
  });

  it('defer → resend with deferrals + 1, attempt untouched, the deferral (reason, age, count) on the action', () => {
    for (const deferrals of [0, 1, 10, DEFAULT_DEFERRAL_POLICY.maxDeferrals - 1]) {
      const a = run(defer('rate-budget', 7), { attempt: 4, deferrals, ageSeconds: 125 });
      expect(a).toMatchObject({
        kind: 'resend',
        cause: 'defer',
        delaySeconds: 7,
        deferral: { reason: 'rate-budget', ageSeconds: 125, deferrals: deferrals + 1 },
      });
      if (a.kind === 'resend') {
        expect(a.envelope.deferrals).toBe(deferrals + 1);
        expect(a.envelope.attempt).toBe(4);
      }
    }
  });

  it('the deferral cap: older than 24 h since receivedAt (default) → park deferred-too-long, not a resend', () => {
    const day = DEFAULT_DEFERRAL_POLICY.maxAgeSeconds;
    expect(day).toBe(24 * 3600);
    expect(run(defer('account-needs-reauth', 900), { ageSeconds: day - 1, deferrals: 90 })).toMatchObject({
      kind: 'resend',
      cause: 'defer',
    });
    const a = run(defer('account-needs-reauth', 900), { ageSeconds: day, deferrals: 90, attempt: 2 });
    expect(a).toMatchObject({ kind: 'park', reason: 'deferred-too-long', attempts: 3 });
    if (a.kind === 'park') {
      expect(a.lastError).toBe('still deferred 24 h 0 min after it was received (cap 24 h 0 min); last deferral: account-needs-reauth');
      // The parked envelope keeps its counters (replay resets them) and the error.
      expect(a.envelope).toMatchObject({ deferrals: 90, attempt: 2, lastError: a.lastError });
    }
  });

  it('the deferral cap by count: the (maxDeferrals + 1)-th deferral parks, and a per-pipeline or per-queue policy overrides the defaults', () => {
    expect(run(defer('rate-budget', 0), { deferrals: DEFAULT_DEFERRAL_POLICY.maxDeferrals })).toMatchObject({
      kind: 'park',
      reason: 'deferred-too-long',
    });
    expect(run(defer('rate-budget', 0), { deferrals: 2, deferral: { maxDeferrals: 3 } }).kind).toBe('resend');
    const byCount = run(defer('rate-budget', 0), { deferrals: 3, deferral: { maxDeferrals: 3 } });
    expect(byCount).toMatchObject({
      kind: 'park',
      reason: 'deferred-too-long',
      lastError: 'deferred 4 times (cap 3); last deferral: rate-budget',
    });
    // The queue's own cap wins over the pipeline's.
    const q: QueuePolicy = { ...std, deferral: { maxAgeSeconds: 600 } };
    expect(run(defer('rate-budget', 5), { queue: q, ageSeconds: 599, deferral: { maxAgeSeconds: 60 } }).kind).toBe('resend');
    expect(run(defer('rate-budget', 5), { queue: q, ageSeconds: 600, deferral: { maxAgeSeconds: 60 } })).toMatchObject({
      kind: 'park',
      reason: 'deferred-too-long',
      lastError: expect.stringMatching(/^still deferred 10 min/),
    });
  });

  it('a replayed deferred-too-long message gets a fresh window: its next deferral resends instead of parking again', () => {
    const env = envelope({ deferrals: 2000, attempt: 1 });
    const parkedAt = env.receivedAt + 25 * 3600 * 1000;
    const parked = decide({
      envelope: env,
      outcome: defer('account-blocked', 900),
      queue: std,
      receiveCount: 1,
      random: constant(0.5),
      now: parkedAt,
    });
    expect(parked).toMatchObject({ kind: 'park', reason: 'deferred-too-long' });
    if (parked.kind !== 'park') return;
    const body = JSON.stringify(parked.envelope);
    const replayed = parseEnvelope(replayBody({ body, envelope: parseEnvelope(body) }, parkedAt + 3600_000));
    const again = decide({
      envelope: replayed,
      outcome: defer('rate-budget', 30),
      queue: std,
      receiveCount: 1,
      random: constant(0.5),
      now: parkedAt + 3610_000,
    });
    expect(again).toMatchObject({ kind: 'resend', cause: 'defer', deferral: { ageSeconds: 10, deferrals: 1 } });
  });

  it('an undefined field in a policy overrides nothing (the default stands)', () => {
    expect(run(defer('rate-budget', 5), { ageSeconds: 24 * 3600, deferral: { maxAgeSeconds: undefined } })).toMatchObject({
      kind: 'park',
      reason: 'deferred-too-long',
    });
  });

  it('a clock behind receivedAt counts as age 0 (never a negative age, never a park)', () => {
    expect(run(defer('rate-budget', 5), { ageSeconds: -30 })).toMatchObject({ kind: 'resend', deferral: { ageSeconds: 0 } });
  });

  it('defer without a delay uses the jittered default', () => {
    expect(run(defer('blocked'), { random: constant(0) })).toMatchObject({
      kind: 'resend',
      delaySeconds: DEFAULT_BACKOFF_POLICY.deferSeconds / 2,
    });
  });

  it('park → park at once with the reason, attempts = tries made, counters unchanged', () => {
    const a = run(park('bad-signature', 'X-Signature mismatch'), { attempt: 2, deferrals: 3 });
    expect(a).toMatchObject({ kind: 'park', reason: 'bad-signature', lastError: 'X-Signature mismatch', attempts: 3 });
    if (a.kind === 'park') expect(a.envelope).toMatchObject({ attempt: 2, deferrals: 3, lastError: 'X-Signature mismatch' });
  });

  it('park without an error uses the reason as lastError; odd reasons are normalized', () => {
    expect(run(park('unknown-form'))).toMatchObject({ kind: 'park', reason: 'unknown-form', lastError: 'unknown-form' });
    expect(run(park('Lead Not Found!'))).toMatchObject({ kind: 'park', reason: 'lead-not-found' });
  });

  it('redacts lastError, including the envelope path parameters', () => {
    const env = envelope({ params: { token: 'acct-secret-token-42' } });
    const a = decide({
      envelope: env,
      outcome: retry('GET /hooks/amocrm/acct-secret-token-42 failed for ivan@example.com'),
      queue: std,
      receiveCount: 1,
      random: constant(0),
      now: env.receivedAt,
    });
    expect(a.kind === 'resend' && a.envelope.lastError).toBe('GET /hooks/amocrm/[redacted] failed for [email]');
  });

  it('truncates a long lastError to 1000 characters', () => {
    const a = run(park('x', 'e '.repeat(2000)));
    expect(a.kind === 'park' && a.lastError.length).toBe(1000);
  });

  it('does not mutate the input envelope', () => {
    const env = envelope({ attempt: 1 });
    const copy = structuredClone(env);
    decide({ envelope: env, outcome: retry('x'), queue: std, receiveCount: 1, random: constant(0), now: env.receivedAt });
    expect(env).toEqual(copy);
  });
});

describe('decide: FIFO queue without a ledger (the receive count stands in)', () => {
  it('ok → delete, park → park', () => {
    expect(run(ok(), { queue: fifo })).toEqual({ kind: 'delete' });
    expect(run(park('invalid-payload'), { queue: fifo, receiveCount: 2 })).toMatchObject({
      kind: 'park',
      reason: 'invalid-payload',
      attempts: 2,
    });
  });

  it('retry never re-sends (that would reorder the group): fail with the backoff as visibility', () => {
    const a = run(retry('x'), { queue: fifo, receiveCount: 2, random: constant(0.999_999) });
    expect(a).toEqual({ kind: 'fail', visibilityTimeoutSeconds: 4, cause: 'retry' });
  });

  it('counts attempts by the receive count and parks at maxAttempts', () => {
    expect(run(retry('x'), { queue: fifo, receiveCount: 4 }).kind).toBe('fail');
    expect(run(retry('x'), { queue: fifo, receiveCount: 5 })).toMatchObject({ kind: 'park', reason: 'out-of-attempts', attempts: 5 });
  });

  it('defer → fail with the defer delay as visibility; the receive count stands in for the deferral count', () => {
    expect(run(defer('rate-budget', 12), { queue: fifo, receiveCount: 99, ageSeconds: 40 })).toEqual({
      kind: 'fail',
      visibilityTimeoutSeconds: 12,
      cause: 'defer',
      deferral: { reason: 'rate-budget', ageSeconds: 40, deferrals: 99 },
    });
  });

  it('the deferral cap applies to FIFO too: by age, and by receive count', () => {
    expect(run(defer('rate-budget', 12), { queue: fifo, receiveCount: 3, ageSeconds: 24 * 3600 })).toMatchObject({
      kind: 'park',
      reason: 'deferred-too-long',
      attempts: 3,
    });
    expect(run(defer('rate-budget', 12), { queue: fifo, receiveCount: 11, deferral: { maxDeferrals: 10 } })).toMatchObject({
      kind: 'park',
      reason: 'deferred-too-long',
    });
  });
});

describe('decide: FIFO queue with the ledger', () => {
  const chat: QueuePolicy = { id: 'chat', fifo: true, maxAttempts: 3, maxReceiveCount: 1000 };

  it('a deferral never counts as an attempt: a retry after 40 deferrals is attempt 1, not 41', () => {
    const a = run(retry('x'), { queue: chat, receiveCount: 41, fifoCounts: { attempts: 1, deferrals: 40 }, random: constant(0.999_999) });
    expect(a).toEqual({ kind: 'fail', visibilityTimeoutSeconds: 2, cause: 'retry' });
    expect(run(retry('x'), { queue: chat, receiveCount: 43, fifoCounts: { attempts: 3, deferrals: 40 } })).toMatchObject({
      kind: 'park',
      reason: 'out-of-attempts',
      attempts: 3,
    });
  });

  it("a deferral counts the ledger's deferrals (not the receive count) and keeps its delay while receives are plenty", () => {
    expect(
      run(defer('rate-budget', 1), { queue: chat, receiveCount: 200, fifoCounts: { attempts: 2, deferrals: 150 }, ageSeconds: 60 }),
    ).toEqual({
      kind: 'fail',
      visibilityTimeoutSeconds: 1,
      cause: 'defer',
      deferral: { reason: 'rate-budget', ageSeconds: 60, deferrals: 150 },
    });
  });

  it('past a quarter of the receives, deferrals are paced so the rest last until the age cap', () => {
    const a = run(defer('rate-budget', 1), {
      queue: chat,
      receiveCount: 400,
      fifoCounts: { attempts: 0, deferrals: 399 },
      ageSeconds: 3600,
    });
    // (86 400 − 3600) s over 600 receives left.
    expect(a).toMatchObject({ kind: 'fail', visibilityTimeoutSeconds: 138 });
    expect(fifoDeferralFloor(250, 1000, 0, 86_400)).toBe(0);
    expect(fifoDeferralFloor(251, 1000, 0, 86_400)).toBe(Math.ceil(86_400 / 749));
    expect(fifoDeferralFloor(40, 50, 0, 86_400)).toBe(900); // few receives: the 900 s ceiling
    // Paced from the first receive past the quarter, 1000 receives outlast the 24 h cap.
    let age = 0;
    for (let rc = 251; rc < 1000 && age < 86_400; rc++) age += fifoDeferralFloor(rc, 1000, age, 86_400);
    expect(age).toBeGreaterThanOrEqual(86_400);
  });

  it('on the last receive SQS grants, the worker parks by itself with its reason: deferred-too-long, receive-limit', () => {
    expect(run(defer('rate-budget', 1), { queue: chat, receiveCount: 1000, fifoCounts: { attempts: 1, deferrals: 999 } })).toMatchObject({
      kind: 'park',
      reason: 'deferred-too-long',
      attempts: 2,
      lastError: expect.stringMatching(
        /receive 1000 of the queue's maxReceiveCount 1000: SQS would move it .*; last deferral: rate-budget/,
      ),
    });
    expect(run(retry('upstream 503'), { queue: chat, receiveCount: 1000, fifoCounts: { attempts: 1, deferrals: 998 } })).toMatchObject({
      kind: 'park',
      reason: 'receive-limit',
      attempts: 1,
    });
    expect(run(defer('rate-budget', 1), { queue: chat, receiveCount: 999, fifoCounts: { attempts: 0, deferrals: 999 } }).kind).toBe('fail');
  });

  it('a park reports the tries made: counted retries plus this one', () => {
    expect(run(park('invalid-payload'), { queue: chat, receiveCount: 30, fifoCounts: { attempts: 2, deferrals: 27 } })).toMatchObject({
      kind: 'park',
      attempts: 3,
    });
  });
});

describe('decide: properties', () => {
  const outcomes = fc.oneof(
    fc.constant<Outcome>(ok()),
    fc
      .record({ reason: fc.constantFrom('rate-budget', 'blocked'), d: fc.option(fc.integer({ min: -10, max: 5000 }), { nil: undefined }) })
      .map(({ reason, d }) => defer(reason, d)),
    fc.string().map((e) => retry(e)),
    fc.constantFrom('bad-signature', 'invalid-payload').map((r) => park(r)),
  );

  it('every action is well-formed; delays stay within [0, 900]; defer never parks under its cap; only retry and park park', () => {
    fc.assert(
      fc.property(
        outcomes,
        fc.boolean(),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer(),
        (outcome, isFifo, attempt, receiveCount, maxAttempts, seed) => {
          const queue = { id: 'q', fifo: isFifo, maxAttempts };
          const a = decide({ envelope: envelope({ attempt }), outcome, queue, receiveCount, random: seeded(seed), now: 1_700_000_000_000 });
          if (outcome.kind === 'ok') return a.kind === 'delete';
          if (outcome.kind === 'defer')
            return isFifo
              ? a.kind === 'fail' && a.visibilityTimeoutSeconds >= 0 && a.visibilityTimeoutSeconds <= 900
              : a.kind === 'resend' && a.delaySeconds >= 0 && a.delaySeconds <= 900 && a.envelope.attempt === attempt;
          if (outcome.kind === 'park') return a.kind === 'park';
          // retry
          const tries = isFifo ? Math.max(receiveCount, attempt + 1) : attempt + 1;
          if (tries >= maxAttempts) return a.kind === 'park' && a.reason === 'out-of-attempts' && a.attempts === tries;
          if (isFifo) return a.kind === 'fail' && a.visibilityTimeoutSeconds <= 900;
          return a.kind === 'resend' && a.envelope.attempt === attempt + 1 && a.delaySeconds <= 900;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a retry loop on a standard queue parks after exactly maxAttempts tries, whatever deferrals come between', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.boolean(), { maxLength: 80 }),
        fc.integer(),
        (maxAttempts, pattern, seed) => {
          const random = seeded(seed);
          let env = envelope();
          let tries = 0;
          for (const deferNow of [...pattern, ...Array<boolean>(maxAttempts).fill(false)]) {
            const a = decide({
              envelope: env,
              outcome: deferNow ? defer('rate-budget') : retry('boom'),
              queue: { id: 'q', fifo: false, maxAttempts },
              receiveCount: 1,
              random,
              now: env.receivedAt,
            });
            if (!deferNow) tries++;
            if (a.kind === 'park') return !deferNow && tries === maxAttempts && a.attempts === maxAttempts;
            if (a.kind !== 'resend') return false;
            env = a.envelope;
          }
          return false;
        },
      ),
    );
  });
});

describe('parkRaw', () => {
  it('parks a non-envelope with a redacted error and no envelope', () => {
    expect(parkRaw('bad-envelope', 'not JSON near "+79161234567"', 3)).toEqual({
      kind: 'park',
      reason: 'bad-envelope',
      lastError: 'not JSON near "[phone]"',
      attempts: 3,
      envelope: undefined,
    });
  });
});
