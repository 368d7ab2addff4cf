/** The DynamoDB adapter of TokenStore / OAuthStateStore against DynamoDB Local (AWS's own emulator). */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoTokenStore, statePk, tokenPk } from '../../lib/store/token-store.ts';
import { TokenVersionConflictError, type TokenRecordInput } from '../../lib/amocrm/oauth/token-store.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

let t: TestTable;
let store: DynamoTokenStore;
beforeAll(async () => {
  t = await createTestTable('tokens');
  store = new DynamoTokenStore({ doc: t.doc, tableName: t.tableName });
});

const NOW = Date.UTC(2026, 0, 1);
function record(accountKey: string, over: Partial<TokenRecordInput> = {}): TokenRecordInput {
  return {
    clientId: 'client-1',
    accountKey,
    kind: 'oauth',
    status: 'active',
    current: { accessToken: 'access-1', refreshToken: 'refresh-1', accessExpiresAt: NOW + 86_400_000, issuedAt: NOW },
    baseUrl: 'https://clinic.amocrm.ru',
    host: 'clinic.amocrm.ru',
    installedAt: NOW,
    updatedAt: NOW,
    ...over,
  };
}

describe('DynamoTokenStore: versioned token items', () => {
  it('creates at version 1 and round-trips every field (previous pair included)', async () => {
    const rec = record('a', {
      previous: { accessToken: 'access-0', refreshToken: 'refresh-0', accessExpiresAt: NOW, issuedAt: NOW - 1 },
      lastRefreshAt: NOW,
      amoAccountId: 42,
      installedVia: 'callback',
      statusReason: 'x',
      statusAt: NOW,
    });
    const stored = await store.put(rec, null);
    expect(stored.version).toBe(1);
    expect(await store.get({ clientId: 'client-1', accountKey: 'a' })).toEqual({ ...rec, version: 1 });
  });

  it('a token item never carries the TTL attribute: it must not expire', async () => {
    await store.put(record('ttl'), null);
    const raw = await t.doc.send(
      new GetCommand({ TableName: t.tableName, Key: { pk: tokenPk({ clientId: 'client-1', accountKey: 'ttl' }), sk: 'TOKEN' } }),
    );
    expect(raw.Item).toBeDefined();
    expect(raw.Item?.expiresAt).toBeUndefined();
    expect(raw.Item?.accessExpiresAt).toBe(NOW + 86_400_000);
    expect(raw.Item?.pk).toBe('TOKEN#client-1#ttl');
    expect(raw.Item?.sk).toBe('TOKEN');
  });

  it('refuses to create twice and to write on a stale version', async () => {
    await store.put(record('b'), null);
    await expect(store.put(record('b'), null)).rejects.toBeInstanceOf(TokenVersionConflictError);
    const v2 = await store.put(record('b', { status: 'needs-reauth' }), 1);
    expect(v2.version).toBe(2);
    // A writer that read version 1 loses; the newer item stays.
    const err = await store
      .put(record('b', { current: { accessToken: 'late', refreshToken: 'late', accessExpiresAt: NOW, issuedAt: NOW } }), 1)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenVersionConflictError);
    expect((err as Error).message).not.toContain('late');
    const now = await store.get({ clientId: 'client-1', accountKey: 'b' });
    expect(now?.version).toBe(2);
    expect(now?.status).toBe('needs-reauth');
    expect(now?.current?.accessToken).toBe('access-1');
  });

  it('of two writers on the same version exactly one wins', async () => {
    await store.put(record('race'), null);
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put(record('race', { statusReason: `w${i}` }), 1)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof TokenVersionConflictError)).toHaveLength(7);
  });

  it('a record without tokens (disconnected) stores no token attributes', async () => {
    await store.put(record('d', { status: 'disconnected', current: undefined }), null);
    const got = await store.get({ clientId: 'client-1', accountKey: 'd' });
    expect(got?.current).toBeUndefined();
    expect(got?.status).toBe('disconnected');
  });
});

describe('DynamoTokenStore: the lease', () => {
  const key = { clientId: 'client-1', accountKey: 'lease' };

  it('one holder at a time; refused callers learn until when it is held', async () => {
    expect(await store.acquireLease(key, 'A', NOW + 30_000, NOW)).toEqual({ acquired: true });
    expect(await store.acquireLease(key, 'B', NOW + 30_000, NOW + 1)).toEqual({ acquired: false, heldUntil: NOW + 30_000 });
    expect(await store.acquireLease(key, 'A', NOW + 30_000, NOW + 2)).toMatchObject({ acquired: false }); // not re-entrant
    // Exactly at leaseUntil it is still held (strict <); just after, it can be taken over.
    expect((await store.acquireLease(key, 'B', NOW + 60_000, NOW + 30_000)).acquired).toBe(false);
    expect((await store.acquireLease(key, 'B', NOW + 60_000, NOW + 30_001)).acquired).toBe(true);
    // The old holder cannot release the new holder's lease.
    await store.releaseLease(key, 'A');
    expect((await store.acquireLease(key, 'C', NOW + 90_000, NOW + 30_002)).acquired).toBe(false);
    await store.releaseLease(key, 'B');
    expect((await store.acquireLease(key, 'C', NOW + 90_000, NOW + 30_003)).acquired).toBe(true);
  });

  it('the lease item carries the TTL attribute (seconds) for cleanup', async () => {
    const k = { clientId: 'client-1', accountKey: 'lease-ttl' };
    await store.acquireLease(k, 'A', NOW + 30_000, NOW);
    const raw = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: tokenPk(k), sk: 'LEASE' } }));
    expect(raw.Item).toMatchObject({ owner: 'A', leaseUntil: NOW + 30_000 });
    expect(raw.Item?.expiresAt).toBeGreaterThanOrEqual(Math.ceil((NOW + 30_000) / 1000));
  });

  it('twenty simultaneous takers: exactly one gets it', async () => {
    const k = { clientId: 'client-1', accountKey: 'lease-race' };
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => store.acquireLease(k, `o${i}`, NOW + 30_000, NOW)));
    expect(got.filter((g) => g.acquired)).toHaveLength(1);
  });
});

describe('DynamoTokenStore: OAuth states', () => {
  it('single use, hashed at rest, refused once expired', async () => {
    await store.putState('state-1', { integrationId: 'main', accountId: 'clinic', createdAt: NOW, validUntil: NOW + 60_000 });
    const raw = await t.doc.send(new ScanCommand({ TableName: t.tableName }));
    const item = raw.Items?.find((i) => String(i.pk).startsWith('OAUTHSTATE#'));
    expect(item?.pk).toBe(statePk('state-1'));
    expect(JSON.stringify(raw.Items)).not.toContain('state-1');
    expect(item?.expiresAt).toBe(Math.ceil((NOW + 60_000) / 1000));

    const takes = await Promise.all([store.takeState('state-1', NOW + 1), store.takeState('state-1', NOW + 1)]);
    expect(takes.filter(Boolean)).toEqual([{ integrationId: 'main', accountId: 'clinic', createdAt: NOW, validUntil: NOW + 60_000 }]);
    expect(await store.takeState('state-1', NOW + 2)).toBeUndefined();

    await store.putState('state-2', { integrationId: 'main', accountId: 'clinic', createdAt: NOW, validUntil: NOW + 60_000 });
    expect(await store.takeState('state-2', NOW + 60_000)).toBeUndefined();
    expect(await store.takeState('never-issued', NOW)).toBeUndefined();
  });
});
