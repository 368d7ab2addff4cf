/**
 * The scheduled run (functions/token-refresh.ts, the CLI's `token refresh --all`): every
 * configured account whose token is past half its lifetime is refreshed under its lease; a
 * long-lived token's expiry is watched; each run reports every OAuth token's age. Only the
 * token-refresh function and the CLI hold it: a subclass of the refresh engine, so the functions
 * that refresh on demand (the token provider) or only install bundle none of it.
 */
import { allAccounts, type ResolvedAccount } from '../../config/deployed.ts';
import { SecretNotFoundError, type SecretSource } from '../../config/secrets.ts';
import type { TokenRecord } from './token-store.ts';
import {
  AccountDisconnectedError,
  AccountNeedsReauthError,
  TokenEndpointError,
  TokenRefreshBusyError,
  TokenStoreWriteError,
} from './errors.ts';
import { METRIC } from '../../metrics.ts';
import { mapLimit } from '../../common/concurrency.ts';
import { safeErrorDescription } from '../../common/errors.ts';
import type { TokenLifecycleDeps } from './grants.ts';
import { halfLifeAt, TokenLifecycle } from './lifecycle.ts';

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

/** The token lifecycle with its scheduled run (`refreshDue`). */
export class TokenSchedule extends TokenLifecycle {
  constructor(deps: TokenLifecycleDeps) {
    // Errors from the secret source are marked so that a failed run names `secrets` as the cause.
    super({ ...deps, secrets: markingSecretFailures(deps.secrets) });
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
}
