/**
 * The request loop every ack bench shares: `n` requests, `concurrency` in flight, each one's time
 * from send to its body read, and the figures of the run (percentiles, rate, answers by status).
 */
import { mapLimit } from '../../lib/common/concurrency.ts';

export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export interface TimedRun {
  mode: string;
  requests: number;
  /** Answers per HTTP status. */
  statuses: Record<number, number>;
  non200: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Sends request `first + i` for i < n, `concurrency` at a time, and times each. */
export async function timeRequests(n: number, concurrency: number, send: (i: number) => Promise<Response>, first = 0): Promise<TimedRun> {
  const statuses: Record<number, number> = {};
  const t0 = performance.now();
  const times = await mapLimit(
    Array.from({ length: n }, (_, i) => first + i),
    concurrency,
    async (i) => {
      const s = performance.now();
      const res = await send(i);
      await res.arrayBuffer();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      return performance.now() - s;
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const sorted = [...times].sort((a, b) => a - b);
  return {
    mode: concurrency === 1 ? 'sequential' : `concurrency ${concurrency}`,
    requests: n,
    statuses,
    non200: n - (statuses[200] ?? 0),
    seconds: round(seconds),
    perSecond: round(n / seconds, 1),
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? 0),
  };
}
