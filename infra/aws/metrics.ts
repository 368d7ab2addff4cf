/**
 * The custom metrics the alarms and the dashboard read, built from the one catalogue of what the
 * code emits (lib/metrics.ts): no list is kept here. To add or rename a metric, change the
 * catalogue; the dashboard widget and (when it has a rule) the alarm follow.
 *
 * Every metric is read through a CloudWatch Metrics Insights query (`SELECT SUM(name) FROM
 * AmoGateway`), never as a plain metric: Powertools adds a `service` dimension and the code adds
 * its own (`account`, `reason`, …), and a plain CloudWatch metric only matches one exact
 * dimension set. The query aggregates over every dimension set, so an alarm fires whichever
 * account or function emitted the data point.
 */
import { catalogue, type MetricStat } from '../../lib/metrics.ts';

/** POWERTOOLS_METRICS_NAMESPACE of every function; the namespace of every custom metric. */
export const METRICS_NAMESPACE = 'AmoGateway';

export interface AlarmRule {
  /** The 5-minute aggregate the alarm compares: SUM for counts, MAX for ages. */
  readonly stat: MetricStat;
  /** Fires when the 5-minute aggregate is ≥ this. */
  readonly atLeast: number;
  /** What it means and what to do: the alarm's description (and the README's table). */
  readonly meaning: string;
}

export interface CustomMetric {
  /** The metric name the code emits. */
  readonly name: string;
  /** CloudWatch unit it is emitted with. */
  readonly unit: 'Count' | 'Seconds';
  /** The dimension the dashboard splits the graph by (`GROUP BY`), when the code adds one. */
  readonly groupBy?: string;
  /** How the dashboard aggregates it (SUM for counts, MAX for ages). */
  readonly stat: MetricStat;
  /** Alarm on the 5-minute aggregate; absent = dashboard only. */
  readonly alarm?: AlarmRule;
}

/** Every metric of lib/metrics.ts, in its order. */
export const CUSTOM_METRICS: readonly CustomMetric[] = catalogue().map((m) => ({
  name: m.name,
  unit: m.unit,
  ...(m.groupBy ? { groupBy: m.groupBy } : {}),
  stat: m.alarm?.stat ?? (m.unit === 'Seconds' ? 'MAX' : 'SUM'),
  ...(m.alarm ? { alarm: { stat: m.alarm.stat, atLeast: m.alarm.atLeast, meaning: `${m.meaning} ${m.alarm.action}` } } : {}),
}));

const METRIC_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const DIMENSION = /^[a-z][A-Za-z0-9_]*$/;
/** A dimension value in a WHERE clause: route, queue, reason and account ids are all of this shape. */
const DIMENSION_VALUE = /^[A-Za-z0-9_.:-]+$/;

/**
 * The Metrics Insights query of a metric's aggregate (SUM or MAX) over every dimension set,
 * optionally filtered on dimension values (`where`) and split by dimensions (`groupBy`). Names and
 * values are checked so nothing can break out of the query text.
 */
export function insightsQuery(
  metric: string,
  groupBy?: string | readonly string[],
  stat: MetricStat = 'SUM',
  where: Readonly<Record<string, string>> = {},
): string {
  if (!METRIC_NAME.test(metric)) throw new Error(`metrics: "${metric}" is not a plain metric name`);
  const groups = groupBy === undefined ? [] : typeof groupBy === 'string' ? [groupBy] : [...groupBy];
  for (const g of [...groups, ...Object.keys(where)])
    if (!DIMENSION.test(g)) throw new Error(`metrics: "${g}" is not a plain dimension name`);
  for (const v of Object.values(where)) if (!DIMENSION_VALUE.test(v)) throw new Error(`metrics: "${v}" is not a plain dimension value`);
  if (stat !== 'SUM' && stat !== 'MAX') throw new Error(`metrics: "${String(stat)}" is not an aggregate we use`);
  const filter = Object.entries(where)
    .map(([k, v]) => `${k} = '${v}'`)
    .join(' AND ');
  return `SELECT ${stat}(${metric}) FROM ${METRICS_NAMESPACE}${filter ? ` WHERE ${filter}` : ''}${groups.length ? ` GROUP BY ${groups.join(', ')}` : ''}`;
}
