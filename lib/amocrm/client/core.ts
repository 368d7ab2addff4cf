/**
 * The one request sender (stripe-node: a single path every call takes) built from small layers
 * (octokit: a core plus plug-ins), outermost first:
 *
 *   retry  → auth  → breaker → budget → transport (fetch)
 *
 * - retry:   the pure rule in retry.ts (reads/idempotent writes on 5xx/timeouts; 429 in awaiting
 *            mode; adds that may have landed are thrown for the add helper's re-check);
 * - auth:    token from the TokenSource port; on 401 tells it once and tries once more;
 * - breaker: refuses at once when the account's 403 breaker is open; opens it on a 403;
 * - budget:  reserves a slot in the shared RateBudget (waits up to `maxBudgetWaitMs`, then throws
 *            RateBudgetExhaustedError = defer), sleeps until the slot, re-checks the breaker,
 *            gives the slot up if that made it too late, sends, records the end; a 429 pauses
 *            the shared budget (a failed record or pause is reported, never thrown);
 * - transport: one fetch, typed errors (transport.ts).
 */
import type { BudgetScope, RateBudget } from './rate-budget.ts';
import type { BreakerStore } from './breaker-store.ts';
import { BreakerGate } from './breaker.ts';
import {
  AmoAccountBlockedError,
  AmoApiError,
  AmoNetworkError,
  AmoRateLimitedError,
  AmoTimeoutError,
  AmoUnauthorizedError,
  RateBudgetExhaustedError,
} from './errors.ts';
import { decideRetry, DEFAULT_REQUEST_RETRY_POLICY, type RequestKind, type RequestRetryPolicy } from './retry.ts';
import { sendOnce, type AmoResponse, type HttpMethod } from './transport.ts';
import type { AccountRef, FetchLike, Observer, TokenSource } from './types.ts';
import { systemClock, type SleepingClock } from '../../common/clock.ts';
import { safeErrorDescription } from '../../common/errors.ts';

export interface AmoRequest {
  method: HttpMethod;
  /** Path under the account's base URL, e.g. `/api/v4/leads`. */
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
  /** How the request may be repeated (default: GET → read; PATCH/PUT/DELETE → idempotent; POST → add). */
  kind?: RequestKind;
  /** Non-2xx statuses that are answers (e.g. 304). */
  accept?: readonly number[];
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ClientOptions {
  tokens: TokenSource;
  budget: RateBudget;
  breaker: BreakerStore;
  fetch?: FetchLike;
  clock?: SleepingClock;
  random?: () => number;
  observer?: Observer;
  /**
   * `defer` (workers): wait for budget at most `maxBudgetWaitMs`, then throw
   * RateBudgetExhaustedError; a 429 throws AmoRateLimitedError. `await` (CLIs, benches): wait
   * as long as it takes, and sit out 429s.
   */
  mode?: 'defer' | 'await';
  /** defer mode: how long to wait for a slot before deferring. *assumed* 3 s (a worker batch of ~20 calls). */
  maxBudgetWaitMs?: number;
  /** Per exchange. *assumed* 15 s: amoCRM answers in < 1 s normally; leads/complex with 50 items takes a few. */
  requestTimeoutMs?: number;
  retry?: RequestRetryPolicy;
  /** ≤ 1000. */
  breakerCacheMs?: number;
  /**
   * Random extra on every budget wait, so waiting instances do not poll the shared item in step.
   * A slot can be reserved ~1.5 s ahead, so polling a little late costs no throughput. Default 200.
   */
  budgetPollJitterMs?: number;
  /** Repeated waits back off exponentially up to this (an idle instance polls the shared item ~1/s). Default 1000. */
  maxBudgetPollMs?: number;
  /** A 429 without retry-after pauses the budget this long (*assumed* 2 s). */
  defaultRateLimitPauseMs?: number;
  userAgent?: string;
}

export interface Call {
  account: AccountRef;
  req: AmoRequest;
  kind: RequestKind;
  attempt: number;
  baseUrl?: string;
  accessToken?: string;
  accountHost?: string;
}

export type Handler = (call: Call) => Promise<AmoResponse>;
export type Layer = (next: Handler) => Handler;

export function defaultKind(method: HttpMethod): RequestKind {
  if (method === 'GET') return 'read';
  if (method === 'POST') return 'add';
  return 'idempotent';
}

export class AmoCore {
  readonly clock: SleepingClock;
  readonly observer: Observer;
  readonly random: () => number;
  readonly mode: 'defer' | 'await';
  readonly gate: BreakerGate;
  private readonly handler: Handler;
  private readonly opts: ClientOptions;
  private readonly fetchFn: FetchLike;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.observer = opts.observer ?? (() => {});
    this.random = opts.random ?? Math.random;
    this.mode = opts.mode ?? 'defer';
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.gate = new BreakerGate(opts.breaker, this.clock, this.observer, opts.breakerCacheMs ?? 500);
    const layers: Layer[] = [this.retryLayer(), this.authLayer(), this.breakerLayer(), this.budgetLayer()];
    this.handler = layers.reduceRight<Handler>(
      (next, layer) => layer(next),
      (call) => this.transport(call),
    );
  }

