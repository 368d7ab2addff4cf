/**
 * Idempotency on business identity (DESIGN §3a): each event's key (webhook request id or body
 * hash + entity id + action, RDESK booking + element hash, amojo message id, form submission)
 * runs its effect at most once. Backed by Powertools' idempotency engine and its DynamoDB
 * persistence layer on the one table: pk `IDEMPOTENCY`, sk = hashed key, TTL attribute `expiresAt`.
 *
 * Outcomes:
 * - the key was never seen (or its previous try failed): `fn` runs → `{status: 'ran', value}`;
 * - a completed record exists: `fn` does not run → `{status: 'duplicate'}`;
 * - another worker holds it in progress: throws `IdempotencyInProgressError` (the pipeline defers).
 * A failing `fn` deletes its in-progress record, so a retry runs it again.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyAlreadyInProgressError, IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { TABLE_PK, TABLE_SK, TABLE_TTL_ATTRIBUTE } from './table.ts';

export type OnceResult<T> = { status: 'ran'; value: T } | { status: 'duplicate' };

export interface IdempotencyGuard {
  once<T>(key: string, fn: () => Promise<T>): Promise<OnceResult<T>>;
}

export class IdempotencyInProgressError extends Error {
  override readonly name = 'IdempotencyInProgressError';
  constructor(readonly key: string, options?: ErrorOptions) {
    super('another worker is processing this event right now', options);
  }
}

export interface DynamoIdempotencyOptions {
  client: DynamoDBClient;
  tableName: string;
  /** How long a completed key is remembered (default 3 days: beyond amoCRM's and SQS's redelivery horizons). */
  ttlSeconds?: number;
  /**
   * Milliseconds this invocation may still run; an in-progress record expires then, so a worker
   * that crashed mid-event does not block the key until the TTL (Powertools reads it from the
   * Lambda context; outside Lambda the caller provides it).
   */
  remainingTimeMs?: () => number;
  /** Namespace of the keys (function name on AWS). */
  keyPrefix?: string;
}

export function createDynamoIdempotency(opts: DynamoIdempotencyOptions): IdempotencyGuard {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: opts.tableName,
    awsSdkV3Client: opts.client,
    keyAttr: TABLE_PK,
    sortKeyAttr: TABLE_SK,
    staticPkValue: 'IDEMPOTENCY',
    expiryAttr: TABLE_TTL_ATTRIBUTE,
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    expiresAfterSeconds: opts.ttlSeconds ?? 3 * 24 * 3600,
    throwOnNoIdempotencyKey: true,
  });
  const remaining = opts.remainingTimeMs;

  return {
    async once<T>(key: string, fn: () => Promise<T>): Promise<OnceResult<T>> {
      if (remaining) {
        // Only getRemainingTimeInMillis is read by Powertools; a full Context is not available here.
        config.registerLambdaContext({ getRemainingTimeInMillis: remaining } as unknown as Context);
      }
      let ran = false;
      let value: T | undefined;
      const guarded = makeIdempotent(
        async (_payload: { key: string }) => {
          ran = true;
          value = await fn();
          // The stored response is not used (duplicates skip the effect), keep the record small.
          return true;
        },
        { persistenceStore, config, keyPrefix: opts.keyPrefix ?? 'amo-gateway' },
      );
      try {
        await guarded({ key });
      } catch (e) {
        if (e instanceof IdempotencyAlreadyInProgressError) throw new IdempotencyInProgressError(key, { cause: e });
        throw e;
      }
      return ran ? { status: 'ran', value: value as T } : { status: 'duplicate' };
    },
  };
}
