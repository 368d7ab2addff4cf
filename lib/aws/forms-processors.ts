/**
 * The `forms` route's processor (lib/flows/forms/README.md "What a submission becomes") over the
 * amoCRM side it is given (WorkerFormsDeps). No AWS SDK here, nor anywhere this module reaches: the
 * worker imports it at its `forms` queue's first message (lib/aws/worker-runtime.ts;
 * test/layout.test.ts holds it SDK-free); lib/aws/forms-worker-runtime.ts builds the deps on the one table.
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Log } from '../common/log.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { ContactFinder } from '../contacts/types.ts';
import { createFormsProcessors } from '../flows/forms/processor.ts';
import type { FormsStateStore } from '../flows/forms/state.ts';
import type { IdempotencyGuard } from '../ingest/idempotency.ts';
import type { ProcessorMap } from '../pipeline/registry.ts';

/** The amoCRM side of the forms flow (WorkerIngestDeps.forms). */
export interface WorkerFormsDeps {
  /** The account's REST client (lib/aws/amo-client-runtime.ts `clientFor`). */
  clientFor: (accountId: string) => AmoClientForAccount;
  /** The contact dedupe (lib/contacts). */
  finder: ContactFinder;
  /** Claims, repeat records, round-robin turns: the DynamoDB adapter. */
  state: FormsStateStore;
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
