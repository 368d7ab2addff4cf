/**
 * The webhook flows of queue `amocrm-hooks` (the amoCRM webhook processor runs them, lib/ingest):
 * the config's rules (lib/rules) and the contact index's flow (lib/contacts), over the stores they
 * are given. No AWS SDK here, nor anywhere this module reaches: the worker imports it at that
 * queue's first message (lib/aws/worker-runtime.ts gives it the DynamoDB stores; test/layout.test.ts
 * holds it SDK-free); lib/aws/contacts-runtime.ts builds the contact index's flow on the one table.
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { ContactIndexStore } from '../contacts/index-store.ts';
import { registerContactIndexFlow } from '../contacts/flow.ts';
import { FlowRegistry } from '../ingest/flows.ts';
import { registerRules } from '../rules/flow.ts';
import { loadRules } from '../rules/load.ts';
import type { RulesState } from '../rules/state.ts';
import { contactsCountry, indexedAccounts } from './contacts-config.ts';

/** Where the rules' dictionary files are: `AMO_RULES_DIR`, else the Lambda task root (where the construct bundles them). */
export function rulesBaseDir(env: NodeJS.ProcessEnv): string {
  return env.AMO_RULES_DIR ?? env.LAMBDA_TASK_ROOT ?? process.cwd();
}

/**
 * The config's rules resolved against the dictionary files under `baseDir` and registered as
 * flows (into `flows`, or a new registry); undefined when the config has none. Throws when a name
 * does not resolve (synth refused it before).
 */
export function rulesFlows(
  config: Config,
  deps: {
    baseDir: string;
    clientFor: (accountId: string) => AmoClientForAccount;
    state: RulesState;
    metrics?: MetricsSink;
    flows?: FlowRegistry;
  },
): FlowRegistry | undefined {
  const compiled = loadRules(config, { baseDir: deps.baseDir });
  if (!compiled) return deps.flows;
  return registerRules(deps.flows ?? new FlowRegistry(), {
    rules: compiled,
    client: (a) => deps.clientFor(a.id),
    clientById: (id) => deps.clientFor(id),
    state: deps.state,
    metrics: deps.metrics ?? noMetrics,
  });
}

/**
 * Adds the `contact-index` flow to `flows` (a new registry when there is none) when the config has
 * a `forms` section; otherwise returns `flows` as given. The worker composes it after the rules.
 */
export function withContactIndexFlow(config: Config, index: ContactIndexStore, flows: FlowRegistry | undefined): FlowRegistry | undefined {
  if (!config.forms) return flows;
  return registerContactIndexFlow(flows ?? new FlowRegistry(), {
    index,
    defaultCountry: contactsCountry(config),
    accounts: indexedAccounts(config),
  });
}
