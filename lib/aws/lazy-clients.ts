/**
 * THE amoCRM client runtime of a container (lib/aws/amo-clients.ts: OAuth tokens, the shared rate
 * budget, the 403 breaker, the cache), built when a flow first talks to amoCRM rather than at cold
 * start: the worker and the 1C function. Its DynamoDB stores are made at once (with the SDK, which
 * the function loads anyway); the client and OAuth code are import()ed at the first call, from
 * modules free of the AWS SDK (test/layout.test.ts: an SDK package reached from an import()ed
 * module would be kept whole and evaluated at cold start by esbuild).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { OAuthDeps } from '../amocrm/oauth/index.ts';
import type { Log } from '../common/log.ts';
import { once } from '../common/lazy.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import { DynamoBreakerStore } from '../store/breaker.ts';
import { DynamoCacheStore } from '../store/cache.ts';
import { DynamoRateBudget } from '../store/rate-budget.ts';
import { DynamoTokenStore } from '../store/token-store.ts';

/** `clientFor` of the container's client runtime, once it is built (the first call builds it; callers at once share the build). */
export function lazyAmoClients(a: {
  config: Config;
  doc: DynamoDBDocumentClient;
  tableName: string;
  secrets: SecretSource;
  log: Log;
  metrics?: MetricsSink;
}): () => Promise<(accountId: string) => AmoClientForAccount> {
  const store = { doc: a.doc, tableName: a.tableName };
  const oauth: OAuthDeps = {
    config: a.config,
    store: new DynamoTokenStore(store),
    secrets: a.secrets,
    fetch: globalThis.fetch,
    log: a.log,
    metrics: a.metrics ?? noMetrics,
  };
  // As dynamoClientStores (lib/aws/amo-client-runtime.ts), whose module would load the clients at once.
  const stores = { budget: new DynamoRateBudget(store), breaker: new DynamoBreakerStore(store), cache: new DynamoCacheStore(store) };
  return once(async () => {
    const [{ createAmoClients }, { TokenProvider }, { TokenLifecycle }] = await Promise.all([
      import('./amo-clients.ts'),
      import('../amocrm/oauth/provider.ts'),
      import('../amocrm/oauth/lifecycle.ts'),
    ]);
    const amo = createAmoClients({
      config: a.config,
      oauth: new TokenProvider(new TokenLifecycle(oauth)),
      stores,
      log: a.log,
      ...(a.metrics ? { metrics: a.metrics } : {}),
    });
    return (id: string): AmoClientForAccount => amo.clientFor(id);
  });
}
