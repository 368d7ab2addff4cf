/**
 * The DynamoDB adapter of TokenStore and OAuthStateStore (the ports: lib/amocrm/oauth/token-store.ts):
 * where OAuth token pairs live, and the lease that lets exactly one caller refresh them
 * (docs/architecture.md#one-refresher-never-two).
 *
 * Items (the one table, lib/store/table.ts):
 * - token: pk `TOKEN#<clientId>#<accountKey>`, sk `TOKEN`. Versioned: every write is conditional
 *   on the version the writer read, so a writer that lost a race can never overwrite a newer
 *   pair. The access token's expiry is `accessExpiresAt` (epoch ms), NOT `expiresAt`: that name
 *   is the table's TTL attribute, and a token item must never be deleted by TTL.
 * - lease: same pk, sk `LEASE`: `{owner, leaseUntil}` put with
 *   `attribute_not_exists(pk) OR leaseUntil < :now`, plus `expiresAt` so TTL cleans it up.
 *   Correctness never relies on TTL (dynalite never expires): the condition reads leaseUntil.
 * - OAuth state: pk `OAUTHSTATE#<sha256(state)>`, sk `STATE`, TTL `expiresAt`; taken (deleted)
 *   exactly once.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import {
  TokenVersionConflictError,
  type IssuedState,
  type LeaseResult,
  type OAuthStateStore,
  type TokenKey,
  type TokenKind,
  type TokenPair,
  type TokenRecord,
  type TokenRecordInput,
  type TokenStatus,
  type TokenStore,
} from '../amocrm/oauth/token-store.ts';
import { isExpired, ttlSeconds } from './table.ts';

export function tokenPk(key: TokenKey): string {
  return `TOKEN#${key.clientId}#${key.accountKey}`;
}
export const TOKEN_SK = 'TOKEN';
export const LEASE_SK = 'LEASE';
export const STATE_SK = 'STATE';
export function statePk(state: string): string {
  // The state is a CSRF nonce; storing its hash keeps a table read from yielding usable ones.
  return `OAUTHSTATE#${createHash('sha256').update(state).digest('hex')}`;
}

function isConditionalFailure(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'ConditionalCheckFailedException';
}

type Item = Record<string, unknown>;

/** Drops undefined values: the document client refuses them unless told otherwise, and we do not rely on how it was built. */
function compact(i: Item): Item {
  return Object.fromEntries(Object.entries(i).filter(([, v]) => v !== undefined));
}

function pairToItem(p: TokenPair): Item {
  return compact({ accessToken: p.accessToken, refreshToken: p.refreshToken, accessExpiresAt: p.accessExpiresAt, issuedAt: p.issuedAt });
}
function pairFromItem(i: Item | undefined): TokenPair | undefined {
  if (!i || typeof i.accessToken !== 'string') return undefined;
  return {
    accessToken: i.accessToken,
    ...(typeof i.refreshToken === 'string' ? { refreshToken: i.refreshToken } : {}),
    accessExpiresAt: Number(i.accessExpiresAt),
    issuedAt: Number(i.issuedAt),
  };
}

function recordToItem(r: TokenRecordInput, version: number): Item {
  const { current, previous, ...rest } = r;
  return compact({
    pk: tokenPk(r),
    sk: TOKEN_SK,
    ...rest,
    version,
    ...(current ? pairToItem(current) : {}),
    ...(previous ? { previous: pairToItem(previous) } : {}),
  });
}

function recordFromItem(i: Item): TokenRecord {
  const opt = <T>(k: string): T | undefined => (i[k] === undefined || i[k] === null ? undefined : (i[k] as T));
  const current = pairFromItem(i);
  const previous = pairFromItem(opt<Item>('previous'));
  const rec: TokenRecord = {
    clientId: String(i.clientId),
    accountKey: String(i.accountKey),
    version: Number(i.version),
    kind: i.kind as TokenKind,
    status: i.status as TokenStatus,
    baseUrl: String(i.baseUrl),
    host: String(i.host),
    installedAt: Number(i.installedAt),
    updatedAt: Number(i.updatedAt),
  };
  if (current) rec.current = current;
  if (previous) rec.previous = previous;
  const reason = opt<string>('statusReason');
  if (reason !== undefined) rec.statusReason = reason;
  const via = opt<TokenRecord['installedVia']>('installedVia');
  if (via !== undefined) rec.installedVia = via;
  for (const k of ['statusAt', 'confirmedAt', 'lastRefreshAt', 'amoAccountId'] as const) {
    const v = opt<number>(k);
    if (v !== undefined) rec[k] = Number(v);
  }
  return rec;
}

