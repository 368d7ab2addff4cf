/**
 * The token lifecycle engine: the only code that refreshes, marks or replaces a stored token.
 * TokenProvider (workers), the scheduled refresher, the install flow, the disconnect hook and
 * the CLI are thin fronts over it.
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
import { accountBaseUrl, accountHost } from '../../config/hosts.ts';
import type { Config } from '../../config/schema.ts';
import { resolveAccount, allAccounts, type ResolvedAccount } from '../../config/deployed.ts';
import { SecretNotFoundError, type SecretSource } from '../../config/secrets.ts';
import {
  TokenVersionConflictError,
  type TokenKey,
  type TokenPair,
  type TokenRecord,
  type TokenRecordInput,
  type TokenStore,
} from './token-store.ts';
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
import { noMetrics, type MetricsSink } from '../../common/metrics-sink.ts';
import { silentLog, type Log } from '../../common/log.ts';
import { realSleep, systemClock, type Clock } from '../../common/clock.ts';
import { mapLimit } from '../../common/concurrency.ts';
import { safeErrorDescription } from '../../common/errors.ts';
import { requestToken, type FetchFn, type Grant, type TokenResponse } from './token-endpoint.ts';

export interface LifecycleTiming {
  /** How long a refresher holds the lease; covers the token call (fetchTimeoutMs) with room to spare. */
  leaseMs: number;
  /** How long a caller without the lease waits for the holder before giving up (retry). */
  waitMs: number;
  pollStartMs: number;
  pollMaxMs: number;
  fetchTimeoutMs: number;
  /** An access token this close to its expiry counts as expired (clock skew, request time). */
  expirySkewMs: number;
  /** A token issued this recently that answers 401 is not refreshed again (no loop). */
  minRefreshIntervalMs: number;
  /** A long-lived token this close to expiry raises the LongLivedTokenExpiringSoon metric. */
  longLivedWarnMs: number;
}

export const DEFAULT_TIMING: LifecycleTiming = {
  leaseMs: 30_000,
  waitMs: 20_000,
  pollStartMs: 40,
  pollMaxMs: 1_000,
  fetchTimeoutMs: 10_000,
  expirySkewMs: 60_000,
  minRefreshIntervalMs: 60_000,
  longLivedWarnMs: 7 * 24 * 3600_000,
};

export interface TokenLifecycleDeps {
  config: Config;
  secrets: SecretSource;
  store: TokenStore;
  fetch: FetchFn;
  clock?: Clock;
  log?: Log;
  metrics?: MetricsSink;
  /** Real-time sleep between lease polls (tests may shorten it; never tied to the injected clock). */
  sleep?: (ms: number) => Promise<void>;
  timing?: Partial<LifecycleTiming>;
  /** Names this process in lease items (debugging); random by default. */
  owner?: string;
}

/** What a refresh attempt is for; decides whether the holder still wants to refresh after the re-read. */
export type RefreshReason = 'expired' | 'unauthorized' | 'schedule' | 'manual';

export interface EnsureResult {
  record: TokenRecord;
  /** True when THIS call refreshed the token. */
  refreshed: boolean;
}

export type ScheduleOutcome = 'refreshed' | 'fresh' | 'not-connected' | 'needs-reauth' | 'disconnected' | 'long-lived' | 'busy' | 'failed';

export interface ScheduleResult {
  account: string;
  outcome: ScheduleOutcome;
  /** Error message (no tokens) when the outcome is a failure. */
  error?: string;
  /** For `failed`: what failed (the ScheduledRefreshFailed metric's `kind`). */
  kind?: ScheduleFailureKind;
}

/**
 * What made a scheduled refresh fail: reading the client secret, the token table, amoCRM's token
 * endpoint, or anything else.
 */
export type ScheduleFailureKind = 'secrets' | 'store' | 'token-endpoint' | 'unknown';

/** Errors thrown by the secret source (marked, not wrapped: callers still see the source's own error). */
const secretFailures = new WeakSet<object>();

function markingSecretFailures(source: SecretSource): SecretSource {
  return {
    get: (name) =>
      Promise.resolve()
        .then(() => source.get(name))
        .catch((e: unknown) => {
          if (typeof e === 'object' && e !== null) secretFailures.add(e);
          throw e;
        }),
  };
}

