/** The amoCRM REST v4 client. See README.md in this folder. */
export { AmoClient, type AmoClientForAccount, type AmoClientOptions } from './client.ts';
export { AmoCore, type AmoRequest, type ClientOptions, type Layer } from './core.ts';
export * from './errors.ts';
export {
  decideRetry,
  backoffMs,
  mayHaveLanded,
  DEFAULT_REQUEST_RETRY_POLICY,
  type RetryDecision,
  type RequestRetryPolicy,
  type RequestKind,
} from './retry.ts';
export { paginate, collect, MAX_PAGE } from './pagination.ts';
export { chunk, coalesceUpdates, mergePatch, WRITE_CHUNK, type EntityPatch, type TagRef } from './batching.ts';
export {
  cf,
  encodeFieldValue,
  decodeField,
  readField,
  findField,
  mergeFieldWrites,
  type CustomFieldWrite,
  type FieldDefinition,
  type FieldInput,
} from './custom-fields.ts';
export { ClientCache, DEFAULT_CACHE_POLICY, type CachePolicy } from './cache.ts';
export { DEFAULT_ADD_POLICY, type AddOptions, type AddPolicy } from './add.ts';
export { BreakerGate, liftBreaker, breakerStatus } from './breaker.ts';
export { AccountSchema, pullSchema, pullSchemaToFile, loadSchemaFile, type AccountSchemaJson } from './schema.ts';
export { type AccountRef, type TokenSource, type Observer, type ClientEvent, type FetchLike } from './types.ts';
export { systemClock, skewedClock, type SleepingClock } from '../../common/clock.ts';
export type { AmoResponse } from './transport.ts';
export {
  MemoryRateBudget,
  DEFAULT_BUDGET_CONFIG,
  type RateBudget,
  type BudgetScope,
  type BudgetConfig,
  type BudgetDecision,
} from './rate-budget.ts';
export { MemoryBreakerStore, type BreakerStore, type BreakerState } from './breaker-store.ts';
export { MemoryCacheStore, LayeredCacheStore, type CacheStore, type CacheEntry } from './cache-store.ts';
