/**
 * The amoCRM + amojo sandbox: a strict amoCRM REST v4 + OAuth simulator (and the amojo module).
 * One sandbox serves one account, or several (`extraAccounts`), each on its own port.
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
import { eventRoutes } from './resources/events-api.ts';
import { linkRoutes } from './resources/links.ts';
import { lossReasonRoutes } from './resources/loss-reasons.ts';
import { leadRoutes } from './resources/leads.ts';
import { noteRoutes } from './resources/notes.ts';
import { pipelineRoutes } from './resources/pipelines.ts';
import { tagRoutes } from './resources/tags.ts';
import { sourceRoutes } from './resources/sources.ts';
import { taskRoutes } from './resources/tasks.ts';
import { unsortedRoutes } from './resources/unsorted.ts';
import { webhookRoutes } from './resources/webhooks-api.ts';
import { createRng } from './rng.ts';
import { Router, type SearchMode } from './router.ts';
import { bootstrap } from './seed.ts';
import { createListener } from './server.ts';
import { AccountState, type AccountInfo } from './state.ts';
import { systemClock, type SbClock } from './types.ts';
import { WebhookDeliverer } from './webhook-out.ts';

export type { SandboxAdmin } from './admin.ts';
export type { SeedSpec, SeedResult } from './seed.ts';
export type { FaultRule } from './faults.ts';
export type { SbClock } from './types.ts';
export type { SearchMode } from './router.ts';

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** PRNG seed for faults and id bases, so runs repeat. Default 1. */
  seed?: number;
  /** Injectable time (epoch ms). */
  clock?: SbClock;
  /** The first (default) account: served at `url`, addressed by `admin`. */
  account?: SandboxAccountOptions;
  /**
   * More accounts served by the same sandbox, each on its own port (its own "host", as
   * `subdomain.amocrm.ru` is in amoCRM) with its own users, pipelines, fields, entities, webhooks,
   * tokens and limits. `sb.account(subdomain | id)` reaches one.
   */
  extraAccounts?: SandboxAccountOptions[];
  /** Integrations installed in EVERY account (each account may add its own in `integrations`). */
  integrations?: IntegrationConfig[];
  /** Default 86400 (docs/amocrm-protocol.md#lifetimes: 24 h). */
  accessTokenTtlSeconds?: number;
  /** Default 90 days (docs/amocrm-protocol.md#lifetimes: 3 months). */
  refreshTokenTtlSeconds?: number;
  /**
   * *assumed* (the docs are silent): does the old access token stop working the moment its pair is
   * refreshed? Default false — it lives until its own expiry, like any JWT.
   */
  oldAccessTokenDiesOnRefresh?: boolean;
  /**
   * The refresh-token grace rule: true (default) = Kommo's "the old refresh token will still be
   * functional … until you use the new one"; false = the RU docs' "Refresh token можно обменять
   * только один раз". Also `admin.setRefreshGrace()`.
   */
  refreshGrace?: boolean;
  /**
   * How `query` searches leads/contacts/companies (README "Search modes"); default `literal`.
   * Also `admin.setSearchMode()`.
   */
  search?: SearchMode;
  limits?: {
    /** docs/amocrm-protocol.md#rate-limits: 7. */
    perIntegrationPerSecond?: number;
    /** docs/amocrm-protocol.md#rate-limits: 50. */
    perAccountPerSecond?: number;
    /** *assumed*: 10 refused requests within `violationWindowSeconds` block the account. */
    violationsBeforeBlock?: number;
    /** *assumed*: 60. */
    violationWindowSeconds?: number;
    /** docs/amocrm-protocol.md#entity-limits: 250. */
    maxEntitiesPerRequest?: number;
    /** `retry_after` in the 429 body; docs/amocrm-protocol.md#rate-limits shows 300. */
    retryAfterSeconds?: number;
    /** 'json' = the documented body (default); 'html' = what users report seeing (docs/amocrm-protocol.md#rate-limits, amocrm-api-php #526). */
    format429?: 'json' | 'html';
  };
  /** Passed on to the amojo module. */
  amojo?: { channels: Array<{ id: string; secret: string; title?: string; webhookUrl: string; clientId?: string }> };
  /** fetch for outgoing webhooks, the disconnect hook and amojo hooks. Default global fetch. */
  fetch?: typeof fetch;
  log?: (line: string) => void;
  /**
   * Real-time factor for webhook redelivery timers (amoCRM: 5 min, 15 min, 15 min, 1 h after a
   * failed attempt). Default 1; tests use e.g. 0.001 (5 min → 300 ms). 0 = no timers: retries wait
   * for `admin.runWebhookRetries()` (driven by the sandbox clock).
   */
  webhookRetryScale?: number;
  /**
   * `X-Amocrm-Requestid` of a redelivery: 'new' (default, pessimistic: the docs do not say) or 'same'
   * as the first attempt's.
   */
  webhookRetryRequestId?: 'new' | 'same';
  /** How long amoCRM waits for a webhook answer: 2000 ms (the documented 2 s); tests shorten it. */
  webhookTimeoutMs?: number;
}

