/**
 * Several integrations and accounts in one deployment (an amocrm.ru and a kommo.com account, each
 * its own integration, both served by ONE sandbox as two accounts on two hosts): keys never mix,
 * one account's trouble leaves the other alone, the REST client reaches each account's own data,
 * and the disconnect hook finds its account by the id learnt from the token.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../../infra/local/sandbox/index.ts';
import { AmoClient } from '../../lib/amocrm/client/client.ts';
import { AccountNeedsReauthError, createOAuth, disconnectSignature } from '../../lib/amocrm/oauth/index.ts';
import { parseConfig } from '../../lib/config/index.ts';
import { staticSecretSource } from '../../lib/config/secrets.ts';
import { MemoryBreakerStore } from '../../lib/amocrm/client/breaker-store.ts';
import { MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { MemoryRateBudget } from '../../lib/amocrm/client/rate-budget.ts';
import { DynamoTokenStore } from '../../lib/store/token-store.ts';
import { createTestTable } from '../support/ddb.ts';
import { apiStatus, TestClock } from './support.ts';

const DAY = 86_400_000;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

describe('several accounts and integrations', () => {
  it('keeps each account to itself', async () => {
    const clock = new TestClock();
    const ints = [
      { id: 'ru-app', clientId: randomUUID(), secret: `s-${randomUUID()}` },
      { id: 'kommo-app', clientId: randomUUID(), secret: `s-${randomUUID()}` },
    ];
    const redirectUri = 'http://127.0.0.1:9/oauth/callback';
    const integration = (i: number) => [{ clientId: ints[i]?.clientId ?? '', clientSecret: ints[i]?.secret ?? '', redirectUri }];
    const sb = await startSandbox({
      clock,
      account: { id: 1000, subdomain: 'acc0', integrations: integration(0) },
      extraAccounts: [{ id: 1001, subdomain: 'acc1', integrations: integration(1) }],
    });
    cleanup.push(() => sb.close());
    const ru = sb.account('acc0');
    const kommo = sb.account('acc1');
    expect(ru.url).toBe(sb.url);
    expect(kommo.accountHost).not.toBe(ru.accountHost);
    const config = parseConfig({
      integrations: ints.map((i) => ({ id: i.id, clientId: i.clientId, clientSecret: { secret: i.id }, redirectUri })),
      accounts: [
        { id: 'ru', integration: 'ru-app', subdomain: 'acc0', domain: 'amocrm.ru', baseUrl: ru.url },
        { id: 'intl', integration: 'kommo-app', subdomain: 'acc1', domain: 'kommo.com', baseUrl: kommo.url },
      ],
      oauth: { refererAllowList: ['*.amocrm.ru', '*.kommo.com', ru.accountHost, kommo.accountHost] },
    });
    const table = await createTestTable('multi');
    const make = () => {
      const client = new DynamoDBClient({
        endpoint: table.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
      });
      cleanup.push(() => client.destroy());
      return createOAuth({
        config,
        store: new DynamoTokenStore({ doc: DynamoDBDocumentClient.from(client), tableName: table.tableName }),
        secrets: staticSecretSource(Object.fromEntries(ints.map((i) => [i.id, i.secret]))),
        fetch: globalThis.fetch,
        clock,
      });
    };
    const o = make();
    await o.install.exchangeCode('ru', ru.admin.mintCode({ clientId: ints[0]?.clientId ?? '' }).code);
    await o.install.exchangeCode('intl', kommo.admin.mintCode({ clientId: ints[1]?.clientId ?? '' }).code);
    const a = await o.lifecycle.read('ru');
    const b = await o.lifecycle.read('intl');
    expect(a).toMatchObject({ clientId: ints[0]?.clientId, accountKey: 'ru', amoAccountId: 1000, host: ru.accountHost });
    expect(b).toMatchObject({ clientId: ints[1]?.clientId, accountKey: 'intl', amoAccountId: 1001, host: kommo.accountHost });

    // Both expire; a batch of workers refreshes each exactly once, at its own host.
    clock.advance(DAY + 1);
    const workers = Array.from({ length: 3 }, make);
    const tokens = await Promise.all(workers.flatMap((w) => [w.provider.getToken('ru'), w.provider.getToken('intl')]));
    expect(ru.admin.counters().tokenEndpoint).toEqual({ 'authorization_code:ok': 1, 'refresh_token:ok': 1 });
    expect(kommo.admin.counters().tokenEndpoint).toEqual({ 'authorization_code:ok': 1, 'refresh_token:ok': 1 });
    const ruToken = tokens.find((t) => t.account === 'ru');
    const intlToken = tokens.find((t) => t.account === 'intl');
    expect(ruToken?.baseUrl).toBe(ru.url);
    expect(await apiStatus(ru, ruToken?.accessToken ?? '')).toBe(200);
    expect(await apiStatus(kommo, intlToken?.accessToken ?? '')).toBe(200);
    // A token of one account is nobody on the other's host.
    expect(await apiStatus(kommo, ruToken?.accessToken ?? '')).toBe(401);
    expect(await apiStatus(ru, intlToken?.accessToken ?? '')).toBe(401);

    // The REST client over the TokenProvider writes to each account's own data.
    const rest = new AmoClient({
      tokens: make().provider,
      budget: new MemoryRateBudget({ perIntegrationPerSecond: 7, perAccountPerSecond: null }),
      breaker: new MemoryBreakerStore(),
      cache: new MemoryCacheStore(),
      mode: 'await',
    });
    const ruApi = rest.forAccount({ clientId: ints[0]?.clientId ?? '', accountKey: 'ru' });
    const intlApi = rest.forAccount({ clientId: ints[1]?.clientId ?? '', accountKey: 'intl' });
    const [ruLead] = await ruApi.leads.add([{ name: 'ru deal' }]);
    const [intlLead] = await intlApi.leads.add([{ name: 'intl deal' }]);
    expect((await ruApi.account.get()).id).toBe(1000);
    expect((await intlApi.account.get()).id).toBe(1001);
    expect(ru.admin.entities('leads').map((l) => l.name)).toContain('ru deal');
    expect(ru.admin.entities('leads').map((l) => l.name)).not.toContain('intl deal');
    expect(kommo.admin.entities('leads').map((l) => l.name)).toContain('intl deal');
    expect(await intlApi.leads.get(ruLead?.id ?? 0)).toBeUndefined();
    expect((await intlApi.leads.get(intlLead?.id ?? 0))?.name).toBe('intl deal');

    // One account's grant dies: the other keeps working.
    ru.admin.revokeTokens({});
    clock.advance(DAY + 1);
    await expect(make().provider.getToken('ru')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    const still = await make().provider.getToken('intl');
    expect(await apiStatus(kommo, still.accessToken)).toBe(200);
    const sched = await make().lifecycle.refreshDue();
    expect(sched).toEqual([
      { account: 'ru', outcome: 'needs-reauth' },
      { account: 'intl', outcome: 'fresh' },
    ]);

    // The disconnect hook for the kommo account (named by its numeric id) marks only that one.
    const res = await o.disconnect.verifyDisconnect({
      client_uuid: ints[1]?.clientId,
      account_id: '1001',
      signature: disconnectSignature(ints[1]?.clientId ?? '', '1001', ints[1]?.secret ?? ''),
    });
    expect(res).toEqual({ account: 'intl', changed: true });
    expect((await o.lifecycle.read('intl'))?.status).toBe('disconnected');
    expect((await o.lifecycle.read('ru'))?.status).toBe('needs-reauth');
    // A hook signed by one integration's secret for the other's client id fails.
    await expect(
      o.disconnect.verifyDisconnect({
        client_uuid: ints[0]?.clientId,
        account_id: '1000',
        signature: disconnectSignature(ints[0]?.clientId ?? '', '1000', ints[1]?.secret ?? ''),
      }),
    ).rejects.toMatchObject({ status: 401 });
  });
});
