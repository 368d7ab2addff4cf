/**
 * The rules in the deployed worker (lib/rules/README.md): the config's rules resolved at cold
 * start against the dictionary files bundled with the function (the CDK construct copies each
 * account's `schema/<account>.json` next to the code; `AMO_RULES_DIR`, default the Lambda task
 * root) and registered as flows, with the REST client runtime (OAuth tokens, the shared rate
 * budget and breaker) and the rules state on the one table. A name that does not resolve fails
 * the cold start (every invocation fails, alarmed), as it failed synth before.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Config } from '../config/schema.ts';
import type { Log } from '../common/log.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import { FlowRegistry } from '../ingest/flows.ts';
// The modules, not the index: the index re-exports the config section's schemas (built at import).
import { registerRules } from '../rules/flow.ts';
import { loadRules } from '../rules/load.ts';
import { DynamoRulesState } from '../store/rules-state.ts';
import { createAmoClientRuntime } from './amo-client-runtime.ts';
import { tokenProviderFromEnv } from './oauth-runtime.ts';

/** The flows of the config's rules; undefined when it has none. */
export function rulesFlowsFromEnv(
  env: NodeJS.ProcessEnv,
  config: Config,
  deps: {
    doc: DynamoDBDocumentClient;
    tableName: string;
    log: Log;
    metrics?: MetricsSink;
    /** THE client runtime of the container (lib/aws/worker-runtime.ts); without it one is built here. */
    clientFor?: (accountId: string) => AmoClientForAccount;
  },
): FlowRegistry | undefined {
  const compiled = loadRules(config, { baseDir: env.AMO_RULES_DIR ?? env.LAMBDA_TASK_ROOT ?? process.cwd() });
  if (!compiled) return undefined;
  const metrics = deps.metrics ?? noMetrics;
  const clientFor =
    deps.clientFor ??
    (
      (runtime) => (id: string) =>
        runtime.clientFor(id)
    )(
      createAmoClientRuntime({
        config,
        oauth: tokenProviderFromEnv(env, { log: deps.log, metrics }, config),
        doc: deps.doc,
        tableName: deps.tableName,
        metrics,
        log: deps.log,
      }),
    );
  return registerRules(new FlowRegistry(), {
    rules: compiled,
    client: (a) => clientFor(a.id),
    clientById: (id) => clientFor(id),
    state: new DynamoRulesState({ doc: deps.doc, tableName: deps.tableName }),
    metrics,
  });
}
