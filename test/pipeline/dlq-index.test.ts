import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDlqIndex, dlqPk } from '../../lib/store/dlq-index.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
let t: TestTable;
beforeAll(async () => {
  t = await createTestTable('dlq');
});

function index(now = T0) {
  return new DynamoDlqIndex({ doc: t.doc, tableName: t.tableName, queueIds: ['rdesk', 'amojo'], now: () => now });
}

const entry = (over: Partial<Parameters<DynamoDlqIndex['put']>[0]> = {}) => ({
  queueId: 'rdesk',
  messageKey: 'msg-1',
  route: 'zdrav-mc',
  reason: 'out-of-attempts',
  lastError: 'HTTP 503',
  attempts: 5,
  firstSeenAt: T0 - 60_000,
  requestId: 'req-1',
  ...over,
});

describe('DynamoDlqIndex (DynamoDB Local)', () => {
  it('stores the item under DLQ#<queue> / <parkedAt>#<messageKey> with a 14-day expiresAt', async () => {
    const e = await index().put(entry());
    expect(e.id).toBe('2026-03-01T10:00:00.000Z#msg-1');
    expect(e.expiresAt).toBe(Math.ceil((T0 + 14 * 86_400_000) / 1000));
    const raw = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: dlqPk('rdesk'), sk: e.id } }));
    expect(raw.Item).toMatchObject({
      pk: 'DLQ#rdesk',
      sk: e.id,
      route: 'zdrav-mc',
      reason: 'out-of-attempts',
      lastError: 'HTTP 503',
      attempts: 5,
      firstSeenAt: '2026-03-01T09:59:00.000Z',
      lastSeenAt: '2026-03-01T10:00:00.000Z',
      requestId: 'req-1',
      expiresAt: e.expiresAt,
    });
    expect(await index().get('rdesk', e.id)).toEqual(e);
  });

  it('redacts and truncates lastError', async () => {
    const e = await index().put(entry({ messageKey: 'msg-red', lastError: `mail ivan@example.com ${'x'.repeat(3000)}` }));
    expect(e.lastError).toMatch(/^mail \[email\] x+…$/);
    expect(e.lastError.length).toBe(1000);
    expect((await index().get('rdesk', e.id))?.lastError).toBe(e.lastError);
  });

  it('lists by queue, route and reason, oldest first, across queues when no queue is given', async () => {
    const t2 = await createTestTable('dlq2');
    const idx = (now: number) => new DynamoDlqIndex({ doc: t2.doc, tableName: t2.tableName, queueIds: ['rdesk', 'amojo'], now: () => now });
    await idx(T0 + 3000).put(entry({ messageKey: 'c', reason: 'bad-envelope', route: 'zdrav-booked' }));
    await idx(T0 + 1000).put(entry({ messageKey: 'a' }));
    await idx(T0 + 2000).put(entry({ queueId: 'amojo', messageKey: 'b', route: 'amojo-callback', reason: 'bad-signature' }));
    const all = await idx(T0 + 5000).list();
    expect(all.map((e) => e.messageKey)).toEqual(['a', 'b', 'c']);
    expect((await idx(T0 + 5000).list({ queue: 'rdesk' })).map((e) => e.messageKey)).toEqual(['a', 'c']);
    expect((await idx(T0 + 5000).list({ route: 'amojo-callback' })).map((e) => e.messageKey)).toEqual(['b']);
    expect((await idx(T0 + 5000).list({ queue: 'rdesk', reason: 'bad-envelope' })).map((e) => e.messageKey)).toEqual(['c']);
    expect(await idx(T0 + 5000).list({ queue: 'rdesk', reason: 'nope' })).toEqual([]);
  });

  it('pages through a partition (filters applied across pages)', async () => {
    const t3 = await createTestTable('dlq3');
    const idx = new DynamoDlqIndex({ doc: t3.doc, tableName: t3.tableName, queueIds: ['rdesk'], now: () => T0, pageSize: 2 });
    for (let i = 0; i < 7; i++) await idx.put(entry({ messageKey: `k${i}`, reason: i % 3 === 0 ? 'bad-envelope' : 'out-of-attempts' }));
    expect((await idx.list({ queue: 'rdesk' })).map((e) => e.messageKey)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
    expect((await idx.list({ reason: 'bad-envelope' })).map((e) => e.messageKey)).toEqual(['k0', 'k3', 'k6']);
  });

  it('leaves out expired entries (DynamoDB Local and dynalite never delete them)', async () => {
    const e = await index().put(entry({ messageKey: 'old', retentionDays: 1 }));
    const later = index(T0 + 2 * 86_400_000);
    expect(await later.get('rdesk', e.id)).toBeUndefined();
    expect((await later.list({ queue: 'rdesk' })).some((x) => x.messageKey === 'old')).toBe(false);
    expect((await index().list({ queue: 'rdesk' })).some((x) => x.messageKey === 'old')).toBe(true);
  });

  it('removes an entry', async () => {
    const e = await index().put(entry({ messageKey: 'gone' }));
    await index().remove('rdesk', e.id);
    expect(await index().get('rdesk', e.id)).toBeUndefined();
    await index().remove('rdesk', e.id); // idempotent
  });

  it('wraps store failures in DlqIndexError with the cause', async () => {
    const broken = new DynamoDlqIndex({ doc: t.doc, tableName: 'no-such-table', queueIds: ['rdesk'] });
    await expect(broken.put(entry())).rejects.toMatchObject({ name: 'DlqIndexError', cause: expect.anything() });
    await expect(broken.list()).rejects.toMatchObject({ name: 'DlqIndexError' });
  });
});
