/**
 * The aggregating sink (lib/common/metrics-sink.ts): the catalogue's per-call counts (AmoCalls,
 * Processed, RateBudgetWaits) are summed per dimension set and leave once per flush; everything
 * else passes straight through. The Powertools adapter is built on it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createOnecHttpHandler, type OnecHttpDeps } from '../lib/aws/onec-runtime.ts';
import { silentLog } from '../lib/common/log.ts';
import { parseConfig } from '../lib/config/index.ts';
import { staticSecretSource } from '../lib/config/secrets.ts';
import { aggregatingSink } from '../lib/common/metrics-sink.ts';
import { powertoolsMetricsSink } from '../lib/aws/powertools.ts';
import { RecordingMetrics } from '../lib/ingest/metrics.ts';
import { amoCallOutcome } from '../lib/aws/amo-client-runtime.ts';
import { AccountBlockedError } from '../lib/amocrm/client/errors.ts';
import { BREAKER_OPEN_DEFER_REASON } from '../infra/aws/monitoring.ts';
import { catalogue, isAggregated, METRIC } from '../lib/metrics.ts';

describe('aggregatingSink', () => {
  it('sums aggregated counts per dimension set (in any key order) until flush; other metrics pass at once', () => {
    const rec = new RecordingMetrics();
    const sink = aggregatingSink(rec);
    sink.count(METRIC.amoCalls, { account: 'a', outcome: '2xx' });
    sink.count(METRIC.amoCalls, { outcome: '2xx', account: 'a' }, 2);
    sink.count(METRIC.amoCalls, { account: 'b', outcome: '429' });
    sink.count(METRIC.processed, { queue: 'rdesk' });
    sink.count(METRIC.parked, { queue: 'rdesk', reason: 'bad-token' });
    sink.count(METRIC.tokenAge, { account: 'a' }, 120);
    expect(rec.counts.map((c) => c.name)).toEqual([METRIC.parked, METRIC.tokenAge]);
    sink.flush();
    expect(rec.counts.slice(2)).toEqual([
      { name: METRIC.amoCalls, dimensions: { account: 'a', outcome: '2xx' }, value: 3 },
      { name: METRIC.amoCalls, dimensions: { account: 'b', outcome: '429' }, value: 1 },
      { name: METRIC.processed, dimensions: { queue: 'rdesk' }, value: 1 },
    ]);
    sink.flush();
    expect(rec.counts).toHaveLength(5);
  });

  it('a sink never flushed still reports: sums a minute old leave with the next count', () => {
    let now = 0;
    const rec = new RecordingMetrics();
    const sink = aggregatingSink(rec, () => now);
    sink.count(METRIC.processed, { queue: 'amojo' });
    now = 59_000;
    sink.count(METRIC.processed, { queue: 'amojo' });
    expect(rec.counts).toEqual([]);
    now = 60_000;
    sink.count(METRIC.processed, { queue: 'amojo' });
    expect(rec.counts).toEqual([{ name: METRIC.processed, dimensions: { queue: 'amojo' }, value: 3 }]);
  });

  it('only counts aggregate (a sum of ages would mean nothing)', () => {
    for (const m of catalogue()) if (isAggregated(m.name)) expect(m.unit, m.name).toBe('Count');
    expect(isAggregated(METRIC.amoCalls)).toBe(true);
    expect(isAggregated(METRIC.parked)).toBe(false);
  });

  it('the Powertools adapter: one single-metric per data point, the sums at flush', () => {
    const lines: Array<{ dims: Record<string, string>; name: string; unit: string; value: number }> = [];
    const sink = powertoolsMetricsSink({
      singleMetric() {
        const dims: Record<string, string> = {};
        return {
          addDimension: (k: string, v: string) => (dims[k] = v),
          addMetric: (name: string, unit: string, value: number) => lines.push({ dims, name, unit, value }),
        };
      },
    });
    for (let i = 0; i < 50; i++) sink.count(METRIC.amoCalls, { account: 'a', outcome: '2xx' });
    sink.count(METRIC.tokenAge, { account: 'a' }, 7);
    expect(lines).toEqual([{ dims: { account: 'a' }, name: 'TokenAgeSeconds', unit: 'Seconds', value: 7 }]);
    sink.flush();
    expect(lines.at(-1)).toEqual({ dims: { account: 'a', outcome: '2xx' }, name: 'AmoCalls', unit: 'Count', value: 50 });
  });
});

describe('amoCallOutcome', () => {
  it('keeps the statuses that mean something on their own, classes the rest', () => {
    expect([200, 204, 301, 400, 401, 402, 403, 404, 429, 500, 504].map(amoCallOutcome)).toEqual([
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '401',
      '4xx',
      '403',
      '4xx',
      '429',
      '5xx',
      '5xx',
    ]);
  });
});

describe('the onec function flushes once per request', () => {
  it('whatever the answer (here: no onec section, 404)', async () => {
    const rec = new RecordingMetrics();
    const sink = aggregatingSink(rec);
    sink.count(METRIC.amoCalls, { account: 'clinic', outcome: '2xx' }, 4);
    const handler = createOnecHttpHandler({
      config: parseConfig(JSON.parse(readFileSync(join(import.meta.dirname, '..', 'amo.config.example.json'), 'utf8'))),
      secrets: staticSecretSource({}),
      requests: {} as OnecHttpDeps['requests'],
      enqueue: async () => undefined,
      log: silentLog,
      metrics: sink,
    });
    const res = await handler({ path: '/1c/managers', httpMethod: 'GET', headers: {}, body: null } as unknown as APIGatewayProxyEvent);
    expect(res.statusCode).toBe(404);
    expect(rec.counts).toEqual([{ name: METRIC.amoCalls, dimensions: { account: 'clinic', outcome: '2xx' }, value: 4 }]);
  });
});

describe('the breaker row reads the deferral reason the client gives', () => {
  it('AccountBlockedError defers with BREAKER_OPEN_DEFER_REASON', () => {
    const e = new AccountBlockedError('clinic.amocrm.ru', 0, 60_000);
    expect(e.reason).toBe(BREAKER_OPEN_DEFER_REASON);
  });
});
