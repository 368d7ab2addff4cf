/**
 * The gateway when amoCRM has NO refresh-token grace (the RU docs: "Refresh token можно обменять
 * только один раз"; the sandbox's `refreshGrace: false`). A crash between amoCRM's answer and the
 * token-store write then loses the only working refresh token: the account must end in needs-reauth
 * with its metric (the `AccountNeedsReauth` alarm) once, without a refresh loop, with its work
 * deferred (not dropped), while other accounts keep working. Compare grace-and-revoked.test.ts,
 * where the same crash is recovered under the grace rule.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler as createRefreshHandler } from '../../functions/token-refresh.ts';
import { AccountNeedsReauthError, TokenStoreWriteError, type TokenRecordInput } from '../../lib/amocrm/oauth/index.ts';
import { parseConfig } from '../../lib/config/index.ts';
import { outcomeFromError } from '../../lib/pipeline/outcome.ts';
import { silentLog } from '../../lib/common/log.ts';
import type { DynamoTokenStore } from '../../lib/store/token-store.ts';
import { apiStatus, CLIENT_SECRET_NAME, startWorld, type World } from './support.ts';

const DAY = 86_400_000;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function refreshCounts(w: World): Record<string, number> {
  return Object.fromEntries(Object.entries(w.tokenCounts()).filter(([k]) => k.startsWith('refresh_token:')));
}

/** The real DynamoDB adapter, except that the first write of a refreshed pair of `account` "crashes". */
function crashingStore(inner: DynamoTokenStore, account: string) {
  let armed = true;
  const store = Object.create(inner) as DynamoTokenStore;
  store.put = async (rec: TokenRecordInput, expected: number | null) => {
    if (armed && rec.lastRefreshAt !== undefined && rec.accountKey === account) {
      armed = false;
      throw new Error('simulated crash: process died after amoCRM answered, before the store write');
    }
    return inner.put(rec, expected);
  };
  return store;
}

describe('refresh grace off', () => {
  it('a crash after amoCRM answered ends in needs-reauth with one alarm; no loop; work deferred; the other account unaffected', async () => {
    world = await startWorld();
    const w = world;
    w.sb.admin.setRefreshGrace(false);
    // A second gateway account: a second integration installed in this amoCRM account, its own grant.
    const secondId = randomUUID();
    w.sb.admin.addIntegration({ clientId: secondId, clientSecret: w.clientSecret, redirectUri: w.redirectUri });
    const config = parseConfig({
      integrations: [
        { id: 'main', clientId: w.clientId, clientSecret: { secret: CLIENT_SECRET_NAME }, redirectUri: w.redirectUri },
        { id: 'second', clientId: secondId, clientSecret: { secret: CLIENT_SECRET_NAME }, redirectUri: w.redirectUri },
      ],
      accounts: [
        { id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru', baseUrl: w.sb.url },
        { id: 'branch', integration: 'second', subdomain: 'clinic', domain: 'amocrm.ru', baseUrl: w.sb.url },
      ],
      oauth: { refererAllowList: ['*.amocrm.ru', w.sb.accountHost] },
    });
    const oauth = (store?: DynamoTokenStore) => w.oauth({ config, ...(store ? { store } : {}) });
    await oauth().install.exchangeCode('clinic', w.sb.admin.mintCode({ clientId: w.clientId }).code);
    await oauth().install.exchangeCode('branch', w.sb.admin.mintCode({ clientId: secondId }).code);
    w.clock.advance(DAY + 1);

    // The crash: amoCRM minted a new pair (and, without grace, spent the old refresh token for good).
    const crashing = oauth(crashingStore(w.newStore(), 'clinic'));
    const crash = await crashing.provider.getToken('clinic').catch((e: unknown) => e);
    expect(crash).toBeInstanceOf(TokenStoreWriteError);
    expect(outcomeFromError(crash).kind).toBe('retry');
    expect(refreshCounts(w)).toEqual({ 'refresh_token:ok': 1 });

    // The retry finds only the spent refresh token: amoCRM says revoked → needs-reauth, deferred.
    const err = await oauth()
      .provider.getToken('clinic')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccountNeedsReauthError);
    expect(outcomeFromError(err)).toMatchObject({ kind: 'defer', reason: 'account-needs-reauth' });
    const rec = await oauth().lifecycle.read('clinic');
    expect(rec?.status).toBe('needs-reauth');
    expect(rec?.statusReason).toBe('refresh token revoked');
    expect(w.metrics.total('AccountNeedsReauth')).toBe(1);
    const clinicRefreshes = () =>
      w.sb.admin
        .tokenCalls()
        .filter((c) => c.grant === 'refresh_token' && c.clientId === w.clientId)
        .map((c) => c.outcome);
    const afterDead = clinicRefreshes();
    expect(afterDead[0]).toBe('ok');
    expect(afterDead.slice(1).length).toBeGreaterThanOrEqual(1);
    expect(afterDead.slice(1).every((o) => o === 'refresh_revoked')).toBe(true);

    // No loop: more callers, containers, the schedule, a 401 — no more token-endpoint calls, no second alarm.
    const results = await Promise.allSettled([
      ...Array.from({ length: 4 }, () => oauth().provider.getToken('clinic')),
      oauth().provider.onUnauthorized('clinic', 'whatever'),
    ]);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AccountNeedsReauthError);
    const sched = await createRefreshHandler({ lifecycle: oauth().lifecycle, log: silentLog })({});
    expect(sched.outcomes).toMatchObject({ 'needs-reauth': 1 });
    w.clock.advance(DAY);
    await expect(oauth().provider.getToken('clinic')).rejects.toBeInstanceOf(AccountNeedsReauthError);
    expect(clinicRefreshes()).toEqual(afterDead);
    expect(w.metrics.total('AccountNeedsReauth')).toBe(1);

    // The other account refreshes and calls amoCRM as usual (no grace needed: nothing crashed).
    const branch = await oauth().provider.getToken('branch');
    expect(await apiStatus(w.sb, branch.accessToken)).toBe(200);
    expect((await oauth().lifecycle.read('branch'))?.status).toBe('active');

    // Re-authorization brings the dead one back.
    await oauth().install.exchangeCode('clinic', w.sb.admin.mintCode({ clientId: w.clientId }).code);
    const back = await oauth().provider.getToken('clinic');
    expect(await apiStatus(w.sb, back.accessToken)).toBe(200);
  });

  it('without a crash, grace off changes nothing: refreshes chain normally', async () => {
    world = await startWorld();
    const w = world;
    w.sb.admin.setRefreshGrace(false);
    await w.install();
    for (let i = 0; i < 3; i++) {
      w.clock.advance(DAY + 1);
      const t = await w.oauth().provider.getToken('clinic');
      expect(await apiStatus(w.sb, t.accessToken)).toBe(200);
    }
    expect(refreshCounts(w)).toEqual({ 'refresh_token:ok': 3 });
    expect(w.metrics.total('AccountNeedsReauth')).toBe(0);
  });
});
