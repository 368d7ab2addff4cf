/**
 * The amoCRM + amojo sandbox: a strict amoCRM REST v4 + OAuth simulator (and the amojo module)
 * on one node:http server. ONE account per server; start two for two accounts.
 *
 *   const sb = await startSandbox({ port: 0, integrations: [{ clientId, clientSecret, redirectUri }] });
 *   sb.url            // http://127.0.0.1:PORT — REST, /oauth2/access_token, /oauth, amojo
 *   sb.admin.seed({...}); sb.admin.mintCode({clientId}); sb.admin.moveLead({...}); …
 *   await sb.close();
 *
 * Rules and their sources: README.md next to this file.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxAdmin } from './admin.ts';
import { createAmojo, type AmojoSandbox } from './amojo.ts';
import type { Core } from './core.ts';
import { Counters } from './counters.ts';
import { WebhookHub } from './events.ts';
import { FaultInjector } from './faults.ts';
import { incomingChat } from './incoming-chats.ts';
import { RateLimiter } from './limiter.ts';
import { OAuthServer, type IntegrationConfig } from './oauth.ts';
import { accountRoutes } from './resources/account.ts';
import { catalogRoutes } from './resources/catalogs.ts';
import { contactRoutes } from './resources/contacts.ts';
import { customFieldRoutes } from './resources/custom-fields-api.ts';
import { leadRoutes } from './resources/leads.ts';
import { noteRoutes } from './resources/notes.ts';
import { pipelineRoutes } from './resources/pipelines.ts';
import { tagRoutes } from './resources/tags.ts';
import { sourceRoutes } from './resources/sources.ts';
import { taskRoutes } from './resources/tasks.ts';
import { unsortedRoutes } from './resources/unsorted.ts';
import { webhookRoutes } from './resources/webhooks-api.ts';
import { createRng } from './rng.ts';
import { Router } from './router.ts';
import { bootstrap } from './seed.ts';
import { createListener } from './server.ts';
import { AccountState, type AccountInfo } from './state.ts';
import { systemClock, type SbClock } from './types.ts';
import { WebhookDeliverer } from './webhook-out.ts';

export type { SandboxAdmin } from './admin.ts';
export type { SeedSpec, SeedResult } from './seed.ts';
export type { FaultRule } from './faults.ts';
export type { SbClock } from './types.ts';

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** PRNG seed for faults and id bases, so runs repeat. Default 1. */
  seed?: number;
  /** Injectable time (epoch ms). */
  clock?: SbClock;
  /** ONE account per sandbox server. */
  account?: { id?: number; subdomain?: string; name?: string; amojoId?: string };
  integrations?: IntegrationConfig[];
  /** Default 86400 (ref §1: 24 h). */
  accessTokenTtlSeconds?: number;
  /** Default 90 days (ref §1: "lives 3 months"). */
  refreshTokenTtlSeconds?: number;
  /**
   * *assumed* (the docs are silent): does the old access token stop working the moment its pair is
   * refreshed? Default false — it lives until its own expiry, like any JWT.
   */
  oldAccessTokenDiesOnRefresh?: boolean;
  limits?: {
    /** ref §3: 7. */
    perIntegrationPerSecond?: number;
    /** ref §3: 50. */
    perAccountPerSecond?: number;
    /** *assumed*: 10 refused requests within `violationWindowSeconds` block the account. */
    violationsBeforeBlock?: number;
    /** *assumed*: 60. */
    violationWindowSeconds?: number;
    /** ref §4: 250. */
    maxEntitiesPerRequest?: number;
    /** `retry_after` in the 429 body; ref §3 shows 300. */
    retryAfterSeconds?: number;
    /** 'json' = the documented body (default); 'html' = what users report seeing (ref §3, #526). */
    format429?: 'json' | 'html';
  };
  /** Passed on to the amojo module. */
  amojo?: { channels: Array<{ id: string; secret: string; title?: string; webhookUrl: string; clientId?: string }> };
  /** fetch for outgoing webhooks, the disconnect hook and amojo hooks. Default global fetch. */
  fetch?: typeof fetch;
  log?: (line: string) => void;
}

