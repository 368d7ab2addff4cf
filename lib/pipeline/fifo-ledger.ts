/**
 * The FIFO ledger's port: a FIFO message cannot carry its own counters (a re-send would jump
 * behind its group, so it is never re-sent), and SQS's ApproximateReceiveCount counts every
 * receive alike — deferrals, retries, and the rides a message takes behind a failed head. So the
 * worker counts a FIFO message's retries and deferrals here, by queue and SQS message id (stable
 * across redeliveries), and a deferral never counts as an attempt
 * (docs/architecture.md#failure-semantics). The DynamoDB adapter is lib/store/fifo-ledger.ts.
 */

export interface FifoCounts {
  /** Retries counted so far (outcome *retry*). */
  attempts: number;
  /** Deferrals counted so far (outcome *defer*). */
  deferrals: number;
}

export const NO_FIFO_COUNTS: FifoCounts = { attempts: 0, deferrals: 0 };

export interface FifoLedger {
  /** Counts one more `kind` for this message; resolves the counts after it. Throws when it cannot count. */
  add(queueId: string, messageId: string, kind: keyof FifoCounts): Promise<FifoCounts>;
  /** The counts so far (zeros for a message never counted). */
  get(queueId: string, messageId: string): Promise<FifoCounts>;
  /** Forgets a message that is done (deleted or parked). */
  forget(queueId: string, messageId: string): Promise<void>;
}

export class FifoLedgerError extends Error {
  override readonly name = 'FifoLedgerError';
}
