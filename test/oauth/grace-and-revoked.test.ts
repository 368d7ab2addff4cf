/**
 * The grace rule (a crash between "amoCRM answered" and "store written" is recoverable without
 * re-authorization) and dead grants (revoked → needs-reauth, typed error, no loop).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler as createRefreshHandler } from '../../functions/token-refresh.ts';
import { AccountNeedsReauthError, TokenRefreshBusyError, TokenStoreWriteError } from '../../lib/amocrm/oauth/index.ts';
import { silentLog } from '../../lib/common/log.ts';
import type { DynamoTokenStore } from '../../lib/store/token-store.ts';
import type { TokenRecordInput } from '../../lib/amocrm/oauth/token-store.ts';
import { apiStatus, startWorld, type World } from './support.ts';

const DAY = 86_400_000;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function refreshCounts(w: World): Record<string, number> {
  return Object.fromEntries(Object.entries(w.tokenCounts()).filter(([k]) => k.startsWith('refresh_token:')));
}
function refreshTotal(w: World): number {
  return Object.values(refreshCounts(w)).reduce((a, b) => a + b, 0);
}

/** The real DynamoDB adapter, except that the first write of a refreshed pair "crashes". */
function crashingStore(inner: DynamoTokenStore, opts: { alsoLoseLease: boolean }) {
  let armed = true;
  const store = Object.create(inner) as DynamoTokenStore;
  store.put = async (rec: TokenRecordInput, expected: number | null) => {
    if (armed && rec.lastRefreshAt !== undefined) {
      armed = false;
      throw new Error('simulated crash: process died after amoCRM answered, before the store write');
    }
    return inner.put(rec, expected);
  };
  // A dead process does not give its lease back: it runs out.
  if (opts.alsoLoseLease) store.releaseLease = async () => {};
  return store;
}

describe('grace rule', () => {
  it('a failed store write after amoCRM answered: the next run refreshes with the old refresh token and recovers', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const before = await w.oauth().lifecycle.read('clinic');
    w.clock.advance(DAY + 1);

    const crashing = w.oauth({ store: crashingStore(w.newStore(), { alsoLoseLease: false }) });
    const err = await crashing.provider.getToken('clinic').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenStoreWriteError);
    expect((err as TokenStoreWriteError).toOutcome().kind).toBe('retry');
    expect(refreshCounts(w)).toEqual({ 'refresh_token:ok': 1 }); // amoCRM did answer
    const untouched = await w.oauth().lifecycle.read('clinic');
    expect(untouched?.version).toBe(before?.version); // the new pair was never stored…
    expect(untouched?.current?.refreshToken).toBe(before?.current?.refreshToken); // …so never used

    // The next try (any container) recovers under the grace rule — no re-authorization.
    const token = await w.oauth().provider.getToken('clinic');
    expect(refreshCounts(w)).toEqual({ 'refresh_token:ok': 1, 'refresh_token:ok_grace': 1 });
    expect(await apiStatus(w.sb, token.accessToken)).toBe(200);
    const after = await w.oauth().lifecycle.read('clinic');
    expect(after?.status).toBe('active');
    expect(after?.current?.accessToken).toBe(token.accessToken);
    expect(w.tokenCounts()['refresh_token:refresh_revoked']).toBeUndefined();
  });

  it('a real crash keeps the lease: others wait (bounded), and once it runs out the next run recovers', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.clock.advance(DAY + 1);
    const crashing = w.oauth({ store: crashingStore(w.newStore(), { alsoLoseLease: true }) });
    await expect(crashing.provider.getToken('clinic')).rejects.toBeInstanceOf(TokenStoreWriteError);

    // The lease is still held by the "dead" process: a worker waits, then gives up (retry, not a loop).
    const impatient = w.oauth({ timing: { waitMs: 300 } });
    const busy = await impatient.provider.getToken('clinic').catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(TokenRefreshBusyError);
    expect(refreshTotal(w)).toBe(1);

    w.clock.advance(31_000); // the lease ran out
    const summary = await createRefreshHandler({ lifecycle: w.oauth().lifecycle, log: silentLog })({});
    expect(summary.outcomes).toEqual({ refreshed: 1 });
    expect(refreshCounts(w)).toEqual({ 'refresh_token:ok': 1, 'refresh_token:ok_grace': 1 });
    const token = await impatient.provider.getToken('clinic');
    expect(await apiStatus(w.sb, token.accessToken)).toBe(200);
  });
});

