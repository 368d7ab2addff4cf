/**
 * THE amoCRM REST clients of a container over the stores it is given (lib/aws/amo-client-runtime.ts
 * builds them on the one DynamoDB table: `createAmoClientRuntime`). No AWS SDK here, nor anywhere
 * this module reaches: the worker imports it at the first message that talks to amoCRM, and a
 * lazily imported module that reached the SDK would make esbuild keep and evaluate the SDK
 * packages whole (test/layout.test.ts holds it).
 */
import type { RateBudget } from '../amocrm/client/rate-budget.ts';
import { AmoClient, type AmoClientForAccount, type AmoClientOptions } from '../amocrm/client/client.ts';
import { liftBreaker as liftStoredBreaker } from '../amocrm/client/breaker.ts';
import type { AccountRef, ClientEvent, FetchLike, TokenSource } from '../amocrm/client/types.ts';
import type { SleepingClock } from '../common/clock.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import { silentLog, type Log } from '../common/log.ts';
import { METRIC } from '../metrics.ts';
import { resolveAccount } from '../config/deployed.ts';
import { accountHost } from '../config/hosts.ts';
import type { Config } from '../config/schema.ts';
import type { BreakerState, BreakerStore } from '../amocrm/client/breaker-store.ts';
import { LayeredCacheStore, MemoryCacheStore, type CacheStore } from '../amocrm/client/cache-store.ts';

/** Client options the runtime passes through (timeouts, policies, marker fields…). */
export type ClientTuning = Omit<AmoClientOptions, 'tokens' | 'budget' | 'breaker' | 'cache' | 'observer' | 'fetch' | 'clock' | 'mode'>;

export interface AmoClientsOptions {
  config: Config;
  /** The OAuth TokenProvider (createOAuth(...).provider); anything that fits the client's TokenSource port. */
  oauth: TokenSource;
  /** AccountBlocked, AmoRateLimited, RateBudgetExhausted (powertoolsMetricsSink(metrics) in Lambda). */
  metrics?: MetricsSink;
  /** One line per block / 429 (Powertools Logger via lib/aws/powertools.ts, or the local log). */
  log?: Log;
  fetch?: FetchLike;
  clock?: SleepingClock;
  /** `defer` (workers, default): give up waiting for budget after `maxBudgetWaitMs`. `await` (CLIs): wait, sit out 429s. */
  mode?: 'defer' | 'await';
  /** Every client event with the account it belongs to (the CLI's progress lines, tests). */
  onEvent?: (account: string, event: ClientEvent) => void;
  /** In-memory cache entries kept in front of DynamoDB (default 5000). */
  memoryCacheEntries?: number;
  client?: ClientTuning;
}

export interface AmoClients<B extends RateBudget = RateBudget> {
  /** The account's client (cached: the same object every time). Throws UnknownAccountError for an account the config lacks. */
  clientFor(accountId: string): AmoClientForAccount;
  /** The AmoClient behind `clientFor` (its core and cache), e.g. for `request()` with an explicit ref. */
  amoClient(accountId: string): AmoClient;
  /** `{clientId, accountKey}` of an account: its integration's client id and our account id. */
  accountRef(accountId: string): AccountRef;
  /** The host the rate budget and the breaker are keyed by (`mycompany.amocrm.ru`, the sandbox's `127.0.0.1:PORT`). */
  accountHost(accountId: string): string;
  /** The stored breaker of the account's host (strongly consistent). */
  breakerStatus(accountId: string): Promise<BreakerState & { host: string }>;
  /**
   * Closes the breaker (after amoCRM support unblocked the account). This container sees it at
   * once, the others within their breaker cache time (≤ 1 s).
   */
  liftBreaker(accountId: string, by: string): Promise<void>;
  readonly stores: { budget: B; breaker: BreakerStore; cache: CacheStore };
}

/** The `outcome` of an answered amoCRM call: the statuses that mean something on their own, else the class. */
export function amoCallOutcome(status: number): string {
  if (status === 401 || status === 403 || status === 429) return String(status);
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  return status >= 300 ? '3xx' : '2xx';
}

