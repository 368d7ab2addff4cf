/**
 * The forms worker's wiring (lib/flows/forms/README.md "What a submission becomes"), shared by the
 * deployed worker (lib/aws/worker-runtime.ts) and the local runner (infra/local/amocrm.ts): the
 * processor of route `forms` over the container's REST client runtime, the contact finder
 * (lib/contacts) and the flow's state on the one table. Active when the config has a `forms` section.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { TokenSource } from '../amocrm/client/types.ts';
import type { Log } from '../common/log.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { ContactFinder } from '../contacts/types.ts';
import { createFormsProcessors } from '../flows/forms/processor.ts';
import type { FormsStateStore } from '../flows/forms/state.ts';
import type { IdempotencyGuard } from '../ingest/idempotency.ts';
import type { ProcessorMap } from '../pipeline/registry.ts';
import { DynamoFormsState } from '../store/forms-state.ts';
import { createAmoClientRuntime } from './amo-client-runtime.ts';
import { createContactsRuntime } from './contacts-runtime.ts';
import { oauthFromEnv } from './oauth-runtime.ts';

/** The amoCRM side of the forms flow (WorkerIngestDeps.forms). */
export interface WorkerFormsDeps {
  /** The account's REST client (lib/aws/amo-client-runtime.ts `clientFor`). */
  clientFor: (accountId: string) => AmoClientForAccount;
  /** The contact dedupe (lib/contacts). */
  finder: ContactFinder;
  /** Claims, repeat records, round-robin turns: the DynamoDB adapter. */
  state: FormsStateStore;
}

export function createFormsWorkerDeps(a: {
  clientFor: (accountId: string) => AmoClientForAccount;
  finder: ContactFinder;
  doc: DynamoDBDocumentClient;
  tableName: string;
}): WorkerFormsDeps {
  return { clientFor: a.clientFor, finder: a.finder, state: new DynamoFormsState({ doc: a.doc, tableName: a.tableName }) };
}

/**
 * The forms flow's amoCRM side over an OAuth token provider: THE client runtime of the container
 * (budget, breaker, cache on the table), the contact finder over it, the flow's state. The local
 * runner calls this with its own OAuth engine; `formsFromEnv` in AWS.
 */
export function formsWorkerDeps(a: {
  config: Config;
  oauth: TokenSource;
  doc: DynamoDBDocumentClient;
  tableName: string;
  log: Log;
  metrics?: MetricsSink;
}): WorkerFormsDeps {
  const m = a.metrics ? { metrics: a.metrics } : {};
  const amo = createAmoClientRuntime({ config: a.config, oauth: a.oauth, doc: a.doc, tableName: a.tableName, log: a.log, ...m });
  const clientFor = (id: string) => amo.clientFor(id);
  const { finder } = createContactsRuntime({ config: a.config, doc: a.doc, tableName: a.tableName, clientFor, log: a.log, ...m });
  return createFormsWorkerDeps({ clientFor, finder, doc: a.doc, tableName: a.tableName });
}

/** The same in AWS (the worker's environment: the OAuth engine from `oauthFromEnv`). */
export function formsFromEnv(
  env: NodeJS.ProcessEnv,
  config: Config,
  doc: DynamoDBDocumentClient,
  tableName: string,
  log: Log,
  metrics: MetricsSink | undefined,
): WorkerFormsDeps {
  const oauth = oauthFromEnv(env, { log, metrics: metrics ?? noMetrics });
  return formsWorkerDeps({ config, oauth: oauth.provider, doc, tableName, log, ...(metrics ? { metrics } : {}) });
}

/** The `forms` route's processor when the config has a `forms` section and its amoCRM side is wired; else none. */
export function formsProcessors(
  ingest: { config: Config; forms?: WorkerFormsDeps },
  guard: IdempotencyGuard,
  log: Log,
  metrics: MetricsSink | undefined,
): ProcessorMap {
  const cfg = ingest.config.forms;
  if (!cfg || !ingest.forms) return {};
  return createFormsProcessors({
    config: cfg,
    clientFor: ingest.forms.clientFor,
    finder: ingest.forms.finder,
    state: ingest.forms.state,
    guard,
    log,
    ...(metrics ? { metrics } : {}),
  }).processors;
}
