/**
 * The one DynamoDB table (docs/architecture.md#one-table): string keys `pk`/`sk`, one TTL attribute `expiresAt`
 * (epoch seconds) for every item kind that expires. dynalite and DynamoDB Local never expire
 * items, so no code relies on TTL for correctness: readers check `expiresAt` themselves.
 */
export const TABLE_PK = 'pk';
export const TABLE_SK = 'sk';
export const TABLE_TTL_ATTRIBUTE = 'expiresAt';

/** A plain CreateTable input (structurally what @aws-sdk/client-dynamodb expects). */
export function createTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE_PK, AttributeType: 'S' as const },
      { AttributeName: TABLE_SK, AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: TABLE_PK, KeyType: 'HASH' as const },
      { AttributeName: TABLE_SK, KeyType: 'RANGE' as const },
    ],
  };
}

/** Epoch seconds for `expiresAt`, from epoch milliseconds. */
export function ttlSeconds(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}

/** True when an item with this `expiresAt` is past it (TTL deletion is lazy on AWS and absent locally). */
export function isExpired(expiresAt: number | undefined, nowMs: number): boolean {
  return expiresAt !== undefined && expiresAt * 1000 <= nowMs;
}

/** A conditional write was refused (the SDK's ConditionalCheckFailedException, known by its name). */
export function isConditionFailed(e: unknown): boolean {
  return (e as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}
