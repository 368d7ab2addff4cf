import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { call, INTEG, receiver, world, type World } from './support.ts';

let w: World;
afterEach(async () => {
  await w?.sb.close();
});

const REVOKED = {
  hint: 'Token has been revoked',
  title: 'Некорректный запрос',
  type: 'https://developers.amocrm.ru/v3/errors/OAuthProblemJson',
  status: 401,
  detail: 'В запросе отсутствует ряд параметров или параметры невалидны',
};
const BAD_CLIENT = {
  title: 'Некорректный клиент',
  type: 'https://developers.amocrm.ru/v3/errors/OAuthProblemJson',
  status: 401,
  detail: 'Авторизация клиента не прошла',
};

function refreshBody(rt: string) {
  return {
    client_id: INTEG.clientId,
    client_secret: INTEG.clientSecret,
    grant_type: 'refresh_token',
    refresh_token: rt,
    redirect_uri: INTEG.redirectUri,
  };
}

describe('authorize page (amocrm-protocol#redirect-parameters)', () => {
  it('approves at once and redirects with code, state, referer and client_id', async () => {
    w = await world();
    const r = await call(`${w.sb.url}/oauth?client_id=${INTEG.clientId}&state=s-123&mode=post_message`);
    expect(r.status).toBe(302);
    const loc = new URL(r.headers.get('location') ?? '');
    expect(`${loc.origin}${loc.pathname}`).toBe(INTEG.redirectUri);
    expect(loc.searchParams.get('state')).toBe('s-123');
    expect(loc.searchParams.get('referer')).toBe(w.sb.accountHost);
    expect(loc.searchParams.get('client_id')).toBe(INTEG.clientId);
    const code = loc.searchParams.get('code');
    expect(code).toMatch(/^def502/);
    const t = await w.token({
      client_id: INTEG.clientId,
      client_secret: INTEG.clientSecret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: INTEG.redirectUri,
    });
    expect(t.status).toBe(200);
  });

  it('on refusal redirects with error=access_denied; unknown client gets an error page', async () => {
    w = await world();
    w.sb.admin.setAuthorizeDecision('deny');
    const r = await call(`${w.sb.url}/oauth?client_id=${INTEG.clientId}&state=s1`);
    const loc = new URL(r.headers.get('location') ?? '');
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('code')).toBeNull();
    expect((await call(`${w.sb.url}/oauth?client_id=nope`)).status).toBe(400);
  });
});

