/**
 * Fault injection per route pattern: 5xx (or 429) rate, added latency, timeouts (the request is held and
 * never answered) and dropped connections (the socket is destroyed). Rolls come from the seeded
 * PRNG, so the same seed and the same request sequence give the same faults.
 */
import type { Rng } from './rng.ts';

export interface FaultRule {
  /** Path glob: `*` matches any run of characters, e.g. `/api/v4/leads*`. */
  path: string;
  method?: string;
  /** Chance of a 5xx answer, 0..1. */
  errorRate?: number;
  /**
   * Status of injected errors: 500 (documented JSON), 502/503/504 (nginx page), 429 (the limiter's
   * own answer, counted as a violation towards the block, as a refusal by the limiter would be).
   * Default 500.
   */
  errorStatus?: 429 | 500 | 502 | 503 | 504;
  /** Added delay before the request is handled (real time). */
  latencyMs?: number;
  /** Chance of holding the request without answering, 0..1. */
  timeoutRate?: number;
  /** Chance of destroying the connection without an answer, 0..1. */
  dropRate?: number;
  /**
   * Chance of a LOST ANSWER, 0..1: the request is processed in full (a write is applied) and then
   * the answer never arrives — `lostAnswer: 'drop'` (default) destroys the connection, `'hold'`
   * keeps it open without answering until close. The case amoCRM has no idempotency key for.
   */
  lostAnswerRate?: number;
  lostAnswer?: 'drop' | 'hold';
  /** Apply to at most this many matching requests, then retire the rule. */
  times?: number;
}

export type FaultDecision =
  | { kind: 'none'; latencyMs: number }
  | { kind: 'error'; status: 429 | 500 | 502 | 503 | 504; latencyMs: number }
  | { kind: 'hold'; latencyMs: number }
  | { kind: 'drop'; latencyMs: number }
  | { kind: 'lost'; then: 'drop' | 'hold'; latencyMs: number };

interface LiveRule extends FaultRule {
  re: RegExp;
  used: number;
}

export class FaultInjector {
  private rules: LiveRule[] = [];

  constructor(private rng: Rng) {}

  set(rules: FaultRule[]): void {
    this.rules = rules.map((r) => ({ ...r, used: 0, re: globToRegExp(r.path) }));
  }

  list(): FaultRule[] {
    return this.rules.map(({ re: _re, used, ...r }) => ({ ...r, ...(r.times !== undefined ? { times: r.times - used } : {}) }));
  }

  clear(): void {
    this.rules = [];
  }

  decide(method: string, path: string): FaultDecision {
    const rule = this.rules.find(
      (r) => r.re.test(path) && (!r.method || r.method.toUpperCase() === method) && (r.times === undefined || r.used < r.times),
    );
    if (!rule) return { kind: 'none', latencyMs: 0 };
    rule.used++;
    const latencyMs = rule.latencyMs ?? 0;
    // Always roll all three in the same order so one rule's outcome never shifts another's sequence.
    const drop = this.rng.next() < (rule.dropRate ?? 0);
    const hold = this.rng.next() < (rule.timeoutRate ?? 0);
    const err = this.rng.next() < (rule.errorRate ?? 0);
    // A fourth roll only for rules that ask for lost answers, so older rules keep their sequences.
    const lost = rule.lostAnswerRate !== undefined && this.rng.next() < rule.lostAnswerRate;
    if (drop) return { kind: 'drop', latencyMs };
    if (hold) return { kind: 'hold', latencyMs };
    if (err) return { kind: 'error', status: rule.errorStatus ?? 500, latencyMs };
    if (lost) return { kind: 'lost', then: rule.lostAnswer ?? 'drop', latencyMs };
    return { kind: 'none', latencyMs };
  }
}

function globToRegExp(glob: string): RegExp {
  const src = glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${src}$`);
}
