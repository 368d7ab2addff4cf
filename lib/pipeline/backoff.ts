/**
 * The retry rule, pure and seeded (stripe-node style): full-jitter exponential backoff, capped at
 * SQS's longest per-message delay. See the AWS Architecture Blog "Exponential Backoff And Jitter":
 * full jitter spreads a burst of failures best for the same total work.
 */

/** SQS refuses DelaySeconds (and a useful ChangeMessageVisibility backoff) above 15 minutes. */
export const SQS_MAX_DELAY_SECONDS = 900;

/** How the queue pipeline spaces re-sends (the REST client's in-request retries are RequestRetryPolicy, lib/amocrm/client/retry.ts). */
export interface BackoffPolicy {
  /** Ceiling of the first retry's delay; it doubles per attempt. */
  baseSeconds: number;
  /** Upper bound of any delay (clamped to SQS's 900 s). */
  capSeconds: number;
  /** Delay of a deferral whose processor did not name one (jittered ±50 %, see deferSeconds()). */
  deferSeconds: number;
}

/** assumed: 2 s doubling reaches the 900 s cap at the 10th attempt; 60 s lets a 1-minute rate window pass. */
export const DEFAULT_BACKOFF_POLICY: BackoffPolicy = { baseSeconds: 2, capSeconds: SQS_MAX_DELAY_SECONDS, deferSeconds: 60 };

/** A number in [0, 1), e.g. Math.random or a seeded generator in tests. */
export type Random = () => number;

function clampDelay(seconds: number, cap: number): number {
  const c = Math.min(Math.max(0, Math.floor(cap)), SQS_MAX_DELAY_SECONDS);
  if (Number.isNaN(seconds) || seconds < 0) return 0;
  if (seconds === Number.POSITIVE_INFINITY) return c;
  return Math.min(Math.floor(seconds), c);
}

/** The jitter-free ceiling of the delay after failed try number `attempt` (1-based). */
export function backoffCeiling(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF_POLICY): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2 ** 1100 is Infinity; Math.min keeps it sane.
  return clampDelay(policy.baseSeconds * 2 ** (n - 1), policy.capSeconds);
}

/** Full jitter: a whole number of seconds uniform in [0, ceiling]. */
export function backoffSeconds(attempt: number, random: Random, policy: BackoffPolicy = DEFAULT_BACKOFF_POLICY): number {
  const ceiling = backoffCeiling(attempt, policy);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.min(ceiling, Math.floor(unit * (ceiling + 1)));
}

/**
 * A deferral's delay: the processor's own figure when it gave one (e.g. a Retry-After), exactly;
 * otherwise the policy's default with equal jitter (half fixed, half random) so a whole batch
 * throttled at once does not come back in the same second.
 */
export function deferSeconds(requested: number | undefined, random: Random, policy: BackoffPolicy = DEFAULT_BACKOFF_POLICY): number {
  if (requested !== undefined) return clampDelay(requested, SQS_MAX_DELAY_SECONDS);
  const d = clampDelay(policy.deferSeconds, policy.capSeconds);
  const half = Math.floor(d / 2);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(d, half + Math.floor(r * (d - half + 1)));
}
