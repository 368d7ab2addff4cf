/**
 * GET /oauth/callback and GET /oauth/disconnect through functions/oauth.ts (REST v1 events, as
 * API Gateway and the local runner build them), against the sandbox and DynamoDB Local.
 * Every refusal: a clear 4xx, nothing stored, and — for anything that could leak the client
 * secret — no outbound request at all.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../functions/oauth.ts';
import { AccountDisconnectedError, disconnectSignature, type OAuth } from '../../lib/amocrm/oauth/index.ts';
import { silentLog } from '../../lib/common/log.ts';
import { parseConfig } from '../../lib/config/index.ts';
import { apiStatus, restEvent, serveHandler, startWorld, type World } from './support.ts';

let world: World | undefined;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await world?.close();
  world = undefined;
});

function handlerOf(o: OAuth) {
  return createHandler({ install: o.install, disconnect: o.disconnect, log: silentLog });
}

function body(res: APIGatewayProxyResult): { error?: string; message?: string; status?: string; account?: string } {
  return JSON.parse(res.body) as { error?: string; message?: string };
}

/** Opens the consent link like a browser and returns the redirect's query (the sandbox approves at once). */
async function consent(link: string): Promise<URLSearchParams> {
  const res = await fetch(link, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location') ?? '').searchParams;
}

function tokenCalls(w: World): number {
  return Object.values(w.tokenCounts()).reduce((a, b) => a + b, 0);
}

describe('GET /oauth/callback', () => {
  it('link → consent → callback stores the pair; the page names the account, never a token', async () => {
    world = await startWorld();
    const w = world;
    const o = w.oauth();
    const link = await o.install.authLink('clinic');
    expect(link.url).toMatch(new RegExp(`^${w.sb.url}/oauth\\?client_id=${w.clientId}&state=[A-Za-z0-9_-]{32}&mode=post_message$`));
    const q = await consent(link.url);
    expect(q.get('referer')).toBe(w.sb.accountHost);

    const res = await handlerOf(o)(restEvent('/oauth/callback', q, { headers: { Accept: 'text/html,application/xhtml+xml' } }));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toMatch(/text\/html/);
    expect(res.headers?.['cache-control']).toBe('no-store');
    expect(res.body).toContain('clinic');
    const rec = await o.lifecycle.read('clinic');
    expect(rec).toMatchObject({
      status: 'active',
      kind: 'oauth',
      installedVia: 'callback',
      host: w.sb.accountHost,
      baseUrl: w.sb.url,
      amoAccountId: 32720107,
      version: 1,
    });
    expect(res.body).not.toContain(rec?.current?.accessToken ?? '<none>');
    expect(res.body).not.toContain(rec?.current?.refreshToken ?? '<none>');
    expect(res.body).not.toContain(q.get('code') ?? '<none>');
    expect(await apiStatus(w.sb, rec?.current?.accessToken ?? '')).toBe(200);
    expect(rec?.current?.accessExpiresAt).toBe(w.clock.now() + 86_400_000);

    // The same redirect again (browser reload, or a replay): the state is spent → 400, no second exchange.
    const again = await handlerOf(o)(restEvent('/oauth/callback', q));
    expect(again.statusCode).toBe(400);
    expect(body(again).error).toBe('invalid_state');
    expect(w.tokenCounts()).toEqual({ 'authorization_code:ok': 1 });
  });

  it('a replayed code with a fresh state: amoCRM says 400, so do we; the stored pair is untouched', async () => {
    world = await startWorld();
    const w = world;
    const o = w.oauth();
    const q = await consent((await o.install.authLink('clinic')).url);
    expect((await handlerOf(o)(restEvent('/oauth/callback', q, { headers: { accept: 'application/json' } }))).statusCode).toBe(200);
    const stored = await o.lifecycle.read('clinic');

    const fresh = await o.install.authLink('clinic');
    const replay = new URLSearchParams(q);
    replay.set('state', new URL(fresh.url).searchParams.get('state') ?? '');
    const res = await handlerOf(o)(restEvent('/oauth/callback', replay));
    expect(res.statusCode).toBe(400);
    expect(body(res)).toMatchObject({ error: 'code_rejected' });
    expect(body(res).message).toMatch(/20 minutes and works once/);
    expect(w.tokenCounts()).toMatchObject({ 'authorization_code:ok': 1, 'authorization_code:code_reused': 1 });
    expect(await o.lifecycle.read('clinic')).toEqual(stored);
  });

  it.each([
    ['no code', { code: undefined }, 400, 'missing_code'],
    ['access_denied', { code: undefined, error: 'access_denied' }, 400, 'access_denied'],
    ['no state (stateless installs off)', { state: undefined }, 400, 'missing_state'],
    ['a state we never issued', { state: 'forged-state-value' }, 400, 'invalid_state'],
    ['a foreign referer', { referer: 'evil.example.com' }, 403, 'foreign_referer'],
    ['a foreign referer on another local port', { referer: '127.0.0.1:1' }, 403, 'foreign_referer'],
    ['a referer with a path', { referer: 'evil.example.com/x.amocrm.ru' }, 400, 'invalid_referer'],
    ['a referer with a scheme', { referer: 'https://clinic.amocrm.ru' }, 400, 'invalid_referer'],
    ['an allowed host that is not the account the state was issued for', { referer: 'attacker.amocrm.ru' }, 400, 'state_mismatch'],
    ['an unknown client_id', { client_id: '00000000-0000-0000-0000-000000000000' }, 400, 'unknown_client'],
  ] as const)('refuses %s with a clear 4xx, stores nothing and sends nothing', async (_name, change, status, code) => {
    world = await startWorld();
    const w = world;
    const o = w.oauth();
    const q = await consent((await o.install.authLink('clinic')).url);
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) q.delete(k);
      else q.set(k, v);
    }
    const outbound = w.fetch.calls.length;
    const res = await handlerOf(o)(restEvent('/oauth/callback', q));
    expect(res.statusCode).toBe(status);
    expect(res.headers?.['content-type']).toMatch(/application\/json/);
    expect(body(res).error).toBe(code);
    expect(body(res).message?.length).toBeGreaterThan(10);
    expect(w.fetch.calls.length).toBe(outbound); // no request left the gateway
    expect(tokenCalls(w)).toBe(0); // the sandbox saw no token request either
    expect(await o.lifecycle.read('clinic')).toBeUndefined();
  });

  it('refuses a parameter given twice with different values', async () => {
    world = await startWorld();
    const w = world;
    const o = w.oauth();
    const q = await consent((await o.install.authLink('clinic')).url);
    q.append('referer', 'evil.example.com');
    const res = await handlerOf(o)(restEvent('/oauth/callback', q));
    expect(res.statusCode).toBe(400);
    expect(body(res).error).toBe('ambiguous_parameter');
    expect(tokenCalls(w)).toBe(0);
  });

  it('a marketplace/widget install without state works only where the config allows it', async () => {
    world = await startWorld({ oauth: { allowStatelessInstall: true } });
    const w = world;
    const o = w.oauth();
    const { code } = w.sb.admin.mintCode({ clientId: w.clientId });
    const q = new URLSearchParams({ code, referer: w.sb.accountHost, client_id: w.clientId, from_widget: '1' });
    const res = await handlerOf(o)(restEvent('/oauth/callback', q, { headers: { accept: 'application/json' } }));
    expect(res.statusCode).toBe(200);
    expect(body(res)).toEqual({ status: 'connected', account: 'clinic' });
    // Still refused: a stateless install for a host that is no configured account.
    const other = new URLSearchParams({ code, referer: 'someone.amocrm.ru', client_id: w.clientId, from_widget: '1' });
    const res2 = await handlerOf(o)(restEvent('/oauth/callback', other));
    expect(res2.statusCode).toBe(403);
    expect(body(res2).error).toBe('unknown_account');
    expect(w.tokenCounts()).toEqual({ 'authorization_code:ok': 1 });
  });

  it('an expired state is refused', async () => {
    world = await startWorld();
    const w = world;
    const o = w.oauth();
    const q = await consent((await o.install.authLink('clinic')).url);
    w.clock.advance(3601_000);
    const res = await handlerOf(o)(restEvent('/oauth/callback', q));
    expect(res.statusCode).toBe(400);
    expect(body(res).error).toBe('invalid_state');
    expect(tokenCalls(w)).toBe(0);
  });

  it('kommo and amocrm consent links go to www.<domain>', async () => {
    world = await startWorld();
    const w = world;
    const config = parseConfig({
      integrations: [
        { id: 'main', clientId: w.clientId, clientSecret: { secret: 'x' }, redirectUri: 'https://gw.example.com/oauth/callback' },
      ],
      accounts: [
        { id: 'ru', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru' },
        { id: 'intl', integration: 'main', subdomain: 'clinic', domain: 'kommo.com' },
      ],
    });
    const o = w.oauth({ config });
    expect((await o.install.authLink('ru', 'popup')).url).toMatch(
      /^https:\/\/www\.amocrm\.ru\/oauth\?client_id=[^&]+&state=[^&]+&mode=popup$/,
    );
    expect((await o.install.authLink('intl')).url).toMatch(/^https:\/\/www\.kommo\.com\/oauth\?/);
  });
});

