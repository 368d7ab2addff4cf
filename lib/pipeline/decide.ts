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
 * order) with its visibility set to the delay. The attempt count there is SQS's
 * ApproximateReceiveCount, which also counts deferrals and redeliveries (documented limitation:
 * keep a FIFO queue's maxAttempts generous).
 */
import type { Envelope } from '../envelope.ts';
import type { QueueDef } from '../routes.ts';
import { backoffSeconds, deferSeconds, DEFAULT_BACKOFF_POLICY, type Random, type BackoffPolicy } from './backoff.ts';
import { checkDeferral, deferralPolicy, type DeferralPolicy } from './deferral.ts';
import { normalizeReason, PARK_REASONS, type Outcome } from './outcome.ts';
import { safeErrorText } from '../common/redact.ts';

/** What the decision needs of a queue of the table (lib/routes.ts), and its own deferral cap. */
export type QueuePolicy = Pick<QueueDef, 'id' | 'fifo' | 'maxAttempts'> & {
  /** This queue's deferral cap, over the pipeline's (DecideInput.deferral). */
  deferral?: Partial<DeferralPolicy>;
};

/** What the batch loop reports (Deferred, DeferredMessageAge) for a deferral. */
export interface DeferralInfo {
  reason: string;
  /** Seconds since the edge received the message. */
  ageSeconds: number;
  /** This deferral's number (FIFO: SQS's receive count). */
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
}

export function decide(input: DecideInput): Action {
  const { envelope: env, outcome, queue } = input;
  const policy = input.policy ?? DEFAULT_BACKOFF_POLICY;
  const secrets = Object.values(env.params);
  const priorAttempts = env.attempt ?? 0;

  switch (outcome.kind) {
    case 'ok':
      return { kind: 'delete' };

    case 'park': {
      const lastError = safeErrorText(outcome.error ?? outcome.reason, secrets);
      const attempts = queue.fifo ? Math.max(input.receiveCount, priorAttempts + 1) : priorAttempts + 1;
      return { kind: 'park', reason: normalizeReason(outcome.reason), lastError, attempts, envelope: { ...env, lastError } };
    }

    case 'defer': {
      const cap = deferralPolicy(input.deferral, queue.deferral);
      const count = queue.fifo ? Math.max(1, input.receiveCount) : (env.deferrals ?? 0) + 1;
      // A replay starts a fresh window (lib/dlq/present.ts replayBody).
      const check = checkDeferral(Math.max(env.receivedAt, env.replayedAt ?? 0), input.now, count, cap);
      const reason = normalizeReason(outcome.reason);
      if (check.exceeded !== undefined) {
        const lastError = safeErrorText(`${check.exceeded}; last deferral: ${reason}`, secrets);
        const attempts = queue.fifo ? Math.max(input.receiveCount, priorAttempts + 1) : priorAttempts + 1;
        return { kind: 'park', reason: PARK_REASONS.deferredTooLong, lastError, attempts, envelope: { ...env, lastError } };
      }
      const deferral: DeferralInfo = { reason, ageSeconds: check.ageSeconds, deferrals: count };
      const delay = deferSeconds(outcome.delaySeconds, input.random, policy);
      if (queue.fifo) return { kind: 'fail', visibilityTimeoutSeconds: delay, cause: 'defer', deferral };
      return { kind: 'resend', delaySeconds: delay, envelope: { ...env, deferrals: count }, cause: 'defer', deferral };
    }

    case 'retry': {
      const lastError = safeErrorText(outcome.error, secrets);
      // FIFO cannot carry a counter on the message (no re-send), so SQS's receive count stands in.
      const attempt = queue.fifo ? Math.max(input.receiveCount, priorAttempts + 1) : priorAttempts + 1;
      if (attempt >= queue.maxAttempts) {
        return {
          kind: 'park',
          reason: PARK_REASONS.outOfAttempts,
          lastError,
          attempts: attempt,
          envelope: { ...env, attempt, lastError },
        };
      }
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
