/**
 * The scheduled refresh never swallows a failure: a token table that fails (DynamoDB Local with a
 * wrong table name), a secret source that fails (missing secret, or an outage), or amoCRM's token
 * endpoint out of reach each count ScheduledRefreshFailed with its `kind` (alarmed: lib/metrics.ts)
 * and show in the function's summary. Real sandbox, real DynamoDB Local.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler as createRefreshHandler } from '../../functions/token-refresh.ts';
import { createOAuth, scheduleFailureKind } from '../../lib/amocrm/oauth/index.ts';
import { SecretNotFoundError, staticSecretSource, type SecretSource } from '../../lib/config/secrets.ts';
import { METRIC_CATALOGUE } from '../../lib/metrics.ts';
import type { Log } from '../../lib/common/log.ts';
import { DynamoTokenStore } from '../../lib/store/token-store.ts';
import { CLIENT_SECRET_NAME, MetricsRecorder, startWorld, type World } from './support.ts';

const HOUR = 3_600_000;
let world: World | undefined;
const clients: DynamoDBClient[] = [];
afterEach(async () => {
  await world?.close();
  world = undefined;
  for (const c of clients.splice(0)) c.destroy();
});

function capture(): { log: Log; lines: Array<{ level: string; message: string; extra: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; extra: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, extra: Record<string, unknown> = {}) =>
      lines.push({ level, message, extra });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** An engine over `w`'s config and clock with its own store, secrets, fetch and metrics. */
function engine(
  w: World,
  over: { store?: DynamoTokenStore; secrets?: SecretSource; fetch?: typeof fetch; metrics: MetricsRecorder; log: Log },
) {
  return createOAuth({
    config: w.config,
    store: over.store ?? w.newStore(),
    secrets: over.secrets ?? staticSecretSource({ [CLIENT_SECRET_NAME]: w.clientSecret }),
    fetch: over.fetch ?? w.fetch.fetch,
    clock: w.clock,
    metrics: over.metrics,
    log: over.log,
  });
}

const failedCounts = (m: MetricsRecorder) => m.counts.filter((c) => c.name === 'ScheduledRefreshFailed');

