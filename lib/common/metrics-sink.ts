/**
 * The one metrics port: a counter sink. Names come from the one catalogue (lib/metrics.ts);
 * `value` is a count, or the metric's own unit (e.g. seconds for DeferredMessageAge). Powertools
 * Metrics fits it in AWS (lib/aws/powertools.ts); the local runner and tests record counts in
 * memory.
 */
import { isAggregated, type MetricName } from '../metrics.ts';

export interface MetricsSink {
  count(name: MetricName, dimensions?: Record<string, string>, value?: number): void;
  /**
   * Emits what the sink holds back (the aggregated counts (lib/metrics.ts `isAggregated`)); the host calls it once at
   * the end of each invocation. Absent: the sink holds nothing back.
   */
  flush?(): void;
}

export const noMetrics: MetricsSink = { count() {} };

/** Held-back sums at most this many dimension sets before they are emitted anyway. */
const MAX_HELD = 100;
/** …or this long (a container that is never flushed still reports, late). */
const MAX_HOLD_MS = 60_000;

/**
 * A sink that sums the aggregated counts (lib/metrics.ts `isAggregated`) (AmoCalls per account and outcome, Processed
 * per queue, …) in memory and hands each dimension set's sum to `inner` once, on `flush()`: one
 * data point per invocation instead of one EMF line per amoCRM call or message. Every other metric
 * goes to `inner` at once. Without a flush the sums still leave when they are a minute old or 100
 * dimension sets are held (checked at each count).
 */
export function aggregatingSink(inner: MetricsSink, now: () => number = Date.now): Required<MetricsSink> {
  const held = new Map<string, { name: MetricName; dimensions: Record<string, string>; value: number }>();
  let since = 0;
  const flush = () => {
    const points = [...held.values()];
    held.clear();
    for (const p of points) inner.count(p.name, p.dimensions, p.value);
    inner.flush?.();
  };
  return {
    count(name, dimensions = {}, value = 1) {
      if (!isAggregated(name)) {
        inner.count(name, dimensions, value);
        return;
      }
      const sorted = Object.fromEntries(Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const key = `${name}\u0000${JSON.stringify(sorted)}`;
      if (held.size === 0) since = now();
      const hit = held.get(key);
      if (hit) hit.value += value;
      else held.set(key, { name, dimensions: { ...dimensions }, value });
      if (held.size >= MAX_HELD || now() - since >= MAX_HOLD_MS) flush();
    },
    flush,
  };
}
