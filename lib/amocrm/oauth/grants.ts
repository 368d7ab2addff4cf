/**
 * What every front of the token lifecycle shares, and the writes an install or a disconnect makes:
 * storing a new grant (callback, pasted code, long-lived token), marking an account disconnected,
 * exchanging a code, reading a record. The refresh engine (lifecycle.ts) and the schedule
 * (schedule.ts) extend it; the OAuth function (install + disconnect hook) holds only this, so its
 * bundle carries no lease loop and no scheduled run (class methods are not tree-shaken).
 */
import { accountBaseUrl, accountHost } from '../../config/hosts.ts';
import type { Config } from '../../config/schema.ts';
import { resolveAccount, type ResolvedAccount } from '../../config/deployed.ts';
import type { SecretSource } from '../../config/secrets.ts';
import {
  TokenVersionConflictError,
  type TokenKey,
  type TokenPair,
  type TokenRecord,
  type TokenRecordInput,
  type TokenStore,
} from './token-store.ts';
import { TokenStoreWriteError } from './errors.ts';
import { readTokenClaims } from './jwt.ts';
import { METRIC } from '../../metrics.ts';
import { noMetrics, type MetricsSink } from '../../common/metrics-sink.ts';
import { silentLog, type Log } from '../../common/log.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
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

/** What a newly obtained grant looks like before it is stored. */
export interface NewGrant {
  kind: 'oauth' | 'long-lived';
  pair: TokenPair;
  via: 'callback' | 'code' | 'long-lived';
}

export function pairFromResponse(res: TokenResponse, now: number): TokenPair {
  return { accessToken: res.accessToken, refreshToken: res.refreshToken, accessExpiresAt: now + res.expiresIn * 1000, issuedAt: now };
}

/** A record as written back (the store sets the version). */
export function withoutVersion(r: TokenRecord): TokenRecordInput {
  const { version: _version, ...rest } = r;
  return rest;
}

export class TokenGrants {
  readonly config: Config;
  readonly clock: Clock;
  readonly timing: LifecycleTiming;
  protected readonly secrets: SecretSource;
  readonly store: TokenStore;
  protected readonly fetch: FetchFn;
  protected readonly log: Log;
  protected readonly metrics: MetricsSink;

  constructor(deps: TokenLifecycleDeps) {
    this.config = deps.config;
    this.secrets = deps.secrets;
    this.store = deps.store;
    this.fetch = deps.fetch;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? silentLog;
    this.metrics = deps.metrics ?? noMetrics;
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
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