export interface DynamoTokenStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

/** The DynamoDB adapter of TokenStore and OAuthStateStore. */
export class DynamoTokenStore implements TokenStore, OAuthStateStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(opts: DynamoTokenStoreOptions) {
    this.doc = opts.doc;
    this.table = opts.tableName;
  }

  async get(key: TokenKey): Promise<TokenRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: tokenPk(key), sk: TOKEN_SK }, ConsistentRead: true }),
    );
    return out.Item ? recordFromItem(out.Item) : undefined;
  }

  async put(record: TokenRecordInput, expectedVersion: number | null): Promise<TokenRecord> {
    const version = (expectedVersion ?? 0) + 1;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: recordToItem(record, version),
          ...(expectedVersion === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#v = :v',
                ExpressionAttributeNames: { '#v': 'version' },
                ExpressionAttributeValues: { ':v': expectedVersion },
              }),
        }),
      );
    } catch (e) {
      if (isConditionalFailure(e)) {
        throw new TokenVersionConflictError(
          `token item ${record.clientId}/${record.accountKey} ${expectedVersion === null ? 'already exists' : `is no longer at version ${expectedVersion}`}`,
          { cause: e },
        );
      }
      throw e;
    }
    return { ...record, version };
  }

  async acquireLease(key: TokenKey, owner: string, untilMs: number, nowMs: number): Promise<LeaseResult> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: tokenPk(key), sk: LEASE_SK, owner, leaseUntil: untilMs, expiresAt: ttlSeconds(untilMs) + 3600 },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': nowMs },
          // The holder's leaseUntil comes back with the refusal: waiters then only re-read the
          // token item until it passes instead of hammering the lease (one write per poll).
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { acquired: true };
    } catch (e) {
      if (!isConditionalFailure(e)) throw e;
      // The error carries the raw (marshalled) item; lib-dynamodb does not unmarshall errors.
      const raw = (e as { Item?: { leaseUntil?: { N?: string } } }).Item?.leaseUntil?.N;
      const heldUntil = raw === undefined ? await this.leaseUntil(key) : Number(raw);
      return heldUntil !== undefined && Number.isFinite(heldUntil) ? { acquired: false, heldUntil } : { acquired: false };
    }
  }

  /**
   * The holder's leaseUntil read back, for a refusal that came without the old item: an endpoint
   * that ignores ReturnValuesOnConditionCheckFailure (dynalite, the offline emulator) still lets
   * waiters learn until when to wait. One consistent read, only on that path.
   */
  private async leaseUntil(key: TokenKey): Promise<number | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: tokenPk(key), sk: LEASE_SK }, ConsistentRead: true }),
    );
    const v: unknown = out.Item?.leaseUntil;
    return typeof v === 'number' ? v : undefined;
  }

  async releaseLease(key: TokenKey, owner: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: tokenPk(key), sk: LEASE_SK },
          ConditionExpression: '#o = :o',
          ExpressionAttributeNames: { '#o': 'owner' },
          ExpressionAttributeValues: { ':o': owner },
        }),
      );
    } catch (e) {
      if (!isConditionalFailure(e)) throw e;
    }
  }

  async putState(state: string, data: IssuedState): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: statePk(state), sk: STATE_SK, ...data, expiresAt: ttlSeconds(data.validUntil) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async takeState(state: string, nowMs: number): Promise<IssuedState | undefined> {
    let old: Item | undefined;
    try {
      const out = await this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: statePk(state), sk: STATE_SK },
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      old = out.Attributes;
    } catch (e) {
      if (isConditionalFailure(e)) return undefined;
      throw e;
    }
    if (!old) return undefined;
    // TTL deletion is lazy (and absent locally): the reader checks expiry itself.
    if (isExpired(old.expiresAt as number | undefined, nowMs) || Number(old.validUntil) <= nowMs) return undefined;
    return {
      integrationId: String(old.integrationId),
      accountId: String(old.accountId),
      createdAt: Number(old.createdAt),
      validUntil: Number(old.validUntil),
    };
  }
}
