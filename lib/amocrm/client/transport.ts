/**
 * The innermost layer: one HTTP exchange with amoCRM through an injected `fetch`, and the mapping
 * of whatever comes back (hal+json, problem+json, nginx HTML, nothing) to a response or a typed
 * error. No retries, no budget, no tokens kept: the caller passes the bearer token in and it
 * never reaches an error object.
 */
import {
  AmoAccountBlockedError,
  AmoNetworkError,
  AmoNotFoundError,
  AmoPaymentRequiredError,
  AmoRateLimitedError,
  AmoServerError,
  AmoTimeoutError,
  AmoUnauthorizedError,
  AmoUnexpectedResponseError,
  AmoValidationError,
  safeRoute,
  type ApiErrorInfo,
  type ProblemDetails,
  type ValidationErrorEntry,
} from './errors.ts';
import { redact } from '../../common/redact.ts';
import type { FetchLike } from './types.ts';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface AmoResponse<T = unknown> {
  status: number;
  /** undefined for 204 / 304 / an empty body. */
  body: T | undefined;
  headers: Headers;
  /** amoCRM's X-Request-Id. */
  amoRequestId?: string;
}

export interface WireRequest {
  method: HttpMethod;
  baseUrl: string;
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
  accessToken: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Non-2xx statuses that are answers here (e.g. 304 for a revalidation). */
  accept?: readonly number[];
  userAgent: string;
}

/**
 * Query strings in amoCRM's bracket syntax: `filter[id][0]=1`, `filter[statuses][0][pipeline_id]=…`,
 * `with=contacts,source` (arrays under `with` are joined by commas, as amoCRM expects). What
 * `qs.stringify` makes with `encodeValuesOnly`, `skipNulls` and `arrayFormat: 'indices'`
 * (test/client/query.test.ts holds it to that), written out: qs and its helpers weigh ≈ 50 KiB in a
 * function that never parses a query (the 1C API, infra/aws/README.md).
 */
export function buildQuery(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const q: Record<string, unknown> = { ...query };
  if (Array.isArray(q.with)) q.with = (q.with as unknown[]).join(',');
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) bracketPairs(k, v, parts);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** `key=value` pairs of one value: nested keys in brackets, array items by index; null and undefined left out. */
function bracketPairs(key: string, value: unknown, out: string[]): void {
  if (value === null || value === undefined) return;
  if (value instanceof Date) {
    out.push(`${key}=${encodeValue(value.toISOString())}`);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => bracketPairs(`${key}[${i}]`, item, out));
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) bracketPairs(`${key}[${k}]`, v, out);
  } else {
    out.push(`${key}=${encodeValue(String(value))}`);
  }
}

/**
 * RFC 3986: everything but letters, digits and `-._~` percent-encoded (encodeURIComponent leaves
 * `!'()*`). A lone surrogate (no character) becomes U+FFFD instead of throwing.
 */
function encodeValue(s: string): string {
  const wellFormed = s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return encodeURIComponent(wellFormed).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Retry-After as seconds or an HTTP date; amoCRM's body `retry_after` (seconds) as a fallback. */
export function retryAfterMs(headers: Headers, body: unknown, now = Date.now()): number | undefined {
  const h = headers.get('retry-after');
  if (h) {
    const secs = Number(h);
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
    const at = Date.parse(h);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  if (body && typeof body === 'object' && 'retry_after' in body) {
    const secs = Number((body as { retry_after: unknown }).retry_after);
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  }
  return undefined;
}

const JSONISH = /json/i;
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
]);

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A cause we can keep: name, message and code only (undici errors can hold sockets and buffers). */
function slimCause(e: unknown, secrets: readonly string[]): Error {
  const err = new Error(redact(e instanceof Error ? e.message : String(e), secrets));
  err.name = e instanceof Error ? e.name : 'Error';
  const code = errorCode(e);
  if (code) (err as Error & { code?: string }).code = code;
  return err;
}

function htmlSnippet(text: string, secrets: readonly string[]): string {
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
  const plain =
    title ??
    text
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
  return redact(plain.slice(0, 120), secrets);
}

function parseValidation(body: unknown, secrets: readonly string[]): ValidationErrorEntry[] {
  const raw = (body as { 'validation-errors'?: unknown } | undefined)?.['validation-errors'];
  if (!Array.isArray(raw)) return [];
  return raw.map((entry: unknown) => {
    const e = (entry ?? {}) as { request_id?: unknown; errors?: unknown };
    const errors = Array.isArray(e.errors) ? e.errors : [];
    return {
      requestId: String(e.request_id ?? ''),
      errors: errors.map((x: unknown) => {
        const o = (x ?? {}) as { code?: unknown; path?: unknown; detail?: unknown };
        return {
          code: redact(String(o.code ?? ''), secrets),
          path: redact(String(o.path ?? ''), secrets),
          detail: redact(String(o.detail ?? ''), secrets),
        };
      }),
    };
  });
}