/** The shared stores: the rate budget, the 403 breaker and the cache behind the in-memory one (DynamoDB adapters in AWS). */
export interface AmoClientStores<B extends RateBudget = RateBudget> {
  budget: B;
  breaker: BreakerStore;
  cache: CacheStore;
}

export function createAmoClients<B extends RateBudget>(opts: AmoClientsOptions & { stores: AmoClientStores<B> }): AmoClients<B> {
  const metrics = opts.metrics ?? noMetrics;
  const log = opts.log ?? silentLog;
  const stores = {
    budget: opts.stores.budget,
    breaker: opts.stores.breaker,
    cache: new LayeredCacheStore(new MemoryCacheStore(opts.memoryCacheEntries ?? 5_000), opts.stores.cache),
  };
  const clients = new Map<string, { client: AmoClient; api: AmoClientForAccount }>();

  const observerFor = (account: string) => (e: ClientEvent) => {
    if (e.type === 'request') {
      metrics.count(METRIC.amoCalls, { account, outcome: amoCallOutcome(e.status) });
    } else if (e.type === 'request-failed') {
      metrics.count(METRIC.amoCalls, { account, outcome: e.httpStatus ? amoCallOutcome(e.httpStatus) : 'network' });
    } else if (e.type === 'budget-wait') {
      metrics.count(METRIC.budgetWaits, { account });
    }
    if (e.type === 'breaker-opened') {
      metrics.count(METRIC.blocked, { account });
      log.error('amoCRM blocked the account (403): breaker opened, every instance stops calling it until an operator lifts it', {
        account,
        host: e.accountHost,
        reason: e.reason,
      });
    } else if (e.type === 'rate-limited') {
      metrics.count(METRIC.rateLimited, { account });
      log.warn('amoCRM answered 429: the integration is paused', { account, retryAfterMs: e.retryAfterMs });
    } else if (e.type === 'deferred' && e.reason === 'rate-budget') {
      metrics.count(METRIC.budgetExhausted, { account });
    } else if (e.type === 'budget-error') {
      log.warn('a rate-budget write after the request failed (the request stands; the slot counts until its deadline)', {
        account,
        op: e.op,
        error: e.error,
      });
    }
    // An observer must never break a request: a throwing progress printer is its own problem.
    try {
      opts.onEvent?.(account, e);
    } catch {
      /* ignored on purpose */
    }
  };

  const entry = (accountId: string) => {
    const hit = clients.get(accountId);
    if (hit) return hit;
    const ref = runtime.accountRef(accountId);
    const client = new AmoClient({
      ...opts.client,
      tokens: opts.oauth,
      budget: stores.budget,
      breaker: stores.breaker,
      cache: stores.cache,
      observer: observerFor(accountId),
      mode: opts.mode ?? 'defer',
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
    const made = { client, api: client.forAccount(ref) };
    clients.set(accountId, made);
    return made;
  };

  const runtime: AmoClients<B> = {
    stores,
    clientFor: (accountId) => entry(accountId).api,
    amoClient: (accountId) => entry(accountId).client,
    accountRef(accountId) {
      const r = resolveAccount(opts.config, accountId);
      return { clientId: r.integration.clientId, accountKey: r.account.id };
    },
    // *assumed*: the token's base URL is the configured one (lib/amocrm/oauth stores
    // accountBaseUrl(account) at install), so the configured host is the one the client keys by.
    accountHost: (accountId) => accountHost(resolveAccount(opts.config, accountId).account),
    async breakerStatus(accountId) {
      const host = runtime.accountHost(accountId);
      return { ...(await stores.breaker.get(host)), host };
    },
    async liftBreaker(accountId, by) {
      const host = runtime.accountHost(accountId);
      await liftStoredBreaker(stores.breaker, host, by, (opts.clock ?? Date).now());
      // Every cached client of this host forgets its reading (accounts of other integrations may share it).
      for (const [id, c] of clients) if (runtime.accountHost(id) === host) c.client.core.gate.forget(host);
    },
  };
  return runtime;
}
