/**
 * The REST client's typed error family (Powertools style: one base, a class per meaning, the
 * original failure in `cause`). Every error extends the pipeline's `PipelineError`, so a worker
 * that lets one escape gets the right outcome with no mapping code (lib/pipeline/outcome.ts
 * `outcomeFromError`):
 *
 *   defer — RateBudgetExhaustedError, AccountBlockedError (breaker open), AmoRateLimitedError (429),
 *           AmoAccountBlockedError (403), AmoUnauthorizedError (401 after a refresh attempt),
 *           AmoWriteUncertainError while a lost add may still land
 *   retry — AmoServerError (5xx), AmoTimeoutError, AmoNetworkError,
 *           AmoUnexpectedResponseError on a 2xx/3xx with a body we cannot read
 *   park  — AmoValidationError (400/422), AmoPaymentRequiredError (402), AmoNotFoundError (404),
 *           AmoUnexpectedResponseError on other 4xx, SchemaLookupError, CustomFieldValueError,
 *           AmoWriteUncertainError when look-alikes make the re-check ambiguous
 *
 * No error ever carries a token: messages are built from the method, the path (the query string
 * is reduced to its keys: `query=` may hold a phone number) and the server's problem fields,
 * redacted. Request headers are never stored.
 */
import { defer, park, PipelineError, retry, type Outcome } from '../../pipeline/outcome.ts';
import { redact } from '../../common/redact.ts';

export type ErrorOutcome = 'defer' | 'retry' | 'park';

/** Base of everything the client throws on purpose. */
export abstract class AmoClientError extends PipelineError {
  override readonly name: string = 'AmoClientError';
  /** What a worker should do with the message that hit this. */
  abstract readonly outcome: ErrorOutcome;
  /** Short kebab-case reason for the pipeline (park reasons and defer reasons). */
  abstract readonly reason: string;
  /** When trying again makes sense at the earliest (defer/retry), if known. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: ErrorOptions & { retryAfterMs?: number | undefined }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }

  toOutcome(): Outcome {
    switch (this.outcome) {
      case 'defer':
        return defer(this.reason, this.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(this.retryAfterMs / 1000)));
      case 'retry':
        return retry(`${this.name}: ${this.message}`);
      case 'park':
        return park(this.reason, `${this.name}: ${this.message}`);
    }
  }
}

/** The problem+json fields amoCRM sends (docs/amocrm-protocol.md#error-bodies), plus OAuth's `hint`. */
export interface ProblemDetails {
  title?: string;
  type?: string;
  status?: number;
  detail?: string;
  hint?: string;
}

/** One entry of `validation-errors` (docs/amocrm-protocol.md#error-bodies): which item of the request (request_id) and what was wrong. */
export interface ValidationErrorEntry {
  requestId: string;
  errors: Array<{ code: string; path: string; detail: string }>;
}

export interface ApiErrorInfo {
  method: string;
  /** Path plus the query's keys only, e.g. `/api/v4/leads?filter[id]&with`. */
  route: string;
  status?: number;
  problem?: ProblemDetails;
  /** amoCRM's `X-Request-Id` response header, for support tickets. */
  amoRequestId?: string;
  /** For non-JSON bodies: the HTML <title> or the first characters, redacted. */
  bodySnippet?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

/** Something happened on the wire: an HTTP answer we do not accept, or no answer at all. */
export abstract class AmoApiError extends AmoClientError {
  override readonly name: string = 'AmoApiError';
  readonly method: string;
  readonly route: string;
  readonly status: number | undefined;
  readonly problem: ProblemDetails | undefined;
  readonly amoRequestId: string | undefined;
  readonly bodySnippet: string | undefined;

