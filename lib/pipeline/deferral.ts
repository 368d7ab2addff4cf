/**
 * The cap on deferrals. A deferral is back-pressure, not a failure, so it never counts toward a
 * queue's maxAttempts; but a message that is deferred for ever (an account never re-installed, a
 * block never lifted) would circle through its queue unseen, its re-sends resetting the queue's
 * oldest-message age. So a message still deferred once it is older than `maxAgeSeconds` (since
 * the edge received it, the envelope's `receivedAt`) or after `maxDeferrals` deferrals is parked
 * with reason `deferred-too-long`, where `dlq list` shows it and `dlq replay` sends it again.
 */
import { SQS_MAX_DELAY_SECONDS } from './backoff.ts';

export interface DeferralPolicy {
  /** Age (seconds since `receivedAt`) after which a deferral parks instead. */
  maxAgeSeconds: number;
  /**
   * Deferrals after which the next one parks: a guard against a processor deferring with no or a
   * tiny delay (the age cap alone would let it spin for a day). FIFO messages are counted in the
   * FIFO ledger (a FIFO deferral is not a re-send, so the message carries no counter).
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

/**
 * The least visibility of a FIFO deferral. Each FIFO deferral costs one receive, and SQS redrives a
 * message past the queue's maxReceiveCount; so once a quarter of the receives are spent, the rest
 * are spread over what is left of the age cap: ⌈(maxAgeSeconds − age) / receives left⌉, at most
 * SQS's 900 s. With 1000 receives (the FIFO default) that is ~2 min a deferral and the receives
 * last past the 24 h cap; with fewer, the 900 s ceiling can spend them sooner — then the worker
 * parks the message `deferred-too-long` on the last receive (decide.ts), never SQS silently.
 */
export function fifoDeferralFloor(receiveCount: number, maxReceiveCount: number, ageSeconds: number, maxAgeSeconds: number): number {
  if (receiveCount <= Math.floor(maxReceiveCount / 4)) return 0;
  const left = maxReceiveCount - receiveCount;
  const time = maxAgeSeconds - ageSeconds;
  if (left <= 0 || time <= 0) return 0;
  return Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil(time / left));
}
