/**
 * CacheStore: dictionaries and entities the REST client keeps (docs/architecture.md#rate-budget: dictionaries trusted
 * for their TTL, entities revalidated with If-Modified-Since after theirs). The port, the
 * in-memory layer and the two stacked; the DynamoDB adapter is lib/store/cache.ts, the client's
 * policy over a store is cache.ts here.
 */
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
  private readonly map = new Map<
    string,
    { json: string; storedAt: number; freshUntil: number; lastModified?: number; keepUntil: number }
  >();
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
    const rec: { json: string; storedAt: number; freshUntil: number; lastModified?: number; keepUntil: number } = {
      json: JSON.stringify(entry.value),
      storedAt: entry.storedAt,
      freshUntil: entry.freshUntil,
      keepUntil,
    };
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
