import { describe, expect, it } from 'vitest';
import { createDynamoIdempotency, IdempotencyInProgressError } from '../../lib/store/idempotency.ts';
import { createTestTable } from '../support/ddb.ts';

describe('idempotency guard (DynamoDB Local)', () => {
  it('runs an effect once per key; a duplicate does not run it', async () => {
    const t = await createTestTable('idem');
    const guard = createDynamoIdempotency({ client: t.client, tableName: t.tableName });
    let effects = 0;
    const first = await guard.once('hook:abc:lead:1:status', async () => ++effects);
    const second = await guard.once('hook:abc:lead:1:status', async () => ++effects);
    const other = await guard.once('hook:abc:lead:2:status', async () => ++effects);
    expect(first).toEqual({ status: 'ran', value: 1 });
    expect(second).toEqual({ status: 'duplicate' });
    expect(other).toEqual({ status: 'ran', value: 2 });
    expect(effects).toBe(2);
  });

  it('a failed effect leaves no record, so the retry runs it', async () => {
    const t = await createTestTable('idem');
    const guard = createDynamoIdempotency({ client: t.client, tableName: t.tableName });
    await expect(guard.once('k', async () => { throw new Error('amoCRM 503'); })).rejects.toThrow('amoCRM 503');
    expect(await guard.once('k', async () => 'done')).toEqual({ status: 'ran', value: 'done' });
  });

  it('a concurrent holder makes the second caller wait (typed in-progress error), never run twice', async () => {
    const t = await createTestTable('idem');
    const a = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 30_000 });
    const b = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 30_000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let effects = 0;
    const slow = a.once('same', async () => { await gate; return ++effects; });
    await new Promise((r) => setTimeout(r, 200));
    await expect(b.once('same', async () => ++effects)).rejects.toBeInstanceOf(IdempotencyInProgressError);
    release();
    expect(await slow).toEqual({ status: 'ran', value: 1 });
    expect(await b.once('same', async () => ++effects)).toEqual({ status: 'duplicate' });
    expect(effects).toBe(1);
  });

  it('an in-progress record of a crashed worker expires with its invocation, not with the TTL', async () => {
    const t = await createTestTable('idem');
    const crashed = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 300 });
    // Simulate a crash: the effect never settles.
    void crashed.once('k2', () => new Promise(() => {}));
    await new Promise((r) => setTimeout(r, 600));
    const next = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 30_000 });
    expect(await next.once('k2', async () => 'recovered')).toEqual({ status: 'ran', value: 'recovered' });
  });
});
