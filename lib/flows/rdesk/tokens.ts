/**
 * Which RDESK account a push's path token (`/zdrav/booked/{token}`) belongs to. As for the amoCRM hook
 * token (lib/ingest/hook-tokens.ts): secrets read once per container and kept as SHA-256 digests,
 * a candidate compared with `timingSafeEqual` against EVERY account (no early exit); a miss re-reads
 * the secrets at most once per `refreshAfterMs` (rotation). No token is ever logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecretSource } from '../../config/secrets.ts';
import { RetryableError } from '../../pipeline/outcome.ts';
import type { RdeskAccountConfig } from './config.ts';

const digestOf = (t: string) => createHash('sha256').update(t, 'utf8').digest();

export class RdeskTokenMatcher {
  private cache: { at: number; entries: Array<{ account: RdeskAccountConfig; digest: Buffer }> } | undefined;
  private loading: Promise<NonNullable<RdeskTokenMatcher['cache']>> | undefined;

  constructor(
    private readonly accounts: readonly RdeskAccountConfig[],
    private readonly secrets: SecretSource,
    private readonly now: () => number = Date.now,
    private readonly refreshAfterMs = 60_000,
  ) {}

  async match(token: string | undefined): Promise<RdeskAccountConfig | undefined> {
    let cache = this.cache ?? (await this.load());
    if (!token) return undefined;
    const candidate = digestOf(token);
    let hit = compare(cache.entries, candidate);
    if (!hit && this.now() - cache.at > this.refreshAfterMs) {
      cache = await this.load();
      hit = compare(cache.entries, candidate);
    }
    return hit;
  }

  private load() {
    this.loading ??= (async () => {
      try {
        const entries = await Promise.all(
          this.accounts.map(async (account) => ({ account, digest: digestOf(await this.secrets.get(account.token.secret)) })),
        );
        this.cache = { at: this.now(), entries };
        return this.cache;
      } catch (cause) {
        // Not the push's fault: retried (then parked out-of-attempts, replayable). The error names no value.
        throw new RetryableError('the RDESK token secrets could not be read', { cause });
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}

function compare(entries: ReadonlyArray<{ account: RdeskAccountConfig; digest: Buffer }>, candidate: Buffer) {
  let hit: RdeskAccountConfig | undefined;
  for (const e of entries) if (timingSafeEqual(e.digest, candidate) && !hit) hit = e.account;
  return hit;
}

/** Is `ip` (IPv4) inside one of the `a.b.c.d[/n]` blocks? */
export function ipAllowed(ip: string | undefined, allow: readonly string[]): boolean {
  const n = ipv4(ip ?? '');
  if (n === undefined) return false;
  return allow.some((block) => {
    const [base, bits] = block.split('/');
    const b = ipv4(base ?? '');
    if (b === undefined) return false;
    const len = bits === undefined ? 32 : Number(bits);
    const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
    return (n & mask) >>> 0 === (b & mask) >>> 0;
  });
}

function ipv4(s: string): number | undefined {
  const m = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}
