/**
 * BreakerStore: the account-wide stop switch (on a 403 block every worker stops calling that
 * account and an alarm fires; docs/architecture.md#one-rate-budget-per-account). The port and the in-memory adapter; the DynamoDB adapter
 * (the breaker on the account's rate-budget item) is lib/store/breaker.ts. The client's view of
 * it (a short cache, checked before and after the budget) is breaker.ts here.
 */
export interface BreakerState {
  open: boolean;
  openedAt?: number;
  /** Why (safe to log): e.g. `403 from GET /api/v4/leads`. */
  reason?: string;
  liftedAt?: number;
  liftedBy?: string;
}

export interface BreakerStore {
  /** Strongly consistent read. */
  get(accountHost: string): Promise<BreakerState>;
  /** Opens the breaker; `opened` is false when it was already open (only the first opener raises the alarm). */
  open(accountHost: string, info: { at: number; reason: string }): Promise<{ opened: boolean }>;
  /** Closes it (the operator command). */
  lift(accountHost: string, info: { at: number; by: string }): Promise<void>;
}

export class MemoryBreakerStore implements BreakerStore {
  private readonly states = new Map<string, BreakerState>();
  async get(host: string): Promise<BreakerState> {
    return { ...(this.states.get(host) ?? { open: false }) };
  }
  async open(host: string, info: { at: number; reason: string }): Promise<{ opened: boolean }> {
    if (this.states.get(host)?.open) return { opened: false };
    this.states.set(host, { open: true, openedAt: info.at, reason: info.reason });
    return { opened: true };
  }
  async lift(host: string, info: { at: number; by: string }): Promise<void> {
    const s = this.states.get(host);
    this.states.set(host, { ...(s ?? {}), open: false, liftedAt: info.at, liftedBy: info.by });
  }
}
