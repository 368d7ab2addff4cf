/**
 * The pure decision: (envelope, outcome, queue, receive count, random, policy) → what to do with
 * the SQS message. No I/O, no clock; the executor (lib/aws/actions.ts) carries it out.
 *
 * Standard queues:
 *   ok    → delete
 *   defer → resend (same queue, DelaySeconds) with deferrals + 1; parked `deferred-too-long`
 *           once the message is older than the deferral cap or deferred too often (deferral.ts)
 *   retry → attempt + 1; below maxAttempts → resend after full-jitter backoff; else park
 *           `out-of-attempts`
 *   park  → park at once
 * FIFO queues cannot delay one message and a re-send would jump behind its group, so defer and
 * retry become `fail`: the record is reported in batchItemFailures (the group stays blocked and in
 * order) with its visibility set to the delay; the batch loop gives the group's followers in the
 * batch the same visibility. A FIFO message carries no counters, so its retries and deferrals are
 * counted in the FIFO ledger (fifo-ledger.ts; `fifoCounts`), each in its own column: a deferral
 * never counts as an attempt. Every `fail` is one more receive, and SQS moves a message to the DLQ
 * by itself past the queue's maxReceiveCount, unindexed and without a reason; so
 * - a deferral's visibility is paced once a quarter of the receives are spent, so that the rest
 *   last until the deferral age cap (deferral.ts fifoDeferralFloor), and
 * - on the last receive SQS grants (receive count = maxReceiveCount) a defer is parked
 *   `deferred-too-long` and a retry `receive-limit` by the worker itself, with its reason.
 */
import type { Envelope } from '../envelope.ts';
import type { QueueDef } from '../routes.ts';
import { backoffSeconds, deferSeconds, DEFAULT_BACKOFF_POLICY, type Random, type BackoffPolicy } from './backoff.ts';
import { checkDeferral, deferralPolicy, fifoDeferralFloor, type DeferralPolicy } from './deferral.ts';
import type { FifoCounts } from './fifo-ledger.ts';
import { normalizeReason, PARK_REASONS, type Outcome } from './outcome.ts';
import { safeErrorText } from '../common/redact.ts';

/** What the decision needs of a queue of the table (lib/routes.ts), and its own deferral cap. */
export type QueuePolicy = Pick<QueueDef, 'id' | 'fifo' | 'maxAttempts'> & {
  /** This queue's deferral cap, over the pipeline's (DecideInput.deferral). */
  deferral?: Partial<DeferralPolicy>;
  /** SQS's redrive count of the queue (lib/routes.ts redriveMaxReceiveCount); FIFO queues pace and park by it. */
  maxReceiveCount?: number;
};

/** What the batch loop reports (Deferred, DeferredMessageAge) for a deferral. */
export interface DeferralInfo {
  reason: string;
  /** Seconds since the edge received the message. */
  ageSeconds: number;
  /** This deferral's number (FIFO: from the FIFO ledger). */
  deferrals: number;
}

export type Action =
  | { kind: 'delete' }
  | { kind: 'resend'; delaySeconds: number; envelope: Envelope; cause: 'retry' }
  | { kind: 'resend'; delaySeconds: number; envelope: Envelope; cause: 'defer'; deferral: DeferralInfo }
  | {
      kind: 'park';
      reason: string;
      /** Redacted and truncated. */
      lastError: string;
      /** Tries made, this one included. */
      attempts: number;
      /** What goes to the DLQ; undefined when the message was not an envelope (the raw body goes). */
      envelope: Envelope | undefined;
    }
  | { kind: 'fail'; visibilityTimeoutSeconds: number; cause: 'retry' }
  | { kind: 'fail'; visibilityTimeoutSeconds: number; cause: 'defer'; deferral: DeferralInfo };

export interface DecideInput {
  envelope: Envelope;
  outcome: Outcome;
  queue: QueuePolicy;
  /** SQS ApproximateReceiveCount of this delivery (1 on the first). */
  receiveCount: number;
  random: Random;
  /** Epoch ms of this decision (the deferral cap compares it with the envelope's receivedAt). */
  now: number;
  policy?: BackoffPolicy;
  /** The pipeline's deferral cap (default DEFAULT_DEFERRAL_POLICY); the queue's own wins. */
  deferral?: Partial<DeferralPolicy>;
  /**
   * FIFO: the ledger's counts for this message, this delivery's retry or deferral included.
   * Without them (no ledger) SQS's receive count stands in for both, as it did before the ledger.
   */
  fifoCounts?: FifoCounts;
}