describe('token endpoint: authorization_code', () => {
  it('answers the documented fields, JSON or form body', async () => {
    w = await world({ accessTokenTtlSeconds: 3600 });
    for (const form of [false, true]) {
      const { code } = w.sb.admin.mintCode({ clientId: INTEG.clientId });
      const r = await w.token(
        {
          client_id: INTEG.clientId,
          client_secret: INTEG.clientSecret,
          grant_type: 'authorization_code',
          code,
          redirect_uri: INTEG.redirectUri,
        },
        form,
      );
      expect(r.status).toBe(200);
      expect(Object.keys(r.json)).toEqual(['token_type', 'expires_in', 'access_token', 'refresh_token', 'server_time']);
      expect(r.json.token_type).toBe('Bearer');
      expect(r.json.expires_in).toBe(3600);
      expect(r.json.server_time).toBe(Math.floor(w.clock.now() / 1000));
      expect(r.json.access_token.split('.')).toHaveLength(3); // JWT-looking
      const claims = JSON.parse(Buffer.from(r.json.access_token.split('.')[1], 'base64url').toString());
      expect(claims.aud).toBe(INTEG.clientId);
      expect(claims.account_id).toBe(w.sb.admin.state().account && (w.sb.admin.state().account as { id: number }).id);
    }
  });

  it('wrong secret, wrong redirect_uri, unknown client → 401 "Некорректный клиент"', async () => {
    w = await world();
    const { code } = w.sb.admin.mintCode({ clientId: INTEG.clientId });
    const base = {
      client_id: INTEG.clientId,
      client_secret: INTEG.clientSecret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: INTEG.redirectUri,
    };
    for (const bad of [{ client_secret: 'x' }, { redirect_uri: 'https://other.example/cb' }, { client_id: 'ghost' }]) {
      const r = await w.token({ ...base, ...bad });
      expect(r.status).toBe(401);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.json).toEqual(BAD_CLIENT);
    }
    // the code was not spent by the failed attempts
    expect((await w.token(base)).status).toBe(200);
  });

  it('a code is single use and lives 20 minutes (→ 400)', async () => {
    w = await world();
    const body = (code: string) => ({
      client_id: INTEG.clientId,
      client_secret: INTEG.clientSecret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: INTEG.redirectUri,
    });
    const a = w.sb.admin.mintCode({ clientId: INTEG.clientId }).code;
    expect((await w.token(body(a))).status).toBe(200);
    const again = await w.token(body(a));
    expect(again.status).toBe(400);
    expect(again.json.hint).toBe('Authorization code has been revoked');
    const b = w.sb.admin.mintCode({ clientId: INTEG.clientId }).code;
    const c = w.sb.admin.mintCode({ clientId: INTEG.clientId }).code;
    w.clock.advance(20 * 60 * 1000 - 1);
    expect((await w.token(body(b))).status).toBe(200);
    w.clock.advance(1);
    const late = await w.token(body(c));
    expect(late.status).toBe(400);
    expect(late.json.hint).toBe('Authorization code has expired');
    expect(w.sb.admin.counters().tokenEndpoint).toMatchObject({
      'authorization_code:ok': 2,
      'authorization_code:code_reused': 1,
      'authorization_code:code_expired': 1,
    });
  });
});

describe('refresh rotation and the grace rule (amocrm-protocol#rotation-and-the-grace-rule)', () => {
  it('the old refresh token works until the new pair is used by an API call, then 401 revoked', async () => {
    w = await world();
    const p1 = await w.login();
    const r2 = await w.token(refreshBody(p1.refresh_token));
    expect(r2.status).toBe(200);
    expect(r2.json.refresh_token).not.toBe(p1.refresh_token);
    // grace: the response was "lost", the old refresh token still works
    const r3 = await w.token(refreshBody(p1.refresh_token));
    expect(r3.status).toBe(200);
    // the newest pair is used → the old refresh token is revoked, and the sibling pair too
    expect((await w.api('GET', '/api/v4/account', r3.json.access_token)).status).toBe(200);
    const reuse = await w.token(refreshBody(p1.refresh_token));
    expect(reuse.status).toBe(401);
    expect(reuse.json).toEqual(REVOKED);
    expect((await w.api('GET', '/api/v4/account', r2.json.access_token)).status).toBe(401);
    expect((await w.token(refreshBody(r2.json.refresh_token))).json).toEqual(REVOKED);
    expect(w.sb.admin.counters().tokenEndpoint).toEqual({
      'authorization_code:ok': 1,
      'refresh_token:ok': 1,
      'refresh_token:ok_grace': 1,
      'refresh_token:refresh_revoked': 2,
    });
    expect(w.sb.admin.tokenEndpointCount({ grant: 'refresh_token', outcome: ['ok', 'ok_grace'] })).toBe(2);
    expect(w.sb.admin.tokenEndpointCount({ grant: 'refresh_token' })).toBe(4);
  });

  it('refreshing with the new refresh token also ends the grace of the old one', async () => {
    w = await world();
    const p1 = await w.login();
    const p2 = (await w.token(refreshBody(p1.refresh_token))).json;
    expect((await w.token(refreshBody(p2.refresh_token))).status).toBe(200);
    expect((await w.token(refreshBody(p1.refresh_token))).json).toEqual(REVOKED);
  });

  it('the old access token lives to its expiry by default; the knob kills it on refresh', async () => {
    w = await world();
    const p1 = await w.login();
    await w.token(refreshBody(p1.refresh_token));
    expect((await w.api('GET', '/api/v4/account', p1.access_token)).status).toBe(200);
    await w.sb.close();
    w = await world({ oldAccessTokenDiesOnRefresh: true });
    const q1 = await w.login();
    await w.token(refreshBody(q1.refresh_token));
    expect((await w.api('GET', '/api/v4/account', q1.access_token)).status).toBe(401);
  });

  it('refresh tokens expire (knob), and a refresh token of another client is refused', async () => {
    const other = { clientId: 'other', clientSecret: 'other-secret', redirectUri: 'https://o.example/cb' };
    w = await world({ refreshTokenTtlSeconds: 60, integrations: [INTEG, other] });
    const p = await w.login();
    const o = await w.login('other');
    const wrong = await w.token({ ...refreshBody(o.refresh_token) });
    expect(wrong.status).toBe(401);
    expect(wrong.json.hint).toBe('Token is not linked to client');
    w.clock.advance(60_000);
    const late = await w.token(refreshBody(p.refresh_token));
    expect(late.status).toBe(401);
    expect(late.json.hint).toBe('Token has expired');
  });
});

