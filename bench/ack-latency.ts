/**
 * Bench: how fast the webhook route acks (docs/architecture.md#ack-fast-lose-nothing: amoCRM wants an
 * answer within 2 s). Starts the local runner with the sandbox world (connected, the real worker
 * consuming in the background), posts the 15 real fixture bodies round-robin to
 * `POST /hooks/amocrm/{token}` — sequentially, then 10 at a time — and prints p50/p95/p99/max ack
 * latency and throughput, then how long the worker took to work the backlog off. It does so twice:
 * in memory (`--memory`) and persisted, where every SendMessage is in the SQS journal (written and
 * fdatasync'ed) before the ack (infra/local/journal.ts) — the price of "nothing acknowledged is
 * lost". Nothing is asserted (the exit code is 0 unless the run itself breaks).
 *
 * Each body's `account` block is rewritten to the sandbox account, each post carries its own
 * `X-Amocrm-Requestid`, and each post's body is a different variant of its fixture (a timestamp or
 * an id moved, `varyWebhook`): the worker drops a body it has seen as a redelivery, so cycling the
 * 15 fixtures unvaried measured mostly skips. So the worker really processes (parse, idempotency,
 * publish) every post.
 *
 *   npx tsx bench/ack-latency.ts [--n 500] [--concurrency 10] [--only memory|journal]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SANDBOX_AMO_ACCOUNT_ID, SANDBOX_SUBDOMAIN } from '../infra/local/amocrm.ts';
import { round, timeRequests, type TimedRun } from './support/timed.ts';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/amocrm-webhooks/', import.meta.url));

export type AckFigures = TimedRun;

/** The fixtures, with the account block naming the sandbox account (URL-encoded as amoCRM does). */
export function benchBodies(): Buffer[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(FIXTURES, f)).toString('latin1');
      const rewritten = text
        .replace(/account%5Bsubdomain%5D=[^&]*/, `account%5Bsubdomain%5D=${SANDBOX_SUBDOMAIN}`)
        .replace(/account%5Bid%5D=\d+/, `account%5Bid%5D=${SANDBOX_AMO_ACCOUNT_ID}`);
      return Buffer.from(rewritten, 'latin1');
    });
}

/**
 * The `k`-th variant of a webhook body (k ≥ 1): its first timestamp (`last_modified`,
 * `updated_at`, `date_create`…) moved by k seconds, else its first entity id (not the account's)
 * by k. The worker drops a body it has already processed as a redelivery (the delivery
 * fingerprint), so a bench cycling 15 fixtures must vary them to measure real work; k = 0 is the
 * fixture as is.
 */
export function varyWebhook(body: Buffer, k: number): Buffer {
  if (k === 0) return body;
  const entries = [...new URLSearchParams(body.toString('utf8')).entries()];
  // Values may be quoted ('123', as in the note fixture): the quotes are kept.
  const numeric = (v: string) => /^'?\d+'?$/.test(v);
  const find = (re: RegExp) => entries.findIndex(([key, v]) => !key.startsWith('account[') && re.test(key) && numeric(v));
  let at = find(/\[(last_modified|updated_at|date_create|created_at)\]$/);
  if (at < 0) at = find(/\[(id|element_id)\]$/);
  if (at < 0) throw new Error('a webhook fixture without a timestamp or an id to vary');
  const [key, v] = entries[at]!;
  entries[at] = [key, v.replace(/\d+/, (d) => String(Number(d) + k))];
  return Buffer.from(new URLSearchParams(entries).toString(), 'utf8');
}

/** Makes every posted body of the run unique (varyWebhook's k). */
let uniq = 1;

const post = (url: string, body: Buffer, rid: string): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'amoCRM-Webhooks/3.0', 'x-amocrm-requestid': rid },
    body,
  });

/** Each post a different body (cycling the fixtures alone, the worker would skip every repeat). */
export const measure = (url: string, bodies: readonly Buffer[], n: number, concurrency: number, tag: string): Promise<AckFigures> =>
  timeRequests(n, concurrency, (i) => post(url, varyWebhook(bodies[i % bodies.length] as Buffer, uniq++), `bench-${tag}-${i}`));

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : def;
}

async function runMode(journaled: boolean, n: number, concurrency: number): Promise<void> {
  const { startLocal } = await import('../infra/local/runner.ts');
  const dataDir = journaled ? mkdtempSync(join(tmpdir(), 'amo-bench-')) : undefined;
  const runner = await startLocal({
    port: 0,
    quiet: true,
    schedule: false,
    ...(dataDir ? { memory: false, dataDir } : { memory: true }),
    amocrm: { sandbox: true, printEvents: false },
  });
  try {
    const url = await runner.amo!.hookUrl();
    const bodies = benchBodies();
    // Warm-up (module JIT, connection pool), not counted.
    await measure(url, bodies, 30, 1, 'warm');
    const started = performance.now();
    const figures = [await measure(url, bodies, n, 1, 'seq'), await measure(url, bodies, n, concurrency, 'par')];
    const label = journaled ? "journaled (every SendMessage fdatasync'ed before the ack)" : 'memory (--memory)';
    console.log(`ack-latency: ${n} real webhook bodies per mode to POST /hooks/amocrm/{token} (local runner, ${label}, worker consuming)`);
    for (const f of figures) {
      console.log(
        `  ${f.mode.padEnd(15)} p50 ${f.p50} ms  p95 ${f.p95} ms  p99 ${f.p99} ms  max ${f.max} ms  ${f.perSecond} req/s  (${f.seconds} s${f.non200 ? `, ${f.non200} not 200` : ''})`,
      );
    }
    const total = 30 + 2 * n;
    const deleted = () => runner.pollerStats()['amocrm-hooks']?.deleted ?? 0;
    while (deleted() < total && performance.now() - started < 300_000) await new Promise((r) => setTimeout(r, 100));
    const drainSeconds = (performance.now() - started) / 1000;
    console.log(
      `  worker: ${deleted()} of ${total} messages processed ${round(drainSeconds, 1)} s after the first timed post (${round(deleted() / drainSeconds, 1)} msg/s); ${runner.amo!.bus.events.length} events published; DLQ ${runner.depth('amocrm-hooks').dlq}`,
    );
  } finally {
    await runner.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = arg('n', 500);
  const concurrency = arg('concurrency', 10);
  const i = process.argv.indexOf('--only');
  const only = i >= 0 ? process.argv[i + 1] : undefined;
  // Node 20 here (Lambda runs 22): keep the SDK's nags out of the figures; set before it loads.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (only !== 'journal') await runMode(false, n, concurrency);
  if (only !== 'memory') await runMode(true, n, concurrency);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
