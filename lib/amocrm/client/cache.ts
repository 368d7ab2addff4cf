/**
 * The client's cache policy over a CacheStore (cache-store.ts; DynamoDB: lib/store/cache.ts):
 *
 * - Dictionaries (pipelines + statuses, custom fields, users, task types) are trusted for their
 *   TTL without asking amoCRM (docs/architecture.md#rate-budget): a hit costs no budget.
 * - Entities are fresh for a short TTL; after it they are *revalidated* with If-Modified-Since
 *   (which costs budget too): amoCRM documents the header for lists (docs/amocrm-protocol.md#empty-answers-and-if-modified-since), so the
 *   revalidation is `GET /api/v4/<kind>?filter[id][0]=<id>` with `If-Modified-Since: <updated_at>`:
 *   204 → unchanged (freshness renewed), 200 → the new version. *assumed*, as in the sandbox:
 *   a list with If-Modified-Since lists only entities updated after that time.
 * - A write through the client drops the entity's entries, so this process never reads its own
 *   write stale.
 */
import type { CacheEntry, CacheStore } from './cache-store.ts';
import type { Observer } from './types.ts';
import type { SleepingClock } from '../../common/clock.ts';

export interface CachePolicy {
  /** *assumed* 10 min: pipelines and fields change rarely, and `pull-schema` is the source of names anyway. */
  dictionaryTtlMs: number;
  /** *assumed* 30 s: webhooks tell us about changes; a short TTL keeps a worker batch from re-reading. */
  entityTtlMs: number;
  /** Stale entities are kept this long for revalidation. */
  entityKeepMs: number;
}

export const DEFAULT_CACHE_POLICY: CachePolicy = { dictionaryTtlMs: 10 * 60_000, entityTtlMs: 30_000, entityKeepMs: 24 * 3600_000 };

export type Revalidation<T> = { kind: 'not-modified' } | { kind: 'modified'; value: T } | { kind: 'gone' };

export class ClientCache {
  constructor(
    readonly store: CacheStore,
    private readonly clock: SleepingClock,
    private readonly observer: Observer,
    readonly policy: CachePolicy = DEFAULT_CACHE_POLICY,
  ) {}

  /** Dictionary reads in flight, by key: callers that miss together share one read. */
  private readonly loading = new Map<string, Promise<unknown>>();

  /**
   * A dictionary: the cached value while fresh, else `load()` (stored for the TTL). Misses of the
   * same key at the same time share one `load()` (a container's concurrent cold batches would
   * each read it); `refresh` always reads anew.
   */
  async dictionary<T>(key: string, load: () => Promise<T>, opts: { refresh?: boolean } = {}): Promise<T> {
    const now = this.clock.now();
    if (!opts.refresh) {
      const hit = await this.store.get<T>(key, now);
      if (hit && hit.freshUntil > now) {
        this.observer({ type: 'cache', kind: 'hit', key });
        return hit.value;
      }
      const inFlight = this.loading.get(key) as Promise<T> | undefined;
      if (inFlight) return inFlight;
    }
    this.observer({ type: 'cache', kind: 'miss', key });
    const read = (async () => {
      const value = await load();
      const at = this.clock.now();
      await this.store.set(key, { value, storedAt: at, freshUntil: at + this.policy.dictionaryTtlMs }, at + this.policy.dictionaryTtlMs);
      return value;
    })();
    this.loading.set(key, read);
    try {
      return await read;
    } finally {
      if (this.loading.get(key) === read) this.loading.delete(key);
    }
  }

  /**
   * An entity: fresh → cached; stale → `revalidate(updated_at)`; absent → `load()`.
   * `undefined` when amoCRM has no such entity (204).
   */
  async entity<T extends { id: number; updated_at?: number }>(
    key: string,
    load: () => Promise<T | undefined>,
    revalidate: (lastModifiedSec: number) => Promise<Revalidation<T>>,
  ): Promise<T | undefined> {
    const now = this.clock.now();
    const hit = await this.store.get<T>(key, now);
    if (hit && hit.freshUntil > now) {
      this.observer({ type: 'cache', kind: 'hit', key });
      return hit.value;
    }
    if (hit && hit.lastModified !== undefined) {
      const r = await revalidate(hit.lastModified);
      if (r.kind === 'not-modified') {
        this.observer({ type: 'cache', kind: 'revalidated', key });
        await this.put(key, hit.value, hit.lastModified);
        return hit.value;
      }
      if (r.kind === 'gone') {
        await this.store.delete(key);
        return undefined;
      }
      this.observer({ type: 'cache', kind: 'stale-refetched', key });
      await this.put(key, r.value, r.value.updated_at);
      return r.value;
    }
    this.observer({ type: 'cache', kind: 'miss', key });
    const value = await load();
    if (value) await this.put(key, value, value.updated_at);
    return value;
  }

  async put<T>(key: string, value: T, lastModified: number | undefined): Promise<void> {
    const at = this.clock.now();
    const entry: CacheEntry<T> = { value, storedAt: at, freshUntil: at + this.policy.entityTtlMs };
    if (lastModified !== undefined) entry.lastModified = lastModified;
    await this.store.set(key, entry, at + this.policy.entityKeepMs);
  }

  async invalidate(key: string): Promise<void> {
    await this.store.delete(key);
  }
}

/** HTTP date for If-Modified-Since from unix seconds. */
export function httpDate(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toUTCString();
}
