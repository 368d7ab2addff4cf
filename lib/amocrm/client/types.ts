/**
 * The small shared vocabulary of the REST client: which account a call is for, where tokens come
 * from (a port: lib/amocrm/oauth implements it), the clock, and the observer hook that metrics and
 * alarms attach to. No AWS types here (docs/architecture.md#layout).
 */

/**
 * Which account a call is made for, and through which integration. Same shape as the token
 * store's `TokenKey` (lib/amocrm/oauth/token-store.ts), so a TokenProvider can take it as is.
 */
export interface AccountRef {
  /** The integration's client id (amoCRM "Integration ID"). The 7/s budget is per integration. */
  clientId: string;
  /** Our id of the account (from the config). */
  accountKey: string;
}

/** The one place the client gets credentials from. */
export interface TokenSource {
  /** A usable access token and the account's API base URL (e.g. https://x.amocrm.ru, no trailing slash). */
  getToken(account: AccountRef): Promise<{ accessToken: string; baseUrl: string }>;
  /** amoCRM answered 401 to `accessTokenUsed`: refresh or mark for re-authorization (single flight is the source's job). */
  onUnauthorized(account: AccountRef, accessTokenUsed: string): Promise<void>;
  /**
   * Optional: a request with this token succeeded (amoCRM's grace rule: the previous refresh token
   * may be dropped once the new pair is used). Called after every answered request; the source
   * dedupes (lib/amocrm/oauth TokenProvider does). Errors are ignored.
   */
  confirmUsed?(account: AccountRef, accessTokenUsed: string): Promise<void>;
}

/** What the client tells the outside world (metrics, alarms, logs). All fields are safe to log. */
export type ClientEvent =
  | { type: 'request'; method: string; route: string; status: number; durationMs: number; attempt: number }
  /** `httpStatus`: amoCRM's answer when there was one (a refused request); absent for a network failure or timeout. */
  | { type: 'request-failed'; method: string; route: string; error: string; durationMs: number; attempt: number; httpStatus?: number }
  | { type: 'retry'; method: string; route: string; attempt: number; delayMs: number; reason: string }
  | { type: 'budget-wait'; waitMs: number }
  /** A slot was reserved ahead: the request sleeps `delayMs` until its send time (the budget's pacing, not a poll). */
  | { type: 'budget-slot'; delayMs: number }
  /** Too late for its reserved slot (`lateMs` past its latest send time): the slot is given up unsent and asked for again. */
  | { type: 'budget-late'; lateMs: number }
  | { type: 'deferred'; reason: 'rate-budget' | 'rate-limited' | 'blocked'; retryAfterMs: number }
  | { type: 'rate-limited'; retryAfterMs: number }
  /** A budget write after the fact failed (swallowed: the request's own result stands). `error` is redacted. */
  | { type: 'budget-error'; op: 'complete' | 'pause'; error: string }
  /** The alarm hook: an account was blocked (403) and the breaker is now open for every instance. */
  | { type: 'breaker-opened'; accountHost: string; reason: string }
  | { type: 'add-verified'; route: string; found: number; resent: number }
  | { type: 'cache'; kind: 'hit' | 'miss' | 'revalidated' | 'stale-refetched'; key: string };

export type Observer = (event: ClientEvent) => void;

/** A `fetch` with the standard signature; injected so tests and benches need no module mocks. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;
