/**
 * The contact finder's wiring (lib/contacts/README.md), shared by the deployed worker, the local
 * runner and the CLI: the index on the one table (lib/store/contact-index.ts), the finder over the
 * container's REST client runtime, and the `contact-index` webhook flow that keeps the index fresh.
 * Enabled by the config's `forms` section (its `defaultCountry`; the forms' accounts are indexed).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Log } from '../common/log.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { CountryCode } from '../common/phone.ts';
import type { Config } from '../config/schema.ts';
import { createContactFinder, type ContactFinder, type ContactIndexStore } from '../contacts/index.ts';
import type { FlowRegistry } from '../ingest/flows.ts';
import { DynamoContactIndex } from '../store/contact-index.ts';
import { contactsCountry } from './contacts-config.ts';
import { withContactIndexFlow } from './hook-flows.ts';

export interface ContactsRuntime {
  index: ContactIndexStore;
  finder: ContactFinder;
  defaultCountry: CountryCode;
}

export function createContactsRuntime(a: {
  config: Config;
  doc: DynamoDBDocumentClient;
  tableName: string;
  clientFor: (accountId: string) => AmoClientForAccount;
  log: Log;
  metrics?: MetricsSink;
}): ContactsRuntime {
  const index = new DynamoContactIndex({ doc: a.doc, tableName: a.tableName });
  const defaultCountry = contactsCountry(a.config);
  const finder = createContactFinder({
    clientFor: a.clientFor,
    index,
    log: a.log,
    defaultCountry,
    ...(a.metrics ? { metrics: a.metrics } : {}),
  });
  return { index, finder, defaultCountry };
}

/**
 * Adds the `contact-index` flow to `flows` (a new registry when there is none) when the config has
 * a `forms` section; otherwise returns `flows` as given. The worker composes it after the rules.
 */
export function withContactFlows(
  config: Config,
  deps: { doc: DynamoDBDocumentClient; tableName: string },
  flows: FlowRegistry | undefined,
): FlowRegistry | undefined {
  return withContactIndexFlow(config, new DynamoContactIndex({ doc: deps.doc, tableName: deps.tableName }), flows);
}
