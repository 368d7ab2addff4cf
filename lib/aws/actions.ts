/**
 * Carries out a pipeline Action against SQS and the DLQ index. Every function here either
 * completes or throws; the batch runner turns a throw into a batchItemFailure, so SQS redelivers
 * the record and nothing is lost (at the price of a possible duplicate re-send). One exception:
 * a DLQ index write that fails AFTER the DLQ send is only logged and reported to the hooks
 * (DlqIndexWriteFailed, alarmed) — the message is safe in the DLQ (`dlq list --scan` shows it as
 * `unindexed`), and a redelivery would park a second copy.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { Action } from '../pipeline/decide.ts';
import type { DlqIndex } from '../pipeline/dlq-index.ts';
import { dlqSk } from '../store/dlq-index.ts';
import { envelopeMessageBody, type Envelope } from '../envelope.ts';
import type { QueueDef } from '../routes.ts';
import type { QueueEndpoint } from './queues-config.ts';
import { callHook, type PipelineHooks } from '../pipeline/hooks.ts';
import type { Log } from '../common/log.ts';
import { safeErrorDescription } from '../common/errors.ts';

/** A queue as the worker knows it: its endpoints (QUEUES) plus its policy from the route table. */
export type QueueTarget = Pick<QueueDef, 'id' | 'fifo' | 'maxAttempts' | 'retentionDays'> &
  Partial<Pick<QueueDef, 'concurrency'>> &
  QueueEndpoint & {
    /** SQS's redrive count of the queue (lib/routes.ts redriveMaxReceiveCount): FIFO decisions pace and park by it. */
    maxReceiveCount?: number;
  };

export interface ActionDeps {
  sqs: SQSClient;
  dlqIndex: DlqIndex;
  now: () => number;
  /** Where a failed DLQ index write is logged (the batch loop passes its own deps, log included). */
  log?: Log;
  /** Told of a failed DLQ index write (`dlqIndexFailed`; the worker counts DlqIndexWriteFailed). */
  hooks?: PipelineHooks;
}

/** Message attributes a parked message carries, so `dlq replay/show` can find its index entry. */
export const DLQ_ATTR = { indexId: 'dlq-index-id', reason: 'dlq-reason', sourceQueue: 'dlq-source-queue' } as const;

export class ActionError extends Error {
  override readonly name = 'ActionError';
}

/** Resolves true when the record is finished (delete it), false when it must be reported failed. */
export async function executeAction(action: Action, record: SQSRecord, target: QueueTarget, deps: ActionDeps): Promise<boolean> {
  switch (action.kind) {
    case 'delete':
      return true;

    case 'resend': {
      if (target.fifo) throw new ActionError(`queue "${target.id}" is FIFO: a re-send would reorder its group`);
      try {
        await deps.sqs.send(
          new SendMessageCommand({
            QueueUrl: target.url,
            MessageBody: envelopeMessageBody(action.envelope),
            DelaySeconds: action.delaySeconds,
          }),
        );
      } catch (cause) {
        throw new ActionError(`could not re-send to queue "${target.id}"`, { cause });
      }
      return true;
    }

    case 'park':
      await parkRecord(action, record, target, deps);
      return true;

    case 'fail':
      // The record is reported failed; set its visibility so it comes back after the backoff
      // rather than after the queue's full visibility timeout.
      await holdRecord(record, target, action.visibilityTimeoutSeconds, deps);
      return false;
  }
}

/**
 * Sets a received record's visibility (a FIFO head that failed, and its followers with it). Best
 * effort: if this call fails, the queue's own visibility timeout still brings the record back.
 */
export async function holdRecord(record: SQSRecord, target: QueueTarget, seconds: number, deps: Pick<ActionDeps, 'sqs'>): Promise<void> {
  try {
    await deps.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: target.url, ReceiptHandle: record.receiptHandle, VisibilityTimeout: seconds }),
    );
  } catch {
    /* the default visibility timeout still brings it back */
  }
}

async function parkRecord(
  action: Extract<Action, { kind: 'park' }>,
  record: SQSRecord,
  target: QueueTarget,
  deps: ActionDeps,
): Promise<void> {
  const env: Envelope | undefined = action.envelope;
  const parkedAt = deps.now();
  const id = dlqSk(new Date(parkedAt).toISOString(), record.messageId);
  // DLQ first: once the message is there nothing is lost even if the index write fails.
  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: target.dlqUrl,
        MessageBody: env ? envelopeMessageBody(env) : record.body,
        MessageAttributes: {
          [DLQ_ATTR.indexId]: { DataType: 'String', StringValue: id },
          [DLQ_ATTR.reason]: { DataType: 'String', StringValue: action.reason },
          [DLQ_ATTR.sourceQueue]: { DataType: 'String', StringValue: target.id },
        },
        ...(target.fifo ? { MessageGroupId: record.attributes.MessageGroupId ?? 'parked', MessageDeduplicationId: record.messageId } : {}),
      }),
    );
  } catch (cause) {
    throw new ActionError(`could not park a message of queue "${target.id}" in its DLQ`, { cause });
  }
  try {
    await deps.dlqIndex.put({
      queueId: target.id,
      messageKey: record.messageId,
      route: env?.route ?? '(not an envelope)',
      reason: action.reason,
      lastError: action.lastError,
      attempts: action.attempts,
      firstSeenAt: env?.receivedAt ?? (Number(record.attributes.SentTimestamp) || parkedAt),
      requestId: env?.requestId ?? '',
      parkedAt,
      retentionDays: target.retentionDays,
    });
  } catch (cause) {
    // Reporting the record failed would redeliver it and park a second copy; the message is in
    // the DLQ already (with its reason as a message attribute) and `dlq list --scan` finds it.
    deps.log?.error('dlq index write failed; the message is parked in the DLQ, unindexed', {
      queue: target.id,
      messageId: record.messageId,
      reason: action.reason,
      indexId: id,
      dlqIndex: 'unindexed',
      error: safeErrorDescription(cause, env ? Object.values(env.params) : []),
    });
    const hooks = deps.hooks;
    if (hooks) callHook(() => hooks.dlqIndexFailed?.({ queue: target.id, reason: action.reason }));
  }
}
