/**
 * The connected local world for end-to-end tests: `startLocal` in process (port 0, memory) with
 * the sandbox as amoCRM, auto-connected through our own /oauth/callback and subscribed to our
 * hook route. The sandbox's outgoing requests go through a recording fetch, so a test can replay
 * a webhook byte for byte.
 */
import { afterEach } from 'vitest';
import { startLocal, type LocalOptions, type LocalRunner } from '../../infra/local/runner.ts';
import type { LocalAmo, LocalAmoOptions } from '../../infra/local/amocrm.ts';
import type { Sandbox } from '../../infra/local/sandbox/index.ts';

export interface SentRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
  status: number | undefined;
}

/** Records what the sandbox sends (webhooks, disconnect hook), then sends it for real. */
export class RecordingFetch {
  readonly sent: SentRequest[] = [];
  readonly fetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const b = init?.body;
    const body =
      b === undefined || b === null
        ? Buffer.alloc(0)
        : typeof b === 'string'
          ? Buffer.from(b)
          : b instanceof Uint8Array
            ? Buffer.from(b)
            : Buffer.from(String(b));
    const rec: SentRequest = { url, method: init?.method ?? 'GET', headers, body, status: undefined };
    this.sent.push(rec);
    const res = await globalThis.fetch(input, init);
    rec.status = res.status;
    return res;
  };
  hooks(): SentRequest[] {
    return this.sent.filter((s) => s.url.includes('/hooks/amocrm/'));
  }
}

export interface World {
  runner: LocalRunner;
  amo: LocalAmo;
  sandbox: Sandbox;
  lines: string[];
  sent: RecordingFetch;
}

const running = new Set<LocalRunner>();

export function useWorlds(): void {
  afterEach(async () => {
    await Promise.all([...running].map((r) => r.stop()));
    running.clear();
  });
}

export async function startWorld(opts: Omit<LocalOptions, 'amocrm'> & { amocrm?: Partial<LocalAmoOptions> } = {}): Promise<World> {
  const lines: string[] = [];
  const sent = new RecordingFetch();
  const { amocrm, ...rest } = opts;
  const runner = await startLocal({
    port: 0,
    memory: true,
    quiet: true,
    logSink: (l) => lines.push(l),
    pollWaitSeconds: 1,
    schedule: false,
    ...rest,
    amocrm: { sandbox: { fetch: sent.fetch }, ...amocrm },
  });
  running.add(runner);
  const stop = runner.stop;
  runner.stop = async () => {
    running.delete(runner);
    return stop();
  };
  const amo = runner.amo;
  if (!amo?.sandbox) throw new Error('the runner has no sandbox');
  return { runner, amo, sandbox: amo.sandbox, lines, sent };
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