export interface Sandbox {
  /** http://HOST:PORT — the account's base URL (REST, /oauth2/access_token, /oauth) and amojo's. */
  url: string;
  /** HOST:PORT — what the authorize redirect sends as `referer`. */
  accountHost: string;
  admin: SandboxAdmin;
  /** The amojo module (manager replies, snapshots). */
  amojo: AmojoSandbox;
  close(): Promise<void>;
}

function uuidFrom(n: number): string {
  const hex = (n >>> 0).toString(16).padStart(8, '0');
  return `${hex}-5a7d-4b0c-9e1f-${hex}${hex.slice(0, 4)}`;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const clock = opts.clock ?? systemClock;
  const seed = opts.seed ?? 1;
  const log = opts.log ?? (() => {});
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const accountId = opts.account?.id ?? 31_000_000 + (seed % 1_000_000);
  const account: AccountInfo = {
    id: accountId,
    subdomain: opts.account?.subdomain ?? 'sandbox',
    name: opts.account?.name ?? 'Sandbox account',
    amojoId: opts.account?.amojoId ?? uuidFrom(accountId),
  };
  const host = opts.host ?? '127.0.0.1';
  let url = '';
  let accountHost = '';
  const freshState = (): AccountState => {
    const s = new AccountState(account, createRng(seed));
    bootstrap(s);
    return s;
  };
  const makeDeliverer = (): WebhookDeliverer => new WebhookDeliverer({ fetch: fetchFn, clock, log });
  const deliverer = makeDeliverer();
  const l = opts.limits ?? {};
  const core: Core = {
    clock,
    state: freshState(),
    freshState,
    oauth: undefined as unknown as OAuthServer, // set right below (needs core.state)
    limiter: new RateLimiter({
      perIntegrationPerSecond: l.perIntegrationPerSecond ?? 7,
      perAccountPerSecond: l.perAccountPerSecond ?? 50,
      violationsBeforeBlock: l.violationsBeforeBlock ?? 10,
      violationWindowSeconds: l.violationWindowSeconds ?? 60,
    }, clock),
    faults: new FaultInjector(createRng(seed ^ 0x5eed)),
    counters: new Counters(),
    hub: undefined as unknown as WebhookHub, // set right below
    deliverer,
    makeDeliverer,
    router: new Router().add([
      ...accountRoutes(), ...pipelineRoutes(), ...customFieldRoutes(), ...tagRoutes(), ...noteRoutes(), ...leadRoutes(),
      ...contactRoutes(), ...taskRoutes(), ...catalogRoutes(), ...webhookRoutes(),
      ...unsortedRoutes(), ...sourceRoutes(),
    ]),
    amojo: createAmojo({
      clock, fetch: fetchFn, channels: opts.amojo?.channels ?? [], accounts: [{ amojoId: account.amojoId }], log,
      onIncoming: (ev) => incomingChat(core, ev),
    }),
    settings: {
      maxEntitiesPerRequest: l.maxEntitiesPerRequest ?? 250,
      retryAfterSeconds: l.retryAfterSeconds ?? 300,
      format429: l.format429 ?? 'json',
    },
    url: () => url,
    accountHost: () => accountHost,
    log,
  };
  core.oauth = new OAuthServer({
    clock,
    accountId,
    accountHost: () => accountHost,
    currentUserId: () => core.state.currentUserId(),
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds ?? 86_400,
    refreshTokenTtlSeconds: opts.refreshTokenTtlSeconds ?? 90 * 86_400,
    oldAccessTokenDiesOnRefresh: opts.oldAccessTokenDiesOnRefresh ?? false,
    fetch: fetchFn,
    log,
  }, opts.integrations ?? []);
  core.hub = new WebhookHub(() => core.state, deliverer, () => url, () => clock.now());
  const admin = new SandboxAdmin(core);
  const { listener, closeHeld } = createListener(core, (req) => admin.http(req));
  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  accountHost = `${host}:${port}`;
  url = `http://${accountHost}`;
  let closed = false;
  return {
    url,
    accountHost,
    admin,
    amojo: core.amojo,
    close: async () => {
      if (closed) return;
      closed = true;
      closeHeld();
      await core.hub.flush();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
