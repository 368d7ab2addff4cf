/**
 * The contact index's DynamoDB adapter against the run's real emulator (DynamoDB Local, or dynalite
 * without Java): lookups of many keys, set semantics of add/remove, replace with out-of-order
 * states, forget, the build state, and no phone or e-mail in any stored key or attribute.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContactIndexKey } from '../../lib/contacts/types.ts';
import { DynamoContactIndex } from '../../lib/store/contact-index.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

const P1: ContactIndexKey = 'phone:+79991234567';
const P2: ContactIndexKey = 'phone:+79035550011';
const E1: ContactIndexKey = 'email:ivan@example.ru';

describe('DynamoContactIndex', () => {
  let t: TestTable;
  let idx: DynamoContactIndex;
  beforeAll(async () => {
    t = await createTestTable('cidx');
    idx = new DynamoContactIndex({ doc: t.doc, tableName: t.tableName });
  });

  it('add / lookup / remove: sets of ids per key, per account; an emptied key disappears', async () => {
    await idx.add('a', [
      { key: P1, contactId: 1 },
      { key: P1, contactId: 2 },
      { key: E1, contactId: 1 },
    ]);
    await idx.add('a', [{ key: P1, contactId: 2 }]); // idempotent
    await idx.add('b', [{ key: P1, contactId: 9 }]);
    expect(await idx.lookup('a', [P1, E1, P2])).toEqual(
      new Map([
        [P1, [1, 2]],
        [E1, [1]],
      ]),
    );
    expect(await idx.lookup('b', [P1])).toEqual(new Map([[P1, [9]]]));
    await idx.remove('a', [
      { key: P1, contactId: 1 },
      { key: E1, contactId: 1 },
      { key: P2, contactId: 7 }, // never there: no error
    ]);
    expect(await idx.lookup('a', [P1, E1])).toEqual(new Map([[P1, [2]]]));
    const items = await t.doc.send(new ScanCommand({ TableName: t.tableName }));
    // E1's item is gone, not left empty
    expect(items.Items?.filter((i) => String(i.pk).startsWith('CIDX#a#K#')).length).toBe(1);
  });

  it('a lookup of 250 keys answers them all (3 batches of ≤ 100)', async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `phone:+7999000${String(i).padStart(4, '0')}` as ContactIndexKey);
    await idx.add(
      'many',
      keys.map((key, i) => ({ key, contactId: 1000 + i })),
    );
    const got = await idx.lookup('many', keys);
    expect(got.size).toBe(250);
    expect(got.get(keys[249]!)).toEqual([1249]);
  });

  it('replace: new keys in, dropped keys out; an older state only adds; forget drops everything', async () => {
    await idx.replace('r', [{ contactId: 5, keys: [P1, E1], updatedAt: 100 }]);
    expect(await idx.lookup('r', [P1, E1, P2])).toEqual(
      new Map([
        [P1, [5]],
        [E1, [5]],
      ]),
    );
    // the phone changed
    expect(await idx.replace('r', [{ contactId: 5, keys: [P2, E1], updatedAt: 200 }])).toEqual({ written: 2, removed: 1 });
    expect([...(await idx.lookup('r', [P1, E1, P2])).keys()].sort()).toEqual([E1, P2].sort());
    // a late webhook of the state at 150 must not drop the newer phone
    await idx.replace('r', [{ contactId: 5, keys: [P1], updatedAt: 150 }]);
    expect([...(await idx.lookup('r', [P1, E1, P2])).keys()].sort()).toEqual([E1, P1, P2].sort());
    await idx.forget('r', [5]);
    expect(await idx.lookup('r', [P1, E1, P2])).toEqual(new Map());
  });

  it('the build state round-trips', async () => {
    expect(await idx.getBuild('x')).toBeUndefined();
    const s = { status: 'running' as const, nextPage: 3, pages: 2, contacts: 500, keys: 700, startedAt: 1, updatedAt: 2 };
    await idx.putBuild('x', s);
    expect(await idx.getBuild('x')).toEqual(s);
  });

  it('no phone or e-mail is stored anywhere (keys are hashed)', async () => {
    const all = await t.doc.send(new ScanCommand({ TableName: t.tableName }));
    const text = JSON.stringify(all.Items, (_k, v: unknown) => (v instanceof Set ? [...v] : v));
    expect(text).not.toMatch(/\+7999|@example/);
  });
});