export interface SandboxAccountOptions {
  id?: number;
  subdomain?: string;
  name?: string;
  amojoId?: string;
  /** Integrations installed in this account only (besides the sandbox-wide `integrations`). */
  integrations?: IntegrationConfig[];
  /** This account's port; 0 (default) picks a free one. The first account uses `SandboxOptions.port`. */
  port?: number;
  /** This account's limits, over the sandbox-wide `limits`. */
  limits?: SandboxOptions['limits'];
}

/** One account of the sandbox: its own base URL and admin. */
export interface SandboxAccount {
  id: number;
  subdomain: string;
  amojoId: string;
  /** http://HOST:PORT — the account's base URL (REST, /oauth2/access_token, /oauth) and amojo's. */
  url: string;
  /** HOST:PORT — what the authorize redirect sends as `referer`. */
  accountHost: string;
  admin: SandboxAdmin;
}

export interface Sandbox {
  /** The first account's base URL (see SandboxAccount). */
  url: string;
  /** The first account's host: what the authorize redirect sends as `referer`. */
  accountHost: string;
  /** The first account's admin. */
  admin: SandboxAdmin;
  /** Every account, the first one first. */
  accounts: SandboxAccount[];
  /** An account by subdomain or id; throws when there is none. */
  account(key: string | number): SandboxAccount;
  /** The amojo module (manager replies, snapshots), shared by all accounts as amojo is one service. */
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
  const host = opts.host ?? '127.0.0.1';
  const firstId = opts.account?.id ?? 31_000_000 + (seed % 1_000_000);
  const specs = [{ ...opts.account, port: opts.port ?? opts.account?.port ?? 0 }, ...(opts.extraAccounts ?? [])];
  const infos: AccountInfo[] = specs.map((a, i) => {
    const id = a.id ?? firstId + i;
    return {
      id,
      subdomain: a.subdomain ?? (i === 0 ? 'sandbox' : `sandbox${i + 1}`),
      name: a.name ?? 'Sandbox account',
      amojoId: a.amojoId ?? uuidFrom(id),
    };
  });
  for (const [i, a] of infos.entries()) {
    if (infos.findIndex((b) => b.id === a.id || b.subdomain === a.subdomain || b.amojoId === a.amojoId) !== i)
      throw new Error(`sandbox account ${a.subdomain} (${a.id}) repeats another account's id, subdomain or amojo id`);
  }
  // amojo is one service for all accounts (amojo.amocrm.ru): every account's amojo_id may connect.
  // An incoming client message on an unlinked chat files an Unsorted entry in the account it belongs to (incomingChat ignores the others).
  const amojo = createAmojo({
    clock,
    fetch: fetchFn,
    channels: opts.amojo?.channels ?? [],
    accounts: infos.map((a) => ({ amojoId: a.amojoId })),
    log,
    onIncoming: (ev) => {
      for (const b of built) incomingChat(b.core, ev);
    },
  });
  const router = new Router().add([
    ...accountRoutes(),
    ...pipelineRoutes(),
    ...customFieldRoutes(),
    ...tagRoutes(),
    ...noteRoutes(),
    ...leadRoutes(),
    ...contactRoutes(),
    ...taskRoutes(),
    ...catalogRoutes(),
    ...webhookRoutes(),
    ...linkRoutes(),
    ...lossReasonRoutes(),
    ...eventRoutes(),
    ...unsortedRoutes(),
    ...sourceRoutes(),
  ]);
  const built = specs.map((spec, i) => buildAccount(spec, infos[i] as AccountInfo, i));

