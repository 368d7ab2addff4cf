/**
 * Request limits (docs/amocrm-protocol.md#rate-limits, #blocking): «не более 7 запросов в секунду на одну интеграцию»,
 * «до 50 запросов в секунду на весь аккаунт», 429 when exceeded, and «при многократном нарушении
 * ограничений, аккаунт блокируется и на любой запрос в API будет возвращаться HTTP код 403».
 *
 * The window is sliding: at most N admitted requests in ANY 1-second interval (*assumed*: the
 * strictest reading, docs/architecture.md#rate-budget). Only admitted requests occupy the window; a refused one counts as
 * a violation instead (*assumed*). "Repeatedly" is a threshold of violations within a window
 * (*assumed*, default 10 within 60 s).
 */
import type { SbClock } from './types.ts';

export interface LimitOptions {
  perIntegrationPerSecond: number;
  perAccountPerSecond: number;
  violationsBeforeBlock: number;
  violationWindowSeconds: number;
}

export type Admit = { ok: true } | { ok: false; scope: 'integration' | 'account' };

export interface BlockState {
  since: number;
  reason: string;
}

const WINDOW_MS = 1000;

export class RateLimiter {
  private perIntegration = new Map<string, number[]>();
  private account: number[] = [];
  private violations: number[] = [];
  block: BlockState | null = null;
  blocksImposed = 0;
  refused = 0;

  constructor(
    private o: LimitOptions,
    private clock: SbClock,
  ) {}

  configure(o: Partial<LimitOptions>): void {
    this.o = { ...this.o, ...o };
  }

  options(): LimitOptions {
    return { ...this.o };
  }

  reset(): void {
    this.perIntegration.clear();
    this.account = [];
    this.violations = [];
    this.block = null;
    this.blocksImposed = 0;
    this.refused = 0;
  }

  /** Admits one request of `clientId`, or refuses it and records a violation (maybe blocking). */
  admit(clientId: string): Admit {
    const now = this.clock.now();
    const mine = prune(this.perIntegration.get(clientId) ?? [], now);
    this.perIntegration.set(clientId, mine);
    this.account = prune(this.account, now);
    let scope: 'integration' | 'account' | null = null;
    if (mine.length >= this.o.perIntegrationPerSecond) scope = 'integration';
    else if (this.account.length >= this.o.perAccountPerSecond) scope = 'account';
    if (scope) {
      this.refused++;
      this.violate(now);
      return { ok: false, scope };
    }
    mine.push(now);
    this.account.push(now);
    return { ok: true };
  }

  /**
   * A 429 the fault injector answered (a burst of refusals caused elsewhere, e.g. other
   * integrations spending the account's 50/s): counted as a refused request and a violation, as
   * the limiter's own refusals are — pessimistic, *assumed*.
   */
  refuseInjected(): void {
    this.refused++;
    this.violate(this.clock.now());
  }

  private violate(now: number): void {
    const windowMs = this.o.violationWindowSeconds * 1000;
    this.violations = this.violations.filter((t) => t > now - windowMs);
    this.violations.push(now);
    if (!this.block && this.violations.length >= this.o.violationsBeforeBlock) {
      this.imposeBlock(`${this.violations.length} refused requests (429) within ${this.o.violationWindowSeconds} s`);
    }
  }

  imposeBlock(reason: string): void {
    this.block = { since: this.clock.now(), reason };
    this.blocksImposed++;
  }

  /** What support does for a real account; also forgets past violations. */
  lift(): boolean {
    const was = this.block !== null;
    this.block = null;
    this.violations = [];
    return was;
  }

  snapshot(): Record<string, unknown> {
    const now = this.clock.now();
    return {
      limits: this.options(),
      block: this.block,
      blocksImposed: this.blocksImposed,
      refused: this.refused,
      recentViolations: this.violations.filter((t) => t > now - this.o.violationWindowSeconds * 1000).length,
      inWindow: {
        account: prune(this.account, now).length,
        integrations: Object.fromEntries([...this.perIntegration].map(([k, v]) => [k, prune(v, now).length])),
      },
    };
  }
}

function prune(list: number[], now: number): number[] {
  // A request at t occupies the window (t - 1000, t]; keep only those still inside it.
  let i = 0;
  while (i < list.length && (list[i] as number) <= now - WINDOW_MS) i++;
  return i === 0 ? list : list.slice(i);
}
