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
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccountConfig, Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
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

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export class HookTokenMatcher {
  private cache: { at: number; entries: Entry[] } | undefined;
  private loading: Promise<{ at: number; entries: Entry[] }> | undefined;
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
   * Throws RetryableError when the secrets cannot be read at all (not the message's fault).
   */
  async match(token: string | undefined): Promise<AccountConfig[]> {
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
    return hits;
  }

  private load(): Promise<{ at: number; entries: Entry[] }> {
    this.loading ??= (async () => {
      try {
        const entries = await Promise.all(
          this.configuredAccounts.map(async (account) => ({ account, digest: digestOf(await this.opts.secrets.get((account.hookToken as { secret: string }).secret)) })),
        );
        const loaded = { at: this.now(), entries };
        this.cache = loaded;
        return loaded;
      } catch (cause) {
        // SecretNotFoundError names the secret, never its value.
        throw new RetryableError('the webhook path tokens could not be read from the secret store', { cause });
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