/** The kind of a scheduled refresh's failure, from the error and its causes. */
export function scheduleFailureKind(e: unknown): ScheduleFailureKind {
  let cur: unknown = e;
  for (let depth = 0; typeof cur === 'object' && cur !== null && depth < 5; depth++) {
    if (secretFailures.has(cur) || cur instanceof SecretNotFoundError) return 'secrets';
    if (cur instanceof TokenEndpointError) return 'token-endpoint';
    if (cur instanceof TokenStoreWriteError) return 'store';
    // On this path only the token store calls AWS without wrapping (an SDK error carries $metadata).
    if ('$metadata' in cur) return 'store';
    cur = (cur as { cause?: unknown }).cause;
  }
  return 'unknown';
}

/** What a newly obtained grant looks like before it is stored. */
export interface NewGrant {
  kind: 'oauth' | 'long-lived';
  pair: TokenPair;
  via: 'callback' | 'code' | 'long-lived';
}

export function halfLifeAt(p: TokenPair): number {
  return p.issuedAt + (p.accessExpiresAt - p.issuedAt) / 2;
}

export function pairFromResponse(res: TokenResponse, now: number): TokenPair {
  return { accessToken: res.accessToken, refreshToken: res.refreshToken, accessExpiresAt: now + res.expiresIn * 1000, issuedAt: now };
}

function withoutVersion(r: TokenRecord): TokenRecordInput {
  const { version: _version, ...rest } = r;
  return rest;
}

export class TokenLifecycle {
  readonly config: Config;
  readonly clock: Clock;
  readonly timing: LifecycleTiming;
  private readonly secrets: SecretSource;
  readonly store: TokenStore;
  private readonly fetch: FetchFn;
  private readonly log: Log;
  private readonly metrics: MetricsSink;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly owner: string;

  constructor(deps: TokenLifecycleDeps) {
    this.config = deps.config;
    this.secrets = markingSecretFailures(deps.secrets);
    this.store = deps.store;
    this.fetch = deps.fetch;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? silentLog;
    this.metrics = deps.metrics ?? noMetrics;
    this.sleep = deps.sleep ?? realSleep;
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
    this.owner = deps.owner ?? randomUUID();
  }

  resolve(account: string): ResolvedAccount {
    return resolveAccount(this.config, account);
  }

  key(r: ResolvedAccount): TokenKey {
    return { clientId: r.integration.clientId, accountKey: r.account.id };
  }

