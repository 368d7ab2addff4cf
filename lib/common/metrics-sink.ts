/**
 * The one metrics port: a counter sink. Names come from the one catalogue (lib/metrics.ts);
 * `value` is a count, or the metric's own unit (e.g. seconds for DeferredMessageAge). Powertools
 * Metrics fits it in AWS (lib/aws/powertools.ts); the local runner and tests record counts in
 * memory.
 */
import type { MetricName } from '../metrics.ts';

export interface MetricsSink {
  count(name: MetricName, dimensions?: Record<string, string>, value?: number): void;
}

export const noMetrics: MetricsSink = { count() {} };
