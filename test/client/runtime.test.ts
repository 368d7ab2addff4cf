/**
 * The container's client runtime (lib/aws/amo-client-runtime.ts) against the sandbox and DynamoDB
 * Local: one cached client per account, the DynamoDB budget/breaker/cache stores, and the client's
 * events as metrics — a 403 block counted once as AccountBlocked, however many containers see it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_METRICS } from '../../infra/aws/metrics.ts';
import { startSandbox, type Sandbox } from '../../infra/local/sandbox/index.ts';
import {
  AccountBlockedError,
  AmoAccountBlockedError,
  AmoRateLimitedError,
  RateBudgetExhaustedError,
} from '../../lib/amocrm/client/errors.ts';
import type { ClientEvent } from '../../lib/amocrm/client/types.ts';
import { AccountNeedsReauthError, createOAuth, type OAuth } from '../../lib/amocrm/oauth/index.ts';
import { METRIC } from '../../lib/metrics.ts';
import { createAmoClientRuntime, type AmoClientRuntimeOptions } from '../../lib/aws/amo-client-runtime.ts';
import { parseConfig, UnknownAccountError, type Config } from '../../lib/config/index.ts';
import { staticSecretSource } from '../../lib/config/secrets.ts';
import { RecordingMetrics } from '../../lib/ingest/metrics.ts';
import { aggregatingSink } from '../../lib/common/metrics-sink.ts';
import { DynamoTokenStore } from '../../lib/store/token-store.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

const ACCOUNT = 'clinic';

describe('amo client runtime', () => {
  let sb: Sandbox;
  let table: TestTable;
  let config: Config;
  let clientId: string;
  let oauth: OAuth;
  const metrics = new RecordingMetrics();

  const runtime = (over: Partial<AmoClientRuntimeOptions> = {}) =>
    createAmoClientRuntime({ config, oauth: oauth.provider, doc: table.doc, tableName: table.tableName, metrics, ...over });

  /** A fresh OAuth engine (a new container's memory) and a new long-lived token for the account. */
  const install = async () => {
    // The OAuth engine gets the same sink: AccountNeedsReauth is its metric, not the runtime's.
    oauth = createOAuth({
      config,
      store: new DynamoTokenStore({ doc: table.doc, tableName: table.tableName }),
      secrets: staticSecretSource({ cs: 'cs' }),
      fetch: globalThis.fetch,
      metrics,
    });
    await oauth.install.saveLongLived(ACCOUNT, sb.admin.issueLongLivedToken({ clientId }).access_token);
  };

  beforeAll(async () => {
    clientId = randomUUID();
    sb = await startSandbox({
      account: { id: 32_720_107, subdomain: 'clinic' },
      integrations: [{ clientId, clientSecret: 'cs', redirectUri: 'https://gw.example/oauth/callback' }],
    });
    table = await createTestTable('runtime');
    config = parseConfig({
      integrations: [{ id: 'main', clientId, clientSecret: { secret: 'cs' }, redirectUri: 'https://gw.example/oauth/callback' }],
      accounts: [{ id: ACCOUNT, integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru', baseUrl: sb.url }],
      oauth: { refererAllowList: ['*.amocrm.ru', sb.accountHost] },
    });
    await install();
  });
  afterAll(async () => {
    await sb.close();
    table.client.destroy();
  });

  it('one cached client per account, keyed by the integration and the configured host; unknown accounts fail clearly', async () => {
    const rt = runtime();
    expect(rt.clientFor(ACCOUNT)).toBe(rt.clientFor(ACCOUNT));
    expect(rt.accountRef(ACCOUNT)).toEqual({ clientId, accountKey: ACCOUNT });
    expect(rt.accountHost(ACCOUNT)).toBe(sb.accountHost);
    expect(() => rt.clientFor('nope')).toThrow(UnknownAccountError);
    const account = await rt.clientFor(ACCOUNT).account.get();
    expect(account.subdomain).toBe('clinic');
    // The budget item lives in the table under the account host: the call spent shared budget.
    const state = await rt.stores.budget.read(sb.accountHost);
    expect(Object.keys(state.rings)).toContain(clientId);
  });

  it('every request sent counts AmoCalls by account and outcome; the Lambda sink sums them into one data point per flush', async () => {
    const recorded = new RecordingMetrics();
    const sink = aggregatingSink(recorded);
    const api = runtime({ metrics: sink }).clientFor(ACCOUNT);
    for (let i = 0; i < 3; i++) await api.request({ method: 'GET', path: '/api/v4/account' });
    // Held back until the invocation ends: one EMF line per dimension set, not one per call.
    expect(recorded.values(METRIC.amoCalls)).toEqual([]);
    sink.flush();
    expect(recorded.counts.filter((c) => c.name === METRIC.amoCalls)).toEqual([
      { name: METRIC.amoCalls, dimensions: { account: ACCOUNT, outcome: '2xx' }, value: 3 },
    ]);
    sink.flush();
    expect(recorded.values(METRIC.amoCalls)).toHaveLength(1);
  });

  it('a 403 block → AccountBlocked once (dimension account), every container stops; lift → calls flow again', async () => {
    const before = metrics.total(METRIC.blocked);
    const events: Array<{ account: string; e: ClientEvent }> = [];
    const a = runtime({ onEvent: (account, e) => events.push({ account, e }) });
    const b = runtime({ onEvent: (account, e) => events.push({ account, e }) }); // another container: own memory, same table
    sb.admin.block('too many 429s');
    // Both containers send before either hears the 403 (the sandbox holds both 300 ms): two 403s,
    // two trips, one winner in the breaker store → one AccountBlocked.
    sb.admin.setFaults([{ path: '/api/v4/users*', latencyMs: 300, times: 2 }]);
    const first = await Promise.allSettled([
      a.clientFor(ACCOUNT).users.list({ refresh: true }),
      b.clientFor(ACCOUNT).users.list({ refresh: true }),
    ]);
    sb.admin.clearFaults();
    for (const r of first) expect(r.status === 'rejected' && r.reason).toBeInstanceOf(AmoAccountBlockedError);
    expect(sb.admin.count({ status: 403 })).toBe(2);
    // The other container reads the open breaker before anything is sent; so does a again.
    const sent = sb.admin.count({});
    await expect(b.clientFor(ACCOUNT).leads.get(1)).rejects.toBeInstanceOf(AccountBlockedError);
    await expect(a.clientFor(ACCOUNT).leads.get(1)).rejects.toBeInstanceOf(AccountBlockedError);
    expect(sb.admin.count({})).toBe(sent);

    expect(metrics.total(METRIC.blocked) - before).toBe(1);
    // The name the alarm reads (a rename on either side fails here).
    expect(CUSTOM_METRICS.find((m) => m.name === METRIC.blocked)).toMatchObject({ groupBy: 'account', alarm: { atLeast: 1 } });
    expect(metrics.counts.filter((c) => c.name === METRIC.blocked).at(-1)?.dimensions).toEqual({ account: ACCOUNT });
    // Whichever container trips first raises it; the other one's trip finds it open already.
    expect(events.filter((x) => x.e.type === 'breaker-opened').map((x) => x.account)).toEqual([ACCOUNT]);

    const st = await b.breakerStatus(ACCOUNT);
    expect(st).toMatchObject({ open: true, host: sb.accountHost, reason: expect.stringMatching(/^403 from GET \/api\/v4\/users/) });

    // Support lifts the block, the operator lifts the breaker (from container b).
    expect(sb.admin.liftBlock()).toBe(true);
    await b.liftBreaker(ACCOUNT, 'test');
    expect(await b.breakerStatus(ACCOUNT)).toMatchObject({ open: false, liftedBy: 'test' });
    await expect(b.clientFor(ACCOUNT).account.get()).resolves.toMatchObject({ subdomain: 'clinic' });
    // Container a sees the lift within its breaker cache time (≤ 500 ms by default).
    await new Promise((r) => setTimeout(r, 550));
    await expect(a.clientFor(ACCOUNT).account.get()).resolves.toMatchObject({ subdomain: 'clinic' });
    expect(metrics.total(METRIC.blocked) - before).toBe(1);
  });

  it('a dead grant: the 401 reaches the OAuth lifecycle, which counts AccountNeedsReauth once; the runtime adds nothing', async () => {
    const before = metrics.counts.length;
    sb.admin.revokeTokens({ clientId });
    const rt = runtime();
    await expect(rt.clientFor(ACCOUNT).leads.get(1)).rejects.toBeInstanceOf(AccountNeedsReauthError);
    await expect(rt.clientFor(ACCOUNT).leads.get(1)).rejects.toBeInstanceOf(AccountNeedsReauthError);
    const added = metrics.counts.slice(before);
    expect(added.filter((c) => c.name === 'AccountNeedsReauth')).toEqual([
      { name: 'AccountNeedsReauth', dimensions: { account: ACCOUNT }, value: 1 },
    ]);
    expect(added.filter((c) => [METRIC.blocked, METRIC.rateLimited, METRIC.budgetExhausted].includes(c.name as never))).toEqual([]);
  });

  it('a 429 → AmoRateLimited; the paused budget → RateBudgetExhausted (runs last: it pauses the integration)', async () => {
    await install(); // the previous test killed the grant
    sb.admin.setLimits({ perIntegrationPerSecond: 1 });
    try {
      // Our budget allows more than this sandbox does, so amoCRM itself refuses.
      const rt = runtime({ budget: { perIntegrationPerSecond: 5 } });
      const api = rt.clientFor(ACCOUNT);
      let refused: unknown;
      for (let i = 0; i < 5 && refused === undefined; i++) {
        await api.request({ method: 'GET', path: '/api/v4/account' }).catch((e: unknown) => (refused = e));
      }
      expect(refused).toBeInstanceOf(AmoRateLimitedError);
      expect(metrics.total(METRIC.amoCalls, { account: ACCOUNT, outcome: '429' })).toBeGreaterThanOrEqual(1);
      expect(metrics.counts.filter((c) => c.name === METRIC.rateLimited)).toEqual([
        { name: METRIC.rateLimited, dimensions: { account: ACCOUNT }, value: 1 },
      ]);
      // The pause (the sandbox's retry_after, 300 s) holds every container of this integration:
      // a worker defers at once instead of sending, and that is counted too.
      await expect(runtime().clientFor(ACCOUNT).leads.get(1)).rejects.toBeInstanceOf(RateBudgetExhaustedError);
      expect(metrics.total(METRIC.budgetExhausted, { account: ACCOUNT })).toBe(1);
    } finally {
      sb.admin.setLimits({ perIntegrationPerSecond: 7 });
      sb.admin.liftBlock();
    }
  });
});
