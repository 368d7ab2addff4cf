/** Helpers every REST resource uses: body reading, list pagination, `_links`, small validators. */
import { badRequest, E, emptyRequest, limitPerPage, type FieldError } from '../errors.ts';
import { hal, isRecord, noContent, parseJson } from '../http-util.ts';
import type { RestCtx } from '../router.ts';
import type { SbResponse } from '../types.ts';

export function link(ctx: RestCtx, path: string): { self: { href: string } } {
  return { self: { href: `${ctx.base}${path}` } };
}

/**
 * A write body that must be a JSON array of objects (leads-api "Добавление сделок": the request is
 * an array). Empty → 400 "Request data can not be empty" (docs/amocrm-protocol.md#error-bodies); more than `max` → 422
 * "Limit 250 per page" (docs/amocrm-protocol.md#entity-limits). A single object for a batch method → 400 (*assumed*).
 */
export type Read<T> = { ok: true; value: T } | { ok: false; res: SbResponse };

export function readBatch(ctx: RestCtx, max = ctx.maxEntities): Read<unknown[]> {
  const parsed = parseJson(ctx.req.body);
  if (!parsed.ok) return { ok: false, res: badRequest('Request body is not valid JSON') };
  if (parsed.empty) return { ok: false, res: emptyRequest() };
  if (!Array.isArray(parsed.value)) return { ok: false, res: badRequest('Request data must be an array of objects') };
  if (parsed.value.length === 0) return { ok: false, res: emptyRequest() };
  if (parsed.value.length > max) return { ok: false, res: limitPerPage(max) };
  return { ok: true, value: parsed.value };
}

/** A write body that is one JSON object (PATCH /api/v4/leads/{id}, POST /api/v4/webhooks…). */
export function readObject(ctx: RestCtx): Read<Record<string, unknown>> {
  const parsed = parseJson(ctx.req.body);
  if (!parsed.ok) return { ok: false, res: badRequest('Request body is not valid JSON') };
  if (parsed.empty) return { ok: false, res: emptyRequest() };
  if (!isRecord(parsed.value)) return { ok: false, res: badRequest('Request data must be an object') };
  if (Object.keys(parsed.value).length === 0) return { ok: false, res: emptyRequest() };
  return { ok: true, value: parsed.value };
}

/**
 * The items of a write that exists both for one entity (`PATCH …/{id}`: one object, the id from
 * the path) and as a batch (an array): always a list of items.
 */
export function readItems(ctx: RestCtx, oneId: number | undefined): Read<unknown[]> {
  if (oneId === undefined) return readBatch(ctx);
  const b = readObject(ctx);
  return b.ok ? { ok: true, value: [{ ...b.value, id: oneId }] } : b;
}

/** The echo value for `request_id` (leads-api: "Строка переданная при запросе или порядковый указатель"). */
export function requestIdOf(item: unknown, index: number): string {
  if (isRecord(item) && (typeof item.request_id === 'string' || typeof item.request_id === 'number')) return String(item.request_id);
  return String(index);
}

/** `page`/`limit` (docs/amocrm-protocol.md#entity-limits, #lists-filters-and-search: limit max 250, default 50 per amocrm-api-php PagesFilterTrait). limit > max → 422 "Limit 250 per page". */
export function paging(ctx: RestCtx, max = 250, def = 50): Read<{ page: number; limit: number }> {
  const rawLimit = ctx.query.limit;
  const rawPage = ctx.query.page;
  const limit = rawLimit === undefined ? def : Number(rawLimit);
  const page = rawPage === undefined ? 1 : Number(rawPage);
  if (!Number.isInteger(limit) || limit < 1) return { ok: false, res: badRequest('limit must be a positive integer') }; // *assumed*
  if (!Number.isInteger(page) || page < 1) return { ok: false, res: badRequest('page must be a positive integer') }; // *assumed*
  if (limit > max) return { ok: false, res: limitPerPage(max) };
  return { ok: true, value: { page, limit } };
}

/**
 * A HAL list page (leads-api example): `_page`, `_links.self/next/first/prev`, `_embedded[key]`.
 * No items on this page → 204 with no body (docs/amocrm-protocol.md#empty-answers-and-if-modified-since). `total` adds `_total_items`/`_page_count`
 * (custom_fields, users examples).
 */
