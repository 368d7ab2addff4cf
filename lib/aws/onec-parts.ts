/**
 * The worker's 1C parts (lib/flows/onec/README.md) over the stores they are given: the `onec`
 * route's processor (catalog and corp operations) and the `onec-export` flow on lead status events
 * (the deal export). No AWS SDK here, nor anywhere this module reaches: the worker imports it at
 * the first message that needs it (lib/aws/worker-runtime.ts; test/layout.test.ts holds it
 * SDK-free); lib/aws/onec-runtime.ts `onecWorkerParts` gives it the DynamoDB stores.
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Log } from '../common/log.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import { createContactFinder } from '../contacts/finder.ts';
import type { ContactIndexStore } from '../contacts/index-store.ts';
import type { ExportLedger } from '../flows/onec/export.ts';
import { registerOnecFlow } from '../flows/onec/flow.ts';
import type { OnecRequestStore } from '../flows/onec/job.ts';
import { createOnecProcessor, ONEC_ROUTE } from '../flows/onec/processor.ts';
import { FlowRegistry } from '../ingest/flows.ts';
import type { ProcessorMap } from '../pipeline/registry.ts';
import { contactsCountry } from './contacts-config.ts';

export interface OnecParts {
  config: Config;
  secrets: SecretSource;
  clientFor: (accountId: string) => AmoClientForAccount;
  /** The 1C requests' records (status, dedupe). */
  requests: OnecRequestStore;
  /** The contact index the finder reads (lib/contacts). */
  contactIndex: ContactIndexStore;
  /** What the deal export sent (config `onec.outbound`). */
  ledger: ExportLedger;
  log: Log;
  metrics?: MetricsSink;
  fetch?: typeof fetch;
  flows?: FlowRegistry | undefined;
}

/** The `onec` route's processor (catalog and corp operations); none without an `onec` section. */
export function onecProcessors(a: Omit<OnecParts, 'ledger' | 'flows' | 'fetch'>): ProcessorMap {
  const cfg = a.config.onec;
  if (!cfg) return {};
  const defaultCountry = contactsCountry(a.config);
  const finder = createContactFinder({
    clientFor: a.clientFor,
    index: a.contactIndex,
    log: a.log,
    defaultCountry,
    ...(a.metrics ? { metrics: a.metrics } : {}),
  });
  return { [ONEC_ROUTE]: createOnecProcessor({ config: cfg, clientFor: a.clientFor, requests: a.requests, finder, defaultCountry }) };
}

/** `flows` with the deal export flow added when the config has `onec.outbound` (else `flows` as given). */
export function withOnecExportFlow(a: Pick<OnecParts, 'config' | 'secrets' | 'clientFor' | 'ledger' | 'metrics' | 'fetch' | 'flows'>) {
  const outbound = a.config.onec?.outbound;
  if (!outbound) return a.flows;
  return registerOnecFlow(a.flows ?? new FlowRegistry(), {
    outbound,
    secrets: a.secrets,
    clientFor: a.clientFor,
    ledger: a.ledger,
    ...(a.fetch ? { fetch: a.fetch } : {}),
    ...(a.metrics ? { metrics: a.metrics } : {}),
  });
}

/** Both: the `onec` processor, and `flows` with the export flow added when the config has `onec.outbound`. */
export function onecParts(a: OnecParts): { processors: ProcessorMap; flows: FlowRegistry | undefined } {
  return { processors: onecProcessors(a), flows: withOnecExportFlow(a) };
}
