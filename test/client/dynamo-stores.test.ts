/** The DynamoDB adapters (rate budget, breaker, cache) against DynamoDB Local's real conditional writes. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoBreakerStore } from '../../lib/store/breaker.ts';
import { DynamoCacheStore } from '../../lib/store/cache.ts';
import { LayeredCacheStore, MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { DynamoRateBudget } from '../../lib/store/rate-budget.ts';
import { DEFAULT_BUDGET_CONFIG, spanMs, type BudgetDecision } from '../../lib/amocrm/client/rate-budget.ts';
import { createTestTable } from '../support/ddb.ts';

const scope = { clientId: 'c1', accountHost: 'acme.amocrm.ru' };

describe('DynamoRateBudget', () => {
  const get = async (t: Awaited<ReturnType<typeof createTestTable>>) =>
    (await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: 'RATE#acme.amocrm.ru', sk: 'RATE' }, ConsistentRead: true })))
      .Item;

  it('grants 7, then refuses until the earliest end + window + margin; the owner chains with one write', async () => {
    const t = await createTestTable('rate');
    const budget = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName });
    const now = 1_700_000_000_000;
    const grants: BudgetDecision[] = [];
    for (let i = 0; i < 7; i++) grants.push(await budget.acquire(scope, { now, requestTimeoutMs: 5_000 }));
    expect(grants.every((g) => g.kind === 'grant' && g.sendAt === now)).toBe(true);
    expect(await budget.acquire(scope, { now: now + 10, requestTimeoutMs: 5_000 })).toMatchObject({ kind: 'wait', reason: 'budget' });
    for (const [i, g] of grants.entries())
      if (g.kind === 'grant') await budget.complete(scope, g.id, { endedAt: now + 50 + i, how: 'answered' });
    const item = await get(t);
    expect(
      Object.values(item?.['r#c1'] as Record<string, { e: number }>)
        .map((x) => x.e)
        .sort(),
    ).toEqual([50, 51, 52, 53, 54, 55, 56].map((x) => now + x));
    expect(Object.keys(item?.['r#*'] as object)).toHaveLength(50);
    expect(item?.expiresAt).toBeUndefined(); // never TTL: it carries the breaker
    // The next one chains onto the earliest ended slot.
    expect(await budget.acquire(scope, { now: now + 60, requestTimeoutMs: 5_000 })).toMatchObject({
      kind: 'grant',
      sendAt: now + 50 + spanMs(budget.cfg),
    });
  });

  it('a caller acquiring back to back takes a free slot at once, not its own last slot a window later', async () => {
    const t = await createTestTable('rate');
    const budget = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName });
    const now = 1_700_000_000_000;
    const sends: number[] = [];
    let clock = now;
    for (let i = 0; i < 9; i++) {
      const g = await budget.acquire(scope, { now: clock, requestTimeoutMs: 5_000 });
      expect(g.kind).toBe('grant');
      if (g.kind !== 'grant') return;
      sends.push(g.sendAt);
      // Answered 5 ms after its send; the caller asks for the next one 5 ms later.
      await budget.complete(scope, g.id, { endedAt: g.sendAt + 5, how: 'answered' });
      clock = g.sendAt + 10;
    }
    // 7 slots: the first 7 go at once; the 8th waits for the first slot's end + window + margin.
    expect(sends.slice(0, 7)).toEqual([0, 10, 20, 30, 40, 50, 60].map((x) => now + x));
    expect(sends[7]).toBe(now + 5 + spanMs(budget.cfg));
    // The next one: the second slot (ended at +15) is free when asked (+1075).
    expect(sends[8]).toBe(now + 15 + spanMs(budget.cfg));
  });

  it('a slot given up unsent is free again from its planned send time, for the owner and for others — not a window later', async () => {
    const now = 1_700_000_000_000;
    // One slot, so nothing else can serve: a sends through it, then plans the next request at its
    // end + W, wakes too late and gives that one up 400 ms past its planned time.
    const scenario = async () => {
      const t = await createTestTable('rate');
      const config = { perIntegrationPerSecond: 1, perAccountPerSecond: null };
      const a = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName, config });
      const b = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName, config });
      const g1 = await a.acquire(scope, { now, requestTimeoutMs: 5_000 });
      if (g1.kind !== 'grant') throw new Error('expected a grant');
      await a.complete(scope, g1.id, { endedAt: now + 100, how: 'answered' });
      const late = await a.acquire(scope, { now: now + 110, requestTimeoutMs: 5_000 });
      expect(late).toMatchObject({ kind: 'grant', sendAt: now + 100 + spanMs(a.cfg) });
      if (late.kind !== 'grant') throw new Error('expected a grant');
      await a.complete(scope, late.id, { endedAt: late.sendAt + 400, how: 'not-sent' });
      return { a, b, at: late.sendAt + 400 };
    };
    // Nothing went through it: the owner chains onto it at once (it used to wait until give-up + W)…
    const one = await scenario();
    expect(await one.a.acquire(scope, { now: one.at + 1, requestTimeoutMs: 5_000 })).toMatchObject({ kind: 'grant', sendAt: one.at + 1 });
    // …and another instance, past the owner's grace, sends at once too (the stamp is `s − W`).
    const two = await scenario();
    const t2 = two.at + two.b.cfg.ownerGraceMs + 1;
    expect(await two.b.acquire(scope, { now: t2, requestTimeoutMs: 5_000 })).toMatchObject({ kind: 'grant', sendAt: t2 });
  });

  it('plans with the clock read after the store answered, so a slow read never hands out a send time already past its latest', async () => {
    const t = await createTestTable('rate');
    const budget = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName });
    const now = 1_700_000_000_000;
    await budget.acquire(scope, { now, requestTimeoutMs: 5_000 }); // creates the item
    // The caller asked at `now`, but the read came back 1.5 s later (a throttled store, a stalled loop).
    const slow = now + 1_500;
    const g = await budget.acquire(scope, { now, clock: () => slow, requestTimeoutMs: 5_000 });
    expect(g).toMatchObject({ kind: 'grant', sendAt: slow, latestSendAt: slow + budget.cfg.maxLatenessMs });
  });

  it('concurrent acquirers (separate clients, one item) get exactly 7 slots', async () => {
    const t = await createTestTable('rate');
    const budgets = Array.from({ length: 12 }, () => new DynamoRateBudget({ doc: t.doc, tableName: t.tableName, maxConflicts: 50 }));
    const now = 1_700_000_000_000;
    const results = await Promise.all(budgets.map((b) => b.acquire(scope, { now, requestTimeoutMs: 5_000 })));
    expect(results.filter((r) => r.kind === 'grant')).toHaveLength(7);
    expect(results.filter((r) => r.kind === 'wait')).toHaveLength(5);
  });

  it("others take an ended slot only after the owner's grace", async () => {
    const t = await createTestTable('rate');
    const a = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName });
    const b = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName });
    const now = 1_700_000_000_000;
    const grants = await Promise.all(Array.from({ length: 7 }, () => a.acquire(scope, { now, requestTimeoutMs: 5_000 })));
    for (const g of grants) if (g.kind === 'grant') await a.complete(scope, g.id, { endedAt: now + 100, how: 'answered' });
    expect(await b.acquire(scope, { now: now + 200, requestTimeoutMs: 5_000 })).toMatchObject({ kind: 'wait' });
    expect(await b.acquire(scope, { now: now + 100 + a.cfg.ownerGraceMs, requestTimeoutMs: 5_000 })).toMatchObject({
      kind: 'grant',
      sendAt: now + 100 + spanMs(a.cfg),
    });
  });

  it('the account ring counts across integrations (same item)', async () => {
    const t = await createTestTable('rate');
    const budget = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName, config: { perAccountPerSecond: 9 }, maxConflicts: 50 });
    const now = 1_700_000_000_000;
    const a = [];
    for (let i = 0; i < 7; i++) a.push(await budget.acquire({ ...scope, clientId: 'A' }, { now, requestTimeoutMs: 1_000 }));
    const b = [];
    for (let i = 0; i < 4; i++) b.push(await budget.acquire({ ...scope, clientId: 'B' }, { now, requestTimeoutMs: 1_000 }));
    expect(a.filter((r) => r.kind === 'grant')).toHaveLength(7);
    expect(b.filter((r) => r.kind === 'grant')).toHaveLength(2); // 9 per account
  });

  it('pause (after a 429) stops grants of that integration until it ends, and never shortens', async () => {
    const t = await createTestTable('rate');
    const budget = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName });
    const now = 1_700_000_000_000;
    await budget.pause(scope, now + 5_000);
    await budget.pause(scope, now + 1_000);
    expect(await budget.acquire(scope, { now, requestTimeoutMs: 1_000 })).toMatchObject({
      kind: 'wait',
      reason: 'paused',
      retryAfterMs: 5_000 - DEFAULT_BUDGET_CONFIG.reserveAheadMs,
    });
    expect(await budget.acquire({ ...scope, clientId: 'other' }, { now, requestTimeoutMs: 1_000 })).toMatchObject({ kind: 'grant' });
    expect(await budget.acquire(scope, { now: now + 5_000, requestTimeoutMs: 1_000 })).toMatchObject({
      kind: 'grant',
      sendAt: now + 5_000,
    });
  });

  it('reports the breaker kept on the same item with every decision', async () => {
    const t = await createTestTable('rate');
    const budget = new DynamoRateBudget({ doc: t.doc, tableName: t.tableName });
    const breaker = new DynamoBreakerStore({ doc: t.doc, tableName: t.tableName });
    const now = 1_700_000_000_000;
    expect((await budget.acquire(scope, { now, requestTimeoutMs: 1_000 })).breaker).toEqual({ open: false });
    await breaker.open(scope.accountHost, { at: now, reason: '403' });
    expect((await budget.acquire(scope, { now, requestTimeoutMs: 1_000 })).breaker).toEqual({ open: true, openedAt: now });
  });
});

describe('DynamoBreakerStore', () => {
  it('opens once (one alarm), reads open, lifts', async () => {
    const t = await createTestTable('brk');
    const a = new DynamoBreakerStore({ doc: t.doc, tableName: t.tableName });
    const b = new DynamoBreakerStore({ doc: t.doc, tableName: t.tableName });
    const opened = await Promise.all([a.open('x.amocrm.ru', { at: 1, reason: '403' }), b.open('x.amocrm.ru', { at: 2, reason: '403' })]);
    expect(opened.filter((o) => o.opened)).toHaveLength(1);
    expect(await b.get('x.amocrm.ru')).toMatchObject({ open: true, reason: '403' });
    expect(await b.get('y.amocrm.ru')).toEqual({ open: false });
    await a.lift('x.amocrm.ru', { at: 3, by: 'ops' });
    expect(await b.get('x.amocrm.ru')).toMatchObject({ open: false, liftedBy: 'ops' });
    expect((await b.open('x.amocrm.ru', { at: 4, reason: 'again' })).opened).toBe(true);
  });
});

describe('DynamoCacheStore', () => {
  it('round-trips values; an item past expiresAt is treated as absent even though TTL has not deleted it', async () => {
    const t = await createTestTable('cache');
    const store = new DynamoCacheStore({ doc: t.doc, tableName: t.tableName });
    const now = 1_700_000_000_000;
    const value = { id: 1, name: '', nested: { price: 1.5, none: null }, list: [] };
    await store.set('k', { value, storedAt: now, freshUntil: now + 1_000, lastModified: 1_699_999_999 }, now + 60_000);
    expect(await store.get('k', now + 30_000)).toEqual({ value, storedAt: now, freshUntil: now + 1_000, lastModified: 1_699_999_999 });
    expect(await store.get('k', now + 61_000)).toBeUndefined();
    const raw = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: 'CACHE#k', sk: 'CACHE' } }));
    expect(raw.Item?.expiresAt).toBe(Math.ceil((now + 60_000) / 1000));
    await store.delete('k');
    expect(await store.get('k', now)).toBeUndefined();
  });

  it('the memory layer answers first and is filled from the shared store', async () => {
    const t = await createTestTable('cache');
    const shared = new DynamoCacheStore({ doc: t.doc, tableName: t.tableName });
    const now = Date.now();
    await shared.set('d', { value: ['p'], storedAt: now, freshUntil: now + 60_000 }, now + 60_000);
    const front = new MemoryCacheStore();
    const layered = new LayeredCacheStore(front, shared);
    expect((await layered.get<string[]>('d', now))?.value).toEqual(['p']);
    expect((await front.get<string[]>('d', now))?.value).toEqual(['p']);
  });
});
