/**
 * The ONE list of the custom metrics the gateway's code emits (Powertools EMF, namespace
 * `AmoGateway`) that the alarms and the dashboard read. When the code renames a metric, change it
 * here and nowhere else.
 *
 * `source` says where the name comes from: a constant in `lib/` (real), or *guessed* — the code
 * that emits it had not landed when this was written; fix the name here when it does.
 *
 * Every metric is read through a CloudWatch Metrics Insights query (`SELECT SUM(name) FROM
 * AmoGateway`), never as a plain metric: Powertools adds a `service` dimension and the code adds
 * its own (`account`, `reason`, …), and a plain CloudWatch metric only matches one exact
 * dimension set. The query sums over every dimension set, so an alarm fires whichever account or
 * function emitted the count.
 */

/** POWERTOOLS_METRICS_NAMESPACE of every function; the namespace of every custom metric. */
export const METRICS_NAMESPACE = 'AmoGateway';

export interface AlarmRule {
  /** Fires when the 5-minute sum is ≥ this. */
  readonly atLeast: number;
  /** What it means and what to do: the alarm's description (and the README's table). */
  readonly meaning: string;
}

export interface CustomMetric {
  /** The metric name the code emits. */
  readonly name: string;
  /** Where the name is defined; `guessed` until the emitting code exists. */
  readonly source: string;
  /** The dimension the dashboard splits the graph by (`GROUP BY`), when the code adds one. */
  readonly groupBy?: string;
  /** Alarm on the 5-minute sum; absent = dashboard only. */
  readonly alarm?: AlarmRule;
}

export const CUSTOM_METRICS: readonly CustomMetric[] = [
  {
    name: 'WebhookBadToken',
    source: 'lib/ingest/metrics.ts INGEST_METRIC.badToken',
    alarm: {
      atLeast: 1,
      meaning:
        "An amoCRM webhook arrived with a path token no configured account has (an account's hookToken secret); it was parked with reason bad-token. Either a hook URL set in amoCRM is stale (token rotated, account removed from the config, secret missing) or someone is probing the route. `amo-gateway dlq list` shows the parked messages; fix the hook URL in amoCRM or the secret, then `dlq replay`; ignore probes.",
    },
  },
  {
    name: 'AccountNeedsReauth',
    source: 'lib/amocrm/oauth/ports.ts METRIC.needsReauth',
    groupBy: 'account',
    alarm: {
      atLeast: 1,
      meaning:
        "An account's grant is dead (refresh token revoked, client secret wrong, long-lived token expired). Its messages are deferred, not lost. `amo-gateway token status` names the account and reason; fix the secret or run `amo-gateway auth link --account <id>` as an account admin.",
    },
  },
  {
    name: 'AccountBlocked',
    source: 'lib/aws/amo-client-runtime.ts CLIENT_METRIC.blocked (the 403 breaker opening; counted once per block across containers)',
    groupBy: 'account',
    alarm: {
      atLeast: 1,
      meaning:
        'amoCRM answered 403: the account is blocked (usually after repeated 429s) and every worker has stopped calling it; messages are deferred, not lost. Only amoCRM support lifts the block: open a ticket; once lifted, run `amo-gateway breaker lift --account <id> --yes` so requests flow again (deferred messages come back within 15 minutes).',
    },
  },
  { name: 'Parked', source: 'lib/ingest/metrics.ts INGEST_METRIC.parked', groupBy: 'reason' },
  { name: 'MirrorFailed', source: 'lib/ingest/metrics.ts INGEST_METRIC.mirrorFailed' },
  { name: 'EventsPublished', source: 'lib/ingest/metrics.ts INGEST_METRIC.eventsPublished' },
  // OAuth metrics, dashboard only (lib/amocrm/oauth/README.md "Metrics").
  { name: 'TokenRefreshFailed', source: 'lib/amocrm/oauth/ports.ts METRIC.refreshFailed', groupBy: 'kind' },
  { name: 'TokenRefreshed', source: 'lib/amocrm/oauth/ports.ts METRIC.refreshed', groupBy: 'account' },
  { name: 'AccountDisconnected', source: 'lib/amocrm/oauth/ports.ts METRIC.disconnected', groupBy: 'account' },
  { name: 'LongLivedTokenExpiringSoon', source: 'lib/amocrm/oauth/ports.ts METRIC.longLivedExpiring', groupBy: 'account' },
];

const METRIC_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const DIMENSION = /^[a-z][A-Za-z0-9_]*$/;

/**
 * The Metrics Insights query of a metric's sum over every dimension set (optionally split by one
 * dimension). Names are checked so nothing can break out of the query text.
 */
export function insightsQuery(metric: string, groupBy?: string): string {
  if (!METRIC_NAME.test(metric)) throw new Error(`metrics: "${metric}" is not a plain metric name`);
  if (groupBy !== undefined && !DIMENSION.test(groupBy)) throw new Error(`metrics: "${groupBy}" is not a plain dimension name`);
  return `SELECT SUM(${metric}) FROM ${METRICS_NAMESPACE}${groupBy ? ` GROUP BY ${groupBy}` : ''}`;
}
