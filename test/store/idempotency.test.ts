import { describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoIdempotency, idempotencyPk, releaseAbandonedClaims } from '../../lib/store/idempotency.ts';
import { IdempotencyInProgressError } from '../../lib/ingest/idempotency.ts';
import { createTestTable } from '../support/ddb.ts';

describe('idempotency guard (DynamoDB Local)', () => {
  it('releaseAbandonedClaims frees the claims of a dead holder (the local runner at start), never a completed record', async () => {
    const t = await createTestTable('idem');
    const crashed = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 60_000 });
    void crashed.once('held', () => new Promise<never>(() => undefined)); // its process "died" mid-effect
    await crashed.once('done', async () => 1);
    const next = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    await expect(next.once('held', async () => 'again')).rejects.toBeInstanceOf(IdempotencyInProgressError);
    expect(await releaseAbandonedClaims(t.client, t.tableName)).toBe(1);
    expect(await next.once('held', async () => 'again')).toEqual({ status: 'ran', value: 'again' });
    expect(await next.once('done', async () => 2)).toEqual({ status: 'duplicate' });
    expect(await releaseAbandonedClaims(t.client, t.tableName)).toBe(0);
  });

  it('a claim taken over from a dead holder tells the effect it resumes (released at a local start, or its hold over as in AWS); a fresh key or a clean failure does not', async () => {
    const t = await createTestTable('idem');
    const crashed = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 60_000 });
    void crashed.once('released', () => new Promise<never>(() => undefined));
    const short = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 50 });
    void short.once('timed-out', () => new Promise<never>(() => undefined)); // a Lambda that died at its timeout
    const next = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(await releaseAbandonedClaims(t.client, t.tableName)).toBe(2);
    const seen: Record<string, boolean> = {};
    const note = (k: string) => async (run: { resumed: boolean }) => void (seen[k] = run.resumed);
    await next.once('released', note('released'));
    await next.once('timed-out', note('timed-out'));
    await next.once('fresh', note('fresh'));
    await expect(
      next.once('failed', async () => {
        throw new Error('503');
      }),
    ).rejects.toThrow('503');
    await next.once('failed', note('failed'));
    expect(seen).toEqual({ released: true, 'timed-out': true, fresh: false, failed: false });
  });

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
    await expect(
      guard.once('k', async () => {
        throw new Error('amoCRM 503');
      }),
    ).rejects.toThrow('amoCRM 503');
    expect(await guard.once('k', async () => 'done')).toEqual({ status: 'ran', value: 'done' });
  });

  it('a concurrent holder makes the second caller wait (typed in-progress error), never run twice', async () => {
    const t = await createTestTable('idem');
    const a = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 30_000 });
    const b = createDynamoIdempotency({ client: t.client, tableName: t.tableName, remainingTimeMs: () => 30_000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let effects = 0;
    let claimed!: () => void;
    const started = new Promise<void>((r) => {
      claimed = r;
    });
    // The effect only starts once `a` holds the key, so `b` meets it in progress (no timing race).
    const slow = a.once('same', async () => {
      claimed();
      await gate;
      return ++effects;
    });
    await started;
    await expect(b.once('same', async () => ++effects)).rejects.toBeInstanceOf(IdempotencyInProgressError);
    release();
    expect(await slow).toEqual({ status: 'ran', value: 1 });
    expect(await b.once('same', async () => ++effects)).toEqual({ status: 'duplicate' });
    expect(effects).toBe(1);
  });

  it('keeps every key in its own partition (no hot partition under a burst)', async () => {
    const t = await createTestTable('idem');
    const guard = createDynamoIdempotency({ client: t.client, tableName: t.tableName });
    await guard.once('a', async () => 1);
    await guard.once('b', async () => 2);
    const { Items } = await t.doc.send(new ScanCommand({ TableName: t.tableName }));
    expect(new Set(Items?.map((i) => i.pk)).size).toBe(2);
    expect(Items?.map((i) => i.pk).sort()).toEqual([idempotencyPk('a'), idempotencyPk('b')].sort());
    expect(Items?.every((i) => i.status === 'COMPLETED' && typeof i.expiresAt === 'number')).toBe(true);
  });

  it('a completed record past its TTL does not block the key (TTL deletion is never relied on)', async () => {
    const t = await createTestTable('idem');
    let now = Date.UTC(2026, 0, 1);
    const guard = createDynamoIdempotency({ client: t.client, tableName: t.tableName, ttlSeconds: 60, now: () => now });
    expect(await guard.once('k', async () => 1)).toEqual({ status: 'ran', value: 1 });
    now += 30_000;
    expect(await guard.once('k', async () => 2)).toEqual({ status: 'duplicate' });
    now += 61_000;
    expect(await guard.once('k', async () => 3)).toEqual({ status: 'ran', value: 3 });
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
