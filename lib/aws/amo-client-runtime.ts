/**
 * THE amoCRM REST client of a container: built once (cold start) from the config, the OAuth
 * TokenProvider and the one DynamoDB table, then `clientFor(accountId)` hands out one cached
 * client per account. Workers, later flows and the CLI (`schema pull`, `breaker …`) all take it
 * from here, so every caller in every container spends the same DynamoDB rate budget, stops at the
 * same 403 breaker and shares the same cache.
 *
 * What is shared: one DynamoRateBudget (so this container chains its own slots across accounts of
 * one host), one DynamoBreakerStore, one cache (memory in front of DynamoDB). What is per account:
 * the AmoClient (its breaker reading, its observer), because the client's events do not name the
 * account and the metrics need it as a dimension.
 *
 * Metrics (namespace `AmoGateway`, dimension `account`; infra/aws/metrics.ts reads them):
 * - `AccountBlocked` — a 403 opened the account's breaker. The breaker store lets only the first
 *   opener through, so one block is counted once across every container (the alarm);
 * - `AmoRateLimited` — amoCRM answered 429 (every instance pauses that integration);
 * - `RateBudgetExhausted` — a worker deferred a message because no budget slot came in time;
 * - `AmoCalls` (account, outcome: `amoCallOutcome`) — every request sent, retries included;
 * - `RateBudgetWaits` — a call waited for a budget slot.
 * The last two are per call: the sink sums them and emits once per invocation (its `flush`).
 * `AccountNeedsReauth` is not emitted here: the OAuth lifecycle emits it (once per dead grant)
 * when the client's 401 reaches `onUnauthorized`; give createOAuth the same sink.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BudgetConfig } from '../amocrm/client/rate-budget.ts';
import { DynamoBreakerStore } from '../store/breaker.ts';
import { DynamoCacheStore } from '../store/cache.ts';
import { DynamoRateBudget } from '../store/rate-budget.ts';
import { createAmoClients, type AmoClients, type AmoClientsOptions, type AmoClientStores } from './amo-clients.ts';

export { amoCallOutcome, type ClientTuning } from './amo-clients.ts';

/** The client runtime on the one table (its budget's state readable: the console, the CLI). */
export type AmoClientRuntime = AmoClients<DynamoRateBudget>;

export interface AmoClientRuntimeOptions extends AmoClientsOptions {
  /** The one table's document client (made once per container by the caller). */
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Budget limits (tests; amoCRM's 7/s and 50/s are the defaults). */
  budget?: Partial<BudgetConfig>;
}

/** The stores of the client runtime on the one table (the cache is layered under an in-memory one by the runtime). */
export function dynamoClientStores(a: {
  doc: DynamoDBDocumentClient;
  tableName: string;
  budget?: Partial<BudgetConfig>;
}): AmoClientStores<DynamoRateBudget> {
  const { doc, tableName } = a;
  return {
    budget: new DynamoRateBudget({ doc, tableName, ...(a.budget ? { config: a.budget } : {}) }),
    breaker: new DynamoBreakerStore({ doc, tableName }),
    cache: new DynamoCacheStore({ doc, tableName }),
  };
}

export function createAmoClientRuntime(opts: AmoClientRuntimeOptions): AmoClientRuntime {
  return createAmoClients({ ...opts, stores: dynamoClientStores(opts) });
}
