/**
 * The one Powertools adapter: Logger behind the shared log port, Metrics behind the metrics sink
 * port. Seen structurally, so this module loads neither package (the function files make the
 * instances, once per container).
 */
import type { MetricUnit } from '../metrics.ts';
import type { Log } from '../common/log.ts';
import { aggregatingSink, type MetricsSink } from '../common/metrics-sink.ts';

/** What the adapter needs of a Powertools Logger (structured JSON lines in CloudWatch). */
export interface PowertoolsLoggerLike {
  debug(message: string, attributes: Record<string, unknown>): void;
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export function powertoolsLog(l: PowertoolsLoggerLike): Log {
  return {
    debug: (m, a) => l.debug(m, a ?? {}),
    info: (m, a) => l.info(m, a ?? {}),
    warn: (m, a) => l.warn(m, a ?? {}),
    error: (m, a) => l.error(m, a ?? {}),
  };
}

/** What the adapter needs of Powertools Metrics. */
export interface PowertoolsMetricsLike {
  singleMetric(): { addDimension(name: string, value: string): unknown; addMetric(name: string, unit: MetricUnit, value: number): unknown };
}

/**
 * The unit a metric is emitted with, by the naming rule the catalogue follows (lib/metrics.ts;
 * test/infra/bundle.test.ts checks every entry): an age or a duration — a name ending in `Age` or
 * `Seconds` — in Seconds, everything else a Count. Read from the name, not the catalogue, so the
 * functions do not bundle the catalogue's prose.
 */
export function powertoolsUnit(name: string): MetricUnit {
  return /(Age|Seconds)$/.test(name) ? 'Seconds' : 'Count';
}

/**
 * One single-metric (one EMF line) per data point, so the account dimension does not leak onto
 * other metrics of the invocation. The aggregated counts (lib/metrics.ts `isAggregated`: AmoCalls, Processed, …) are
 * summed per dimension set and leave on `flush()`, which the handler calls once per invocation
 * (aggregatingSink).
 */
export function powertoolsMetricsSink(metrics: PowertoolsMetricsLike): Required<MetricsSink> {
  return aggregatingSink({
    count(name, dimensions = {}, value = 1) {
      const m = metrics.singleMetric();
      for (const [k, v] of Object.entries(dimensions)) m.addDimension(k, v);
      m.addMetric(name, powertoolsUnit(name), value);
    },
  });
}
