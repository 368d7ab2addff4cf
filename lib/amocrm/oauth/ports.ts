/**
 * Small ports the OAuth code needs from its host: time, logging, metrics, randomness. Everything
 * is injected so tests move time and count what happened without module mocks.
 */
export interface Clock {
  /** epoch ms */
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** Structured log lines (Powertools Logger fits). Never pass tokens or secrets in `extra`. */
export interface OAuthLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}
export const silentLog: OAuthLog = { info() {}, warn() {}, error() {} };

import { metricUnit, type MetricName, type MetricUnit } from '../../metrics.ts';

/**
 * A metric sink. Names come from the one catalogue (lib/metrics.ts); `value` is a count, or the
 * metric's own unit (e.g. seconds for DeferredMessageAge).
 */
export interface MetricsSink {
  count(name: MetricName, dimensions?: Record<string, string>, value?: number): void;
}
export const noMetrics: MetricsSink = { count() {} };

/**
 * Powertools Metrics, seen structurally (so lib/ does not import it): one single-metric per count
 * so the account dimension does not leak onto other metrics of the invocation.
 */
export interface PowertoolsMetricsLike {
  singleMetric(): { addDimension(name: string, value: string): unknown; addMetric(name: string, unit: MetricUnit, value: number): unknown };
}
export function powertoolsMetricsSink(metrics: PowertoolsMetricsLike): MetricsSink {
  return {
    count(name, dimensions = {}, value = 1) {
      const m = metrics.singleMetric();
      for (const [k, v] of Object.entries(dimensions)) m.addDimension(k, v);
      m.addMetric(name, metricUnit(name), value);
    },
  };
}

/** Sleeps in real time (waits for a lease holder are real, whatever the injected clock says). */
export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
