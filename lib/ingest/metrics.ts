/**
 * The worker's metrics (namespace `AmoGateway` in AWS; Powertools adds the `service` dimension).
 * Alarms match these names exactly: keep them stable.
 */
import type { MetricsSink } from '../shared/metrics-sink.ts';
import type { Log } from '../shared/log.ts';

export type { MetricsSink } from '../shared/metrics-sink.ts';

export const INGEST_METRIC = {
  /** A webhook whose path token matches no account (count; alarm ≥ 1 in 5 min). */
  badToken: 'WebhookBadToken',
  /** A message parked in its DLQ (count, dimension `reason`). */
  parked: 'Parked',
  /** A mirror send that failed (HTTP error, timeout, network, missing token). */
  mirrorFailed: 'MirrorFailed',
  /** amoCRM events published to the bus (count per message, value = events). */
  eventsPublished: 'EventsPublished',
  /** A parked message whose DLQ index write failed: it is in the DLQ, `unindexed` (lib/aws/actions.ts). */
  dlqIndexFailed: 'DlqIndexWriteFailed',
} as const;

/**
 * Counts every park, whatever decided it (a processor, the pipeline's own checks, running out of
 * attempts), from the batch loop's one structured line per message (`action: 'park'`,
 * `reason`), and every failed DLQ index write (`dlqIndex: 'unindexed'`), and passes the line on
 * unchanged. *assumed*: the line's shape is the batch loop's
 * contract (lib/aws/sqs-batch.ts); a hook there would be the sturdier place.
 */
export function countingParks(log: Log, metrics: MetricsSink): Log {
  const spy = (attributes: Record<string, unknown> | undefined) => {
    // A park whose DLQ send failed is reported failed and comes back: count it when it lands.
    if (attributes?.action === 'park' && attributes.reported === undefined && typeof attributes.reason === 'string') metrics.count(INGEST_METRIC.parked, { reason: attributes.reason });
    // The park action's own line when the index write after the DLQ send failed (lib/aws/actions.ts).
    if (attributes?.dlqIndex === 'unindexed') metrics.count(INGEST_METRIC.dlqIndexFailed);
  };
  return {
    debug: (m, a) => log.debug(m, a),
    info: (m, a) => (spy(a), log.info(m, a)),
    warn: (m, a) => (spy(a), log.warn(m, a)),
    error: (m, a) => (spy(a), log.error(m, a)),
  };
}

/** Keeps every count in memory (the local runner, tests). */
export class RecordingMetrics implements MetricsSink {
  readonly counts: Array<{ name: string; dimensions: Record<string, string>; value: number }> = [];
  count(name: string, dimensions: Record<string, string> = {}, value = 1): void {
    this.counts.push({ name, dimensions: { ...dimensions }, value });
  }
  total(name: string, dimensions: Record<string, string> = {}): number {
    return this.counts
      .filter((c) => c.name === name && Object.entries(dimensions).every(([k, v]) => c.dimensions[k] === v))
      .reduce((n, c) => n + c.value, 0);
  }
}