describe('Bearer auth on REST', () => {
  it('missing, unknown and expired tokens → 401 problem+json', async () => {
    w = await world({ accessTokenTtlSeconds: 5 });
    const p = await w.login();
    const expected = { title: 'Unauthorized', type: 'https://httpstatus.es/401', status: 401, detail: 'Invalid user name or password' };
    const none = await call(`${w.sb.url}/api/v4/leads`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    expect(none.json).toEqual(expected);
    expect((await w.api('GET', '/api/v4/leads', 'garbage')).json).toEqual(expected);
    w.clock.advance(4_999);
    expect((await w.api('GET', '/api/v4/account', p.access_token)).status).toBe(200);
    w.clock.advance(1);
    expect((await w.api('GET', '/api/v4/account', p.access_token)).status).toBe(401);
  });

  it('long-lived tokens work without refresh and expire', async () => {
    w = await world();
    const t = w.sb.admin.issueLongLivedToken({ ttlSeconds: 10 });
    expect(t.client_id).toBe(INTEG.clientId);
    expect((await w.api('GET', '/api/v4/account', t.access_token)).status).toBe(200);
    expect(w.sb.admin.tokens().find((x) => x.how === 'long_lived')?.refresh).toBeNull();
    w.clock.advance(10_000);
    expect((await w.api('GET', '/api/v4/account', t.access_token)).status).toBe(401);
  });
});

describe('uninstall and the disconnect hook (amocrm-protocol#disconnect-hook)', () => {
  it('revokes tokens and sends GET with client_uuid, account_id and the HMAC-SHA256 signature', async () => {
    const hook = await receiver();
    try {
      w = await world({ integrations: [{ ...INTEG, disconnectUrl: `${hook.url}/oauth/disconnect?x=1` }], account: { id: 32720107 } });
      const p = await w.login();
      const out = await w.sb.admin.uninstall(INTEG.clientId);
      expect(out.hook?.status).toBe(200);
      expect(hook.got).toHaveLength(1);
      const got = hook.got[0]!;
      expect(got.method).toBe('GET');
      expect(got.headers['user-agent']).toBe('amoService-oAuth-Code-Sender/1.0');
      const q = new URL(got.url, hook.url).searchParams;
      expect(q.get('x')).toBe('1');
      expect(q.get('client_uuid')).toBe(INTEG.clientId);
      expect(q.get('account_id')).toBe('32720107');
      expect(q.get('signature')).toBe(createHmac('sha256', INTEG.clientSecret).update(`${INTEG.clientId}|32720107`).digest('hex'));
      expect((await w.api('GET', '/api/v4/account', p.access_token)).status).toBe(401);
      expect((await w.token(refreshBody(p.refresh_token))).json).toEqual(REVOKED);
    } finally {
      await hook.close();
    }
  });
});
