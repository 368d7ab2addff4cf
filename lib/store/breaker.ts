/**
 * BreakerStore: the account-wide stop switch: on a 403 block every worker stops calling that
 * account and an alarm fires (docs/architecture.md#one-rate-budget-per-account). Port + DynamoDB adapter + in-memory adapter.
 *
 * DynamoDB: the breaker lives on the account's rate-budget item (pk `RATE#<account host>`, sk
 * `RATE`, attributes `brkOpen`, `brkOpenedAt`, `brkReason`, `brkLiftedAt`, `brkLiftedBy`), so
 * every budget read and reservation (which returns the item) also tells the caller whether the
 * account is blocked, at no extra cost. That item has no `expiresAt`: a block is lifted by a
 * person (amoCRM support unblocks the account, then the operator lifts the breaker), never by TTL.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BUDGET_SK, budgetPk } from './rate-budget.ts';

export interface BreakerState {
  open: boolean;
  openedAt?: number;
  /** Why (safe to log): e.g. `403 from GET /api/v4/leads`. */
  reason?: string;
  liftedAt?: number;
  liftedBy?: string;
}

export interface BreakerStore {
  /** Strongly consistent read. */
  get(accountHost: string): Promise<BreakerState>;
  /** Opens the breaker; `opened` is false when it was already open (only the first opener raises the alarm). */
  open(accountHost: string, info: { at: number; reason: string }): Promise<{ opened: boolean }>;
  /** Closes it (the operator command). */
  lift(accountHost: string, info: { at: number; by: string }): Promise<void>;
}

export function breakerKey(accountHost: string): { pk: string; sk: string } {
  return { pk: budgetPk(accountHost), sk: BUDGET_SK };
}

export class MemoryBreakerStore implements BreakerStore {
  private readonly states = new Map<string, BreakerState>();
  async get(host: string): Promise<BreakerState> {
    return { ...(this.states.get(host) ?? { open: false }) };
  }
  async open(host: string, info: { at: number; reason: string }): Promise<{ opened: boolean }> {
    if (this.states.get(host)?.open) return { opened: false };
    this.states.set(host, { open: true, openedAt: info.at, reason: info.reason });
    return { opened: true };
  }
  async lift(host: string, info: { at: number; by: string }): Promise<void> {
    const s = this.states.get(host);
    this.states.set(host, { ...(s ?? {}), open: false, liftedAt: info.at, liftedBy: info.by });
  }
}

export interface DynamoBreakerStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoBreakerStore implements BreakerStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  constructor(opts: DynamoBreakerStoreOptions) {
    this.doc = opts.doc;
    this.table = opts.tableName;
  }

  async get(host: string): Promise<BreakerState> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: breakerKey(host),
        ConsistentRead: true,
        ProjectionExpression: 'brkOpen, brkOpenedAt, brkReason, brkLiftedAt, brkLiftedBy',
      }),
    );
    const i = out.Item;
    if (!i) return { open: false };
    const s: BreakerState = { open: i.brkOpen === true };
    if (typeof i.brkOpenedAt === 'number') s.openedAt = i.brkOpenedAt;
    if (typeof i.brkReason === 'string') s.reason = i.brkReason;
    if (typeof i.brkLiftedAt === 'number') s.liftedAt = i.brkLiftedAt;
    if (typeof i.brkLiftedBy === 'string') s.liftedBy = i.brkLiftedBy;
    return s;
  }

  async open(host: string, info: { at: number; reason: string }): Promise<{ opened: boolean }> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: breakerKey(host),
          UpdateExpression: 'SET #open = :t, brkOpenedAt = :at, brkReason = :r',
          // Only the first opener wins, so exactly one alarm per block.
          ConditionExpression: 'attribute_not_exists(#open) OR #open = :f',
          ExpressionAttributeNames: { '#open': 'brkOpen' },
          ExpressionAttributeValues: { ':t': true, ':f': false, ':at': info.at, ':r': info.reason },
        }),
      );
      return { opened: true };
    } catch (e) {
      if ((e as { name?: string } | null)?.name === 'ConditionalCheckFailedException') return { opened: false };
      throw e;
    }
  }

  async lift(host: string, info: { at: number; by: string }): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: breakerKey(host),
        UpdateExpression: 'SET #open = :f, brkLiftedAt = :at, brkLiftedBy = :by',
        ExpressionAttributeNames: { '#open': 'brkOpen' },
        ExpressionAttributeValues: { ':f': false, ':at': info.at, ':by': info.by },
      }),
    );
  }
}