  read(account: string): Promise<TokenRecord | undefined> {
    return this.store.get(this.key(this.resolve(account)));
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

  /** The schedule: every configured account whose token is past half its lifetime is refreshed (under the lease). */
  async refreshDue(opts: { concurrency?: number; accounts?: string[] } = {}): Promise<ScheduleResult[]> {
    const targets = allAccounts(this.config).filter((r) => !opts.accounts || opts.accounts.includes(r.account.id));
    return mapLimit(targets, opts.concurrency ?? 4, (t) => this.refreshOneDue(t));
  }

  private async refreshOneDue(r: ResolvedAccount): Promise<ScheduleResult> {
    const account = r.account.id;
    /** The OAuth pair's issue time once known: its age is reported whatever the run's outcome. */
    let issuedAt: number | undefined;
    try {
      const rec = await this.store.get(this.key(r));
      if (!rec) return { account, outcome: 'not-connected' };
      if (rec.status !== 'active') return { account, outcome: rec.status };
      if (rec.kind === 'long-lived') return await this.checkLongLived(r, rec);
      issuedAt = rec.current?.issuedAt;
      const res = await this.ensure(r, 'schedule', (x, now) => !!x.current && now >= halfLifeAt(x.current));
      issuedAt = res.record.current?.issuedAt ?? issuedAt;
      return { account, outcome: res.refreshed ? 'refreshed' : 'fresh' };
    } catch (e) {
      const outcome: ScheduleOutcome =
        e instanceof AccountNeedsReauthError
          ? 'needs-reauth'
          : e instanceof AccountDisconnectedError
            ? 'disconnected'
            : e instanceof TokenRefreshBusyError
              ? 'busy'
              : 'failed';
      // Redacted: a bad-response message can carry the body of an unexpected answer.
      const error = safeErrorDescription(e);
      if (outcome !== 'failed') return { account, outcome, error };
      // Never swallowed: a secrets, table or endpoint failure is counted (and alarmed) here, once
      // per account and run. busy / needs-reauth / disconnected have their own metrics.
      const kind = scheduleFailureKind(e);
      this.metrics.count(METRIC.scheduledRefreshFailed, { account, kind });
      this.log.error('scheduled token refresh failed', { account, kind, error });
      return { account, outcome, error, kind };
    } finally {
      // TokenAgeSeconds: under the half-life while refreshing works, growing while it does not (the alarm).
      if (issuedAt !== undefined)
        this.metrics.count(METRIC.tokenAge, { account }, Math.max(0, Math.round((this.clock.now() - issuedAt) / 1000)));
    }
  }

  /** Long-lived tokens are never refreshed; their expiry is watched (metric) and an expired one marks the account. */
  private async checkLongLived(r: ResolvedAccount, rec: TokenRecord): Promise<ScheduleResult> {
    const now = this.clock.now();
    const exp = rec.current?.accessExpiresAt ?? 0;
    if (exp <= now) {
      await this.markNeedsReauth(r, rec, 'long-lived token expired');
      return { account: r.account.id, outcome: 'needs-reauth' };
    }
    if (exp - now <= this.timing.longLivedWarnMs) {
      this.metrics.count(METRIC.longLivedExpiring, { account: r.account.id });
      this.log.warn('long-lived token expires soon', { account: r.account.id, expiresAt: new Date(exp).toISOString() });
    }
    return { account: r.account.id, outcome: 'long-lived' };
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
  private async ensure(
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
  private async markNeedsReauth(r: ResolvedAccount, rec: TokenRecord, reason: string): Promise<'marked' | 'changed'> {
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

  /** Stores a grant obtained by an install (callback, pasted code, long-lived token), replacing whatever was there. */
  async saveGrant(r: ResolvedAccount, grant: NewGrant): Promise<TokenRecord> {
    const key = this.key(r);
    const now = this.clock.now();
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.store.get(key);
      const rec: TokenRecordInput = {
        ...key,
        kind: grant.kind,
        status: 'active',
        current: grant.pair,
        baseUrl: accountBaseUrl(r.account),
        host: accountHost(r.account),
        installedVia: grant.via,
        installedAt: now,
        updatedAt: now,
        amoAccountId: readTokenClaims(grant.pair.accessToken).accountId ?? r.account.accountId ?? existing?.amoAccountId,
      };
      try {
        const stored = await this.store.put(rec, existing?.version ?? null);
        this.metrics.count(METRIC.installed, { account: r.account.id, via: grant.via });
        this.log.info('account connected', { account: r.account.id, via: grant.via, kind: grant.kind });
        return stored;
      } catch (e) {
        if (!(e instanceof TokenVersionConflictError)) throw e;
      }
    }
    throw new TokenStoreWriteError(r.account.id, { cause: new Error('the token item kept changing while the new grant was stored') });
  }

  /** The disconnect hook: the tokens are dead; keep the item (status, history) without them. */
  async markDisconnected(r: ResolvedAccount, reason: string): Promise<boolean> {
    const key = this.key(r);
    for (let attempt = 0; attempt < 5; attempt++) {
      const rec = await this.store.get(key);
      if (!rec) return false;
      const now = this.clock.now();
      try {
        await this.store.put(
          {
            ...withoutVersion(rec),
            status: 'disconnected',
            statusReason: reason,
            statusAt: now,
            updatedAt: now,
            current: undefined,
            previous: undefined,
            confirmedAt: undefined,
          },
          rec.version,
        );
        this.metrics.count(METRIC.disconnected, { account: r.account.id });
        this.log.warn('account disconnected the integration', { account: r.account.id, reason });
        return true;
      } catch (e) {
        if (!(e instanceof TokenVersionConflictError)) throw e;
      }
    }
    throw new TokenStoreWriteError(r.account.id, { cause: new Error('the token item kept changing while it was marked disconnected') });
  }

  /** Exchanges an authorization code at the account's own host. */
  async exchangeCode(r: ResolvedAccount, code: string): Promise<TokenPair> {
    const secret = await this.secrets.get(r.integration.clientSecret.secret);
    const grant: Grant = { grant_type: 'authorization_code', code };
    const res = await requestToken({
      fetch: this.fetch,
      baseUrl: accountBaseUrl(r.account),
      client: { clientId: r.integration.clientId, clientSecret: secret, redirectUri: r.integration.redirectUri },
      grant,
      timeoutMs: this.timing.fetchTimeoutMs,
    });
    return pairFromResponse(res, this.clock.now());
  }

  /** The client secret of an integration (the disconnect hook's HMAC key). */
  clientSecret(r: ResolvedAccount | { integration: ResolvedAccount['integration'] }): Promise<string> {
    return this.secrets.get(r.integration.clientSecret.secret);
  }
}
