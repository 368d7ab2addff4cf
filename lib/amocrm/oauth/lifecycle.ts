/**
 * The token lifecycle engine: with its base (grants.ts: the install's and the disconnect hook's
 * writes) the only code that refreshes, marks or replaces a stored token. TokenProvider (workers),
 * the scheduled refresher (schedule.ts, a subclass), the install flow, the disconnect hook and the
 * CLI are thin fronts over it.
 *
 * Why a refresh happens exactly once (docs/architecture.md#one-refresher-never-two, #refresh-tokens):
 * 1. Lease. A refresh is only attempted while holding the account's short DynamoDB lease
 *    (conditional put). Everyone else polls with backoff, bounded, and re-reads the item.
 * 2. Re-read under the lease. The holder reads the item again after taking the lease and
 *    refreshes only if it still wants to (someone may have refreshed between its first read and
 *    the lease) — so fifty callers that all saw the expired token make one refresh.
 * 3. Version. The new pair is written conditionally on the version read under the lease, and it
 *    is STORED before anyone uses it. A writer whose lease ran out cannot overwrite a newer pair.
 * 4. Grace rule. If the process dies (or the store write fails) after amoCRM answered but before
 *    the write, the new pair was never stored, hence never used — and amoCRM keeps the old refresh
 *    token working until the new pair is used (docs/amocrm-protocol.md#rotation-and-the-grace-rule). The next holder refreshes with
 *    the old refresh token still in the store. No re-authorization.
 * 5. Dead grants stop everything. Revoked / invalid grant / invalid client → the item is marked
 *    `needs-reauth` (one write), every caller gets AccountNeedsReauthError (*defer*), and nothing
 *    calls the token endpoint for that account again until an operator re-installs it.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ResolvedAccount } from '../../config/deployed.ts';
import { TokenVersionConflictError, type TokenPair, type TokenRecord, type TokenRecordInput } from './token-store.ts';
import {
  AccountDisconnectedError,
  AccountNeedsReauthError,
  AccountNotConnectedError,
  TokenEndpointError,
  TokenRefreshBusyError,
  TokenRejectedError,
  TokenStoreWriteError,
} from './errors.ts';
import { readTokenClaims } from './jwt.ts';
import { METRIC } from '../../metrics.ts';
import { realSleep } from '../../common/clock.ts';
import { requestToken, type TokenResponse } from './token-endpoint.ts';
import { pairFromResponse, TokenGrants, withoutVersion, type TokenLifecycleDeps } from './grants.ts';

/** What a refresh attempt is for; decides whether the holder still wants to refresh after the re-read. */
export type RefreshReason = 'expired' | 'unauthorized' | 'schedule' | 'manual';

export interface EnsureResult {
  record: TokenRecord;
  /** True when THIS call refreshed the token. */
  refreshed: boolean;
}

export function halfLifeAt(p: TokenPair): number {
  return p.issuedAt + (p.accessExpiresAt - p.issuedAt) / 2;
}

/** The refresh engine: on demand (the token provider, the CLI), under the lease; the schedule extends it (schedule.ts). */
export class TokenLifecycle extends TokenGrants {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly owner: string;

  constructor(deps: TokenLifecycleDeps) {
    super(deps);
    this.sleep = deps.sleep ?? realSleep;
    this.owner = deps.owner ?? randomUUID();
  }

  isExpired(rec: TokenRecord, now = this.clock.now()): boolean {
    return !rec.current || rec.current.accessExpiresAt - this.timing.expirySkewMs <= now;
  }

  // ---------------------------------------------------------------- callers

  /** A usable record for the account, refreshing under the lease when the access token has expired. */
  usable(account: string): Promise<EnsureResult> {
    return this.ensure(this.resolve(account), 'expired', (rec, now) => this.isExpired(rec, now));
  }

  /**
   * amoCRM answered 401 to `tokenUsed`. If the store already holds another token, that one is the
   * answer (someone refreshed). If it still holds `tokenUsed`, refresh — unless that token is
   * brand new, in which case refreshing again would only loop.
   */
  afterUnauthorized(account: string, tokenUsed: string): Promise<EnsureResult> {
    const r = this.resolve(account);
    return this.ensure(r, 'unauthorized', (rec, now) => {
      if (rec.current?.accessToken !== tokenUsed) return false;
      if (rec.kind === 'oauth' && now - rec.current.issuedAt < this.timing.minRefreshIntervalMs) throw new TokenRejectedError(r.account.id);
      return true;
    });
  }

  /** Refresh now whatever the token's age (CLI `token refresh --account`); also retries a needs-reauth account that still has a refresh token. */
  async refreshNow(account: string): Promise<EnsureResult> {
    const r = this.resolve(account);
    const first = await this.store.get(this.key(r));
    if (!first) throw new AccountNotConnectedError(r.account.id);
    return this.ensure(r, 'manual', (rec) => rec.version === first.version, { retryNeedsReauth: true });
  }