/** The problem fields, redacted (an upstream may echo what we sent, the token included). */
function pickProblem(body: unknown, secrets: readonly string[]): ProblemDetails | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const p: ProblemDetails = {};
  if (typeof b.title === 'string') p.title = redact(b.title, secrets);
  if (typeof b.type === 'string') p.type = redact(b.type, secrets);
  if (typeof b.status === 'number') p.status = b.status;
  if (typeof b.detail === 'string') p.detail = redact(b.detail, secrets);
  if (typeof b.hint === 'string') p.hint = redact(b.hint, secrets);
  return Object.keys(p).length ? p : undefined;
}

/** The typed error for a non-accepted status. */
export function errorForStatus(info: ApiErrorInfo, body: unknown, secrets: readonly string[] = []): Error {
  const status = info.status ?? 0;
  if (status === 400 || status === 422) return new AmoValidationError(info, parseValidation(body, secrets));
  if (status === 401) return new AmoUnauthorizedError(info);
  if (status === 402) return new AmoPaymentRequiredError(info);
  if (status === 403) return new AmoAccountBlockedError(info);
  if (status === 404) return new AmoNotFoundError(info);
  if (status === 429) return new AmoRateLimitedError(info);
  if (status >= 500) return new AmoServerError(info);
  return new AmoUnexpectedResponseError(info, 'unexpected status');
}

/** One exchange. Throws AmoApiError subclasses (and the caller's own abort reason, untouched). */
export async function sendOnce<T>(fetchFn: FetchLike, req: WireRequest, now: () => number = Date.now): Promise<AmoResponse<T>> {
  // The token must never reach an error, even when an upstream echoes it back.
  const secrets = [req.accessToken];
  const pathWithQuery = `${req.path}${buildQuery(req.query)}`;
  const route = safeRoute(pathWithQuery);
  const base: ApiErrorInfo = { method: req.method, route };
  const headers: Record<string, string> = {
    accept: 'application/hal+json, application/json, application/problem+json',
    'user-agent': req.userAgent,
    ...req.headers,
    authorization: `Bearer ${req.accessToken}`,
  };
  let bodyText: string | undefined;
  if (req.body !== undefined) {
    bodyText = JSON.stringify(req.body);
    headers['content-type'] = 'application/json';
  }
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;

  let res: Response;
  let text: string;
  try {
    res = await fetchFn(`${req.baseUrl}${pathWithQuery}`, {
      method: req.method,
      headers,
      ...(bodyText !== undefined ? { body: bodyText } : {}),
      signal,
      redirect: 'manual',
    });
    text = await res.text();
  } catch (e) {
    if (req.signal?.aborted) throw req.signal.reason;
    if (timeout.aborted) throw new AmoTimeoutError({ ...base, cause: slimCause(e, secrets) }, req.timeoutMs);
    const code = errorCode(e);
    throw new AmoNetworkError({ ...base, cause: slimCause(e, secrets) }, !(code && NOT_SENT_CODES.has(code)));
  }

  const amoRequestId = res.headers.get('x-request-id') ?? undefined;
  const contentType = res.headers.get('content-type') ?? '';
  const info: ApiErrorInfo = { ...base, status: res.status, ...(amoRequestId ? { amoRequestId } : {}) };

  let parsed: unknown;
  let parseFailed = false;
  if (text.trim() !== '') {
    if (JSONISH.test(contentType) || /^[[{]/.test(text.trimStart())) {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parseFailed = true;
      }
    } else {
      parseFailed = true;
    }
  }

  const ok = (res.status >= 200 && res.status < 300) || (req.accept?.includes(res.status) ?? false);
  if (ok) {
    if (res.status === 204 || res.status === 304 || text.trim() === '') {
      return { status: res.status, body: undefined, headers: res.headers, ...(amoRequestId ? { amoRequestId } : {}) };
    }
    if (parseFailed) {
      throw new AmoUnexpectedResponseError(
        { ...info, bodySnippet: htmlSnippet(text, secrets) },
        `non-JSON ${redact(contentType, secrets) || 'body'}`,
      );
    }
    return { status: res.status, body: parsed as T, headers: res.headers, ...(amoRequestId ? { amoRequestId } : {}) };
  }

  const problem = pickProblem(parsed, secrets);
  const errInfo: ApiErrorInfo = {
    ...info,
    ...(problem ? { problem } : {}),
    ...(parseFailed ? { bodySnippet: htmlSnippet(text, secrets) } : {}),
  };
  const ra = retryAfterMs(res.headers, parsed, now());
  if (ra !== undefined) errInfo.retryAfterMs = ra;
  throw errorForStatus(errInfo, parsed, secrets);
}
