/**
 * The one metrics port: a counter sink. Powertools Metrics fits it in AWS
 * (lib/aws/powertools.ts); the local runner and tests record counts in memory.
 */
export interface MetricsSink {
  count(name: string, dimensions?: Record<string, string>, value?: number): void;
}

export const noMetrics: MetricsSink = { count() {} };
