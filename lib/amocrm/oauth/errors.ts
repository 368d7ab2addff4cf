/**
 * The OAuth error family. Every error says what the pipeline should do with the message that
 * needed the token (`outcome`, docs/architecture.md#failure-semantics): an account that needs
 * re-authorization or is disconnected is *defer* (the message waits; it is not a failure and is
 * never parked for it), a transient problem is *retry*. Messages name accounts, hosts and amoCRM's
 * own words (title/hint), never a token or a secret.
 */
import { defer, PipelineError, retry, type Outcome } from '../../pipeline/outcome.ts';
import { describeError } from '../../common/errors.ts';

export type FailureOutcome = 'defer' | 'retry';

/** How long a message waits when its account cannot be served (SQS's maximum delay). *assumed* */
export const ACCOUNT_DEFER_SECONDS = 900;

/** A PipelineError, so the worker maps it without knowing OAuth: `toOutcome()` follows `outcome`. */
export abstract class OAuthError extends PipelineError {
  abstract readonly code: string;
  abstract readonly outcome: FailureOutcome;
  /** For *defer*: how long the message should wait. */
  readonly deferSeconds: number | undefined = undefined;

  toOutcome(): Outcome {
    return this.outcome === 'defer' ? defer(this.code.replace(/_/g, '-'), this.deferSeconds) : retry(describeError(this));
  }
}

/** The refresh token was refused (revoked, reused, expired) or the client was: a human must install again. */
export class AccountNeedsReauthError extends OAuthError {
  override readonly name = 'AccountNeedsReauthError';
  override readonly deferSeconds = ACCOUNT_DEFER_SECONDS;
  readonly code = 'account_needs_reauth';
  readonly outcome = 'defer';
  constructor(
    readonly account: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `account "${account}" needs re-authorization (${reason}); run \`amo-gateway auth link --account ${account}\` and open the link as an account admin`,
      options,
    );
  }
}

/** amoCRM told us (disconnect hook) that the integration was removed from the account. */
export class AccountDisconnectedError extends OAuthError {
  override readonly name = 'AccountDisconnectedError';
  override readonly deferSeconds = ACCOUNT_DEFER_SECONDS;
  readonly code = 'account_disconnected';
  readonly outcome = 'defer';
  constructor(
    readonly account: string,
    options?: ErrorOptions,
  ) {
    super(`account "${account}" disconnected the integration; it must be installed again`, options);
  }
}

/** No token was ever stored for the account. */
export class AccountNotConnectedError extends OAuthError {
  override readonly name = 'AccountNotConnectedError';
  override readonly deferSeconds = ACCOUNT_DEFER_SECONDS;
  readonly code = 'account_not_connected';
  readonly outcome = 'defer';
  constructor(
    readonly account: string,
    options?: ErrorOptions,
  ) {
    super(`account "${account}" has no token yet; install the integration (\`amo-gateway auth link --account ${account}\`)`, options);
  }
}

/** Another caller held the refresh lease for longer than we were willing to wait. */
export class TokenRefreshBusyError extends OAuthError {
  override readonly name = 'TokenRefreshBusyError';
  readonly code = 'token_refresh_busy';
  readonly outcome = 'retry';
  constructor(
    readonly account: string,
    waitedMs: number,
  ) {
    super(`account "${account}": another caller is refreshing the token; gave up waiting after ${waitedMs} ms`);
  }
}

/** A token that was just refreshed was refused again; refreshing once more would loop. */
export class TokenRejectedError extends OAuthError {
  override readonly name = 'TokenRejectedError';
  readonly code = 'token_rejected';
  readonly outcome = 'retry';
  constructor(readonly account: string) {
    super(`account "${account}": amoCRM refused an access token that was refreshed moments ago; not refreshing again so soon`);
  }
}

/** The refresh happened (or may have) but the result could not be stored; the grace rule lets the next try recover. */
export class TokenStoreWriteError extends OAuthError {
  override readonly name = 'TokenStoreWriteError';
  readonly code = 'token_store_write_failed';
  readonly outcome = 'retry';
  constructor(
    readonly account: string,
    options?: ErrorOptions,
  ) {
    super(
      `account "${account}": the refreshed token pair could not be stored; it was discarded unused, so the next try refreshes again with the old refresh token (grace rule)`,
      options,
    );
  }
}

export type TokenEndpointErrorKind =
  | 'revoked' // 401 problem JSON, e.g. "Token has been revoked" (reused / revoked refresh token)
  | 'invalid-grant' // 400 problem JSON: code expired or used, refresh token malformed
  | 'invalid-client' // 401 problem JSON "Некорректный клиент": client id / secret / redirect_uri wrong
  | 'blocked' // 403: the account (or our IP) is blocked
  | 'throttled' // 429
  | 'transient' // 5xx, network, timeout
  | 'bad-response'; // 2xx without the fields we need; a redirect; any other 4xx (not amoCRM's OAuth error)

/** amoCRM's token endpoint said no, or could not be reached. */
export class TokenEndpointError extends OAuthError {
  override readonly name = 'TokenEndpointError';
  readonly code: string;
  readonly outcome: FailureOutcome;
  override readonly deferSeconds: number | undefined;
  constructor(
    readonly kind: TokenEndpointErrorKind,
    readonly status: number | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = `token_endpoint_${kind.replace('-', '_')}`;
    this.outcome = kind === 'blocked' || kind === 'throttled' ? 'defer' : 'retry';
    // A blocked account stays blocked until amoCRM support acts; a 429 passes within a minute (*assumed*).
    this.deferSeconds = kind === 'blocked' ? ACCOUNT_DEFER_SECONDS : kind === 'throttled' ? 60 : undefined;
  }
}

/** Why a callback or disconnect request was refused; `status` is the HTTP answer. */
export class OAuthRequestError extends OAuthError {
  override readonly name = 'OAuthRequestError';
  readonly outcome = 'retry';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isOAuthError(e: unknown): e is OAuthError {
  return e instanceof OAuthError;
}