describe('scheduled refresh failures are counted, alarmed and summarized', () => {
  it('ScheduledRefreshFailed is in the catalogue with an alarm at 1, split by kind', () => {
    expect(METRIC_CATALOGUE.ScheduledRefreshFailed).toMatchObject({
      dimensions: ['account', 'kind'],
      groupBy: 'kind',
      alarm: { stat: 'SUM', atLeast: 1 },
    });
  });

  it('the token table fails (DynamoDB Local, wrong table name): kind store', async () => {
    world = await startWorld();
    const w = world;
    const client = new DynamoDBClient({
      endpoint: w.table.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    clients.push(client);
    const store = new DynamoTokenStore({ doc: DynamoDBDocumentClient.from(client), tableName: 'no-such-table' });
    const metrics = new MetricsRecorder();
    const { log, lines } = capture();
    const summary = await createRefreshHandler({ lifecycle: engine(w, { store, metrics, log }).lifecycle, log })({});
    expect(summary).toMatchObject({ checked: 1, refreshed: 0, outcomes: { failed: 1 }, failures: { store: 1 } });
    expect(summary.results).toEqual([expect.objectContaining({ account: 'clinic', outcome: 'failed', kind: 'store' })]);
    expect(failedCounts(metrics)).toEqual([{ name: 'ScheduledRefreshFailed', dimensions: { account: 'clinic', kind: 'store' }, value: 1 }]);
    expect(lines.find((l) => l.message === 'scheduled token refresh failed')).toMatchObject({
      level: 'error',
      extra: { account: 'clinic', kind: 'store' },
    });
    expect(lines.find((l) => l.message.startsWith('token refresh: some accounts need attention'))?.extra).toMatchObject({
      failures: { store: 1 },
    });
  });

  it('the client secret cannot be read (missing, or the secret source is down): kind secrets; the secret never in a log', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.clock.advance(13 * HOUR); // past half of the 24 h lifetime: due
    for (const [secrets, label] of [
      [staticSecretSource({}), 'missing'],
      [{ get: async () => Promise.reject(new Error('connect ETIMEDOUT secretsmanager')) }, 'outage'],
      // A source that throws synchronously, not even returning a promise.
      [
        {
          get: (): Promise<string> => {
            throw new Error('sync failure');
          },
        },
        'sync',
      ],
    ] as const) {
      const metrics = new MetricsRecorder();
      const { log, lines } = capture();
      const summary = await createRefreshHandler({ lifecycle: engine(w, { secrets, metrics, log }).lifecycle, log })({});
      expect(summary, label).toMatchObject({ outcomes: { failed: 1 }, failures: { secrets: 1 } });
      expect(failedCounts(metrics), label).toEqual([
        { name: 'ScheduledRefreshFailed', dimensions: { account: 'clinic', kind: 'secrets' }, value: 1 },
      ]);
      expect(JSON.stringify(lines)).not.toContain(w.clientSecret);
    }
    // Nothing was refreshed meanwhile; the token is intact and refreshes once the secret is back.
    expect(w.tokenCounts()['refresh_token:ok'] ?? 0).toBe(0);
    const metrics = new MetricsRecorder();
    const ok = await createRefreshHandler({ lifecycle: engine(w, { metrics, log: capture().log }).lifecycle, log: capture().log })({});
    expect(ok).toMatchObject({ refreshed: 1, failures: {} });
    expect(failedCounts(metrics)).toEqual([]);
  });

  it("amoCRM's token endpoint out of reach: kind token-endpoint (TokenRefreshFailed counts the endpoint's own kind too)", async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.clock.advance(13 * HOUR);
    const metrics = new MetricsRecorder();
    const { log } = capture();
    const down: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    };
    const summary = await createRefreshHandler({ lifecycle: engine(w, { fetch: down, metrics, log }).lifecycle, log })({});
    expect(summary).toMatchObject({ outcomes: { failed: 1 }, failures: { 'token-endpoint': 1 } });
    expect(failedCounts(metrics)).toEqual([
      { name: 'ScheduledRefreshFailed', dimensions: { account: 'clinic', kind: 'token-endpoint' }, value: 1 },
    ]);
    expect(metrics.counts.filter((c) => c.name === 'TokenRefreshFailed').map((c) => c.dimensions.kind)).toEqual(['transient']);
    // The stale token's age is still reported: it keeps growing while refreshing fails (the alarm).
    expect(metrics.counts.filter((c) => c.name === 'TokenAgeSeconds')).toEqual([
      { name: 'TokenAgeSeconds', dimensions: { account: 'clinic' }, value: 13 * 3600 },
    ]);
  });

  it("every run reports each OAuth account's token age (TokenAgeSeconds): its age while fresh, 0 once refreshed", async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const ages = async () => {
      const metrics = new MetricsRecorder();
      const { log } = capture();
      await createRefreshHandler({ lifecycle: engine(w, { metrics, log }).lifecycle, log })({});
      return metrics.counts.filter((c) => c.name === 'TokenAgeSeconds');
    };
    w.clock.advance(HOUR);
    expect(await ages()).toEqual([{ name: 'TokenAgeSeconds', dimensions: { account: 'clinic' }, value: 3600 }]);
    w.clock.advance(12 * HOUR); // past half of the 24 h lifetime: refreshed now
    expect(await ages()).toEqual([{ name: 'TokenAgeSeconds', dimensions: { account: 'clinic' }, value: 0 }]);
  });

  it('a healthy run counts no failure', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    const metrics = new MetricsRecorder();
    const { log } = capture();
    const summary = await createRefreshHandler({ lifecycle: engine(w, { metrics, log }).lifecycle, log })({});
    expect(summary).toMatchObject({ outcomes: { fresh: 1 }, failures: {} });
    expect(failedCounts(metrics)).toEqual([]);
  });

  it('scheduleFailureKind reads the cause chain; anything unrecognised is unknown (still counted)', () => {
    expect(scheduleFailureKind(new Error('wrapped', { cause: new SecretNotFoundError('x', 'here') }))).toBe('secrets');
    expect(scheduleFailureKind(Object.assign(new Error('ResourceNotFoundException'), { $metadata: { httpStatusCode: 400 } }))).toBe(
      'store',
    );
    expect(scheduleFailureKind(new RangeError('boom'))).toBe('unknown');
    expect(scheduleFailureKind('a string')).toBe('unknown');
  });
});