export function listPage(
  ctx: RestCtx,
  key: string,
  items: unknown[],
  opts: { max?: number; def?: number; total?: boolean } = {},
): SbResponse {
  const pg = paging(ctx, opts.max ?? 250, opts.def ?? 50);
  if (!pg.ok) return pg.res;
  const p = pg.value;
  const start = (p.page - 1) * p.limit;
  const slice = items.slice(start, start + p.limit);
  if (slice.length === 0) return noContent();
  const href = (page: number): { href: string } => {
    const q = new URLSearchParams(ctx.req.query);
    q.set('limit', String(p.limit));
    q.set('page', String(page));
    return { href: `${ctx.base}${ctx.req.path}?${q.toString()}` };
  };
  const links: Record<string, { href: string }> = { self: href(p.page) };
  if (start + p.limit < items.length) links.next = href(p.page + 1);
  if (p.page > 1) {
    links.first = href(1);
    links.prev = href(p.page - 1);
  }
  const body: Record<string, unknown> = {};
  if (opts.total) {
    body._total_items = items.length;
    body._page_count = Math.max(1, Math.ceil(items.length / p.limit));
  }
  body._page = p.page;
  body._links = links;
  body._embedded = { [key]: slice };
  return hal(200, body);
}

/** A collection with no paging (pipelines, statuses, webhooks): `_total_items`, `_links`, `_embedded`. 204 when empty. */
export function collection(ctx: RestCtx, key: string, items: unknown[]): SbResponse {
  if (items.length === 0) return noContent();
  return hal(200, { _total_items: items.length, _links: link(ctx, ctx.req.path), _embedded: { [key]: items } });
}

/**
 * If-Modified-Since on lists (docs/amocrm-protocol.md#empty-answers-and-if-modified-since: the server's answer is undocumented). *assumed*: only entities
 * with `updated_at` strictly after the header's time are listed; none → 204 like any empty list.
 */
export function ifModifiedSince(ctx: RestCtx): number | undefined {
  const h = ctx.req.headers['if-modified-since'];
  if (!h) return undefined;
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

/** `order[field]=asc|desc` (leads-api: created_at, updated_at, id). Default id asc (*assumed*). */
export function sortBy<T extends { id: number }>(ctx: RestCtx, items: T[], allowed: string[]): T[] {
  const order = ctx.query.order;
  let field = 'id';
  let dir = 1;
  if (isRecord(order)) {
    const [k, v] = Object.entries(order)[0] ?? [];
    if (k && allowed.includes(k)) {
      field = k;
      dir = v === 'desc' ? -1 : 1;
    }
  }
  return [...items].sort((a, b) => {
    const av = (a as unknown as Record<string, number>)[field] ?? 0;
    const bv = (b as unknown as Record<string, number>)[field] ?? 0;
    return (av - bv || a.id - b.id) * dir;
  });
}

/** Range filter value: `x`, `x[from]`/`x[to]`. */
export function inRange(v: number | null, f: unknown): boolean {
  if (f === undefined) return true;
  if (v === null) return false;
  if (isRecord(f)) {
    const from = f.from !== undefined ? Number(f.from) : undefined;
    const to = f.to !== undefined ? Number(f.to) : undefined;
    return (from === undefined || v >= from) && (to === undefined || v <= to);
  }
  return v === Number(f);
}

// ---- validators that collect errors ----

export class Check {
  constructor(
    readonly errs: FieldError[],
    readonly prefix = '',
  ) {}

  p(path: string): string {
    return `${this.prefix}${path}`;
  }

  int(obj: Record<string, unknown>, key: string, opts: { nullable?: boolean; min?: number } = {}): number | null | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (v === null && opts.nullable) return null;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.errs.push(E.type(this.p(key), 'int'));
      return undefined;
    }
    if (opts.min !== undefined && v < opts.min) {
      this.errs.push(E.invalid(this.p(key), `This value should be ${opts.min} or more.`));
      return undefined;
    }
    return v;
  }

  str(obj: Record<string, unknown>, key: string, opts: { required?: boolean; nonEmpty?: boolean } = {}): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (opts.required) this.errs.push(E.blank(this.p(key)));
      return undefined;
    }
    if (typeof v !== 'string') {
      this.errs.push(E.type(this.p(key), 'string'));
      return undefined;
    }
    if ((opts.required || opts.nonEmpty) && v.trim() === '') {
      this.errs.push(E.blank(this.p(key)));
      return undefined;
    }
    return v;
  }

  bool(obj: Record<string, unknown>, key: string): boolean | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.errs.push(E.type(this.p(key), 'bool'));
      return undefined;
    }
    return v;
  }
}
