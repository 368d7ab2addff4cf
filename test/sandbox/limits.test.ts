import { afterEach, describe, expect, it } from 'vitest';
import { call, INTEG, world, type World } from './support.ts';

let w: World;
afterEach(async () => {
  await w?.sb.close();
});

const TOO_MANY = {
  title: 'Too Many Requests',
  type: 'https://httpstatus.es/429',
  status: 429,
  detail: 'You have sent too many requests in a given amount of time. Please try again later.',
  retry_after: 300,
};

describe('7 requests per sliding second per integration (amocrm-protocol#rate-limits)', () => {
  it('the 8th request inside any 1-second window gets the documented 429', async () => {
    w = await world();
    const { access_token: t } = await w.login();
    for (let i = 0; i < 7; i++) {
      expect((await w.api('GET', '/api/v4/account', t)).status).toBe(200);
      w.clock.advance(100); // t = 0,100,…,600
    }
    w.clock.advance(299); // 999 ms after the first request
    const r = await w.api('GET', '/api/v4/account', t);
    expect(r.status).toBe(429);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.json).toEqual(TOO_MANY);
    w.clock.advance(1); // the first request leaves the window
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(200);
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(429);
    expect(w.sb.admin.counters().rateLimited).toBe(2);
  });

  it('no burst across a second boundary: 7 at t=999 leave no room at t=1000', async () => {
    w = await world();
    const { access_token: t } = await w.login();
    w.clock.advance(999);
    for (let i = 0; i < 7; i++) expect((await w.api('GET', '/api/v4/account', t)).status).toBe(200);
    w.clock.advance(1);
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(429);
  });

  it('the per-account limit spans integrations (50 by default; a knob here)', async () => {
    const other = { clientId: 'other', clientSecret: 'os', redirectUri: 'https://o.example/cb' };
    w = await world({ integrations: [INTEG, other], limits: { perAccountPerSecond: 10 } });
    const a = (await w.login()).access_token;
    const b = (await w.login('other')).access_token;
    for (let i = 0; i < 7; i++) expect((await w.api('GET', '/api/v4/account', a)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await w.api('GET', '/api/v4/account', b)).status).toBe(200);
    expect((await w.api('GET', '/api/v4/account', b)).status).toBe(429);
  });

  it('the 429 can be the HTML users report (knob) and retry_after is a knob', async () => {
    w = await world({ limits: { format429: 'html', perIntegrationPerSecond: 1 } });
    const { access_token: t } = await w.login();
    await w.api('GET', '/api/v4/account', t);
    const r = await w.api('GET', '/api/v4/account', t);
    expect(r.status).toBe(429);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.headers.get('retry-after')).toBeNull();
  });
});

describe('repeated violations block the account with 403 (amocrm-protocol#blocking)', () => {
  it('blocks every request, the token endpoint included, until the admin lifts it', async () => {
    w = await world({ limits: { violationsBeforeBlock: 3 } });
    const p = await w.login();
    for (let i = 0; i < 7; i++) await w.api('GET', '/api/v4/account', p.access_token);
    for (let i = 0; i < 2; i++) expect((await w.api('GET', '/api/v4/account', p.access_token)).status).toBe(429);
    expect((await w.api('GET', '/api/v4/account', p.access_token)).status).toBe(429); // the 3rd violation blocks
    w.clock.advance(5_000);
    const blocked = await w.api('GET', '/api/v4/leads', p.access_token);
    expect(blocked.status).toBe(403);
    expect(blocked.headers.get('content-type')).toContain('text/html');
    expect(blocked.text).toContain('<center>nginx</center>');
    const tok = await w.token({
      client_id: INTEG.clientId,
      client_secret: INTEG.clientSecret,
      grant_type: 'refresh_token',
      refresh_token: p.refresh_token,
      redirect_uri: INTEG.redirectUri,
    });
    expect(tok.status).toBe(403);
    expect((await call(`${w.sb.url}/oauth?client_id=${INTEG.clientId}`)).status).toBe(403);
    expect((await call(`${w.sb.url}/api/v4/leads`)).status).toBe(403); // even without a token
    const c = w.sb.admin.counters();
    expect(c.blocksImposed).toBe(1);
    expect(c.blockedResponses).toBe(4);
    expect(c.tokenEndpoint['refresh_token:blocked']).toBe(1);
    expect(w.sb.admin.liftBlock()).toBe(true);
    expect((await w.api('GET', '/api/v4/account', p.access_token)).status).toBe(200);
  });

  it('violations spread over more than the window do not block', async () => {
    w = await world({ limits: { violationsBeforeBlock: 3, violationWindowSeconds: 10, perIntegrationPerSecond: 1 } });
    const { access_token: t } = await w.login();
    for (let i = 0; i < 6; i++) {
      await w.api('GET', '/api/v4/account', t);
      expect((await w.api('GET', '/api/v4/account', t)).status).toBe(429);
      w.clock.advance(6_000);
    }
    expect(w.sb.admin.counters().blocksImposed).toBe(0);
  });

  it('admin can block and lift over HTTP', async () => {
    w = await world();
    const { access_token: t } = await w.login();
    expect((await call(`${w.sb.url}/_sandbox/block`, { method: 'POST', body: '{"reason":"test"}' })).status).toBe(200);
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(403);
    const lifted = await call(`${w.sb.url}/_sandbox/block`, { method: 'DELETE' });
    expect(lifted.json).toEqual({ lifted: true });
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(200);
  });
});

describe('entity count limits (amocrm-protocol#entity-limits)', () => {
  const LIMIT_250 = { title: 'Unprocessable Entity', type: 'https://httpstatus.es/422', status: 422, detail: 'Limit 250 per page' };

  it('more than 250 entities in a write → 422 "Limit 250 per page"; 250 pass', async () => {
    w = await world();
    const { access_token: t } = await w.login();
    const many = Array.from({ length: 251 }, (_, i) => ({ name: `L${i}` }));
    const r = await w.api('POST', '/api/v4/leads', t, many);
    expect(r.status).toBe(422);
    expect(r.json).toEqual(LIMIT_250);
    expect(w.sb.admin.state().counts).toMatchObject({ leads: 0 });
    w.clock.advance(1000);
    expect((await w.api('POST', '/api/v4/leads', t, many.slice(0, 250))).status).toBe(200);
  });

  it('limit > 250 on a list → 422; complex add over 50 → 422', async () => {
    w = await world();
    const { access_token: t } = await w.login();
    const r = await w.api('GET', '/api/v4/leads?limit=251', t);
    expect(r.status).toBe(422);
    expect(r.json).toEqual(LIMIT_250);
    const c = await w.api(
      'POST',
      '/api/v4/leads/complex',
      t,
      Array.from({ length: 51 }, () => ({ name: 'x' })),
    );
    expect(c.status).toBe(422);
    expect(c.json.detail).toBe('Limit 50 per page');
  });
});
