/** What every resource needs: the core, whose account, the cache, the add policy. */
import type { AddOptions, AddPolicy, AddTarget } from '../add.ts';
import { addChunk, randomMarker } from '../add.ts';
import { chunk, WRITE_CHUNK } from '../batching.ts';
import type { ClientCache } from '../cache.ts';
import type { AmoCore } from '../core.ts';
import { paginate, type PaginateOptions } from '../pagination.ts';
import type { AccountRef } from '../types.ts';

export type MainEntity = 'leads' | 'contacts' | 'companies';

export interface ResourceContext {
  core: AmoCore;
  account: AccountRef;
  cache: ClientCache;
  addPolicy: AddPolicy;
  /** Text custom field per entity type that carries add markers (see add.ts). */
  markerFields: Partial<Record<MainEntity, number>>;
  /** Cache key prefix of this account. */
  cachePrefix: string;
}

/** List parameters shared by the entity lists (docs/amocrm-protocol.md#lists-filters-and-search). */
export interface ListParams extends PaginateOptions {
  /** `filter[...]`, e.g. `{ id: [1, 2], created_at: { from, to }, statuses: [{ pipeline_id, status_id }] }`. */
  filter?: Record<string, unknown>;
  with?: string[];
  order?: Record<string, 'asc' | 'desc'>;
  /** Full-text search over filled fields. */
  query?: string | number;
  /** Only entities changed after this time (If-Modified-Since). */
  modifiedSince?: Date;
}

export function listQuery(p: ListParams): Record<string, unknown> {
  const q: Record<string, unknown> = {};
  if (p.filter) q.filter = p.filter;
  if (p.with?.length) q.with = p.with;
  if (p.order) q.order = p.order;
  if (p.query !== undefined) q.query = p.query;
  return q;
}

export function listIter<T>(ctx: ResourceContext, path: string, key: string, p: ListParams = {}): AsyncGenerator<T, void, undefined> {
  const headers = p.modifiedSince ? { 'if-modified-since': p.modifiedSince.toUTCString() } : undefined;
  return paginate<T>(ctx.core, ctx.account, { method: 'GET', path, query: listQuery(p), ...(headers ? { headers } : {}) }, key, {
    ...(p.limit !== undefined ? { limit: p.limit } : {}),
    ...(p.maxPages !== undefined ? { maxPages: p.maxPages } : {}),
  });
}

/** GET one; amoCRM answers 204 for an unknown id → undefined. */
export async function getOne<T>(ctx: ResourceContext, path: string, query?: Record<string, unknown>): Promise<T | undefined> {
  const res = await ctx.core.request<T>(ctx.account, { method: 'GET', path, ...(query ? { query } : {}) });
  return res.status === 204 ? undefined : res.body;
}

/** PATCH a batch (≤ 50 per request); returns `_embedded[key]` of every answer in order. */
export async function patchBatches<TIn, TOut>(ctx: ResourceContext, path: string, key: string, items: TIn[]): Promise<TOut[]> {
  const out: TOut[] = [];
  for (const part of chunk(items, WRITE_CHUNK)) {
    const res = await ctx.core.request<{ _embedded?: Record<string, TOut[]> }>(ctx.account, { method: 'PATCH', path, body: part });
    out.push(...(res.body?._embedded?.[key] ?? []));
  }
  return out;
}

/** Adds in chunks of `size` with markers and re-checks (add.ts). */
export async function addBatches<TIn, TOut>(
  ctx: ResourceContext,
  target: AddTarget<TIn, TOut>,
  items: TIn[],
  opts: AddOptions = {},
  size = WRITE_CHUNK,
): Promise<TOut[]> {
  if (opts.markers && opts.markers.length !== items.length)
    throw new RangeError(`markers: ${opts.markers.length} given for ${items.length} items`);
  const markers =
    opts.markers ??
    items.map((it) => {
      const rid = (it as { request_id?: unknown }).request_id;
      return typeof rid === 'string' && rid ? rid : randomMarker();
    });
  const out: TOut[] = [];
  let offset = 0;
  for (const part of chunk(items, size)) {
    const ms = markers.slice(offset, offset + part.length);
    out.push(...(await addChunk({ core: ctx.core, account: ctx.account, policy: ctx.addPolicy }, target, part, ms, opts)));
    offset += part.length;
  }
  return out;
}

/** Everything listed (small lists only). */
export async function listAll<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
