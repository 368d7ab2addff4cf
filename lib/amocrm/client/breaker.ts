/**
 * The 403 breaker as the client sees it: the shared state lives in a BreakerStore (DynamoDB), and
 * each instance keeps its last read for at most `cacheMs` (≤ 1 s), so once any instance opens it,
 * every instance stops within that time. It is checked before the budget is spent and again right
 * before sending (the budget may have made the request wait).
 */
import type { BreakerStore } from './breaker-store.ts';
import { AccountBlockedError } from './errors.ts';
import type { Observer } from './types.ts';
import type { SleepingClock } from '../../common/clock.ts';

/** How long a blocked account's messages are deferred at a time (SQS's longest delay). */
export const BLOCKED_DEFER_MS = 15 * 60 * 1000;

export class BreakerGate {
  private readonly seen = new Map<string, { open: boolean; openedAt: number; readAt: number }>();
  readonly cacheMs: number;

  constructor(
    private readonly store: BreakerStore,
    private readonly clock: SleepingClock,
    private readonly observer: Observer,
    cacheMs = 500,
  ) {
    if (cacheMs > 1_000) throw new RangeError('breaker cacheMs must be ≤ 1000 (every instance must stop within a second)');
    this.cacheMs = cacheMs;
  }

  /** Throws AccountBlockedError when the account's breaker is open. */
  async check(accountHost: string): Promise<void> {
    const now = this.clock.now();
    let s = this.seen.get(accountHost);
    if (!s || now - s.readAt >= this.cacheMs) {
      const st = await this.store.get(accountHost);
      s = { open: st.open, openedAt: st.openedAt ?? now, readAt: this.clock.now() };
      this.seen.set(accountHost, s);
    }
    if (s.open) throw new AccountBlockedError(accountHost, s.openedAt, BLOCKED_DEFER_MS);
  }

  /** A reading that came with another store answer (the rate-budget item carries the breaker). */
  observe(accountHost: string, state: { open: boolean; openedAt?: number }): void {
    const now = this.clock.now();
    this.seen.set(accountHost, { open: state.open, openedAt: state.openedAt ?? now, readAt: now });
  }

  /** Opens the breaker for every instance; the first opener raises the alarm (observer event). */
  async trip(accountHost: string, reason: string): Promise<void> {
    const at = this.clock.now();
    const { opened } = await this.store.open(accountHost, { at, reason });
    this.seen.set(accountHost, { open: true, openedAt: at, readAt: at });
    if (opened) this.observer({ type: 'breaker-opened', accountHost, reason });
  }

  /** Forget the cached state (after a lift in this process). */
  forget(accountHost: string): void {
    this.seen.delete(accountHost);
  }
}

/**
 * The operator command: amoCRM support has unblocked the account, let requests flow again.
 * (CLI wiring comes later: `amo-gateway breaker lift <account host>`.) Other instances see it within
 * their cache time.
 */
export async function liftBreaker(store: BreakerStore, accountHost: string, by: string, now: number = Date.now()): Promise<void> {
  await store.lift(accountHost, { at: now, by });
}

/** For the CLI's status view. */
export async function breakerStatus(store: BreakerStore, accountHost: string) {
  return store.get(accountHost);
}
