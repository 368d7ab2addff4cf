/**
 * TokenProvider — THE ONLY way anything gets an amoCRM access token.
 *
 * One instance per container (Lambda cold start), shared by every request it serves:
 * - `getToken(account)` answers from memory while the token is young: the store is read at most
 *   once per half-life of the token (and never past its expiry). Concurrent calls in one
 *   container share one read.
 * - `onUnauthorized(account, tokenUsed)` after amoCRM answered 401: forgets the cached token,
 *   re-reads, and refreshes under the lease only if the store still holds the refused token;
 *   the following `getToken` answers from memory.
 * - `confirmUsed(account, tokenUsed)` after the first 2xx with a new token: closes the grace
 *   window (drops the previous pair). Optional; once per token per container.
 *
 * Accounts that need re-authorization, are disconnected or were never connected throw typed
 * errors with `outcome: 'defer'`; those answers are remembered for a few seconds so a queue full
 * of messages for a dead account does not read the store once per message.
 */
import { UnknownAccountError } from '../../config/deployed.ts';
import { AccountDisconnectedError, AccountNeedsReauthError, AccountNotConnectedError, type OAuthError } from './errors.ts';
import { halfLifeAt, type EnsureResult, type TokenLifecycle } from './lifecycle.ts';

export interface AccessToken {
  account: string;
  accessToken: string;
  /** Where to send API requests for this account, e.g. https://x.amocrm.ru */
  baseUrl: string;
  /** epoch ms */
  expiresAt: number;
  kind: 'oauth' | 'long-lived';
}

export interface TokenProviderOptions {
  /** How long a "needs re-auth / disconnected / not connected" answer is remembered. */
  negativeCacheMs?: number;
}

/**
 * Which account: our config id (`"clinic"`), or the REST client's AccountRef / the store's
 * TokenKey (`{clientId, accountKey}`), whose client id must then be the account's integration.
 */
export type AccountLike = string | { accountKey: string; clientId?: string };

type CacheEntry = { token: AccessToken; freshUntil: number } | { error: OAuthError; until: number };

export class TokenProvider {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<AccessToken>>();
  private readonly confirmed = new Set<string>();
  private readonly negativeCacheMs: number;

  constructor(
    private readonly lifecycle: TokenLifecycle,
    opts: TokenProviderOptions = {},
  ) {
    this.negativeCacheMs = opts.negativeCacheMs ?? 15_000;
  }

  async getToken(ref: AccountLike): Promise<AccessToken> {
    const account = this.accountId(ref);
    const now = this.lifecycle.clock.now();
    const hit = this.cache.get(account);
    if (hit) {
      if ('error' in hit) {
        if (now < hit.until) throw hit.error;
      } else if (now < hit.freshUntil) {
        return hit.token;
      }
      this.cache.delete(account);
    }
    return this.singleFlight(account, () => this.lifecycle.usable(account));
  }

  /**
   * amoCRM answered 401 to `tokenUsed`. Resolves once a usable token is in place (the next
   * `getToken` returns it from memory), or throws a typed error (needs re-auth, disconnected,
   * rejected again too soon). Matches the REST client's TokenSource port.
   */
  async onUnauthorized(ref: AccountLike, tokenUsed: string): Promise<void> {
    const account = this.accountId(ref);
    const hit = this.cache.get(account);
    if (hit && 'token' in hit && hit.token.accessToken === tokenUsed) this.cache.delete(account);
    await this.singleFlight(`401:${account}`, () => this.lifecycle.afterUnauthorized(account, tokenUsed), account);
  }

  /** The first successful call with `tokenUsed`: the grace window of the previous pair is over. */
  async confirmUsed(ref: AccountLike, tokenUsed: string): Promise<void> {
    const account = this.accountId(ref);
    const k = `${account}\u0000${tokenUsed}`;
    if (this.confirmed.has(k)) return;
    this.confirmed.add(k);
    try {
      await this.lifecycle.confirm(account, tokenUsed);
    } catch {
      // Best effort: an unconfirmed pair only keeps the previous one around a little longer.
      this.confirmed.delete(k);
    }
  }

  /** Forget what this container knows about the account (tests, CLI). */
  invalidate(ref?: AccountLike): void {
    if (ref) this.cache.delete(this.accountId(ref));
    else this.cache.clear();
  }

  private accountId(ref: AccountLike): string {
    if (typeof ref === 'string') return ref;
    if (ref.clientId !== undefined) {
      const { integration } = this.lifecycle.resolve(ref.accountKey);
      if (integration.clientId !== ref.clientId) {
        throw new UnknownAccountError(
          `account "${ref.accountKey}" belongs to integration "${integration.id}", not to client id ${ref.clientId}`,
        );
      }
    }
    return ref.accountKey;
  }

  private singleFlight(flightKey: string, load: () => Promise<EnsureResult>, account = flightKey): Promise<AccessToken> {
    const running = this.inflight.get(flightKey);
    if (running) return running;
    const p = this.remember(account, load).finally(() => this.inflight.delete(flightKey));
    this.inflight.set(flightKey, p);
    return p;
  }

  private async remember(account: string, load: () => Promise<EnsureResult>): Promise<AccessToken> {
    try {
      const { record } = await load();
      // assertUsable guarantees `current`; the check keeps the types honest.
      if (!record.current) throw new AccountNotConnectedError(account);
      const now = this.lifecycle.clock.now();
      const token: AccessToken = {
        account,
        accessToken: record.current.accessToken,
        baseUrl: record.baseUrl,
        expiresAt: record.current.accessExpiresAt,
        kind: record.kind,
      };
      const halfLife = halfLifeAt(record.current) - record.current.issuedAt;
      const freshUntil = Math.min(now + Math.max(halfLife, 0), record.current.accessExpiresAt - this.lifecycle.timing.expirySkewMs);
      this.cache.set(account, { token, freshUntil });
      return token;
    } catch (e) {
      if (e instanceof AccountNeedsReauthError || e instanceof AccountDisconnectedError || e instanceof AccountNotConnectedError) {
        this.cache.set(account, { error: e, until: this.lifecycle.clock.now() + this.negativeCacheMs });
      }
      throw e;
    }
  }
}