  /** Sends one logical request through every layer. */
  async request<T = unknown>(account: AccountRef, req: AmoRequest): Promise<AmoResponse<T>> {
    return (await this.handler({ account, req, kind: req.kind ?? defaultKind(req.method), attempt: 0 })) as AmoResponse<T>;
  }

  private get timeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 15_000;
  }

  private async transport(call: Call): Promise<AmoResponse> {
    if (!call.baseUrl || call.accessToken === undefined) throw new Error('transport reached without a token (auth layer missing)');
    const started = this.clock.now();
    const route = call.req.path;
    try {
      const res = await sendOnce(
        this.fetchFn,
        {
          method: call.req.method,
          baseUrl: call.baseUrl,
          path: call.req.path,
          accessToken: call.accessToken,
          timeoutMs: call.req.timeoutMs ?? this.timeoutMs,
          userAgent: this.opts.userAgent ?? 'amo-gateway',
          ...(call.req.query ? { query: call.req.query } : {}),
          ...(call.req.body !== undefined ? { body: call.req.body } : {}),
          ...(call.req.headers ? { headers: call.req.headers } : {}),
          ...(call.req.accept ? { accept: call.req.accept } : {}),
          ...(call.req.signal ? { signal: call.req.signal } : {}),
        },
        () => this.clock.now(),
      );
      this.observer({
        type: 'request',
        method: call.req.method,
        route,
        status: res.status,
        durationMs: this.clock.now() - started,
        attempt: call.attempt,
      });
      return res;
    } catch (e) {
      this.observer({
        type: 'request-failed',
        method: call.req.method,
        route,
        error: e instanceof AmoApiError ? `${e.name}${e.status ? ` ${e.status}` : ''}` : 'error',
        durationMs: this.clock.now() - started,
        attempt: call.attempt,
        ...(e instanceof AmoApiError && e.status ? { httpStatus: e.status } : {}),
      });
      throw e;
    }
  }

  private retryLayer(): Layer {
    const policy = this.opts.retry ?? DEFAULT_REQUEST_RETRY_POLICY;
    return (next) => async (call) => {
      let attempt = 0;
      let rateLimitWaits = 0;
      for (;;) {
        attempt += 1;
        try {
          return await next({ ...call, attempt });
        } catch (e) {
          const d = decideRetry({
            kind: call.kind,
            attempt,
            rateLimitWaits,
            error: e,
            awaitRateLimit: this.mode === 'await',
            policy,
            random: this.random,
          });
          // verifyFirst: an add that may have landed: never re-sent here (the add helper re-checks).
          if (d.action === 'throw' || d.verifyFirst) throw e;
          if (d.reason === 'rate-limited') {
            rateLimitWaits += 1;
            attempt -= 1; // sitting out a 429 is not a failed try
          }
          this.observer({ type: 'retry', method: call.req.method, route: call.req.path, attempt, delayMs: d.delayMs, reason: d.reason });
          await this.clock.sleep(d.delayMs, call.req.signal);
        }
      }
    };
  }

  private authLayer(): Layer {
    const tokens = this.opts.tokens;
    const confirm = async (account: AccountRef, token: string) => {
      try {
        await tokens.confirmUsed?.(account, token);
      } catch {
        // Best effort (the source keeps the previous pair a little longer).
      }
    };
    return (next) => async (call) => {
      const tok = await tokens.getToken(call.account);
      const accountHost = new URL(tok.baseUrl).host;
      try {
        const res = await next({ ...call, baseUrl: tok.baseUrl.replace(/\/+$/, ''), accessToken: tok.accessToken, accountHost });
        await confirm(call.account, tok.accessToken);
        return res;
      } catch (e) {
        if (!(e instanceof AmoUnauthorizedError)) throw e;
        // A 401 is refused before processing, so even an add may go once more with a new token.
        await tokens.onUnauthorized(call.account, tok.accessToken);
        const again = await tokens.getToken(call.account);
        if (again.accessToken === tok.accessToken) throw e;
        const res = await next({
          ...call,
          baseUrl: again.baseUrl.replace(/\/+$/, ''),
          accessToken: again.accessToken,
          accountHost: new URL(again.baseUrl).host,
        });
        await confirm(call.account, again.accessToken);
        return res;
      }
    };
  }

  private breakerLayer(): Layer {
    return (next) => async (call) => {
      const host = call.accountHost!;
      await this.gate.check(host);
      try {
        return await next(call);
      } catch (e) {
        if (e instanceof AmoAccountBlockedError) {
          await this.gate.trip(host, `403 from ${e.method} ${e.route}`);
          this.observer({ type: 'deferred', reason: 'blocked', retryAfterMs: e.retryAfterMs ?? 0 });
        }
        throw e;
      }
    };
  }

  private budgetLayer(): Layer {
    const budget = this.opts.budget;
    const maxWait = this.mode === 'await' ? Number.POSITIVE_INFINITY : (this.opts.maxBudgetWaitMs ?? 3_000);
    return (next) => async (call) => {
      const host = call.accountHost!;
      const scope: BudgetScope = { clientId: call.account.clientId, accountHost: host };
      const timeoutMs = call.req.timeoutMs ?? this.timeoutMs;
      const started = this.clock.now();
      let waits = 0;
      for (;;) {
        const d = await budget.acquire(scope, { now: this.clock.now(), clock: () => this.clock.now(), requestTimeoutMs: timeoutMs });
        // The budget item carries the breaker: a fresh reading for free.
        if (d.breaker) this.gate.observe(host, d.breaker);
        if (d.kind === 'wait') {
          const waited = this.clock.now() - started;
          if (waited + d.retryAfterMs > maxWait) {
            this.observer({ type: 'deferred', reason: 'rate-budget', retryAfterMs: d.retryAfterMs });
            throw new RateBudgetExhaustedError(host, d.retryAfterMs, d.reason);
          }
          // Back off on repeated waits (busy instances chain their own slots; idle ones need not
          // poll often), with jitter so waiting instances do not ask again in step.
          const backoff = Math.min(this.opts.maxBudgetPollMs ?? 1_000, 25 * 2 ** Math.min(waits, 10));
          waits += 1;
          const pause = Math.max(d.retryAfterMs, backoff) + Math.round(this.random() * (this.opts.budgetPollJitterMs ?? 200));
          this.observer({ type: 'budget-wait', waitMs: pause });
          await this.clock.sleep(pause, call.req.signal);
          continue;
        }
        const delay = d.sendAt - this.clock.now();
        if (delay > 0) {
          this.observer({ type: 'budget-slot', delayMs: delay });
          await this.clock.sleep(delay, call.req.signal);
        }
        try {
          await this.gate.check(host);
        } catch (e) {
          await this.completeSafely(scope, d.id, 'not-sent');
          throw e;
        }
        // After the last await before the send (the breaker read may have gone to DynamoDB): too
        // late for the slot (a stalled event loop, a slow store) → give it up and ask again; its
        // deadline assumed we would be on time. Nothing awaits between here and the fetch.
        if (this.clock.now() > d.latestSendAt) {
          this.observer({ type: 'budget-late', lateMs: this.clock.now() - d.latestSendAt });
          await this.completeSafely(scope, d.id, 'not-sent');
          // A store that stays slow would make every slot late: defer like a spent budget.
          if (this.clock.now() - started > maxWait) {
            const retryAfterMs = this.opts.maxBudgetPollMs ?? 1_000; // *assumed*: as soon as an idle instance would ask again
            this.observer({ type: 'deferred', reason: 'rate-budget', retryAfterMs });
            throw new RateBudgetExhaustedError(host, retryAfterMs);
          }
          continue;
        }
        let how: 'answered' | 'lost' | 'not-sent' = 'answered';
        try {
          return await next(call);
        } catch (e) {
          if (e instanceof AmoTimeoutError) how = 'lost';
          else if (e instanceof AmoNetworkError) how = e.mayHaveLanded ? 'lost' : 'not-sent';
          else if (!(e instanceof AmoApiError)) how = 'lost'; // the caller aborted: it may still arrive
          if (e instanceof AmoRateLimitedError) {
            const pauseMs = e.retryAfterMs ?? this.opts.defaultRateLimitPauseMs ?? 2_000;
            await this.budgetBookkeeping('pause', () => budget.pause(scope, this.clock.now() + pauseMs));
            this.observer({ type: 'rate-limited', retryAfterMs: pauseMs });
            if (this.mode === 'defer') this.observer({ type: 'deferred', reason: 'rate-limited', retryAfterMs: pauseMs });
          }
          throw e;
        } finally {
          await this.completeSafely(scope, d.id, how);
        }
      }
    };
  }

  private completeSafely(scope: BudgetScope, grantId: string, how: 'answered' | 'lost' | 'not-sent'): Promise<void> {
    return this.budgetBookkeeping('complete', () => this.opts.budget.complete(scope, grantId, { endedAt: this.clock.now(), how }));
  }

  /**
   * Budget bookkeeping after the fact (completion stamp, 429 pause) must never replace the
   * request's real result: a store error here would turn a 2xx add into a non-amoCRM error, the
   * message would be retried and the lead created twice. Losing the write is safe: an
   * uncompleted slot counts until its deadline (the grant already bounds it), a lost pause only
   * costs other instances one more 429. Reported (redacted) instead.
   */
  private async budgetBookkeeping(op: 'complete' | 'pause', write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (e) {
      this.observer({ type: 'budget-error', op, error: safeErrorDescription(e, [], 300) });
    }
  }
}
