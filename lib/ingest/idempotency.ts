/**
 * Idempotency on business identity (docs/architecture.md#idempotency-keys): each event's key (webhook request id or body
 * hash + entity id + action, RDESK booking + element hash, amojo message id, form submission)
 * runs its effect at most once.
 *
 * Outcomes of `once(key, fn)`:
 * - the key was never seen (or its previous try failed, or its holder died): `fn` runs →
 *   `{status: 'ran', value}`;
 * - a completed record exists: `fn` does not run → `{status: 'duplicate'}`;
 * - another worker holds it in progress right now: throws `IdempotencyInProgressError` (the
 *   pipeline defers).
 * A failing `fn` deletes its own in-progress record, so a retry runs it again. A claim whose
 * holder died is taken over, and `fn` is told so (`OnceRun.resumed`).
 *
 * The port; the DynamoDB adapter (one partition per key) is lib/store/idempotency.ts.
 */
export type OnceResult<T> = { status: 'ran'; value: T } | { status: 'duplicate' };

export interface OnceOptions {
  /** How long a completed record blocks the key (default: the guard's own TTL). */
  ttlSeconds?: number;
}

/** What `fn` is told about the key it runs under. */
export interface OnceRun {
  /**
   * The key was held by a run that never finished — its holder died (a killed runner, a Lambda
   * timeout or OOM) — so the effect may have partly landed: re-check before writing
   * (docs/architecture.md#failure-semantics). False after a clean failure (which releases its claim).
   */
  resumed: boolean;
}

export interface IdempotencyGuard {
  once<T>(key: string, fn: (run: OnceRun) => Promise<T>, opts?: OnceOptions): Promise<OnceResult<T>>;
}

export class IdempotencyInProgressError extends Error {
  override readonly name = 'IdempotencyInProgressError';
  constructor(
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super('another worker is processing this event right now', options);
  }
}