  /** One account: its own Core (state, OAuth grants, limiter, faults, counters, webhooks) and its own listening socket. */
  function buildAccount(spec: SandboxAccountOptions, account: AccountInfo, index: number) {
    let url = '';
    let accountHost = '';
    // The first account keeps the seed's id bases; others get their own so ids differ across accounts as in amoCRM.
    const stateSeed = index === 0 ? seed : seed + index * 7919;
    const freshState = (): AccountState => {
      const s = new AccountState(account, createRng(stateSeed));
      bootstrap(s);
      return s;
    };
    let lastDeliverer: WebhookDeliverer | undefined;
    const makeDeliverer = (): WebhookDeliverer => {
      lastDeliverer?.stop(); // a reset cancels the old account's pending redeliveries
      lastDeliverer = new WebhookDeliverer({
        fetch: fetchFn,
        clock,
        log,
        retryScale: opts.webhookRetryScale ?? 1,
        retryRequestId: opts.webhookRetryRequestId ?? 'new',
        ...(opts.webhookTimeoutMs !== undefined ? { timeoutMs: opts.webhookTimeoutMs } : {}),
        stillSubscribed: (d) => core.state.webhooks.get(d.id)?.destination === d.destination,
      });
      return lastDeliverer;
    };
    const deliverer = makeDeliverer();
    const l = { ...opts.limits, ...spec.limits };
    const core: Core = {
      clock,
      state: freshState(),
      freshState,
      oauth: undefined as unknown as OAuthServer, // set right below (needs core.state)
      limiter: new RateLimiter(
        {
          perIntegrationPerSecond: l.perIntegrationPerSecond ?? 7,
          perAccountPerSecond: l.perAccountPerSecond ?? 50,
          violationsBeforeBlock: l.violationsBeforeBlock ?? 10,
          violationWindowSeconds: l.violationWindowSeconds ?? 60,
        },
        clock,
      ),
      faults: new FaultInjector(createRng((seed + index) ^ 0x5eed)),
      counters: new Counters(),
      hub: undefined as unknown as WebhookHub, // set right below
      deliverer,
      makeDeliverer,
      router,
      amojo,
      settings: {
        maxEntitiesPerRequest: l.maxEntitiesPerRequest ?? 250,
        retryAfterSeconds: l.retryAfterSeconds ?? 300,
        format429: l.format429 ?? 'json',
        search: opts.search ?? 'literal',
        refreshGrace: opts.refreshGrace ?? true,
      },
      url: () => url,
      accountHost: () => accountHost,
      log,
    };
    core.oauth = new OAuthServer(
      {
        clock,
        accountId: account.id,
        accountHost: () => accountHost,
        currentUserId: () => core.state.currentUserId(),
        accessTokenTtlSeconds: opts.accessTokenTtlSeconds ?? 86_400,
        refreshTokenTtlSeconds: opts.refreshTokenTtlSeconds ?? 90 * 86_400,
        oldAccessTokenDiesOnRefresh: opts.oldAccessTokenDiesOnRefresh ?? false,
        refreshGrace: () => core.settings.refreshGrace,
        fetch: fetchFn,
        log,
      },
      [...(opts.integrations ?? []), ...(spec.integrations ?? [])],
    );
    core.hub = new WebhookHub(
      () => core.state,
      deliverer,
      () => url,
      () => clock.now(),
    );
    const admin = new SandboxAdmin(core);
    const { listener, closeHeld } = createListener(core, (req) => admin.http(req));
    const server = createServer(listener);
    const listen = async (): Promise<void> => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(spec.port ?? 0, host, () => resolve());
      });
      accountHost = `${host}:${(server.address() as AddressInfo).port}`;
      url = `http://${accountHost}`;
    };
    const close = async (): Promise<void> => {
      closeHeld();
      core.deliverer.stop();
      await core.hub.flush();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
    return { account, core, admin, server, listen, close };
  }

  try {
    for (const b of built) await b.listen();
  } catch (e) {
    for (const b of built) if (b.server.listening) await b.close();
    throw e;
  }
  const accounts: SandboxAccount[] = built.map((b) => ({
    id: b.account.id,
    subdomain: b.account.subdomain,
    amojoId: b.account.amojoId,
    url: b.core.url(),
    accountHost: b.core.accountHost(),
    admin: b.admin,
  }));
  const first = accounts[0] as SandboxAccount;
  let closed = false;
  return {
    url: first.url,
    accountHost: first.accountHost,
    admin: first.admin,
    accounts,
    account: (key) => {
      const a = accounts.find((x) => x.subdomain === key || x.id === key);
      if (!a) throw new Error(`no sandbox account ${String(key)} (have ${accounts.map((x) => x.subdomain).join(', ')})`);
      return a;
    },
    amojo,
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all(built.map((b) => b.close()));
    },
  };
}
