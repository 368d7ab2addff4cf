import { afterEach, describe, expect, it } from 'vitest';
import { demoSeed } from '../../infra/local/sandbox/demo.ts';
import { startSandbox } from '../../infra/local/sandbox/index.ts';
import { call, INTEG, world, type World } from './support.ts';

let w: World;
afterEach(async () => {
  await w?.sb.close();
});

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('admin API over HTTP', () => {
  it('seed, codes, counters, state, reset', async () => {
    w = await world();
    const seeded = await call(`${w.sb.url}/_sandbox/seed`, json({ leads: [{ name: 'via http' }] }));
    expect(seeded.status).toBe(200);
    expect(seeded.json.leads).toHaveLength(1);
    const code = await call(`${w.sb.url}/_sandbox/codes`, json({ client_id: INTEG.clientId }));
    expect(code.json.referer).toBe(w.sb.accountHost);
    const tok = await w.token({
      client_id: INTEG.clientId,
      client_secret: INTEG.clientSecret,
      grant_type: 'authorization_code',
      code: code.json.code,
      redirect_uri: INTEG.redirectUri,
    });
    expect(tok.status).toBe(200);
    await w.api('GET', '/api/v4/leads', tok.json.access_token);
    await w.api('GET', `/api/v4/leads/${seeded.json.leads[0]}`, tok.json.access_token);
    const counters = (await call(`${w.sb.url}/_sandbox/counters`)).json;
    expect(counters.requests).toEqual(
      expect.arrayContaining([
        { method: 'GET', route: '/api/v4/leads', status: 200, count: 1 },
        { method: 'GET', route: '/api/v4/leads/{id}', status: 200, count: 1 },
        { method: 'POST', route: '/oauth2/access_token', status: 200, count: 1 },
      ]),
    );
    expect(counters.tokenEndpoint).toEqual({ 'authorization_code:ok': 1 });
    const tokens = (await call(`${w.sb.url}/_sandbox/tokens`)).json;
    expect(JSON.stringify(tokens)).not.toContain(tok.json.access_token); // fingerprints only
    expect((await call(`${w.sb.url}/_sandbox/state`)).json.counts.leads).toBe(1);
    await call(`${w.sb.url}/_sandbox/reset`, json({}));
    expect((await call(`${w.sb.url}/_sandbox/state`)).json.counts.leads).toBe(0);
    expect((await w.api('GET', '/api/v4/leads', tok.json.access_token)).status).toBe(401);
    expect((await call(`${w.sb.url}/_sandbox/nope`)).status).toBe(404);
  });

  it('seed errors are reported with the validation details', async () => {
    w = await world();
    const r = await call(`${w.sb.url}/_sandbox/seed`, json({ leads: [{ name: 'x', price: 'free' }] }));
    expect(r.status).toBe(400);
    expect(r.json.details[0].errors[0].path).toBe('price');
  });

  it('the demo seed of `npm run sandbox` is valid', async () => {
    const sb = await startSandbox();
    try {
      const r = sb.admin.seed(demoSeed());
      expect(r.leads).toEqual([8001, 8002, 8003]);
      expect(sb.admin.lead(8001)).toMatchObject({ status_id: 50011, _embedded: { contacts: [{ id: 9001 }] } });
    } finally {
      await sb.close();
    }
  });
});

describe('fault injection', () => {
  it('5xx rate per route pattern, with a time budget; other routes untouched', async () => {
    w = await world();
    const { access_token: t } = await w.login();
    w.sb.admin.setFaults([{ path: '/api/v4/leads*', errorRate: 1, times: 2 }]);
    const r = await w.api('GET', '/api/v4/leads', t);
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ title: 'ErrInternalServer', status: 500, trace_id: expect.any(String) });
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(200);
    expect((await w.api('GET', '/api/v4/leads/1', t)).status).toBe(500);
    expect((await w.api('GET', '/api/v4/leads', t)).status).toBe(204); // the rule is spent
    w.sb.admin.setFaults([{ path: '/oauth2/access_token', errorRate: 1, errorStatus: 503 }]);
    const tok = await w.token({ grant_type: 'refresh_token' });
    expect(tok.status).toBe(503);
    expect(tok.headers.get('content-type')).toContain('text/html');
  });

  it('a 429 burst: the limiter answer, each one a violation towards the block; then the rule retires', async () => {
    w = await world({ limits: { violationsBeforeBlock: 3, retryAfterSeconds: 2 } });
    const { access_token: t } = await w.login();
    w.sb.admin.setFaults([{ path: '/api/v4/*', errorRate: 1, errorStatus: 429, times: 2 }]);
    const r = await w.api('GET', '/api/v4/leads', t);
    expect(r.status).toBe(429);
    expect(r.json).toMatchObject({ title: 'Too Many Requests', status: 429, retry_after: 2 });
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(429);
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(200); // the burst is spent
    expect(w.sb.admin.limits()).toMatchObject({ refused: 2, recentViolations: 2, block: null });
    // A third refusal within the window blocks the account, as the limiter's own would.
    w.sb.admin.setFaults([{ path: '/api/v4/*', errorRate: 1, errorStatus: 429, times: 1 }]);
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(429);
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(403);
  });

  it('timeouts hold the request; dropped connections fail the fetch; latency delays', async () => {
    w = await world();
    const { access_token: t } = await w.login();
    w.sb.admin.setFaults([{ path: '/api/v4/account', timeoutRate: 1 }]);
    await expect(
      fetch(`${w.sb.url}/api/v4/account`, { headers: { authorization: `Bearer ${t}` }, signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    w.sb.admin.setFaults([{ path: '/api/v4/account', dropRate: 1 }]);
    await expect(fetch(`${w.sb.url}/api/v4/account`, { headers: { authorization: `Bearer ${t}` } })).rejects.toThrow(/fetch failed/);
    w.sb.admin.setFaults([{ path: '/api/v4/account', latencyMs: 150 }]);
    const started = performance.now();
    expect((await w.api('GET', '/api/v4/account', t)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    const c = w.sb.admin.counters().requests;
    expect(c).toEqual(
      expect.arrayContaining([
        { method: 'GET', route: '/api/v4/account', status: 'timeout', count: 1 },
        { method: 'GET', route: '/api/v4/account', status: 'dropped', count: 1 },
      ]),
    );
  });

  it('the same seed gives the same fault sequence', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const x = await world({ seed });
      try {
        const { access_token: t } = await x.login();
        x.sb.admin.setFaults([{ path: '/api/v4/*', errorRate: 0.5 }]);
        const out: number[] = [];
        for (let i = 0; i < 16; i++) {
          out.push((await x.api('GET', '/api/v4/account', t)).status);
          x.clock.advance(1000);
        }
        return out;
      } finally {
        await x.sb.close();
      }
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(a).toContain(500);
    expect(a).toContain(200);
    expect(await run(8)).not.toEqual(a);
  });
});

describe('amojo is mounted beside the REST API', () => {
  it('its routes are neither OAuth-checked nor blocked; its admin answers', async () => {
    w = await world();
    w.sb.admin.block();
    const r = await call(`${w.sb.url}/v2/origin/custom/unknown-channel/connect`, json({ account_id: 'x' }));
    // amojo's own answer (its signature check), not the REST 401 problem nor the nginx block page
    expect(r.status).not.toBe(401);
    expect(r.text).not.toContain('nginx');
    expect(r.text).not.toContain('Invalid user name or password');
    expect(w.sb.admin.counters().blockedResponses).toBe(0);
    const admin = await call(`${w.sb.url}/_sandbox/amojo/state`);
    expect(admin.status).toBe(200);
  });
});