describe('GET /oauth/disconnect', () => {
  it('the sandbox uninstalls: its signed hook marks the account disconnected; tokens are dropped', async () => {
    world = await startWorld();
    const w = world;
    const o = w.oauth();
    const front = await serveHandler(handlerOf(o));
    closers.push(front.close);
    // The hook URL is known once our front listens: set it on the sandbox's integration.
    w.sb.admin.addIntegration({
      clientId: w.clientId,
      clientSecret: w.clientSecret,
      redirectUri: w.redirectUri,
      disconnectUrl: `${front.url}/oauth/disconnect`,
    });
    await w.install();
    const worker = w.oauth().provider;
    await worker.getToken('clinic');

    const out = await w.sb.admin.uninstall(w.clientId);
    expect(out.hook?.status).toBe(200);
    const rec = await o.lifecycle.read('clinic');
    expect(rec).toMatchObject({ status: 'disconnected', version: 2 });
    expect(rec?.current).toBeUndefined();
    expect(rec?.previous).toBeUndefined();
    expect(w.metrics.total('AccountDisconnected')).toBe(1);
    await expect(w.oauth().provider.getToken('clinic')).rejects.toBeInstanceOf(AccountDisconnectedError);
    // A warm container learns it on its next 401.
    const err = await worker.onUnauthorized('clinic', 'old').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccountDisconnectedError);
    expect((err as AccountDisconnectedError).toOutcome().kind).toBe('defer');
  });

  it.each([
    ['a wrong signature', (s: string) => ({ signature: s.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) }), 401, 'invalid_signature'],
    ['a signature of another length', (s: string) => ({ signature: s.slice(2) }), 401, 'invalid_signature'],
    ['no signature', () => ({ signature: undefined }), 401, 'invalid_signature'],
    ['a foreign client_uuid', () => ({ client_uuid: '11111111-2222-3333-4444-555555555555' }), 401, 'invalid_signature'],
    ['a signature for another account id', () => ({ account_id: '1' }), 401, 'invalid_signature'],
    ['a non-numeric account id', () => ({ account_id: '12a' }), 400, 'invalid_account_id'],
  ] as const)('refuses %s; nothing changes', async (_name, change, status, code) => {
    world = await startWorld();
    const w = world;
    await w.install();
    const o = w.oauth();
    const before = await o.lifecycle.read('clinic');
    const signature = disconnectSignature(w.clientId, '32720107', w.clientSecret);
    const q: Record<string, string | undefined> = { client_uuid: w.clientId, account_id: '32720107', signature, ...change(signature) };
    const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined));
    const res = await handlerOf(o)(restEvent('/oauth/disconnect', params));
    expect(res.statusCode).toBe(status);
    expect((JSON.parse(res.body) as { error: string }).error).toBe(code);
    expect(await o.lifecycle.read('clinic')).toEqual(before);
  });

  it('a valid hook for an account id we do not know changes nothing and says so', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const o = w.oauth();
    const signature = disconnectSignature(w.clientId, '999', w.clientSecret);
    const res = await handlerOf(o)(restEvent('/oauth/disconnect', { client_uuid: w.clientId, account_id: '999', signature }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'ignored' });
    expect((await o.lifecycle.read('clinic'))?.status).toBe('active');
  });

  it('wrong method and unknown path answer 405 / 404 in JSON', async () => {
    world = await startWorld();
    const h = handlerOf(world.oauth());
    expect((await h(restEvent('/oauth/callback', {}, { method: 'POST' }))).statusCode).toBe(405);
    expect((await h(restEvent('/oauth/other', {}))).statusCode).toBe(404);
  });
});
