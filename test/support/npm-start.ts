/**
 * Runs `infra/local/main.ts` (what `npm start` runs) as a child process for end-to-end tests, with
 * its output captured. `killStarted()` in an afterEach kills what a test left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';

let children: ChildProcess[] = [];

/** `detached`: the runner leads its own process group (`process.kill(-pid, …)` reaches all of it). */
export function startMain(args: string[], opts: { detached?: boolean } = {}): { proc: ChildProcess; out: () => string } {
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.detached ? { detached: true } : {}),
  });
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  children.push(proc);
  return { proc, out: () => out };
}

export function killStarted(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
  children = [];
}

export const exited = (p: ChildProcess) =>
  new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (code) => r(code))));
