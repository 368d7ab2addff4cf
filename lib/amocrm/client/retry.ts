/**
 * The in-process retry rule (stripe-node style: pure, tested on its own, jittered backoff).
 *
 * What may be tried again inside one worker invocation:
 * - reads (GET) and idempotent writes (PATCH, PUT, DELETE, and POSTs marked idempotent such as
 *   webhook subscribe): on 5xx, timeouts and network errors, with backoff;
 * - adds (every other POST): a failure that may have landed (timeout, 5xx, a connection that
 *   broke after sending) is NEVER re-sent blindly: `verifyFirst` tells the sender to run the add's
 *   re-check, and only what did not land is sent again. A connection refused before sending did
 *   not land and is retried like a read;
 * - 429: only in awaiting mode (CLIs, benches), after the server's retry-after; workers defer.
 *   (A 429 is refused before processing, so even an add may be re-sent — *assumed*: the docs do
 *   not say it, but the sandbox and every observed 429 answer before any entity is written.)
 * - 401 is handled by the auth plug-in (one refresh, one more try), 403 by the breaker: never here.
 * Everything else (4xx) is thrown at once.
 */
import {
  AmoApiError,
  AmoNetworkError,
  AmoRateLimitedError,
  AmoServerError,
  AmoTimeoutError,
  AmoUnexpectedResponseError,
} from './errors.ts';

/** How a request may be repeated. */
export type RequestKind = 'read' | 'idempotent' | 'add';

/** How one REST request is retried in place (the queue pipeline's re-send spacing is BackoffPolicy, lib/pipeline/backoff.ts). */
export interface RequestRetryPolicy {
  /** Tries in total for 5xx/timeout/network (the first one included). */
  maxAttempts: number;
  /** First backoff ceiling; doubles per try. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Awaiting mode only: how many 429s to sit out before giving up. */
  maxRateLimitWaits: number;
}

/** assumed: 3 tries with 300 ms → 600 ms ceilings keep a worker well inside its Lambda timeout; the pipeline retries later anyway. */
export const DEFAULT_REQUEST_RETRY_POLICY: RequestRetryPolicy = {
  maxAttempts: 3,
  baseDelayMs: 300,
  maxDelayMs: 5_000,
  maxRateLimitWaits: 5,
};

export type RetryDecision = { action: 'throw' } | { action: 'retry'; delayMs: number; verifyFirst: boolean; reason: string };

export interface RetryInput {
  kind: RequestKind;
  /** Tries made so far (1 after the first failure). */
  attempt: number;
  /** 429s sat out so far. */
  rateLimitWaits: number;
  error: unknown;
  /** Awaiting mode: wait out 429s instead of deferring. */
  awaitRateLimit: boolean;
  policy?: RequestRetryPolicy;
  random?: () => number;
}

/**
 * Equal jitter: half of the exponential ceiling fixed, half random, so a retry never fires at once
 * yet a burst of failures spreads out. A server-given delay (Retry-After on a 503) wins when longer.
 */
export function backoffMs(
  attempt: number,
  random: () => number,
  policy: RequestRetryPolicy = DEFAULT_REQUEST_RETRY_POLICY,
  serverDelayMs?: number,
): number {
  const n = Math.max(1, Math.floor(attempt));
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(n - 1, 30));
  const r = Math.min(Math.max(random(), 0), 1);
  const jittered = Math.round(ceiling / 2 + r * (ceiling / 2));
  return serverDelayMs !== undefined ? Math.min(policy.maxDelayMs, Math.max(jittered, serverDelayMs)) : jittered;
}

/** Whether a failed request may have been processed by amoCRM. */
export function mayHaveLanded(error: unknown): boolean {
  if (error instanceof AmoNetworkError) return error.mayHaveLanded;
  if (error instanceof AmoTimeoutError || error instanceof AmoServerError) return true;
  if (error instanceof AmoUnexpectedResponseError) return error.status === undefined || error.status < 400 || error.status >= 500;
  return false;
}

function isTransient(error: unknown): boolean {
  return (
    error instanceof AmoServerError ||
    error instanceof AmoTimeoutError ||
    error instanceof AmoNetworkError ||
    (error instanceof AmoUnexpectedResponseError && error.outcome === 'retry')
  );
}

export function decideRetry(input: RetryInput): RetryDecision {
  const policy = input.policy ?? DEFAULT_REQUEST_RETRY_POLICY;
  const random = input.random ?? Math.random;
  const { error } = input;
  if (!(error instanceof AmoApiError)) return { action: 'throw' };

  if (error instanceof AmoRateLimitedError) {
    if (!input.awaitRateLimit || input.rateLimitWaits >= policy.maxRateLimitWaits) return { action: 'throw' };
    // Small jitter on top so the instances that were refused together do not return together.
    const delayMs = (error.retryAfterMs ?? 1_000) + Math.round(random() * 250);
    return { action: 'retry', delayMs, verifyFirst: false, reason: 'rate-limited' };
  }

  if (!isTransient(error) || input.attempt >= policy.maxAttempts) return { action: 'throw' };
  const delayMs = backoffMs(input.attempt, random, policy, error.retryAfterMs);
  const verifyFirst = input.kind === 'add' && mayHaveLanded(error);
  return { action: 'retry', delayMs, verifyFirst, reason: error.reason };
}
