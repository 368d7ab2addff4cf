/**
 * The worker's metrics, counted from the pipeline's hooks (lib/pipeline/hooks.ts), never from log
 * lines. Names come from the one catalogue, lib/metrics.ts (namespace `AmoGateway` in AWS;
 * Powertools adds the `service` dimension).
 */
import type { MetricsSink } from '../common/metrics-sink.ts';
import { METRIC } from '../metrics.ts';
import type { PipelineHooks } from '../pipeline/hooks.ts';

export type { MetricsSink } from '../common/metrics-sink.ts';

/**
 * Counts every message done with as `Processed` by queue (summed per invocation by the sink); every park that landed in a DLQ, whatever decided it (a processor, the pipeline's own
 * checks, out-of-attempts, deferred-too-long) as `Parked` by queue and reason; every deferral as `Deferred`
 * by queue and reason plus its age as `DeferredMessageAge` (seconds); every failed DLQ index write as
 * `DlqIndexWriteFailed`; at the end of each batch, flushes the sink (one data point per sum per invocation).
 */
export function pipelineMetrics(metrics: MetricsSink): PipelineHooks {
  return {
    processed: (e) => metrics.count(METRIC.processed, { queue: e.queue }),
    parked: (e) => metrics.count(METRIC.parked, { queue: e.queue, reason: e.reason }),
    deferred: (e) => {
      metrics.count(METRIC.deferred, { queue: e.queue, reason: e.reason });
      metrics.count(METRIC.deferredAge, { queue: e.queue, reason: e.reason }, e.ageSeconds);
    },
    dlqIndexFailed: () => metrics.count(METRIC.dlqIndexFailed),
    // The sums the sink holds back (Processed, and the amoCRM client's AmoCalls when it shares the sink).
    batchDone: () => metrics.flush?.(),
  };
}

/** Keeps every data point in memory (the local runner, tests). */
export class RecordingMetrics implements MetricsSink {
  readonly counts: Array<{ name: string; dimensions: Record<string, string>; value: number }> = [];
  count(name: string, dimensions: Record<string, string> = {}, value = 1): void {
    this.counts.push({ name, dimensions: { ...dimensions }, value });
  }
  total(name: string, dimensions: Record<string, string> = {}): number {
    return this.values(name, dimensions).reduce((n, v) => n + v, 0);
  }
  /** Every value recorded for `name` whose dimensions include `dimensions`. */
  values(name: string, dimensions: Record<string, string> = {}): number[] {
    return this.counts
      .filter((c) => c.name === name && Object.entries(dimensions).every(([k, v]) => c.dimensions[k] === v))
      .map((c) => c.value);
  }
}
