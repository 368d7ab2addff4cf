/**
 * The DLQ index's port (docs/architecture.md#failure-semantics): one entry per parked message, so `dlq list/show` can say
 * what is parked and why without receiving from the DLQs. The DLQ itself stays the source of
 * truth for `dlq replay`; each parked message carries its index id as the `dlq-index-id`
 * attribute. The DynamoDB adapter is lib/store/dlq-index.ts.
 */
export const DLQ_RETENTION_DAYS = 14;

export interface DlqEntry {
  queueId: string;
  /** The sort key, `<parkedAt>#<messageKey>`: the entry's id within its queue. */
  id: string;
  /** ISO timestamp. */
  parkedAt: string;
  /** The SQS message id of the delivery that was parked. */
  messageKey: string;
  route: string;
  reason: string;
  /** Redacted, at most 1000 characters. */
  lastError: string;
  attempts: number;
  /** ISO: when the request was first received (the envelope's receivedAt). */
  firstSeenAt: string;
  /** ISO: when it was last tried (= parkedAt). */
  lastSeenAt: string;
  requestId: string;
  /** Epoch seconds (the table's TTL attribute). */
  expiresAt: number;
}

export interface NewDlqEntry {
  queueId: string;
  messageKey: string;
  route: string;
  reason: string;
  lastError: string;
  attempts: number;
  firstSeenAt: number;
  requestId: string;
  /** Epoch ms; defaults to the index's clock. */
  parkedAt?: number;
  retentionDays?: number;
}

export interface DlqFilter {
  queue?: string;
  route?: string;
  reason?: string;
}

export interface DlqIndex {
  put(entry: NewDlqEntry): Promise<DlqEntry>;
  /** Entries oldest first; expired ones are left out. */
  list(filter?: DlqFilter): Promise<DlqEntry[]>;
  get(queueId: string, id: string): Promise<DlqEntry | undefined>;
  remove(queueId: string, id: string): Promise<void>;
}

export class DlqIndexError extends Error {
  override readonly name = 'DlqIndexError';
}
