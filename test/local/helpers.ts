/** Shared helpers for the local-runner tests: start/stop runners, raw HTTP, waiting. */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { startLocal, type LocalOptions, type LocalRunner } from '../../infra/local/runner.ts';
import { routeTable, type RouteTable } from '../../lib/routes.ts';

const running = new Set<LocalRunner>();

/** Registers an afterEach that stops every runner the test started. */
export function useRunners(): void {
  afterEach(async () => {
    await Promise.all([...running].map((r) => r.stop()));
    running.clear();
  });
}

export interface Started {
  runner: LocalRunner;
  lines: string[];
}

/**
 * The shipped table with the `rdesk` queue as a plain queue (batches of 10, no batching window):
 * these tests use it to exercise the runner's queue mechanics, whose timings they assert; the
 * RDESK flow's own large batches are tested with the flow (test/flows/rdesk).
 */
export const MECHANICS_TABLE: RouteTable = {
  ...routeTable,
  queues: routeTable.queues.map((q) => (q.id === 'rdesk' ? { ...q, batchSize: 10, batchingWindowSeconds: 0, concurrency: undefined } : q)),
};

export async function start(opts: LocalOptions = {}): Promise<Started> {
  const lines: string[] = [];
  const runner = await startLocal({
    port: 0,
    memory: true,
    quiet: true,
    logSink: (l) => lines.push(l),
    pollWaitSeconds: 1,
    table: MECHANICS_TABLE,
    ...opts,
  });
  running.add(runner);
  const stop = runner.stop;
  runner.stop = async () => {
    running.delete(runner);
    return stop();
  };
  return { runner, lines };
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'amo-local-'));
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 25): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request whose body is written chunk by chunk; resolves as soon as the answer arrives, even
 * when the server stops reading and closes early (write errors after that are expected).
 */
export function rawRequest(
  url: string,
  opts: { method: string; headers?: Record<string, string>; chunks?: Iterable<Buffer> },
): Promise<RawResponse & { written: number }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const req = request(url, { method: opts.method, headers: opts.headers ?? {} }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8'), written }),
      );
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const it = (opts.chunks ?? [])[Symbol.iterator]();
    const pump = () => {
      if (answered || req.destroyed) return;
      for (;;) {
        const n = it.next();
        if (n.done) {
          req.end();
          return;
        }
        written += n.value.length;
        if (!req.write(n.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

export function* repeatChunks(chunk: Buffer, times: number): Generator<Buffer> {
  for (let i = 0; i < times; i++) yield chunk;
}
