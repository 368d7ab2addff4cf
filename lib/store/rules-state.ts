/**
 * The DynamoDB adapter of the rules engine's state (the port: lib/rules/state.ts), on the one
 * table. Items (pk / sk):
 * - `RULES#RR#<key>` / `RR`: `n`, a counter raised by an atomic `ADD` (every worker sees the same
 *   sequence; the old system kept it in a file), never expiring;
 * - `RULES#HOP#<key>#<window number>` / `HOP`: `n`, raised by `ADD`, expiring with `expiresAt`;
 * - `RULES#MARK#<key>` / `MARK`: a first-attempt mark or an echo of our own write, put only when
 *   absent or expired (conditional put), expiring with `expiresAt`;
 * - `RULES#KEEP#<key>` / `KEEP`: `n`, a step's round-robin pick, put only when absent or expired
 *   (a racing put loses and reads the winner's), expiring with `expiresAt`.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RulesState } from '../rules/state.ts';
import { isExpired, TABLE_TTL_ATTRIBUTE, ttlSeconds, isConditionFailed } from './table.ts';

export interface DynamoRulesStateOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoRulesState implements RulesState {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  constructor(opts: DynamoRulesStateOptions) {
    this.doc = opts.doc;
    this.table = opts.tableName;
  }

  private async add(pk: string, sk: string, expiresAt?: number): Promise<number> {
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk, sk },
        UpdateExpression: expiresAt === undefined ? 'ADD n :one' : 'ADD n :one SET #ttl = if_not_exists(#ttl, :exp)',
        ExpressionAttributeValues: { ':one': 1, ...(expiresAt === undefined ? {} : { ':exp': expiresAt }) },
        ...(expiresAt === undefined ? {} : { ExpressionAttributeNames: { '#ttl': TABLE_TTL_ATTRIBUTE } }),
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.n ?? 1);
  }

  async nextRoundRobin(key: string, size: number): Promise<number> {
    const n = await this.add(`RULES#RR#${key}`, 'RR');
    return (n - 1) % size;
  }

  async hop(key: string, windowSeconds: number, nowMs: number): Promise<number> {
    const w = Math.floor(nowMs / 1000 / windowSeconds);
    return this.add(`RULES#HOP#${key}#${w}`, 'HOP', ttlSeconds(nowMs + 2 * windowSeconds * 1000));
  }

  async keep(key: string, ttl: number, nowMs: number, make: () => Promise<number>): Promise<number> {
    const read = async () => {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.table, Key: { pk: `RULES#KEEP#${key}`, sk: 'KEEP' }, ConsistentRead: true }),
      );
      const it = out.Item;
      return it && !isExpired(it[TABLE_TTL_ATTRIBUTE] as number | undefined, nowMs) ? Number(it.n) : undefined;
    };
    const stored = await read();
    if (stored !== undefined) return stored;
    const n = await make();
    if (await this.putIfAbsent({ pk: `RULES#KEEP#${key}`, sk: 'KEEP', n }, ttl, nowMs)) return n;
    return (await read()) ?? n;
  }

  firstAttempt(key: string, ttl: number, nowMs: number): Promise<boolean> {
    return this.putIfAbsent({ pk: `RULES#MARK#${key}`, sk: 'MARK' }, ttl, nowMs);
  }

  /** Puts `item` (kept `ttl` s) only when absent or expired; false when a live one is there. */
  private async putIfAbsent(item: Record<string, unknown>, ttl: number, nowMs: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...item, [TABLE_TTL_ATTRIBUTE]: ttlSeconds(nowMs + ttl * 1000) },
          // An expired item TTL has not removed yet counts as absent.
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
          ExpressionAttributeNames: { '#ttl': TABLE_TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':now': ttlSeconds(nowMs) },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async remember(key: string, ttl: number, nowMs: number): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `RULES#MARK#${key}`, sk: 'MARK', [TABLE_TTL_ATTRIBUTE]: ttlSeconds(nowMs + ttl * 1000) },
      }),
    );
  }

  async has(key: string, nowMs: number): Promise<boolean> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: `RULES#MARK#${key}`, sk: 'MARK' }, ConsistentRead: true }),
    );
    if (!out.Item) return false;
    return !isExpired(out.Item[TABLE_TTL_ATTRIBUTE] as number | undefined, nowMs);
  }
}
