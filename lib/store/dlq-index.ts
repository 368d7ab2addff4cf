/**
 * The DynamoDB adapter of the DLQ index (the port, its entries and errors: lib/pipeline/dlq-index.ts).
 *
 * Item: pk `DLQ#<queueId>`, sk `<parkedAt ISO>#<messageKey>` (sorted by time within a queue),
 * `expiresAt` = parkedAt + the DLQ's retention (14 days by default). dynalite and DynamoDB Local
 * never expire items, so readers skip expired ones themselves.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  DLQ_RETENTION_DAYS,
  DlqIndexError,
  type DlqEntry,
  type DlqFilter,
  type DlqIndex,
  type NewDlqEntry,
} from '../pipeline/dlq-index.ts';
import { safeErrorText } from '../common/redact.ts';
import { isExpired, ttlSeconds } from './table.ts';

const DAY_MS = 86_400_000;

export const dlqPk = (queueId: string): string => `DLQ#${queueId}`;
export const dlqSk = (parkedAtIso: string, messageKey: string): string => `${parkedAtIso}#${messageKey}`;

export interface DynamoDlqIndexOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Every queue id, so list() without a queue can query each partition instead of scanning. */
  queueIds: readonly string[];
  now?: () => number;
  /** Items per Query page (DynamoDB's `Limit`); default: DynamoDB's 1 MB pages. */
  pageSize?: number;
}

const ENTRY_FIELDS = [
  'queueId',
  'parkedAt',
  'messageKey',
  'route',
  'reason',
  'lastError',
  'attempts',
  'firstSeenAt',
  'lastSeenAt',
  'requestId',
  'expiresAt',
] as const;

function toEntry(item: Record<string, unknown>): DlqEntry {
  for (const f of ENTRY_FIELDS) {
    if (item[f] === undefined) throw new DlqIndexError(`DLQ index item ${String(item.pk)}/${String(item.sk)} lacks "${f}"`);
  }
  return {
    queueId: String(item.queueId),
    id: String(item.sk),
    parkedAt: String(item.parkedAt),
    messageKey: String(item.messageKey),
    route: String(item.route),
    reason: String(item.reason),
    lastError: String(item.lastError),
    attempts: Number(item.attempts),
    firstSeenAt: String(item.firstSeenAt),
    lastSeenAt: String(item.lastSeenAt),
    requestId: String(item.requestId),
    expiresAt: Number(item.expiresAt),
  };
}

export class DynamoDlqIndex implements DlqIndex {
  private readonly now: () => number;
  constructor(private readonly opts: DynamoDlqIndexOptions) {
    this.now = opts.now ?? Date.now;
  }

  async put(e: NewDlqEntry): Promise<DlqEntry> {
    const parkedAtMs = e.parkedAt ?? this.now();
    const parkedAt = new Date(parkedAtMs).toISOString();
    const entry: DlqEntry = {
      queueId: e.queueId,
      id: dlqSk(parkedAt, e.messageKey),
      parkedAt,
      messageKey: e.messageKey,
      route: e.route,
      reason: e.reason,
      // The pipeline redacts already; doing it again here costs nothing and guards other writers.
      lastError: safeErrorText(e.lastError),
      attempts: e.attempts,
      firstSeenAt: new Date(e.firstSeenAt).toISOString(),
      lastSeenAt: parkedAt,
      requestId: e.requestId,
      expiresAt: ttlSeconds(parkedAtMs + (e.retentionDays ?? DLQ_RETENTION_DAYS) * DAY_MS),
    };
    const { id, ...rest } = entry;
    try {
      await this.opts.doc.send(
        new PutCommand({ TableName: this.opts.tableName, Item: { pk: dlqPk(e.queueId), sk: id, kind: 'dlq', ...rest } }),
      );
    } catch (cause) {
      throw new DlqIndexError(`could not write the DLQ index entry for queue "${e.queueId}"`, { cause });
    }
    return entry;
  }

  async list(filter: DlqFilter = {}): Promise<DlqEntry[]> {
    const queues = filter.queue !== undefined ? [filter.queue] : this.opts.queueIds;
    const out: DlqEntry[] = [];
    for (const q of queues) out.push(...(await this.queryQueue(q, filter)));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.queueId.localeCompare(b.queueId)));
  }

  private async queryQueue(queueId: string, filter: DlqFilter): Promise<DlqEntry[]> {
    const names: Record<string, string> = { '#pk': 'pk' };
    const values: Record<string, unknown> = { ':pk': dlqPk(queueId) };
    const conditions: string[] = [];
    if (filter.route !== undefined) {
      names['#route'] = 'route';
      values[':route'] = filter.route;
      conditions.push('#route = :route');
    }
    if (filter.reason !== undefined) {
      names['#reason'] = 'reason';
      values[':reason'] = filter.reason;
      conditions.push('#reason = :reason');
    }
    const out: DlqEntry[] = [];
    const nowMs = this.now();
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const res = await this.opts.doc.send(
          new QueryCommand({
            TableName: this.opts.tableName,
            KeyConditionExpression: '#pk = :pk',
            ...(conditions.length ? { FilterExpression: conditions.join(' AND ') } : {}),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ExclusiveStartKey: startKey,
            ...(this.opts.pageSize ? { Limit: this.opts.pageSize } : {}),
          }),
        );
        for (const item of res.Items ?? []) {
          const entry = toEntry(item);
          if (!isExpired(entry.expiresAt, nowMs)) out.push(entry);
        }
        startKey = res.LastEvaluatedKey;
      } while (startKey);
    } catch (cause) {
      if (cause instanceof DlqIndexError) throw cause;
      throw new DlqIndexError(`could not list the DLQ index of queue "${queueId}"`, { cause });
    }
    return out;
  }

  async get(queueId: string, id: string): Promise<DlqEntry | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const res = await this.opts.doc.send(new GetCommand({ TableName: this.opts.tableName, Key: { pk: dlqPk(queueId), sk: id } }));
      item = res.Item;
    } catch (cause) {
      throw new DlqIndexError(`could not read DLQ index entry "${id}" of queue "${queueId}"`, { cause });
    }
    if (!item) return undefined;
    const entry = toEntry(item);
    return isExpired(entry.expiresAt, this.now()) ? undefined : entry;
  }

  async remove(queueId: string, id: string): Promise<void> {
    try {
      await this.opts.doc.send(new DeleteCommand({ TableName: this.opts.tableName, Key: { pk: dlqPk(queueId), sk: id } }));
    } catch (cause) {
      throw new DlqIndexError(`could not remove DLQ index entry "${id}" of queue "${queueId}"`, { cause });
    }
  }
}
