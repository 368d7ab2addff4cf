import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffSeconds, DEFAULT_BACKOFF_POLICY, deferSeconds, SQS_MAX_DELAY_SECONDS } from '../../lib/pipeline/backoff.ts';
import { constant, seeded } from './seeded.ts';

describe('backoff ceiling', () => {
  it('doubles from the base per attempt and stops at the cap', () => {
    const got = Array.from({ length: 12 }, (_, i) => backoffCeiling(i + 1));
    expect(got).toEqual([2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
  });

  it('never exceeds SQS 900 s even when the policy cap is higher, and survives huge attempts', () => {
    const policy = { ...DEFAULT_BACKOFF_POLICY, capSeconds: 5000 };
    expect(backoffCeiling(11, policy)).toBe(SQS_MAX_DELAY_SECONDS);
    expect(backoffCeiling(5000, policy)).toBe(SQS_MAX_DELAY_SECONDS);
  });

  it('treats attempt < 1 as the first attempt', () => {
    expect(backoffCeiling(0)).toBe(2);
    expect(backoffCeiling(-3)).toBe(2);
  });

  it('honours a lower policy cap and base', () => {
    const policy = { baseSeconds: 1, capSeconds: 10, deferSeconds: 5 };
    expect(Array.from({ length: 6 }, (_, i) => backoffCeiling(i + 1, policy))).toEqual([1, 2, 4, 8, 10, 10]);
  });
});

describe('full-jitter backoff', () => {
  it('spans the whole [0, ceiling] range: random 0 → 0, random just under 1 → the ceiling', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      expect(backoffSeconds(attempt, constant(0))).toBe(0);
      expect(backoffSeconds(attempt, constant(0.999_999_9))).toBe(backoffCeiling(attempt));
    }
  });

  it('is an integer within [0, ceiling] for every attempt and random value (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const d = backoffSeconds(attempt, constant(r));
        return Number.isInteger(d) && d >= 0 && d <= backoffCeiling(attempt) && d <= SQS_MAX_DELAY_SECONDS;
      }),
    );
  });

  it('clamps a misbehaving random source (NaN, negative, > 1)', () => {
    expect(backoffSeconds(3, constant(Number.NaN))).toBe(0);
    expect(backoffSeconds(3, constant(-1))).toBe(0);
    expect(backoffSeconds(3, constant(7))).toBe(8);
  });

  it('is reproducible with a seed and roughly uniform', () => {
    const a = Array.from(
      { length: 50 },
      (
        (r) => () =>
          backoffSeconds(10, r)
      )(seeded(42)),
    );
    const b = Array.from(
      { length: 50 },
      (
        (r) => () =>
          backoffSeconds(10, r)
      )(seeded(42)),
    );
    expect(a).toEqual(b);
    const rnd = seeded(7);
    const samples = Array.from({ length: 4000 }, () => backoffSeconds(10, rnd));
    const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
    expect(mean).toBeGreaterThan(420);
    expect(mean).toBeLessThan(480); // uniform over [0, 900] → 450
    expect(Math.min(...samples)).toBeLessThan(20);
    expect(Math.max(...samples)).toBeGreaterThan(880);
  });
});

describe('defer delay', () => {
  it("uses the processor's own delay exactly, clamped to [0, 900]", () => {
    expect(deferSeconds(17, constant(0.9))).toBe(17);
    expect(deferSeconds(0, constant(0.9))).toBe(0);
    expect(deferSeconds(5000, constant(0.9))).toBe(900);
    expect(deferSeconds(-4, constant(0.9))).toBe(0);
    expect(deferSeconds(2.7, constant(0.9))).toBe(2);
  });

  it('without one, jitters the default between half and all of it', () => {
    expect(deferSeconds(undefined, constant(0))).toBe(30);
    expect(deferSeconds(undefined, constant(0.999_999))).toBe(60);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (r) => {
        const d = deferSeconds(undefined, constant(r));
        return Number.isInteger(d) && d >= 30 && d <= 60;
      }),
    );
  });
});
