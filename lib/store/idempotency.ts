/**
 * The DynamoDB adapter of the idempotency guard (the port and its outcomes: lib/ingest/idempotency.ts).
 *
 * Why not Powertools' idempotency engine (the first version used it): on a table with a sort key
 * it writes every record under ONE static partition key, and a webhook burst costs several
 * writes per event — one hot partition throttles, and throttles become retries. Here every key
 * is its own partition (`pk = IDEM#<sha256(key)>`), the record lifecycle is the same
 * (INPROGRESS with an expiry → COMPLETED with the TTL attribute), and the in-progress expiry is
 * the invocation's remaining time, so a worker that crashed mid-event blocks the key only until
 * its invocation would have ended.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHash, randomUUID } from 'node:crypto';
import {
  IdempotencyInProgressError,
  type IdempotencyGuard,
  type OnceOptions,
  type OnceResult,
  type OnceRun,
} from '../ingest/idempotency.ts';
import { isExpired, TABLE_TTL_ATTRIBUTE, ttlSeconds } from './table.ts';

export interface DynamoIdempotencyOptions {
  client: DynamoDBClient;
  tableName: string;
  /** How long a completed key is remembered (default 3 days: beyond amoCRM's and SQS's redelivery horizons). */
  ttlSeconds?: number;
  /**
   * Milliseconds this invocation may still run; an in-progress record expires then (default
   * 5 minutes when not given), so a worker that crashed mid-event does not block the key for long.
   */
  remainingTimeMs?: () => number;
  /** Injected clock (epoch ms). */
  now?: () => number;
}

const DEFAULT_TTL_SECONDS = 3 * 24 * 3600;
const DEFAULT_IN_PROGRESS_MS = 5 * 60_000;
const SK = 'IDEM';

export function idempotencyPk(key: string): string {
  return `IDEM#${createHash('sha256').update(key).digest('hex')}`;
}

export function createDynamoIdempotency(opts: DynamoIdempotencyOptions): IdempotencyGuard {
  const doc = DynamoDBDocumentClient.from(opts.client, { marshallOptions: { removeUndefinedValues: true } });
  const defaultTtl = opts.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const now = opts.now ?? Date.now;
  const TableName = opts.tableName;

  /**
   * Claim the key; false when a live record (completed or held) is already there. A claim that
   * replaced an in-progress record (its holder's time ran out, or the local runner released it
   * at start) is `resumed`: that holder may have done part of the effect.
   */
  async function claim(pk: string, key: string, owner: string, ttl: number): Promise<false | OnceRun> {
    const t = now();
    const holdMs = Math.max(0, opts.remainingTimeMs?.() ?? DEFAULT_IN_PROGRESS_MS);
    try {
      const put = await doc.send(
        new PutCommand({
          TableName,
          ReturnValues: 'ALL_OLD',
          Item: {
            pk,
            sk: SK,
            key: key.slice(0, 512),
            status: 'INPROGRESS',
            owner,
            inProgressUntil: t + holdMs,
            [TABLE_TTL_ATTRIBUTE]: ttlSeconds(t + ttl * 1000),
          },
          // Free when absent, when a holder's invocation is over, or when the record outlived its TTL
          // (TTL deletion is lazy on AWS and absent locally: never rely on it).
          ConditionExpression: 'attribute_not_exists(pk) OR (#s = :inprogress AND inProgressUntil < :now) OR #exp < :nowSec',
          ExpressionAttributeNames: { '#s': 'status', '#exp': TABLE_TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':inprogress': 'INPROGRESS', ':now': t, ':nowSec': Math.floor(t / 1000) },
        }),
      );
      const old = put.Attributes as { status?: string; expiresAt?: number } | undefined;
      return { resumed: old?.status === 'INPROGRESS' && !isExpired(old.expiresAt, t) };
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  return {
    async once<T>(key: string, fn: (run: OnceRun) => Promise<T>, onceOpts?: OnceOptions): Promise<OnceResult<T>> {
      const ttl = onceOpts?.ttlSeconds ?? defaultTtl;
      const pk = idempotencyPk(key);
      const owner = randomUUID();
      let run = await claim(pk, key, owner, ttl);
      if (!run) {
        const got = await doc.send(new GetCommand({ TableName, Key: { pk, sk: SK }, ConsistentRead: true }));
        const item = got.Item as { status?: string; inProgressUntil?: number; expiresAt?: number } | undefined;
        if (item?.status === 'COMPLETED' && !isExpired(item.expiresAt, now())) return { status: 'duplicate' };
        if (item?.status === 'INPROGRESS' && (item.inProgressUntil ?? 0) >= now()) throw new IdempotencyInProgressError(key);
        // The record changed between the two calls (its holder failed, or it just expired): one more claim.
        run = await claim(pk, key, owner, ttl);
        if (!run) throw new IdempotencyInProgressError(key);
      }
      let value: T;
      try {
        value = await fn(run);
      } catch (e) {
        // Release only our own claim, so a retry runs the effect again.
        await doc
          .send(
            new DeleteCommand({
              TableName,
              Key: { pk, sk: SK },
              ConditionExpression: '#o = :owner',
              ExpressionAttributeNames: { '#o': 'owner' },
              ExpressionAttributeValues: { ':owner': owner },
            }),
          )
          .catch(() => undefined);
        throw e;
      }
      const t = now();
      await doc.send(
        new PutCommand({
          TableName,
          Item: {
            pk,
            sk: SK,
            key: key.slice(0, 512),
            status: 'COMPLETED',
            completedAt: t,
            [TABLE_TTL_ATTRIBUTE]: ttlSeconds(t + ttl * 1000),
          },
        }),
      );
      return { status: 'ran', value };
    },
  };
}

/**
 * Free every in-progress claim in the table — only for a store whose every holder is known to be
 * dead (the local runner at start: one runner per data directory, so a claim left there belongs
 * to a run that crashed). In AWS a crashed holder's claim expires with its invocation instead.
 * The record is kept with its hold ended (not deleted), so the next claim of the key takes it
 * over as `resumed` and the effect re-checks before writing, as after an expired hold in AWS.
 * A claim is freed only if it is still the same in-progress record. Returns how many.
 */
export async function releaseAbandonedClaims(client: DynamoDBClient, tableName: string): Promise<number> {
  const doc = DynamoDBDocumentClient.from(client);
  let released = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'sk = :sk AND #s = :inprogress',
        ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
        ExpressionAttributeValues: { ':sk': SK, ':inprogress': 'INPROGRESS' },
        ProjectionExpression: 'pk, sk, #o',
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: item.pk, sk: SK },
            UpdateExpression: 'SET inProgressUntil = :zero',
            ConditionExpression: '#s = :inprogress AND #o = :owner AND inProgressUntil > :zero',
            ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
            ExpressionAttributeValues: { ':inprogress': 'INPROGRESS', ':owner': item.owner, ':zero': 0 },
          }),
        );
        released++;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return released;
}