export function decide(input: DecideInput): Action {
  const { envelope: env, outcome, queue } = input;
  const policy = input.policy ?? DEFAULT_BACKOFF_POLICY;
  const secrets = Object.values(env.params);
  const priorAttempts = env.attempt ?? 0;
  const counts = input.fifoCounts;
  // FIFO: this is the last receive SQS grants before its own redrive (unindexed, no reason).
  const lastReceive = queue.fifo && queue.maxReceiveCount !== undefined && input.receiveCount >= queue.maxReceiveCount;
  const receiveNote = () =>
    `receive ${input.receiveCount} of the queue's maxReceiveCount ${queue.maxReceiveCount ?? ''}: SQS would move it to the DLQ without a reason on the next one`;
  // Tries made, this one included, for a park that is not a retry's (FIFO: the ledger's retries, or the receive count without a ledger).
  const tries = () =>
    queue.fifo ? (counts ? priorAttempts + counts.attempts + 1 : Math.max(input.receiveCount, priorAttempts + 1)) : priorAttempts + 1;
  const parkWith = (reason: string, text: string, attempts: number, extra: Partial<Envelope> = {}): Action => {
    const lastError = safeErrorText(text, secrets);
    return { kind: 'park', reason, lastError, attempts, envelope: { ...env, ...extra, lastError } };
  };

  switch (outcome.kind) {
    case 'ok':
      return { kind: 'delete' };

    case 'park': {
      return parkWith(normalizeReason(outcome.reason), outcome.error ?? outcome.reason, tries());
    }

    case 'defer': {
      const cap = deferralPolicy(input.deferral, queue.deferral);
      const count = queue.fifo ? (counts ? counts.deferrals : Math.max(1, input.receiveCount)) : (env.deferrals ?? 0) + 1;
      // A replay starts a fresh window (lib/dlq/present.ts replayBody).
      const check = checkDeferral(Math.max(env.receivedAt, env.replayedAt ?? 0), input.now, count, cap);
      const reason = normalizeReason(outcome.reason);
      const attempts = tries();
      if (check.exceeded !== undefined) {
        return parkWith(PARK_REASONS.deferredTooLong, `${check.exceeded}; last deferral: ${reason}`, attempts);
      }
      if (lastReceive) return parkWith(PARK_REASONS.deferredTooLong, `${receiveNote()}; last deferral: ${reason}`, attempts);
      const deferral: DeferralInfo = { reason, ageSeconds: check.ageSeconds, deferrals: count };
      const delay = deferSeconds(outcome.delaySeconds, input.random, policy);
      if (queue.fifo) {
        const floor =
          queue.maxReceiveCount === undefined
            ? 0
            : fifoDeferralFloor(input.receiveCount, queue.maxReceiveCount, check.ageSeconds, cap.maxAgeSeconds);
        return { kind: 'fail', visibilityTimeoutSeconds: Math.max(delay, floor), cause: 'defer', deferral };
      }
      return { kind: 'resend', delaySeconds: delay, envelope: { ...env, deferrals: count }, cause: 'defer', deferral };
    }

    case 'retry': {
      // FIFO cannot carry a counter on the message (no re-send): the ledger counts its retries.
      const attempt = queue.fifo
        ? counts
          ? priorAttempts + counts.attempts
          : Math.max(input.receiveCount, priorAttempts + 1)
        : priorAttempts + 1;
      if (attempt >= queue.maxAttempts) return parkWith(PARK_REASONS.outOfAttempts, outcome.error, attempt, { attempt });
      if (lastReceive) return parkWith(PARK_REASONS.receiveLimit, `${receiveNote()}; last error: ${outcome.error}`, attempt, { attempt });
      const lastError = safeErrorText(outcome.error, secrets);
      const delay = backoffSeconds(attempt, input.random, policy);
      if (queue.fifo) return { kind: 'fail', visibilityTimeoutSeconds: delay, cause: 'retry' };
      return { kind: 'resend', delaySeconds: delay, envelope: { ...env, attempt, lastError }, cause: 'retry' };
    }
  }
}

/** The park action for a message that is not an envelope (nothing to decide: it never will be). */
export function parkRaw(reason: string, error: string, receiveCount: number): Action {
  return {
    kind: 'park',
    reason: normalizeReason(reason),
    lastError: safeErrorText(error),
    attempts: Math.max(1, receiveCount),
    envelope: undefined,
  };
}
