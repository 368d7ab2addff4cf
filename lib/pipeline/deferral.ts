/**
 * The cap on deferrals. A deferral is back-pressure, not a failure, so it never counts toward a
 * queue's maxAttempts; but a message that is deferred for ever (an account never re-installed, a
 * block never lifted) would circle through its queue unseen, its re-sends resetting the queue's
 * oldest-message age. So a message still deferred once it is older than `maxAgeSeconds` (since
 * the edge received it, the envelope's `receivedAt`) or after `maxDeferrals` deferrals is parked
 * with reason `deferred-too-long`, where `dlq list` shows it and `dlq replay` sends it again.
 */

export interface DeferralPolicy {
  /** Age (seconds since `receivedAt`) after which a deferral parks instead. */
  maxAgeSeconds: number;
  /**
   * Deferrals after which the next one parks: a guard against a processor deferring with no or a
   * tiny delay (the age cap alone would let it spin for a day). FIFO queues count SQS's receive
   * count instead (a FIFO deferral is not a re-send, so nothing carries a counter).
   */
  maxDeferrals: number;
}

/**
 * *assumed*: 24 h lets a blocked account wait for amoCRM support through a working day and a
 * night; 2000 deferrals is ~24 h at the account deferral (900 s) many times over, ~17–33 h at the
 * default rate-budget deferral (30–60 s), and stops a zero-delay loop within minutes.
 */
export const DEFAULT_DEFERRAL_POLICY: DeferralPolicy = { maxAgeSeconds: 24 * 3600, maxDeferrals: 2000 };

/** The defaults overridden by each part in turn (later wins); an undefined field overrides nothing. */
export function deferralPolicy(...parts: Array<Partial<DeferralPolicy> | undefined>): DeferralPolicy {
  const out = { ...DEFAULT_DEFERRAL_POLICY };
  for (const p of parts) {
    if (p?.maxAgeSeconds !== undefined) out.maxAgeSeconds = p.maxAgeSeconds;
    if (p?.maxDeferrals !== undefined) out.maxDeferrals = p.maxDeferrals;
  }
  return out;
}

export interface DeferralCheck {
  /** Whole seconds since the envelope's `receivedAt` (0 when the clock is behind it). */
  ageSeconds: number;
  /** This deferral's number (1 for the first). */
  deferrals: number;
  /** Why the cap is reached, or undefined when the message may be deferred again. */
  exceeded: string | undefined;
}

export function checkDeferral(
  receivedAt: number,
  now: number,
  deferrals: number,
  policy: DeferralPolicy = DEFAULT_DEFERRAL_POLICY,
): DeferralCheck {
  const ageSeconds = Math.max(0, Math.floor((now - receivedAt) / 1000));
  let exceeded: string | undefined;
  if (ageSeconds >= policy.maxAgeSeconds)
    exceeded = `still deferred ${formatAge(ageSeconds)} after it was received (cap ${formatAge(policy.maxAgeSeconds)})`;
  else if (deferrals > policy.maxDeferrals) exceeded = `deferred ${deferrals} times (cap ${policy.maxDeferrals})`;
  return { ageSeconds, deferrals, exceeded };
}

function formatAge(s: number): string {
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}
