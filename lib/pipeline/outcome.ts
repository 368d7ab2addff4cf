/**
 * The one failure vocabulary every worker speaks (docs/architecture.md#failure-semantics):
 *
 * - `ok`    — done; the message is deleted.
 * - `defer` — back-pressure (rate budget spent, account blocked, re-authorization needed). Not a
 *             failure: re-sent with a delay, never counted toward maxAttempts; parked
 *             `deferred-too-long` only past the deferral cap (deferral.ts, default 24 h).
 * - `retry` — transient (5xx, timeout, network). Counted by the envelope's own `attempt`, backed
 *             off with full jitter, parked as `out-of-attempts` after the queue's `maxAttempts`.
 * - `park`  — permanent (invalid payload, bad signature, unknown form, …): to the DLQ at once.
 *
 * A processor either returns an Outcome or throws one of the errors below; any other thrown
 * error is treated as `retry` (an unknown failure is assumed transient: it will be parked after
 * its attempts anyway, whereas parking it at once could lose work to a passing glitch).
 */
import { describeError } from '../common/errors.ts';

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'defer'; reason: string; delaySeconds?: number }
  | { kind: 'retry'; error: string }
  | { kind: 'park'; reason: string; error?: string };

export type OutcomeKind = Outcome['kind'];

export const ok = (): Outcome => ({ kind: 'ok' });
export const defer = (reason: string, delaySeconds?: number): Outcome =>
  delaySeconds === undefined ? { kind: 'defer', reason } : { kind: 'defer', reason, delaySeconds };
export const retry = (error: string): Outcome => ({ kind: 'retry', error });
export const park = (reason: string, error?: string): Outcome =>
  error === undefined ? { kind: 'park', reason } : { kind: 'park', reason, error };

/** Park reasons the pipeline itself gives; processors add their own (kebab-case). */
export const PARK_REASONS = {
  badEnvelope: 'bad-envelope',
  unknownRoute: 'unknown-route',
  wrongQueue: 'wrong-queue',
  noProcessor: 'no-processor',
  bodyTooLarge: 'body-too-large',
  outOfAttempts: 'out-of-attempts',
  deferredTooLong: 'deferred-too-long',
  /** FIFO: SQS's redrive would take the message on its next receive (docs/architecture.md#failure-semantics). */
  receiveLimit: 'receive-limit',
} as const;

const REASON = /^[a-z][a-z0-9-]{0,63}$/;

/** Reasons end up in DynamoDB keys' neighbours, logs and CLI filters: keep them short kebab-case. */
export function normalizeReason(reason: string): string {
  if (REASON.test(reason)) return reason;
  const cleaned = reason
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return /^[a-z]/.test(cleaned) ? cleaned : `r-${cleaned || 'unknown'}`.slice(0, 64);
}

/** Base of the errors a processor may throw to choose its outcome. */
export abstract class PipelineError extends Error {
  abstract toOutcome(): Outcome;
}

/** Back-pressure: try again later, without counting an attempt. */
export class DeferError extends PipelineError {
  override readonly name = 'DeferError';
  constructor(
    readonly reason: string,
    readonly delaySeconds?: number,
    options?: ErrorOptions,
  ) {
    super(`deferred: ${reason}`, options);
  }
  toOutcome(): Outcome {
    return defer(this.reason, this.delaySeconds);
  }
}

/** Transient failure: counted, backed off, parked after the queue's maxAttempts. */
export class RetryableError extends PipelineError {
  override readonly name = 'RetryableError';
  toOutcome(): Outcome {
    return retry(describeError(this));
  }
}

/** Can never succeed: parked at once with `reason`. */
export class PermanentError extends PipelineError {
  override readonly name = 'PermanentError';
  constructor(
    readonly reason: string,
    message?: string,
    options?: ErrorOptions,
  ) {
    super(message ?? reason, options);
  }
  toOutcome(): Outcome {
    return park(this.reason, describeError(this));
  }
}

/** What a thrown value means: our typed errors choose; anything else is a retry. */
export function outcomeFromError(e: unknown): Outcome {
  if (e instanceof PipelineError) return e.toOutcome();
  return retry(describeError(e));
}
