/**
 * The budget algorithm (lib/store/rate-budget.ts), exercised where the proof says it holds:
 * a discrete-event simulation of many instances with skewed clocks, random and heavy-tailed
 * latencies, lost requests, late wake-ups and crashed senders. The "server" records ARRIVAL
 * times; the test asserts no 8 arrivals within any 1000 ms (the sandbox's sliding window).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_RING,
  DEFAULT_BUDGET_CONFIG,
  endStamp,
  freshRing,
  planAcquire,
  spanMs,
  type BudgetConfig,
  type BudgetState,
  type Slot,
} from '../../lib/amocrm/client/rate-budget.ts';

interface SimParams {
  instances: number;
  skews: number[];
  seed: number;
  /** Upper bounds of one-way latencies (ms). */
  upMax: number;
  downMax: number;
  /** Share of requests that get no answer (timeout), some of which still arrive. */
  lostRate: number;
  /** Share of instances that crash mid-request (never complete). */
  crashRate: number;
  /** Share of wake-ups past the configured lateness allowance (they give the slot up); default 2 %. */
  stallRate?: number;
  /** Pause between an answer and the instance's next acquire (work between calls). */
  thinkMax?: number;
  durationMs: number;
  cfg: BudgetConfig;
}

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function simulate(p: SimParams): { arrivals: number[]; sent: number } {
  const rand = rng(p.seed);
  const state: BudgetState = { version: 0, rings: { c: freshRing(7), [ACCOUNT_RING]: freshRing(50) }, paused: {} };
  const stamp = (id: string, e: number) => {
    for (const ring of Object.values(state.rings)) for (const x of ring) if (x.id === id) x.e = e;
  };
  const arrivals: number[] = [];
  let sent = 0;
  let nextId = 0;
  const timeoutMs = 2_000;
  // Event queue of [realTime, action]; tiny and sorted on insert.
  const q: Array<[number, () => void]> = [];
  const at = (t: number, f: () => void) => {
    let i = q.length;
    while (i > 0 && q[i - 1]![0] > t) i--;
    q.splice(i, 0, [t, f]);
  };
  const heavy = (max: number) => {
    // Mostly small, sometimes the whole range: heavy tail.
    const r = rand();
    return r < 0.8 ? rand() * max * 0.1 : rand() * max;
  };

  const loop = (inst: number, real: number) => {
    if (real > p.durationMs) return;
    const skew = p.skews[inst]!;
    const now = real + skew;
    const plan = planAcquire(state, 'c', `i${inst}`, now, timeoutMs, p.cfg, rand);
    if (plan.kind === 'wait') {
      at(real + plan.retryAfterMs + rand() * 5, () => loop(inst, real + plan.retryAfterMs + rand() * 5));
      return;
    }
    const id = String(nextId++);
    // The conditional write: each picked slot still holds the request the plan saw (single-threaded here).
    for (const pk of plan.picks) {
      expect(state.rings[pk.ring]![pk.index]!.id).toBe(pk.prevId);
      state.rings[pk.ring]![pk.index] = { ...plan.entry, id };
    }
    // Wake up at sendAt on the own clock, sometimes late (an event-loop stall, a slow store write):
    // 10 % up to 400 ms, and `stallRate` past the configured allowance (up to 1.6 ×), which give the slot up.
    const r = rand();
    const lateness = r < 0.1 ? rand() * 400 : r < 0.1 + (p.stallRate ?? 0.02) ? p.cfg.maxLatenessMs * (1 + rand() * 0.6) : rand() * 3;
    const wakeReal = plan.sendAt - skew + lateness;
    at(wakeReal, () => {
      const wakeNow = wakeReal + skew;
      if (wakeNow > plan.latestSendAt) {
        // Too late: give the slot up (nothing sent) and ask again.
        stamp(id, endStamp({ endedAt: wakeNow, how: 'not-sent' }, p.cfg, plan.sendAt));
        loop(inst, wakeReal);
        return;
      }
      sent++;
      const crash = rand() < p.crashRate;
      const lost = !crash && rand() < p.lostRate;
      const up = heavy(p.upMax);
      if (crash) {
        // Never completes; may arrive up to the deadline (the assumption the deadline encodes).
        if (rand() < 0.7) arrivals.push(wakeReal + Math.min(up, timeoutMs + p.cfg.lostRequestGraceMs));
        return; // this instance is gone
      }
      if (lost) {
        // The client gives up at the timeout; the request may arrive up to `grace` later, or never.
        const giveUp = wakeReal + timeoutMs;
        if (rand() < 0.6) arrivals.push(wakeReal + rand() * (timeoutMs + p.cfg.lostRequestGraceMs));
        at(giveUp, () => {
          stamp(id, endStamp({ endedAt: giveUp + skew, how: 'lost' }, p.cfg, plan.sendAt));
          loop(inst, giveUp);
        });
        return;
      }
      const arrival = wakeReal + up;
      arrivals.push(arrival);
      const answered = arrival + heavy(p.downMax);
      at(answered, () => {
        stamp(id, endStamp({ endedAt: answered + skew, how: 'answered' }, p.cfg, plan.sendAt));
        const next = answered + rand() * (p.thinkMax ?? 0);
        at(next, () => loop(inst, next));
      });
    });
  };

  for (let i = 0; i < p.instances; i++) {
    const start = rand() * 50;
    at(start, () => loop(i, start));
  }
  while (q.length) {
    const [, f] = q.shift()!;
    f();
  }
  arrivals.sort((a, b) => a - b);
  return { arrivals, sent };
}

