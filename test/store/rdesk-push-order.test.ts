/** The RDESK push order's DynamoDB adapter on DynamoDB Local: the claim's conditions and the revert. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderKey } from '../../lib/flows/rdesk/push-order.ts';
import { DynamoPushOrder } from '../../lib/store/rdesk-push-order.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

let table: TestTable;
let clock = 1_000_000;
let store: DynamoPushOrder;
beforeAll(async () => {
  table = await createTestTable('push-order');
  store = new DynamoPushOrder({ doc: table.doc, tableName: table.tableName, now: () => clock });
});
afterAll(() => table.client.destroy());

const k = (t: number, at = 0, id = 'r:0') => orderKey(t, at, id);

describe('DynamoPushOrder', () => {
  it('a newer key wins, an older one is refused with the stored keys, an equal one (a redelivery) is allowed', async () => {
    expect(await store.claim('a', 1, { booked: k(20) }, 'w1', 1_000)).toEqual({ ok: true, previous: {} });
    clock += 2_000;
    expect(await store.claim('a', 1, { booked: k(10) }, 'w2', 1_000)).toEqual({ ok: false, claimed: { booked: k(20) } });
    expect(await store.claim('a', 1, { booked: k(20) }, 'w2', 1_000)).toEqual({ ok: true, previous: { booked: k(20) } });
    clock += 2_000;
    expect(await store.claim('a', 1, { booked: k(30), mc: k(5) }, 'w1', 1_000)).toEqual({ ok: true, previous: { booked: k(20) } });
    // Kinds are ordered apart: an mc push only has to beat the mc key.
    clock += 2_000;
    expect((await store.claim('a', 1, { mc: k(6) }, 'w2', 1_000)).ok).toBe(true);
  });

  it("another writer's live lease refuses even a newer key; the holder's own does not; the lease ends", async () => {
    expect((await store.claim('a', 2, { booked: k(10) }, 'w1', 1_000)).ok).toBe(true);
    expect(await store.claim('a', 2, { booked: k(20) }, 'w2', 1_000)).toEqual({
      ok: false,
      claimed: { booked: k(10) },
      heldBy: 'w1',
      until: clock + 1_000,
    });
    expect((await store.claim('a', 2, { booked: k(15) }, 'w1', 1_000)).ok).toBe(true);
    clock += 1_001;
    expect((await store.claim('a', 2, { booked: k(20) }, 'w2', 1_000)).ok).toBe(true);
  });

  it('revert puts the previous keys back and drops the lease; not once a newer claim took the slot', async () => {
    expect((await store.claim('a', 3, { booked: k(10) }, 'w1', 1_000)).ok).toBe(true);
    clock += 2_000;
    const c = await store.claim('a', 3, { booked: k(30) }, 'w1', 60_000);
    expect(c).toEqual({ ok: true, previous: { booked: k(10) } });
    await store.revert('a', 3, { booked: k(30) }, { booked: k(10) }, 'w1');
    // Lease dropped and key restored: another writer's older-than-30 push may write at once.
    expect((await store.claim('a', 3, { booked: k(20) }, 'w2', 60_000)).ok).toBe(true);
    // w1's stale revert (its claim is no longer there) changes nothing.
    await store.revert('a', 3, { booked: k(30) }, { booked: k(10) }, 'w1');
    expect(await store.claim('a', 3, { booked: k(25) }, 'w3', 1_000)).toMatchObject({
      ok: false,
      claimed: { booked: k(20) },
      heldBy: 'w2',
    });
    // A first claim reverted leaves no key behind.
    const first = await store.claim('a', 4, { mc: k(10) }, 'w1', 60_000);
    expect(first).toEqual({ ok: true, previous: {} });
    await store.revert('a', 4, { mc: k(10) }, {}, 'w1');
    expect(await store.claim('a', 4, { mc: k(1) }, 'w2', 1_000)).toEqual({ ok: true, previous: {} });
  });

  it('order keys sort by push time, then arrival, then id; a push without a time sorts first', () => {
    expect(k(2, 0) > k(1, 9)).toBe(true);
    expect(k(1, 2) > k(1, 1, 'z')).toBe(true);
    expect(orderKey(undefined, 9, 'z') < k(1)).toBe(true);
  });
});
