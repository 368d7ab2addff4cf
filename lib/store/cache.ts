/**
 * The DynamoDB adapter of the client's CacheStore (the port, the in-memory layer and the two
 * stacked: lib/amocrm/client/cache-store.ts).
 *
 * Item: pk `CACHE#<key>`, sk `CACHE`, `json` (the value as JSON text: no DynamoDB type quirks with
 * empty strings, floats or nested nulls), `storedAt`, `freshUntil` (epoch ms), `lastModified`
 * (the entity's `updated_at`, for If-Modified-Since), `expiresAt` (TTL, epoch s). TTL deletion is
 * lazy on AWS and absent locally, so `get` checks `expiresAt` itself (lib/store/table.ts).
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CacheEntry, CacheStore } from '../amocrm/client/cache-store.ts';
import { isExpired, ttlSeconds } from './table.ts';

export interface DynamoCacheStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export function cachePk(key: string): string {
  return `CACHE#${key}`;
}
const SK = 'CACHE';

export class DynamoCacheStore implements CacheStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  constructor(opts: DynamoCacheStoreOptions) {
    this.doc = opts.doc;
    this.table = opts.tableName;
  }

  async get<T>(key: string, now: number): Promise<CacheEntry<T> | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: cachePk(key), sk: SK } }));
    const i = out.Item;
    if (!i || typeof i.json !== 'string') return undefined;
    if (isExpired(typeof i.expiresAt === 'number' ? i.expiresAt : undefined, now)) return undefined;
    const entry: CacheEntry<T> = { value: JSON.parse(i.json) as T, storedAt: Number(i.storedAt), freshUntil: Number(i.freshUntil) };
    if (typeof i.lastModified === 'number') entry.lastModified = i.lastModified;
    return entry;
  }

  async set<T>(key: string, entry: CacheEntry<T>, keepUntil: number): Promise<void> {
    const item: Record<string, unknown> = {
      pk: cachePk(key),
      sk: SK,
      json: JSON.stringify(entry.value),
      storedAt: entry.storedAt,
      freshUntil: entry.freshUntil,
      expiresAt: ttlSeconds(keepUntil),
    };
    if (entry.lastModified !== undefined) item.lastModified = entry.lastModified;
    await this.doc.send(new PutCommand({ TableName: this.table, Item: item }));
  }

  async delete(key: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: cachePk(key), sk: SK } }));
  }
}