  // ---------------------------------------------------------------- the lease loop

  private assertUsable(r: ResolvedAccount, rec: TokenRecord | undefined, retryNeedsReauth = false): asserts rec is TokenRecord {
    if (!rec) throw new AccountNotConnectedError(r.account.id);
    if (rec.status === 'disconnected') throw new AccountDisconnectedError(r.account.id);
    if (rec.status === 'needs-reauth' && !(retryNeedsReauth && rec.current?.refreshToken)) {
      throw new AccountNeedsReauthError(r.account.id, rec.statusReason ?? 'needs re-authorization');
    }
    if (!rec.current) throw new AccountNotConnectedError(r.account.id);
  }

  /**
   * Returns the stored record once `want` is false for it; while `want` is true, takes the lease
   * and refreshes (or waits for whoever holds it). `want` is evaluated again under the lease.
   */
  protected async ensure(
    r: ResolvedAccount,
    reason: RefreshReason,
    want: (rec: TokenRecord, now: number) => boolean,
    opts: { retryNeedsReauth?: boolean } = {},
  ): Promise<EnsureResult> {
    const key = this.key(r);
    const started = performance.now();
    let delay = this.timing.pollStartMs;
    /**
     * Until when someone else holds the lease (as the refusal said). Before then a waiter only
     * re-reads the token item — except every few polls, in case the holder gave the lease back
     * early after a failure.
     */
    let heldUntil = -Infinity;
    let pollsSinceTry = 0;
    for (;;) {
      const rec = await this.store.get(key);
      this.assertUsable(r, rec, opts.retryNeedsReauth);
      if (!want(rec, this.clock.now())) return { record: rec, refreshed: false };
      const now = this.clock.now();
      if (now >= heldUntil || pollsSinceTry >= 4) {
        pollsSinceTry = 0;
        const owner = `${this.owner}/${randomUUID()}`;
        const lease = await this.store.acquireLease(key, owner, now + this.timing.leaseMs, now);
        if (lease.acquired) {
          try {
            const locked = await this.store.get(key);
            this.assertUsable(r, locked, opts.retryNeedsReauth);
            if (!want(locked, this.clock.now())) return { record: locked, refreshed: false };
            return await this.refreshLocked(r, locked, reason);
          } finally {
            await this.store.releaseLease(key, owner).catch((e: unknown) =>
              this.log.warn('could not release the refresh lease (it runs out by itself)', {
                account: r.account.id,
                error: (e as Error).message,
              }),
            );
          }
        }
        heldUntil = lease.heldUntil ?? -Infinity;
      } else {
        pollsSinceTry++;
      }
      const elapsed = performance.now() - started;
      if (elapsed >= this.timing.waitMs) {
        this.metrics.count(METRIC.refreshBusy, { account: r.account.id });
        throw new TokenRefreshBusyError(r.account.id, Math.round(elapsed));
      }
      // Jittered exponential backoff so fifty waiters do not poll in lockstep.
      await this.sleep(Math.min(delay * (0.5 + Math.random()), this.timing.waitMs - elapsed));
      delay = Math.min(delay * 2, this.timing.pollMaxMs);
    }
  }

  // ---------------------------------------------------------------- under the lease