/** The largest number of arrivals in any window (t - 1000, t] — the sandbox's rule. */
function maxInAnyWindow(arrivals: number[], windowMs = 1000): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < arrivals.length; hi++) {
    while (arrivals[hi]! - arrivals[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('rate budget algorithm (pure)', () => {
  const cfg = DEFAULT_BUDGET_CONFIG;
  const fresh = (): BudgetState => ({ version: 0, rings: { c: freshRing(7), [ACCOUNT_RING]: freshRing(50) }, paused: {} });
  const take = (state: BudgetState, plan: ReturnType<typeof planAcquire>): Slot => {
    if (plan.kind !== 'grant') throw new Error(`expected a grant, got ${JSON.stringify(plan)}`);
    for (const pk of plan.picks) state.rings[pk.ring]![pk.index] = { ...plan.entry };
    return plan.entry;
  };

  it('grants 7 at once, then the 8th only at the earliest END + window + margin', () => {
    const state = fresh();
    const sent = Array.from({ length: 7 }, () => take(state, planAcquire(state, 'c', 'A', 1_000, 5_000, cfg)));
    expect(sent.every((e) => e.s === 1_000)).toBe(true);
    // All 7 in flight: the 8th is not reservable (their deadlines are far), and is told when to ask again.
    expect(planAcquire(state, 'c', 'A', 1_010, 5_000, cfg)).toMatchObject({ kind: 'wait', reason: 'budget' });
    // Another integration of the same account has its own ring (only the 50/s binds it).
    expect(planAcquire({ ...state, rings: { ...state.rings, other: freshRing(7) } }, 'other', 'A', 1_010, 5_000, cfg)).toMatchObject({
      kind: 'grant',
      sendAt: 1_010,
    });
    // Answers came back at 1 100..1 106: the 8th goes at the earliest end + 1000 + margin.
    sent.forEach((e, i) => {
      for (const ring of Object.values(state.rings)) for (const x of ring) if (x.id === e.id) x.e = 1_100 + i;
    });
    expect(planAcquire(state, 'c', 'A', 1_120, 5_000, cfg)).toMatchObject({
      kind: 'grant',
      sendAt: 1_100 + 1_000 + 2 * cfg.maxClockSkewMs + 10,
    });
  });

  it("another instance waits for the owner's grace before taking a slot; the owner chains at once", () => {
    const state = fresh();
    for (let i = 0; i < 7; i++) take(state, planAcquire(state, 'c', 'A', 0, 5_000, cfg));
    for (const x of state.rings.c!) x.e = 100;
    for (const x of state.rings[ACCOUNT_RING]!) if (x.id) x.e = 100;
    expect(planAcquire(state, 'c', 'B', 150, 5_000, cfg)).toMatchObject({ kind: 'wait', retryAfterMs: 100 + cfg.ownerGraceMs - 150 });
    expect(planAcquire(state, 'c', 'A', 150, 5_000, cfg)).toMatchObject({ kind: 'grant', sendAt: 100 + spanMs(cfg) });
    expect(planAcquire(state, 'c', 'B', 100 + cfg.ownerGraceMs, 5_000, cfg)).toMatchObject({ kind: 'grant', sendAt: 100 + spanMs(cfg) });
  });

  it('every own slot busy with an unanswered request: ask again soon, not at its pessimistic deadline', () => {
    // Seven requests sent 50 ms ago, answers due in a round trip; their deadlines are ~14 s away.
    const state = fresh();
    for (let i = 0; i < 7; i++) take(state, planAcquire(state, 'c', 'A', 0, 12_000, cfg));
    const plan = planAcquire(state, 'c', 'A', 50, 12_000, cfg);
    expect(plan.kind).toBe('wait');
    // Before: the account ring's hint counted from the deadline-based send time (13 510 ms).
    expect(plan.kind === 'wait' && plan.retryAfterMs).toBeLessThanOrEqual(spanMs(cfg));
  });

  it('a pause (429) holds every grant of that integration until it ends', () => {
    const state = { ...fresh(), paused: { c: 10_000 } };
    expect(planAcquire(state, 'c', 'A', 5_000, 1_000, cfg)).toMatchObject({
      kind: 'wait',
      reason: 'paused',
      retryAfterMs: 10_000 - cfg.reserveAheadMs - 5_000,
    });
    expect(planAcquire(state, 'c', 'A', 9_000, 1_000, cfg)).toMatchObject({ kind: 'grant', sendAt: 10_000 });
  });

  it('the account ring (50/s) binds across integrations when it is the stricter one', () => {
    const c3: BudgetConfig = { ...cfg, perAccountPerSecond: 3 };
    const used = (id: string): Slot => ({ id, s: 0, d: 9_000, e: 100, o: 'X' });
    const state: BudgetState = { version: 0, rings: { mine: freshRing(7), [ACCOUNT_RING]: [used('a'), used('b'), used('c')] }, paused: {} };
    expect(planAcquire(state, 'mine', 'X', 200, 1_000, c3)).toMatchObject({ kind: 'grant', sendAt: 100 + spanMs(c3) });
  });

  it('never lets 8 requests ARRIVE within any 1000 ms, whatever the skew, latency, losses and crashes (simulation)', () => {
    fc.assert(
      fc.property(
        fc.record({
          instances: fc.integer({ min: 1, max: 25 }),
          seed: fc.integer(),
          upMax: fc.integer({ min: 0, max: 1_500 }),
          downMax: fc.integer({ min: 0, max: 1_500 }),
          lostRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
          crashRate: fc.double({ min: 0, max: 0.05, noNaN: true }),
          skewMax: fc.integer({ min: 0, max: DEFAULT_BUDGET_CONFIG.maxClockSkewMs }),
          thinkMax: fc.integer({ min: 0, max: 400 }),
        }),
        (r) => {
          const skewRand = rng(r.seed ^ 0x5eed);
          const skews = Array.from({ length: r.instances }, () => Math.round((skewRand() * 2 - 1) * r.skewMax));
          const { arrivals, sent } = simulate({ ...r, skews, durationMs: 8_000, cfg: DEFAULT_BUDGET_CONFIG });
          expect(sent).toBeGreaterThanOrEqual(Math.min(7, r.instances)); // the run did real work
          expect(maxInAnyWindow(arrivals)).toBeLessThanOrEqual(7);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the margin is what saves it: with skew beyond the configured allowance the same simulation can break', () => {
    // Evidence that the test above can fail: lie about the skew (allowance 0, real skew ±40 ms).
    const bad: BudgetConfig = { ...DEFAULT_BUDGET_CONFIG, maxClockSkewMs: -5 }; // margin 0
    let worst = 0;
    for (let seed = 1; seed <= 40 && worst <= 7; seed++) {
      const skews = Array.from({ length: 20 }, (_, i) => (i % 2 ? 40 : -40));
      worst = Math.max(
        worst,
        maxInAnyWindow(
          simulate({
            instances: 20,
            skews,
            seed,
            upMax: 5,
            downMax: 5,
            lostRate: 0,
            crashRate: 0,
            thinkMax: 400,
            durationMs: 6_000,
            cfg: bad,
          }).arrivals,
        ),
      );
    }
    expect(worst).toBeGreaterThan(7);
  });

  it('keeps ≥ 90 % of 7/s with a fast server, 20 instances and ±20 ms skew', () => {
    const skews = Array.from({ length: 20 }, (_, i) => ((i * 7) % 41) - 20);
    const { arrivals } = simulate({
      instances: 20,
      skews,
      seed: 7,
      upMax: 10,
      downMax: 10,
      lostRate: 0,
      crashRate: 0,
      // Throughput with ordinary lateness (10 % up to 400 ms); a stall past the allowance holds its
      // slot idle until it wakes, whatever the algorithm (the simulation above covers that path).
      stallRate: 0,
      durationMs: 20_000,
      cfg: DEFAULT_BUDGET_CONFIG,
    });
    const span = (arrivals.at(-1)! - arrivals[0]!) / 1000;
    const rate = (arrivals.length - 1) / span;
    expect(maxInAnyWindow(arrivals)).toBeLessThanOrEqual(7);
    expect(rate).toBeGreaterThanOrEqual(0.9 * 7);
  });
});
