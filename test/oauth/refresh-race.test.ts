/**
 * One refresher, never two: fifty separate "containers" (own TokenProvider, own DynamoDB client)
 * meet the expired token at the same moment; the sandbox must see exactly one refresh and no
 * revoked-token error, and everyone must end up with the new token. Same with the schedule
 * firing twice at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler as createRefreshHandler } from '../../functions/token-refresh.ts';
import type { TokenSource } from '../../lib/amocrm/client/types.ts';
import { TokenRejectedError } from '../../lib/amocrm/oauth/index.ts';
import { silentLog } from '../../lib/common/log.ts';
import { apiStatus, startWorld, type World } from './support.ts';

const DAY = 86_400_000;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function refreshCalls(w: World): { ok: number; grace: number; revoked: number; total: number } {
  const c = w.tokenCounts();
  const total = Object.entries(c)
    .filter(([k]) => k.startsWith('refresh_token:'))
    .reduce((n, [, v]) => n + v, 0);
  return {
    ok: c['refresh_token:ok'] ?? 0,
    grace: c['refresh_token:ok_grace'] ?? 0,
    revoked: c['refresh_token:refresh_revoked'] ?? 0,
    total,
  };
}

describe('token refresh races', () => {
  it('50 containers meeting an expired token make exactly one refresh, and all get the new token', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const containers = Array.from({ length: 50 }, () => w.oauth());
    // Warm every container with the current token first (as running Lambdas would be).
    const before = await Promise.all(containers.map((c) => c.provider.getToken('clinic')));
    const old = before[0]?.accessToken;
    expect(new Set(before.map((t) => t.accessToken)).size).toBe(1);
    expect(refreshCalls(w).total).toBe(0);

    w.clock.advance(DAY + 1000); // the access token has expired everywhere
    const after = await Promise.all(containers.map((c) => c.provider.getToken('clinic')));

    expect(refreshCalls(w)).toEqual({ ok: 1, grace: 0, revoked: 0, total: 1 });
    const tokens = new Set(after.map((t) => t.accessToken));
    expect(tokens.size).toBe(1);
    const fresh = [...tokens][0] as string;
    expect(fresh).not.toBe(old);
    const stored = await containers[0]?.lifecycle.read('clinic');
    expect(stored?.current?.accessToken).toBe(fresh);
    expect(stored?.previous?.accessToken).toBe(old); // kept until the new pair is confirmed used
    expect(stored?.version).toBe(2);
    expect(await apiStatus(w.sb, fresh)).toBe(200);
    expect(w.metrics.total('TokenRefreshed')).toBe(1);
  });

  it('the schedule firing twice at the same moment refreshes once; the next run finds nothing to do', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const a = createRefreshHandler({ lifecycle: w.oauth().lifecycle, log: silentLog });
    const b = createRefreshHandler({ lifecycle: w.oauth().lifecycle, log: silentLog });

    const early = await a({});
    expect(early.outcomes).toEqual({ fresh: 1 });
    expect(refreshCalls(w).total).toBe(0);

    w.clock.advance(DAY / 2 + 1000); // past half-life, not expired
    const [ra, rb] = await Promise.all([a({}), b({})]);
    expect(refreshCalls(w)).toEqual({ ok: 1, grace: 0, revoked: 0, total: 1 });
    expect(ra.refreshed + rb.refreshed).toBe(1);
    expect([ra.outcomes, rb.outcomes]).toContainEqual({ fresh: 1 });

    const again = await a({});
    expect(again.outcomes).toEqual({ fresh: 1 });
    expect(refreshCalls(w).total).toBe(1);
    const rec = await w.oauth().lifecycle.read('clinic');
    expect(rec?.lastRefreshAt).toBe(w.clock.now());
    expect(await apiStatus(w.sb, rec?.current?.accessToken ?? '')).toBe(200);
  });

  it('workers and the schedule together still make one refresh', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.clock.advance(DAY + 1);
    const handlers = [0, 1].map(() => createRefreshHandler({ lifecycle: w.oauth().lifecycle, log: silentLog }));
    const workers = Array.from({ length: 10 }, () => w.oauth().provider);
    await Promise.all([...handlers.map((h) => h({})), ...workers.map((p) => p.getToken('clinic'))]);
    expect(refreshCalls(w)).toEqual({ ok: 1, grace: 0, revoked: 0, total: 1 });
  });

  it('a warm container reads the store at most once per half-life', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    let reads = 0;
    const store = w.newStore();
    const counting = Object.assign(Object.create(Object.getPrototypeOf(store) as object) as typeof store, store, {
      get: async (...args: Parameters<typeof store.get>) => {
        reads++;
        return store.get(...args);
      },
    });
    const { provider } = w.oauth({ store: counting });
    await provider.getToken('clinic');
    expect(reads).toBe(1);
    for (let i = 0; i < 20; i++) {
      w.clock.advance(30 * 60_000); // ten hours in all
      await provider.getToken('clinic');
    }
    expect(reads).toBe(1);
    w.clock.advance(3 * 3600_000); // past half-life: read again (nothing expired, so no refresh)
    await provider.getToken('clinic');
    expect(reads).toBe(2);
    expect(refreshCalls(w).total).toBe(0);
  });

  it('after a 401 with a stale token, the container re-reads and takes the new one without refreshing again', async () => {
    world = await startWorld({ oldAccessTokenDiesOnRefresh: true });
    const w = world;
    await w.install();
    const worker = w.oauth().provider;
    w.clock.advance(DAY / 2 + 1);
    const t0 = await worker.getToken('clinic'); // past half-life, not expired: no refresh by a worker
    expect(refreshCalls(w).total).toBe(0);
    await w.oauth().lifecycle.refreshDue(); // the schedule refreshes; t0 dies in the sandbox
    expect(await apiStatus(w.sb, t0.accessToken)).toBe(401);
    expect((await worker.getToken('clinic')).accessToken).toBe(t0.accessToken); // still cached: no read
    await worker.onUnauthorized('clinic', t0.accessToken);
    const t1 = await worker.getToken('clinic');
    expect(t1.accessToken).not.toBe(t0.accessToken);
    expect(await apiStatus(w.sb, t1.accessToken)).toBe(200);
    expect(refreshCalls(w)).toEqual({ ok: 1, grace: 0, revoked: 0, total: 1 });
  });

  it('a 401 on the current token refreshes once; a 401 on a token refreshed moments ago does not loop', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const worker = w.oauth().provider;
    const t0 = await worker.getToken('clinic');
    w.clock.advance(5 * 60_000);
    await worker.onUnauthorized('clinic', t0.accessToken);
    const t1 = await worker.getToken('clinic');
    expect(t1.accessToken).not.toBe(t0.accessToken);
    expect(refreshCalls(w).total).toBe(1);
    await expect(worker.onUnauthorized('clinic', t1.accessToken)).rejects.toBeInstanceOf(TokenRejectedError);
    expect(refreshCalls(w).total).toBe(1);
    // Later it may refresh again (the guard is a rate, not a ban).
    w.clock.advance(2 * 60_000);
    await worker.onUnauthorized('clinic', t1.accessToken);
    const t2 = await worker.getToken('clinic');
    expect(t2.accessToken).not.toBe(t1.accessToken);
    expect(refreshCalls(w)).toMatchObject({ ok: 2, revoked: 0, total: 2 });
  });

  it('confirmUsed closes the grace window: the previous pair is dropped once the new one works', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.clock.advance(DAY + 1);
    const { provider, lifecycle } = w.oauth();
    const t1 = await provider.getToken('clinic');
    expect((await lifecycle.read('clinic'))?.previous).toBeDefined();
    expect(await apiStatus(w.sb, t1.accessToken)).toBe(200);
    await provider.confirmUsed('clinic', t1.accessToken);
    const rec = await lifecycle.read('clinic');
    expect(rec?.previous).toBeUndefined();
    expect(rec?.confirmedAt).toBe(w.clock.now());
    expect(rec?.current?.accessToken).toBe(t1.accessToken);
  });
});

describe("TokenProvider as the REST client's TokenSource", () => {
  it('fits the port and takes {clientId, accountKey}; a wrong client id is refused', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const { provider } = w.oauth();
    const source: TokenSource = provider; // compile-time: the provider implements the client's port
    const tok = await source.getToken({ clientId: w.clientId, accountKey: 'clinic' });
    expect(tok.baseUrl).toBe(w.sb.url);
    expect(await apiStatus(w.sb, tok.accessToken)).toBe(200);
    await expect(source.getToken({ clientId: 'someone-else', accountKey: 'clinic' })).rejects.toThrow(/belongs to integration "main"/);
  });
});
