/**
 * Everything one sandbox account holds, wired together: each account (index.ts `extraAccounts`) has
 * its own Core and its own listening socket; the clock, router and amojo are shared. The HTTP
 * server (server.ts) and the admin API (admin.ts) work on one Core, so `ctx.state` is the account's.
 */
import type { Counters } from './counters.ts';
import type { WebhookHub } from './events.ts';
import type { FaultInjector } from './faults.ts';
import type { RateLimiter } from './limiter.ts';
import type { OAuthServer } from './oauth.ts';
import type { RestCtx, Router, SearchMode } from './router.ts';
import type { AccountState } from './state.ts';
import type { SbClock, SbRequest } from './types.ts';
import type { AmojoSandbox } from './amojo.ts';
import type { WebhookDeliverer } from './webhook-out.ts';

export interface CoreSettings {
  maxEntitiesPerRequest: number;
  retryAfterSeconds: number;
  format429: 'json' | 'html';
  /** `query` search mode; `admin.setSearchMode()` changes it at run time. */
  search: SearchMode;
  /** The refresh-token grace rule on (Kommo) or off (RU docs: exchanged only once). */
  refreshGrace: boolean;
}

export interface Core {
  clock: SbClock;
  state: AccountState;
  /** Builds a fresh bootstrapped account (reset). */
  freshState(): AccountState;
  oauth: OAuthServer;
  limiter: RateLimiter;
  faults: FaultInjector;
  counters: Counters;
  hub: WebhookHub;
  deliverer: WebhookDeliverer;
  /** A fresh deliverer (reset forgets delivery records and disabled destinations). */
  makeDeliverer(): WebhookDeliverer;
  router: Router;
  amojo: AmojoSandbox;
  settings: CoreSettings;
  url(): string;
  accountHost(): string;
  log(line: string): void;
}

export function restCtx(
  core: Core,
  req: SbRequest,
  params: Record<string, string>,
  query: Record<string, unknown>,
  userId: number,
  clientId: string,
): RestCtx {
  return {
    req,
    params,
    query,
    state: core.state,
    base: core.url(),
    now: Math.floor(core.clock.now() / 1000),
    userId,
    clientId,
    hooks: core.hub,
    maxEntities: core.settings.maxEntitiesPerRequest,
    search: core.settings.search,
    amojo: core.amojo,
  };
}

/** A context for in-process work (seeds, admin reads): no request, acting as the current user. */
export function adminCtx(core: Core, query: Record<string, unknown> = {}): RestCtx {
  const req: SbRequest = { method: 'GET', path: '/', query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0) };
  return restCtx(core, req, {}, query, core.state.currentUserId(), 'sandbox-admin');
}
