/**
 * The forms worker's wiring (lib/flows/forms/README.md "What a submission becomes"), shared by the
 * deployed worker (lib/aws/worker-runtime.ts) and the local runner (infra/local/amocrm.ts): the
 * processor of route `forms` over the container's REST client runtime, the contact finder
 * (lib/contacts) and the flow's state on the one table. Active when the config has a `forms` section.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Log } from '../common/log.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { ContactFinder } from '../contacts/types.ts';
import { DynamoFormsState } from '../store/forms-state.ts';
import { createContactsRuntime } from './contacts-runtime.ts';
import type { WorkerFormsDeps } from './forms-processors.ts';

export { formsProcessors, type WorkerFormsDeps } from './forms-processors.ts';

export function createFormsWorkerDeps(a: {
  clientFor: (accountId: string) => AmoClientForAccount;
  finder: ContactFinder;
  doc: DynamoDBDocumentClient;
  tableName: string;
}): WorkerFormsDeps {
  return { clientFor: a.clientFor, finder: a.finder, state: new DynamoFormsState({ doc: a.doc, tableName: a.tableName }) };
}

/**
 * The forms flow's amoCRM side over THE client runtime of the container (budget, breaker, cache
 * on the table): the contact finder over it and the flow's state. The worker (AWS) and the local
 * runner pass their runtime's `clientFor`.
 */
export function formsWorkerDeps(a: {
  config: Config;
  clientFor: (accountId: string) => AmoClientForAccount;
  doc: DynamoDBDocumentClient;
  tableName: string;
  log: Log;
  metrics?: MetricsSink;
}): WorkerFormsDeps {
  const m = a.metrics ? { metrics: a.metrics } : {};
  const { finder } = createContactsRuntime({
    config: a.config,
    doc: a.doc,
    tableName: a.tableName,
    clientFor: a.clientFor,
    log: a.log,
    ...m,
  });
  return createFormsWorkerDeps({ clientFor: a.clientFor, finder, doc: a.doc, tableName: a.tableName });
}
