/** Helpers for the `dlq` CLI tests: a local runner per test, the CLI in-process with captured output. */
import { afterEach } from 'vitest';
import type { CliIO } from '../../infra/cli/command.ts';
import { run } from '../../infra/cli/main.ts';
import { startLocal, type LocalOptions, type LocalRunner } from '../../infra/local/runner.ts';
import { MECHANICS_TABLE } from '../local/helpers.ts';
import type { DlqOpsDeps } from '../../lib/aws/dlq-ops.ts';

const running = new Set<LocalRunner>();

export function useRunners(): void {
  afterEach(async () => {
    await Promise.all([...running].map((r) => r.stop()));
    running.clear();
  });
}

export async function startRunner(opts: LocalOptions = {}): Promise<LocalRunner> {
  // random 0 → every backoff is 0 s, so a failing message runs through its attempts at once.
  // The rdesk queue as a plain queue: these tests time its deliveries (test/local/helpers.ts MECHANICS_TABLE).
  const runner = await startLocal({
    port: 0,
    memory: true,
    quiet: true,
    pollWaitSeconds: 1,
    random: () => 0,
    schedule: false,
    table: MECHANICS_TABLE,
    ...opts,
  });
  running.add(runner);
  return runner;
}

export interface CliResult {
  code: number;
  out: string[];
  err: string[];
  /** stdout joined with newlines. */
  text: string;
}

/** The env that points the CLI at a runner with explicit endpoints (no file). */
export function runnerEnv(r: LocalRunner): Record<string, string> {
  return { AMO_SQS_ENDPOINT: r.sqsEndpoint, AMO_DYNAMODB_ENDPOINT: r.ddbEndpoint, AMO_TABLE_NAME: r.tableName, AWS_REGION: r.region };
}

export async function cli(argv: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...env },
    readStdin: async () => '',
  };
  const code = await run(argv, io);
  return { code, out, err, text: out.join('\n') };
}

/** The ops deps for a runner, as the CLI builds them (for tests that drive lib/aws/dlq-ops directly). */
export function opsDeps(r: LocalRunner, over: Partial<DlqOpsDeps> = {}): DlqOpsDeps {
  return {
    sqs: r.sqs,
    index: r.dlqIndex,
    queues: Object.values(r.queues).map((q) => ({ id: q.id, url: q.url, dlqUrl: q.dlqUrl, fifo: q.def.fifo })),
    waitSeconds: 0,
    ...over,
  };
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

export const JSON_HEADERS = { 'content-type': 'application/json' };

export async function post(r: LocalRunner, path: string, body: string, headers: Record<string, string> = JSON_HEADERS): Promise<void> {
  const res = await fetch(`${r.url}${path}`, { method: 'POST', headers, body });
  if (res.status !== 200) throw new Error(`POST ${path} → ${res.status} ${await res.text()}`);
}