describe('dead grants', () => {
  it('a revoked refresh token marks the account needs-reauth once; nobody calls the token endpoint again', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.sb.admin.revokeTokens({ clientId: w.clientId });
    w.clock.advance(DAY + 1);

    const first = w.oauth();
    const err = await first.provider.getToken('clinic').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccountNeedsReauthError);
    expect((err as AccountNeedsReauthError).toOutcome()).toMatchObject({ kind: 'defer', reason: 'account-needs-reauth' });
    expect((err as Error).message).not.toMatch(/def502|eyJ/); // no token in the message
    expect(refreshCounts(w)).toEqual({ 'refresh_token:refresh_revoked': 1 });

    // Many more callers, containers, the schedule and a 401: no more token-endpoint calls.
    const others = Array.from({ length: 5 }, () => w.oauth());
    const results = await Promise.allSettled([
      ...others.map((o) => o.provider.getToken('clinic')),
      first.provider.getToken('clinic'),
      others[0]?.provider.onUnauthorized('clinic', 'whatever') ?? Promise.resolve(),
    ]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AccountNeedsReauthError);
    }
    const sched = await createRefreshHandler({ lifecycle: w.oauth().lifecycle, log: silentLog })({});
    expect(sched.outcomes).toEqual({ 'needs-reauth': 1 });
    w.clock.advance(DAY);
    await expect(w.oauth().provider.getToken('clinic')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    expect(refreshTotal(w)).toBe(1);

    const rec = await w.oauth().lifecycle.read('clinic');
    expect(rec?.status).toBe('needs-reauth');
    expect(rec?.statusReason).toBe('refresh token revoked');
    expect(w.metrics.total('AccountNeedsReauth')).toBe(1);

    // Re-authorization brings it back.
    await w.install();
    const back = await w.oauth().provider.getToken('clinic');
    expect(await apiStatus(w.sb, back.accessToken)).toBe(200);
    expect((await w.oauth().lifecycle.read('clinic'))?.status).toBe('active');
  });

  it('after a refresh, a revoked grant tries the previous refresh token once (grace) and then stops', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.clock.advance(DAY + 1);
    await w.oauth().provider.getToken('clinic'); // refresh 1: previous pair kept, current unconfirmed
    w.sb.admin.revokeTokens({ clientId: w.clientId }); // the admin deactivated the installation
    w.clock.advance(DAY + 1);
    await expect(w.oauth().provider.getToken('clinic')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    expect(refreshCounts(w)).toEqual({ 'refresh_token:ok': 1, 'refresh_token:refresh_revoked': 2 });
    await expect(w.oauth().provider.getToken('clinic')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    expect(refreshTotal(w)).toBe(3);
  });

  it('an invalid client (wrong secret) marks needs-reauth with the reason, without looping', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.clock.advance(DAY + 1);
    const wrong = w.oauth({
      config: { ...w.config, integrations: w.config.integrations.map((i) => ({ ...i, redirectUri: 'http://127.0.0.1:9/elsewhere' })) },
    });
    await expect(wrong.provider.getToken('clinic')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    await expect(wrong.provider.getToken('clinic')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    expect(w.tokenCounts()).toMatchObject({ 'refresh_token:invalid_client': 1 });
    const rec = await w.oauth().lifecycle.read('clinic');
    expect(rec?.statusReason).toMatch(/client credentials/);
    // The operator fixes the config and retries the refresh by hand: the refresh token still works.
    const fixed = await w.oauth().lifecycle.refreshNow('clinic');
    expect(fixed.refreshed).toBe(true);
    expect(fixed.record.status).toBe('active');
  });

  it('a long-lived token is never refreshed; expired, it marks the account needs-reauth', async () => {
    world = await startWorld();
    const w = world;
    const ll = w.sb.admin.issueLongLivedToken({ clientId: w.clientId, ttlSeconds: 10 * 86_400 });
    await w.oauth().install.saveLongLived('clinic', ll.access_token);
    const rec = await w.oauth().lifecycle.read('clinic');
    expect(rec).toMatchObject({ kind: 'long-lived', status: 'active', installedVia: 'long-lived' });
    expect(rec?.current?.accessExpiresAt).toBe(ll.expires_at * 1000);
    expect(rec?.current?.refreshToken).toBeUndefined();
    const t = await w.oauth().provider.getToken('clinic');
    expect(t.kind).toBe('long-lived');
    expect(await apiStatus(w.sb, t.accessToken)).toBe(200);

    const refresher = createRefreshHandler({ lifecycle: w.oauth().lifecycle, log: silentLog });
    w.clock.advance(6 * DAY); // past "half-life", within the warning window
    expect((await refresher({})).outcomes).toEqual({ 'long-lived': 1 });
    expect(w.metrics.total('LongLivedTokenExpiringSoon')).toBe(1);
    w.clock.advance(5 * DAY); // expired
    expect((await refresher({})).outcomes).toEqual({ 'needs-reauth': 1 });
    await expect(w.oauth().provider.getToken('clinic')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    expect(refreshTotal(w)).toBe(0);
  });
});
