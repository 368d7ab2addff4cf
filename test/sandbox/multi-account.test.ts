/**
 * Several accounts on one sandbox (`extraAccounts`): each is its own host (port) with its own data,
 * OAuth grants, webhooks, limits, faults and admin, as separate amoCRM accounts are
 * (`subdomain.amocrm.ru` each). The first account stays at `sb.url` / `sb.admin`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxAccount } from '../../infra/local/sandbox/index.ts';
import { call, INTEG, ManualClock, receiver } from './support.ts';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

async function twoAccounts(
  extra: Parameters<typeof startSandbox>[0] = {},
): Promise<{ sb: Sandbox; a: SandboxAccount; b: SandboxAccount; clock: ManualClock }> {
  const clock = new ManualClock();
  const sb = await startSandbox({
    clock,
    integrations: [INTEG],
    account: { id: 5001, subdomain: 'alpha' },
    extraAccounts: [{ id: 5002, subdomain: 'beta', name: 'Beta clinic' }],
    ...extra,
  });
  open.push(sb);
  return { sb, a: sb.account('alpha'), b: sb.account('beta'), clock };
}

async function login(acc: SandboxAccount): Promise<{ access_token: string; refresh_token: string }> {
  const { code } = acc.admin.mintCode({ clientId: INTEG.clientId });
  const r = await call(`${acc.url}/oauth2/access_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: INTEG.clientId,
      client_secret: INTEG.clientSecret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: INTEG.redirectUri,
    }),
  });
  expect(r.status).toBe(200);
  return r.json;
}

const api = (acc: SandboxAccount, token: string, method: string, path: string, body?: unknown) =>
  call(`${acc.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

describe('several accounts on one sandbox', () => {
  it('the first account stays at sb.url / sb.admin; every account has its own host; lookups by subdomain or id', async () => {
    const { sb, a, b } = await twoAccounts();
    expect(sb.url).toBe(a.url);
    expect(sb.accountHost).toBe(a.accountHost);
    expect(sb.admin).toBe(a.admin);
    expect(sb.accounts.map((x) => x.subdomain)).toEqual(['alpha', 'beta']);
    expect(sb.account(5002)).toBe(b);
    expect(b.url).toBe(`http://${b.accountHost}`);
    expect(b.accountHost).not.toBe(a.accountHost);
    expect(b.amojoId).not.toBe(a.amojoId);
    expect(() => sb.account('gamma')).toThrow(/no sandbox account gamma/);
  });

  it('data is per account: seeds, REST reads and writes, the account endpoint (with its own amojo_id)', async () => {
    const { a, b } = await twoAccounts();
    a.admin.seed({ users: [{ id: 11, name: 'Alpha admin', is_admin: true }], leads: [{ name: 'alpha deal' }] });
    b.admin.seed({
      users: [
        { id: 21, name: 'Beta admin', is_admin: true },
        { id: 22, name: 'Beta manager' },
      ],
    });
    const ta = (await login(a)).access_token;
    const tb = (await login(b)).access_token;

    const accA = await api(a, ta, 'GET', '/api/v4/account?with=amojo_id');
    const accB = await api(b, tb, 'GET', '/api/v4/account?with=amojo_id');
    expect(accA.json).toMatchObject({ id: 5001, subdomain: 'alpha', amojo_id: a.amojoId });
    expect(accB.json).toMatchObject({ id: 5002, subdomain: 'beta', name: 'Beta clinic', amojo_id: b.amojoId });

    const usersB = await api(b, tb, 'GET', '/api/v4/users');
    expect(usersB.json._embedded.users.map((u: { name: string }) => u.name)).toEqual(['Beta admin', 'Beta manager']);
    expect((await api(b, tb, 'GET', '/api/v4/leads')).status).toBe(204);

    const added = await api(b, tb, 'POST', '/api/v4/leads', [{ name: 'beta deal' }]);
    expect(added.status).toBe(200);
    expect(added.json._links.self.href.startsWith(b.url)).toBe(true);
    expect(a.admin.entities('leads').map((l) => l.name)).toEqual(['alpha deal']);
    expect(b.admin.entities('leads').map((l) => l.name)).toEqual(['beta deal']);
    // Ids are per account too: the other account's lead is simply not there.
    const betaId = added.json._embedded.leads[0].id as number;
    expect((await api(a, ta, 'GET', `/api/v4/leads/${betaId}`)).status).toBe(204);
  });

  it("tokens are per account: one account's access token is 401 on the other, its refresh token unknown there", async () => {
    const { a, b } = await twoAccounts();
    const pa = await login(a);
    const pb = await login(b);
    expect((await api(a, pa.access_token, 'GET', '/api/v4/account')).status).toBe(200);
    expect((await api(b, pa.access_token, 'GET', '/api/v4/account')).status).toBe(401);
    expect((await api(a, pb.access_token, 'GET', '/api/v4/account')).status).toBe(401);
    const r = await call(`${b.url}/oauth2/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: INTEG.clientId,
        client_secret: INTEG.clientSecret,
        grant_type: 'refresh_token',
        refresh_token: pa.refresh_token,
        redirect_uri: INTEG.redirectUri,
      }),
    });
    expect(r.status).toBe(401);
    expect(r.json.hint).toBe('Cannot decrypt the refresh token');
    // Revoking one account's grants leaves the other's alone.
    a.admin.revokeTokens();
    expect((await api(a, pa.access_token, 'GET', '/api/v4/account')).status).toBe(401);
    expect((await api(b, pb.access_token, 'GET', '/api/v4/account')).status).toBe(200);
    expect(a.admin.counters().tokenEndpoint).toEqual({ 'authorization_code:ok': 1 });
    expect(b.admin.counters().tokenEndpoint).toEqual({ 'authorization_code:ok': 1, 'refresh_token:refresh_unknown': 1 });
  });

  it('the authorize redirect names the account host as referer; integrations may be installed in one account only', async () => {
    const only = { clientId: 'beta-only', clientSecret: 'beta-secret', redirectUri: 'https://gw.example/beta/callback' };
    const { a, b } = await twoAccounts({ extraAccounts: [{ id: 5002, subdomain: 'beta', integrations: [only] }] });
    const r = await call(`${b.url}/oauth?client_id=${INTEG.clientId}&state=s1`);
    expect(r.status).toBe(302);
    expect(new URL(r.headers.get('location') ?? '').searchParams.get('referer')).toBe(b.accountHost);
    expect((await call(`${b.url}/oauth?client_id=beta-only&state=s2`)).status).toBe(302);
    expect((await call(`${a.url}/oauth?client_id=beta-only&state=s2`)).status).toBe(400);
  });

  it('limits, blocks and faults are per account (7/s per integration and 50/s per account, each account its own)', async () => {
    const { a, b } = await twoAccounts();
    const ta = (await login(a)).access_token;
    const tb = (await login(b)).access_token;
    // The same integration, the same (frozen) second: 7 on each account are admitted.
    for (let i = 0; i < 7; i++) expect((await api(a, ta, 'GET', '/api/v4/account')).status).toBe(200);
    for (let i = 0; i < 7; i++) expect((await api(b, tb, 'GET', '/api/v4/account')).status).toBe(200);
    expect((await api(a, ta, 'GET', '/api/v4/account')).status).toBe(429);
    expect((await api(b, tb, 'GET', '/api/v4/account')).status).toBe(429);
    a.admin.block('test');
    expect((await api(a, ta, 'GET', '/api/v4/account')).status).toBe(403);
    b.admin.setFaults([{ path: '/api/v4/leads', errorRate: 1, errorStatus: 503 }]);
    expect(a.admin.faults()).toEqual([]);
    expect(a.admin.counters().blocksImposed).toBe(1);
    expect(b.admin.counters().blocksImposed).toBe(0);
  });

  it('webhooks are per account: a write in one account reaches only its own subscribers, with its own account block', async () => {
    const { a, b } = await twoAccounts();
    const hookA = await receiver();
    const hookB = await receiver();
    open.push(hookA, hookB);
    a.admin.seed({ webhooks: [{ destination: hookA.url, settings: ['add_lead'] }] });
    b.admin.seed({ webhooks: [{ destination: hookB.url, settings: ['add_lead'] }] });
    const tb = (await login(b)).access_token;
    await api(b, tb, 'POST', '/api/v4/leads', [{ name: 'beta deal' }]);
    await b.admin.flushWebhooks();
    await a.admin.flushWebhooks();
    expect(hookA.got).toHaveLength(0);
    expect(hookB.got).toHaveLength(1);
    const body = new URLSearchParams(hookB.got[0]?.body ?? '');
    expect(body.get('account[id]')).toBe('5002');
    expect(body.get('account[subdomain]')).toBe('beta');
    expect(body.get('account[_links][self]')).toBe(b.url);
    expect(a.admin.webhookDeliveries()).toHaveLength(0);
  });

  it('the HTTP admin on an account host addresses that account; reset clears only it', async () => {
    const { a, b } = await twoAccounts();
    a.admin.seed({ leads: [{ name: 'alpha deal' }] });
    b.admin.seed({ leads: [{ name: 'beta deal' }] });
    const stateB = await call(`${b.url}/_sandbox/state`);
    expect(stateB.json.account).toMatchObject({ id: 5002, subdomain: 'beta' });
    expect(stateB.json.url).toBe(b.url);
    expect((await call(`${b.url}/_sandbox/reset`, { method: 'POST' })).status).toBe(200);
    expect(b.admin.entities('leads')).toHaveLength(0);
    expect(a.admin.entities('leads').map((l) => l.name)).toEqual(['alpha deal']);
  });

  it('amojo is one service: every account amojo_id may connect a channel', async () => {
    const { sb, a, b } = await twoAccounts({
      amojo: { channels: [{ id: 'ch-1', secret: 'ch-secret', webhookUrl: 'http://127.0.0.1:9/amojo/:scope_id' }] },
    });
    expect(sb.amojo.snapshot().accounts.sort()).toEqual([a.amojoId, b.amojoId].sort());
  });

  it('refuses two accounts with the same subdomain or id; close() frees every port', async () => {
    await expect(startSandbox({ account: { subdomain: 'x' }, extraAccounts: [{ subdomain: 'x' }] })).rejects.toThrow(/repeats/);
    const { sb, b } = await twoAccounts();
    await sb.close();
    await expect(fetch(`${b.url}/_sandbox/state`)).rejects.toThrow();
  });
});
