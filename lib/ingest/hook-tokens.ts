/**
 * Which configured account a webhook's path token (`/hooks/amocrm/{token}`) belongs to.
 *
 * The tokens are secrets: they are resolved through the SecretSource once per container and
 * kept only as SHA-256 digests; a candidate is hashed and compared with `timingSafeEqual` against
 * EVERY account (no early exit), so neither the comparison nor the loop tells an attacker how
 * close a guess was. Nothing here logs, and no error carries a token.
 *
 * Rotation: when a token matches nothing and the cache is older than `refreshAfterMs`, the
 * secrets are read again once (shared by concurrent callers) before the answer is "no account";
 * a flood of bad tokens therefore costs at most one secret read per period.
 *
 * One unreadable secret stops only its own account: the others are matched against what was
 * read, and the missing ones are logged (account ids and secret NAMES only) and read again on a
 * later miss under the same rule. While a secret is missing, a token that matches none of the
 * loaded accounts is NOT "no account": it may be the missing account's, so `match` throws
 * RetryableError (the message is retried, then parked `out-of-attempts` — replayable — instead
 * of `bad-token` at once, which would lose that account's webhooks; *assumed* the better
 * trade-off: a forged request costs a few retries only while an operator error lasts). A re-read
 * that fails for an account that was read before keeps its previous digest.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccountConfig, Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import type { Log } from '../common/log.ts';
import { RetryableError } from '../pipeline/outcome.ts';

export interface HookTokenMatcherOptions {
  config: Config;
  secrets: SecretSource;
  now?: () => number;
  /** A miss re-reads the secrets when the cached ones are older than this. Default 60 s (*assumed*). */
  refreshAfterMs?: number;
}

interface Entry {
  account: AccountConfig;
  digest: Buffer;
}

/** An account whose hook-token secret could not be read (the secret's name, never a value). */
interface Missing {
  account: string;
  secret: string;
}

interface Loaded {
  at: number;
  entries: Entry[];
  missing: Missing[];
}

const secretOf = (account: AccountConfig): string => (account.hookToken as { secret: string }).secret;

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export class HookTokenMatcher {
  private cache: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  /** The read whose missing secrets were last logged (once per read, by the first caller with a log). */
  private warned: Loaded | undefined;
  private readonly now: () => number;
  private readonly refreshAfterMs: number;

  constructor(private readonly opts: HookTokenMatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.refreshAfterMs = opts.refreshAfterMs ?? 60_000;
  }

  /** Accounts that carry a hook token at all (a deployment with none refuses every webhook). */
  get configuredAccounts(): AccountConfig[] {
    return this.opts.config.accounts.filter((a) => a.hookToken);
  }

  /**
   * The accounts whose token equals `token` (normally one; the config refuses two accounts with
   * the same secret name, but two names may hold the same value). Empty: no account.
   * Throws RetryableError when no secret can be read at all (not the message's fault), and when
   * the token matches no loaded account while some account's secret is missing (it may be its).
   * `log` gets one warning per read that leaves secrets missing.
   */
  async match(token: string | undefined, log?: Pick<Log, 'warn'>): Promise<AccountConfig[]> {
    let cache = this.cache ?? (await this.load());
    if (token === undefined || token === '') return [];
    const candidate = digestOf(token);
    let hits = compare(cache.entries, candidate);
    if (hits.length === 0 && this.now() - cache.at > this.refreshAfterMs) {
      try {
        cache = await this.load();
        hits = compare(cache.entries, candidate);
      } catch {
        // The secret store is unreachable: decide on what was read before (still a valid answer).
      }
    }
    if (cache.missing.length > 0 && log && this.warned !== cache) {
      this.warned = cache;
      log.warn("hook-token secret(s) could not be read; their accounts' webhooks are retried until they can", {
        accounts: cache.missing.map((m) => m.account),
        secrets: cache.missing.map((m) => m.secret),
      });
    }
    if (hits.length === 0 && cache.missing.length > 0) {
      const n = cache.missing.length;
      throw new RetryableError(
        `the path token matches no loaded account, and the hook-token secret of ${n} account${n === 1 ? '' : 's'} could not be read (${cache.missing.map((m) => m.secret).join(', ')}): retried until it can`,
      );
    }
    return hits;
  }

  private load(): Promise<Loaded> {
    this.loading ??= (async () => {
      try {
        const accounts = this.configuredAccounts;
        const settled = await Promise.allSettled(accounts.map(async (account) => digestOf(await this.opts.secrets.get(secretOf(account)))));
        const before = new Map((this.cache?.entries ?? []).map((e) => [e.account.id, e]));
        const entries: Entry[] = [];
        const missing: Missing[] = [];
        let firstError: unknown;
        settled.forEach((r, i) => {
          const account = accounts[i] as AccountConfig;
          if (r.status === 'fulfilled') return void entries.push({ account, digest: r.value });
          firstError ??= r.reason;
          const kept = before.get(account.id);
          if (kept)
            entries.push(kept); // read before: keep it rather than refuse a working account
          else missing.push({ account: account.id, secret: secretOf(account) });
        });
        if (accounts.length > 0 && entries.length === 0) {
          // SecretNotFoundError names the secret, never its value.
          throw new RetryableError('the webhook path tokens could not be read from the secret store', { cause: firstError });
        }
        const loaded: Loaded = { at: this.now(), entries, missing };
        this.cache = loaded;
        return loaded;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}

function compare(entries: readonly Entry[], candidate: Buffer): AccountConfig[] {
  const hits: AccountConfig[] = [];
  for (const e of entries) {
    // Digests have equal length, so timingSafeEqual never throws; every entry is compared.
    if (timingSafeEqual(e.digest, candidate)) hits.push(e.account);
  }
  return hits;
}
