/**
 * The shared budget and the breaker across many "Lambda instances" (each its own DynamoDB client
 * and budget adapter, clocks skewed) against the sandbox's strict sliding-window limit.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { maxInWindow, runRestBudget } from '../../bench/rest-budget.ts';
import { AmoClient } from '../../lib/amocrm/client/client.ts';
import { liftBreaker } from '../../lib/amocrm/client/breaker.ts';
import { AccountBlockedError } from '../../lib/amocrm/client/errors.ts';
import type { ClientEvent } from '../../lib/amocrm/client/types.ts';
import { skewedClock } from '../../lib/common/clock.ts';
import { DynamoBreakerStore } from '../../lib/store/breaker.ts';
import { MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { DynamoRateBudget } from '../../lib/store/rate-budget.ts';
import { createTestTable } from '../support/ddb.ts';
import { ACCOUNT, sandbox, tokenSource } from './support.ts';

describe('shared rate budget on the sandbox (DynamoDB Local)', () => {
  it('20 instances with a backlog: zero 429s, all work finished, never 8 in any second', async () => {
    const f = await runRestBudget({ ddbEndpoint: inject('ddbLocalEndpoint'), instances: 20, requests: 35, skewMs: 20 });
    expect(f.status429).toBe(0);
    expect(f.failed).toBe(0);
    expect(f.completed).toBe(35);
    expect(f.maxInAnyWindow).toBeLessThanOrEqual(7);
  });

  it('one caller making calls back to back gets up to 7 a second, not 1 (its own last slot is not the only one)', async () => {
    const sb = await sandbox();
    const t = await createTestTable('seq');
    try {
      const client = new AmoClient({
        tokens: tokenSource(sb),
        budget: new DynamoRateBudget({ doc: t.doc, tableName: t.tableName }),
        breaker: new DynamoBreakerStore({ doc: t.doc, tableName: t.tableName }),
        cache: new MemoryCacheStore(),
        mode: 'await',
      }).forAccount(ACCOUNT);
      const done: number[] = [];
      const started = Date.now();
      for (let i = 0; i < 10; i++) {
        await client.request({ method: 'GET', path: '/api/v4/leads', query: { limit: 1 } });
        done.push(Date.now() - started);
      }
      // Before the fix each call waited out its predecessor's slot: ~1.06 s per call.
      expect(done[6]).toBeLessThan(700);
      // The 8th waits for the first slot (end + window + margin); then the ring flows on.
      expect(done[7]).toBeGreaterThanOrEqual(1_000);
      expect(done[9]).toBeLessThan(2_500);
      expect(sb.arrivals.filter((a) => a.status === 429)).toEqual([]);
      expect(maxInWindow(sb.arrivals.map((a) => a.at))).toBeLessThanOrEqual(7);
    } finally {
      await sb.close();
    }
  });

  it('a 403 block stops every instance within 1 s, with one alarm; the lift command closes it for everyone', async () => {
    const sb = await sandbox();
    const t = await createTestTable('brk');
    const tokens = tokenSource(sb);
    const events: ClientEvent[] = [];
    const clients = Array.from({ length: 20 }, (_, i) => {
      const doc = DynamoDBDocumentClient.from(
        new DynamoDBClient({ endpoint: t.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
      );
      return new AmoClient({
        tokens,
        budget: new DynamoRateBudget({ doc, tableName: t.tableName }),
        breaker: new DynamoBreakerStore({ doc, tableName: t.tableName }),
        cache: new MemoryCacheStore(),
        clock: skewedClock(i - 10),
        mode: 'defer',
        maxBudgetWaitMs: 2_000,
        observer: (e) => events.push(e),
      }).forAccount(ACCOUNT);
    });
    let stop = false;
    let refusedLocally = 0;
    const run = Promise.all(
      clients.map(async (c) => {
        while (!stop) {
          try {
            await c.request({ method: 'GET', path: '/api/v4/leads', query: { limit: 1 } });
          } catch (e) {
            if (e instanceof AccountBlockedError) refusedLocally++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }),
    );
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      sb.admin.block('test');
      await new Promise((r) => setTimeout(r, 2_500));
    } finally {
      stop = true;
      await run;
      await sb.close();
    }
    const first403 = sb.arrivals.find((a) => a.status === 403);
    expect(first403).toBeDefined();
    const late = sb.arrivals.filter((a) => a.at > first403!.at + 1_000);
    expect(late).toEqual([]);
    expect(sb.arrivals.filter((a) => a.status === 429)).toEqual([]);
    expect(maxInWindow(sb.arrivals.map((a) => a.at))).toBeLessThanOrEqual(7);
    expect(events.filter((e) => e.type === 'breaker-opened')).toHaveLength(1);
    expect(refusedLocally).toBeGreaterThan(20);

    // The operator lifts it (after support unblocked the account): requests flow again.
    const store = new DynamoBreakerStore({ doc: t.doc, tableName: t.tableName });
    await liftBreaker(store, new URL(sb.url).host, 'test');
    expect((await store.get(new URL(sb.url).host)).open).toBe(false);
  });
});