  private async refreshLocked(r: ResolvedAccount, rec: TokenRecord, reason: RefreshReason): Promise<EnsureResult> {
    const account = r.account.id;
    if (rec.kind === 'long-lived' || !rec.current?.refreshToken) {
      // Nothing to refresh with: an expired or refused long-lived token needs a new one.
      const why = reason === 'unauthorized' ? 'long-lived token refused (401)' : 'long-lived token expired';
      await this.markNeedsReauth(r, rec, why);
      throw new AccountNeedsReauthError(account, why);
    }
    // The current refresh token first; the previous one only while the current pair has never
    // been seen to work — exactly the window in which amoCRM still honours it (grace rule).
    const candidates: Array<{ from: TokenPair; label: 'current' | 'previous' }> = [{ from: rec.current, label: 'current' }];
    if (rec.previous?.refreshToken && rec.confirmedAt === undefined) candidates.push({ from: rec.previous, label: 'previous' });
    const secret = await this.secrets.get(r.integration.clientSecret.secret);
    let lastError: TokenEndpointError | undefined;
    for (const c of candidates) {
      let res: TokenResponse;
      try {
        res = await requestToken({
          fetch: this.fetch,
          baseUrl: rec.baseUrl,
          client: { clientId: r.integration.clientId, clientSecret: secret, redirectUri: r.integration.redirectUri },
          grant: { grant_type: 'refresh_token', refresh_token: c.from.refreshToken ?? '' },
          timeoutMs: this.timing.fetchTimeoutMs,
        });
      } catch (e) {
        if (!(e instanceof TokenEndpointError)) throw e;
        lastError = e;
        if (e.kind === 'revoked' || e.kind === 'invalid-grant') {
          this.log.warn('refresh token refused', { account, which: c.label, reason, error: e.message });
          continue;
        }
        this.metrics.count(METRIC.refreshFailed, { account, kind: e.kind });
        if (e.kind === 'invalid-client') {
          await this.markNeedsReauth(r, rec, `amoCRM refused the client credentials: ${e.message}`);
          throw new AccountNeedsReauthError(account, 'client id / secret / redirect URI refused', { cause: e });
        }
        throw e; // blocked / throttled (defer), transient / bad-response (retry)
      }
      const now = this.clock.now();
      const next: TokenRecordInput = {
        ...withoutVersion(rec),
        status: 'active',
        statusReason: undefined,
        statusAt: undefined,
        current: pairFromResponse(res, now),
        previous: c.from,
        confirmedAt: undefined,
        lastRefreshAt: now,
        updatedAt: now,
        amoAccountId: readTokenClaims(res.accessToken).accountId ?? rec.amoAccountId,
      };
      const stored = await this.writeRefreshed(r, rec, next);
      if (stored.refreshed) {
        this.metrics.count(METRIC.refreshed, { account, reason });
        this.log.info('token refreshed', {
          account,
          reason,
          version: stored.record.version,
          accessExpiresAt: new Date(next.current?.accessExpiresAt ?? 0).toISOString(),
        });
      }
      return stored;
    }
    // Every candidate refused: the grant is dead.
    this.metrics.count(METRIC.refreshFailed, { account, kind: lastError?.kind ?? 'revoked' });
    const why = lastError?.kind === 'invalid-grant' ? 'refresh token refused (invalid grant)' : 'refresh token revoked';
    const marked = await this.markNeedsReauth(r, rec, why);
    if (marked === 'changed') {
      // Someone re-installed or refreshed under us; their pair is the answer.
      const fresh = await this.store.get(this.key(r));
      this.assertUsable(r, fresh);
      return { record: fresh, refreshed: false };
    }
    throw new AccountNeedsReauthError(account, why, { cause: lastError });
  }

  /**
   * Stores a refreshed pair conditionally on the version read under the lease. A conflict caused
   * only by a confirmation (same pair, `confirmedAt` set) is merged and written again; any other
   * conflict means the pair was replaced (re-install, disconnect): ours is discarded unused.
   */
  private async writeRefreshed(r: ResolvedAccount, base: TokenRecord, next: TokenRecordInput): Promise<EnsureResult> {
    let expected = base.version;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return { record: await this.store.put(next, expected), refreshed: true };
      } catch (e) {
        if (!(e instanceof TokenVersionConflictError)) {
          this.metrics.count(METRIC.refreshFailed, { account: r.account.id, kind: 'store' });
          throw new TokenStoreWriteError(r.account.id, { cause: e });
        }
        const fresh = await this.store.get(this.key(r)).catch((err: unknown) => {
          throw new TokenStoreWriteError(r.account.id, { cause: err });
        });
        const samePair = fresh && fresh.status === base.status && fresh.current?.refreshToken === base.current?.refreshToken;
        if (!samePair) {
          this.log.warn('token item replaced during refresh; discarding the new pair unused', { account: r.account.id });
          this.assertUsable(r, fresh);
          return { record: fresh, refreshed: false };
        }
        expected = fresh.version;
      }
    }
    throw new TokenStoreWriteError(r.account.id, { cause: new Error('version kept changing') });
  }

  /** Marks needs-reauth unless the pair changed meanwhile. */
  protected async markNeedsReauth(r: ResolvedAccount, rec: TokenRecord, reason: string): Promise<'marked' | 'changed'> {
    let base = rec;
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.clock.now();
      try {
        await this.store.put(
          { ...withoutVersion(base), status: 'needs-reauth', statusReason: reason, statusAt: now, updatedAt: now },
          base.version,
        );
        this.metrics.count(METRIC.needsReauth, { account: r.account.id });
        this.log.error('account needs re-authorization', { account: r.account.id, reason });
        return 'marked';
      } catch (e) {
        if (!(e instanceof TokenVersionConflictError)) throw e;
        const fresh = await this.store.get(this.key(r));
        if (!fresh || fresh.current?.accessToken !== rec.current?.accessToken || fresh.status !== 'active') return 'changed';
        base = fresh;
      }
    }
    return 'changed';
  }

  // ---------------------------------------------------------------- writes from outside the refresh path

  /** The current pair was seen to work: drop the previous one (the grace window has closed). */
  async confirm(account: string, tokenUsed: string): Promise<boolean> {
    const r = this.resolve(account);
    const rec = await this.store.get(this.key(r));
    if (!rec || rec.current?.accessToken !== tokenUsed || rec.confirmedAt !== undefined) return false;
    const now = this.clock.now();
    try {
      await this.store.put({ ...withoutVersion(rec), confirmedAt: now, previous: undefined, updatedAt: now }, rec.version);
      return true;
    } catch (e) {
      if (e instanceof TokenVersionConflictError) return false; // someone else wrote; harmless
      throw e;
    }
  }
}
