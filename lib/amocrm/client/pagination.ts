/**
 * Pagination as an async iterator (octokit's paginate plug-in): `page`/`limit` until amoCRM stops
 * giving a `_links.next`, or answers 204 (docs/amocrm-protocol.md#empty-answers-and-if-modified-since: an empty page is 204, never an error).
 */
import type { AmoCore, AmoRequest } from './core.ts';
import type { AccountRef } from './types.ts';

/** amoCRM's maximum page size for most lists (docs/amocrm-protocol.md#entity-limits). */
export const MAX_PAGE = 250;

export interface HalPage<T> {
  _page?: number;
  _links?: { next?: { href: string } };
  _embedded?: Record<string, T[] | undefined>;
}

export interface PaginateOptions {
  /** Items per page (default 250, the maximum). */
  limit?: number;
  /** Stop after this many pages (a guard against runaway iteration; amoCRM flags "uncontrolled iteration over all data", docs/amocrm-protocol.md#rate-limits). */
  maxPages?: number;
}

/** Every item of `_embedded[key]` over all pages. */
export async function* paginate<T>(
  core: AmoCore,
  account: AccountRef,
  req: AmoRequest,
  key: string,
  opts: PaginateOptions = {},
): AsyncGenerator<T, void, undefined> {
  const limit = opts.limit ?? MAX_PAGE;
  const maxPages = opts.maxPages ?? Number.POSITIVE_INFINITY;
  let page = Number(req.query?.page ?? 1);
  for (let n = 0; n < maxPages; n++, page++) {
    const res = await core.request<HalPage<T>>(account, { ...req, method: 'GET', query: { ...req.query, page, limit } });
    const items = res.body?._embedded?.[key] ?? [];
    for (const it of items) yield it;
    if (res.status === 204 || items.length === 0) return;
    // `next` is the documented signal; a full page without `_links` at all is taken as "maybe more".
    const links = res.body?._links;
    const more = links ? links.next !== undefined : items.length >= limit;
    if (!more) return;
  }
}

/** Collects an async iterable (small lists: dictionaries, re-check candidates). */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
