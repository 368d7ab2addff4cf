/**
 * CacheStore: dictionaries and entities the REST client keeps (docs/architecture.md#rate-budget: dictionaries trusted
 * for their TTL, entities revalidated with If-Modified-Since after theirs). Port + DynamoDB
 * adapter + in-memory layer + the two stacked.
 *
 * Item: pk `CACHE#<key>`, sk `CACHE`, `json` (the value as JSON text: no DynamoDB type quirks with
 * empty strings, floats or nested nulls), `storedAt`, `freshUntil` (epoch ms), `lastModified`
 * (the entity's `updated_at`, for If-Modified-Since), `expiresAt` (TTL, epoch s). TTL deletion is
 * lazy on AWS and absent locally, so `get` checks `expiresAt` itself (lib/store/table.ts).
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isExpired, ttlSeconds } from './table.ts';

export interface CacheEntry<T = unknown> {
  value: T;
  storedAt: number;
  /** Until then the value is used without asking amoCRM. */
  freshUntil: number;
  /** Unix seconds the value was last modified at amoCRM (its `updated_at`), when known. */
  lastModified?: number;
}

export interface CacheStore {
  /** The entry, unless it is past `keepUntil` (then undefined, whatever TTL has or has not done). */
  get<T = unknown>(key: string, now: number): Promise<CacheEntry<T> | undefined>;
  /** Stores `entry`; it may be read (stale, for revalidation) until `keepUntil`. */
  set<T = unknown>(key: string, entry: CacheEntry<T>, keepUntil: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** In-process layer: bounded, insertion-ordered map (oldest evicted first); values are copied in and out. */
export class MemoryCacheStore implements CacheStore {
  private readonly map = new Map<string, { json: string; storedAt: number; freshUntil: number; lastModified?: number; keepUntil: number }>();
  constructor(private readonly maxEntries = 5_000) {}

  async get<T>(key: string, now: number): Promise<CacheEntry<T> | undefined> {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.keepUntil <= now) {
      this.map.delete(key);
      return undefined;
    }
    const out: CacheEntry<T> = { value: JSON.parse(e.json) as T, storedAt: e.storedAt, freshUntil: e.freshUntil };
    if (e.lastModified !== undefined) out.lastModified = e.lastModified;
    return out;
  }

  async set<T>(key: string, entry: CacheEntry<T>, keepUntil: number): Promise<void> {
    this.map.delete(key);
    const rec: { json: string; storedAt: number; freshUntil: number; lastModified?: number; keepUntil: number } = { json: JSON.stringify(entry.value), storedAt: entry.storedAt, freshUntil: entry.freshUntil, keepUntil };
    if (entry.lastModified !== undefined) rec.lastModified = entry.lastModified;
    this.map.set(key, rec);
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }
}

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

/**
 * Memory in front of a shared store: reads hit memory first, misses fill it; writes and deletes go
 * to both. The memory copy keeps the entry's own freshness, so it never serves longer than the
 * shared store would.
 */
export class LayeredCacheStore implements CacheStore {
  constructor(
    private readonly front: CacheStore,
    private readonly back: CacheStore,
  ) {}

  async get<T>(key: string, now: number): Promise<CacheEntry<T> | undefined> {
    const hit = await this.front.get<T>(key, now);
    if (hit) return hit;
    const got = await this.back.get<T>(key, now);
    // The back store does not return keepUntil: keep the memory copy only while it is fresh.
    if (got) await this.front.set(key, got, Math.max(got.freshUntil, now + 1));
    return got;
  }

  async set<T>(key: string, entry: CacheEntry<T>, keepUntil: number): Promise<void> {
    await Promise.all([this.front.set(key, entry, keepUntil), this.back.set(key, entry, keepUntil)]);
  }

  async delete(key: string): Promise<void> {
    await Promise.all([this.front.delete(key), this.back.delete(key)]);
  }
}