  constructor(info: ApiErrorInfo, what?: string) {
    const detail = info.problem?.detail ?? info.problem?.title ?? info.bodySnippet;
    const hint = info.problem?.hint ? ` (${info.problem.hint})` : '';
    const head = `${info.method} ${info.route}${info.status !== undefined ? ` → ${info.status}` : ''}`;
    super(redact(`${head}${what ? ` ${what}` : ''}${detail ? `: ${detail}${hint}` : ''}`), {
      cause: info.cause,
      retryAfterMs: info.retryAfterMs,
    });
    this.method = info.method;
    this.route = info.route;
    this.status = info.status;
    this.problem = info.problem;
    this.amoRequestId = info.amoRequestId;
    this.bodySnippet = info.bodySnippet;
  }
}

/** 400 (incl. `validation-errors`) and 422 ("Limit 250 per page"): the request itself is wrong. */
export class AmoValidationError extends AmoApiError {
  override readonly name = 'AmoValidationError';
  readonly outcome = 'park';
  readonly reason = 'amo-validation';
  readonly validationErrors: ValidationErrorEntry[];
  constructor(info: ApiErrorInfo, validationErrors: ValidationErrorEntry[]) {
    const first = validationErrors[0]?.errors[0];
    super(
      info,
      first
        ? `[${first.code} at ${first.path}${validationErrors.length > 1 || (validationErrors[0]?.errors.length ?? 0) > 1 ? ', …' : ''}]`
        : undefined,
    );
    this.validationErrors = validationErrors;
  }
}

/** 401 that survived one refresh through the TokenSource: the account needs re-authorization. */
export class AmoUnauthorizedError extends AmoApiError {
  override readonly name = 'AmoUnauthorizedError';
  readonly outcome = 'defer';
  readonly reason = 'amo-unauthorized';
}

/**
 * 402: the account's paid period or trial ended. Parked (not deferred): deferring could circle
 * until SQS's retention drops the message; parked ones are replayed once the account pays.
 */
export class AmoPaymentRequiredError extends AmoApiError {
  override readonly name = 'AmoPaymentRequiredError';
  readonly outcome = 'park';
  readonly reason = 'amo-payment-required';
}

/** 403: the account (or our IP) is blocked. The breaker opens for every instance (see breaker plug-in). */
export class AmoAccountBlockedError extends AmoApiError {
  override readonly name = 'AmoAccountBlockedError';
  readonly outcome = 'defer';
  readonly reason = 'amo-account-blocked';
}

export class AmoNotFoundError extends AmoApiError {
  override readonly name = 'AmoNotFoundError';
  readonly outcome = 'park';
  readonly reason = 'amo-not-found';
}

/** 429: the shared budget was paused for `retryAfterMs` (Retry-After / retry_after, or a default). */
export class AmoRateLimitedError extends AmoApiError {
  override readonly name = 'AmoRateLimitedError';
  readonly outcome = 'defer';
  readonly reason = 'amo-rate-limited';
}

/** 5xx (problem+json or an nginx HTML page). */
export class AmoServerError extends AmoApiError {
  override readonly name = 'AmoServerError';
  readonly outcome = 'retry';
  readonly reason = 'amo-server-error';
}

/** No answer within the request timeout. `sent` is false only when the connection never opened. */
export class AmoTimeoutError extends AmoApiError {
  override readonly name = 'AmoTimeoutError';
  readonly outcome = 'retry';
  readonly reason = 'amo-timeout';
  readonly timeoutMs: number;
  constructor(info: ApiErrorInfo, timeoutMs: number) {
    super(info, `timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The connection failed. `mayHaveLanded` is false when it failed before a byte was sent (refused, DNS). */
export class AmoNetworkError extends AmoApiError {
  override readonly name = 'AmoNetworkError';
  readonly outcome = 'retry';
  readonly reason = 'amo-network';
  readonly mayHaveLanded: boolean;
  constructor(info: ApiErrorInfo, mayHaveLanded: boolean) {
    super(info, `network error${mayHaveLanded ? '' : ' (not sent)'}`);
    this.mayHaveLanded = mayHaveLanded;
  }
}

/** A status we do not expect (405, 3xx, …) or a body we cannot read (HTML or broken JSON on a 2xx). */
export class AmoUnexpectedResponseError extends AmoApiError {
  override readonly name = 'AmoUnexpectedResponseError';
  readonly outcome: ErrorOutcome;
  readonly reason = 'amo-unexpected-response';
  constructor(info: ApiErrorInfo, what?: string) {
    super(info, what);
    // A 2xx with garbage is most likely a proxy page: try later. A 4xx we do not know is a bug: park.
    this.outcome = info.status !== undefined && info.status >= 400 && info.status < 500 ? 'park' : 'retry';
  }
}

/**
 * An add timed out (or failed in a way that may have landed) and the re-check could not settle
 * whether it did:
 * - `defer`: the re-check found nothing yet, but the first request may still be in flight at
 *   amoCRM; try again after `retryAfterMs` (re-send with `checkFirst: true`);
 * - `park`: more matching entities than items (someone else made look-alikes): a person decides.
 */
export class AmoWriteUncertainError extends AmoApiError {
  override readonly name = 'AmoWriteUncertainError';
  readonly outcome: ErrorOutcome;
  readonly reason: string;
  constructor(info: ApiErrorInfo, outcome: 'defer' | 'park', what: string) {
    super(info, what);
    this.outcome = outcome;
    this.reason = outcome === 'park' ? 'amo-write-ambiguous' : 'amo-write-unsettled';
  }
}

/** No budget left now (docs/architecture.md#failure-semantics: throttling is not failure). The worker defers the message. */
export class RateBudgetExhaustedError extends AmoClientError {
  override readonly name = 'RateBudgetExhaustedError';
  readonly outcome = 'defer';
  readonly reason: string;
  constructor(
    readonly accountHost: string,
    retryAfterMs: number,
    why: 'budget' | 'paused' = 'budget',
  ) {
    super(
      `rate budget for ${accountHost} ${why === 'paused' ? 'is paused after a 429' : 'is spent'}; try again in ${Math.ceil(retryAfterMs)} ms`,
      { retryAfterMs },
    );
    this.reason = why === 'paused' ? 'rate-paused' : 'rate-budget';
  }
}

/** The account's breaker is open (a 403 block was seen by some instance): no request was sent. */
export class AccountBlockedError extends AmoClientError {
  override readonly name = 'AccountBlockedError';
  readonly outcome = 'defer';
  readonly reason = 'account-blocked';
  constructor(
    readonly accountHost: string,
    since: number,
    retryAfterMs: number,
  ) {
    super(`account ${accountHost} is blocked since ${new Date(since).toISOString()}: lift the breaker once amoCRM support unblocks it`, {
      retryAfterMs,
    });
  }
}

/** A name in a flow or config that the pulled account schema does not know. */
export class SchemaLookupError extends AmoClientError {
  override readonly name = 'SchemaLookupError';
  readonly outcome = 'park';
  readonly reason = 'schema-unknown-name';
}

/** A value that cannot be written to a custom field of that type (e.g. an unknown select label). */
export class CustomFieldValueError extends AmoClientError {
  override readonly name = 'CustomFieldValueError';
  readonly outcome = 'park';
  readonly reason = 'custom-field-value';
}

/** `GET /a/b?x=1&query=+7999…` → `/a/b?x&query`: the shape of the call without values. */
export function safeRoute(pathWithQuery: string): string {
  const q = pathWithQuery.indexOf('?');
  const path = q < 0 ? pathWithQuery : pathWithQuery.slice(0, q);
  if (q < 0) return path;
  const keys = new Set<string>();
  for (const part of pathWithQuery.slice(q + 1).split('&')) {
    if (!part) continue;
    const k = part.split('=')[0] ?? '';
    try {
      keys.add(decodeURIComponent(k.replace(/\+/g, ' ')).replace(/\[\d+\]/g, '[]'));
    } catch {
      keys.add('?');
    }
  }
  return `${path}?${[...keys].join('&')}`;
}
