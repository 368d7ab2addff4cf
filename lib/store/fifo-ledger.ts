/**
 * The DynamoDB adapter of the FIFO ledger (the port: lib/pipeline/fifo-ledger.ts).
 *
 * Item: pk `FIFO#<queueId>#<messageId>`, sk `counts`, numbers `attempts` and `deferrals` (atomic
 * ADD), `expiresAt` = last count + the queue's retention (a message cannot outlive it). Message ids
 * are never reused, so an item left behind (a forget that failed) is only garbage; readers skip
 * expired items themselves (dynalite never expires them).
 */
import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FifoLedgerError, NO_FIFO_COUNTS, type FifoCounts, type FifoLedger } from '../pipeline/fifo-ledger.ts';
import { isExpired, ttlSeconds } from './table.ts';

const DAY_MS = 86_400_000;

export const fifoLedgerPk = (queueId: string, messageId: string): string => `FIFO#${queueId}#${messageId}`;
const SK = 'counts';

export interface DynamoFifoLedgerOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  now?: () => number;
  /** How long an item is kept after its last count (default 14 days: SQS's longest retention). */
  retentionDays?: number;
}

function counts(item: Record<string, unknown> | undefined): FifoCounts {
  if (!item) return { ...NO_FIFO_COUNTS };
  return { attempts: Number(item.attempts ?? 0), deferrals: Number(item.deferrals ?? 0) };
}

export class DynamoFifoLedger implements FifoLedger {
  private readonly now: () => number;
  constructor(private readonly opts: DynamoFifoLedgerOptions) {
    this.now = opts.now ?? Date.now;
  }

  async add(queueId: string, messageId: string, kind: keyof FifoCounts): Promise<FifoCounts> {
    const expiresAt = ttlSeconds(this.now() + (this.opts.retentionDays ?? 14) * DAY_MS);
    try {
      const r = await this.opts.doc.send(
        new UpdateCommand({
          TableName: this.opts.tableName,
          Key: { pk: fifoLedgerPk(queueId, messageId), sk: SK },
          UpdateExpression: 'ADD #k :one SET expiresAt = :exp',
          ExpressionAttributeNames: { '#k': kind },
          ExpressionAttributeValues: { ':one': 1, ':exp': expiresAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return counts(r.Attributes);
    } catch (cause) {
      throw new FifoLedgerError(`could not count a ${kind === 'attempts' ? 'retry' : 'deferral'} of a message of queue "${queueId}"`, {
        cause,
      });
    }
  }

  async get(queueId: string, messageId: string): Promise<FifoCounts> {
    try {
      const r = await this.opts.doc.send(
        new GetCommand({ TableName: this.opts.tableName, Key: { pk: fifoLedgerPk(queueId, messageId), sk: SK }, ConsistentRead: true }),
      );
      const item = r.Item;
      return isExpired(item?.expiresAt as number | undefined, this.now()) ? { ...NO_FIFO_COUNTS } : counts(item);
    } catch (cause) {
      throw new FifoLedgerError(`could not read the counts of a message of queue "${queueId}"`, { cause });
    }
  }

  async forget(queueId: string, messageId: string): Promise<void> {
    try {
      await this.opts.doc.send(
        new DeleteCommand({ TableName: this.opts.tableName, Key: { pk: fifoLedgerPk(queueId, messageId), sk: SK } }),
      );
    } catch (cause) {
      throw new FifoLedgerError(`could not forget a message of queue "${queueId}"`, { cause });
    }
  }
}
