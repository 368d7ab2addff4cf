/**
 * The rules engine's state port (the DynamoDB adapter: lib/store/rules-state.ts; the in-memory
 * one here, for one process and tests): round-robin counters, per-entity hop counts, first-attempt
 * marks, kept picks and the echoes of our own writes.
 */
export interface RulesState {
  /** The next position (0 … size-1) of the round-robin list `key`: one atomic counter per key, shared by every worker. */
  nextRoundRobin(key: string, size: number): Promise<number>;
  /** Counts one rule run for `key` (account:entity:id) in the window containing `nowMs`; returns the count so far. */
  hop(key: string, windowSeconds: number, nowMs: number): Promise<number>;
  /**
   * The number kept under `key` (kept `ttlSeconds`), or, the first time, the one `make()` gives,
   * kept: a retried step reuses its round-robin pick (the same task on every attempt).
   */
  keep(key: string, ttlSeconds: number, nowMs: number, make: () => Promise<number>): Promise<number>;
  /** True the first time `key` is marked (kept `ttlSeconds`); false on every later call. */
  firstAttempt(key: string, ttlSeconds: number, nowMs: number): Promise<boolean>;
  /** Remembers an echo key of one of our writes (kept `ttlSeconds`). */
  remember(key: string, ttlSeconds: number, nowMs: number): Promise<void>;
  /** Was `key` remembered (and not expired)? */
  has(key: string, nowMs: number): Promise<boolean>;
}

export class MemoryRulesState implements RulesState {
  private readonly counters = new Map<string, number>();
  private readonly marks = new Map<string, number>();
  private readonly kept = new Map<string, { n: number; until: number }>();

  async keep(key: string, ttlSeconds: number, nowMs: number, make: () => Promise<number>): Promise<number> {
    const hit = this.kept.get(key);
    if (hit && hit.until > nowMs) return hit.n;
    const n = await make();
    const again = this.kept.get(key);
    if (again && again.until > nowMs) return again.n;
    this.kept.set(key, { n, until: nowMs + ttlSeconds * 1000 });
    return n;
  }

  async nextRoundRobin(key: string, size: number): Promise<number> {
    const n = (this.counters.get(`rr:${key}`) ?? 0) + 1;
    this.counters.set(`rr:${key}`, n);
    return (n - 1) % size;
  }

  async hop(key: string, windowSeconds: number, nowMs: number): Promise<number> {
    const k = `hop:${key}:${Math.floor(nowMs / 1000 / windowSeconds)}`;
    const n = (this.counters.get(k) ?? 0) + 1;
    this.counters.set(k, n);
    return n;
  }

  async firstAttempt(key: string, ttlSeconds: number, nowMs: number): Promise<boolean> {
    if (await this.has(key, nowMs)) return false;
    this.marks.set(key, nowMs + ttlSeconds * 1000);
    return true;
  }

  async remember(key: string, ttlSeconds: number, nowMs: number): Promise<void> {
    this.marks.set(key, nowMs + ttlSeconds * 1000);
  }

  async has(key: string, nowMs: number): Promise<boolean> {
    const until = this.marks.get(key);
    return until !== undefined && until > nowMs;
  }
}
