/**
 * `npm start` as a user runs it: the sandbox by default, connected at start, the banner says how
 * to move a deal, the event line appears, the hook token is never printed; --quiet-events hides
 * the event lines.
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, killStarted, startMain } from '../support/npm-start.ts';
import { waitFor } from './support.ts';

afterEach(killStarted);

describe('npm start with the sandbox (default)', () => {
  it('connects at start, prints how to move a deal, prints the event, never the hook token; secrets kept owner-only', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'amo-e2e-'));
    const { proc, out } = startMain(['--port', '0', '--data-dir', dataDir, '--no-schedule']);
    await waitFor(() => /Ctrl-C stops/.test(out()), 'the banner', 30_000, 100);
    const banner = out();
    const url = /amo-gateway local runner on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!;
    const sandbox =
      /amoCRM +sandbox (http:\/\/127\.0\.0\.1:\d+) \(account "sandbox", id 31000001; our account id "local"\) — connected/.exec(
        banner,
      )?.[1];
    expect(sandbox).toBeDefined();
    expect(banner).toContain(`POST ${url}/hooks/amocrm/••••••`);
    expect(banner).toMatch(/sandbox account connected \(install flow through \/oauth\/callback\) account=local webhooks=subscribed/);

    const move = new RegExp(`curl -sS -X POST (${sandbox}/_sandbox/leads/8001/move) -d '([^']+)'`).exec(banner);
    expect(move).not.toBeNull();
    expect((await fetch(move![1]!, { method: 'POST', body: move![2]! })).status).toBe(200);
    await waitFor(() => / event +amocrm\.lead\.status account=local id=8001 from=50011 to=50012/.test(out()), 'the event line', 10_000, 50);

    // The printed command reads the token from the secrets file; the token is nowhere in the output.
    const cmd = /curl -sS -X POST "[^"]*\$\((node -p '[^']+')\)"/.exec(banner)?.[1];
    expect(cmd).toBeDefined();
    const token = execSync(cmd!, { cwd: process.cwd(), encoding: 'utf8' }).trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const subs = (await (await fetch(`${sandbox}/_sandbox/webhooks/subscriptions`)).json()) as Array<{ destination: string }>;
    expect(subs[0]?.destination).toBe(`${url}/hooks/amocrm/${token}`);
    expect(out()).not.toContain(token);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);

    const health = (await (await fetch(`${url}/health`)).json()) as {
      status: string;
      parts: Record<string, { status: string; accounts?: Record<string, string> }>;
    };
    expect(health.status).toBe('ok');
    expect(health.parts.sandbox?.status).toBe('up');
    expect(health.parts.amocrm?.accounts).toEqual({ local: 'connected' });

    proc.kill('SIGINT');
    expect(await exited(proc)).toBe(0);
    expect(out()).not.toContain(token);
  });

  it('--quiet-events hides the event lines; the message is still processed', async () => {
    const { proc, out } = startMain(['--port', '0', '--memory', '--no-schedule', '--quiet-events']);
    await waitFor(() => /Ctrl-C stops/.test(out()), 'the banner', 30_000, 100);
    const move = /curl -sS -X POST (http:\/\/127\.0\.0\.1:\d+\/_sandbox\/leads\/8001\/move) -d '([^']+)'/.exec(out())!;
    await fetch(move[1]!, { method: 'POST', body: move[2]! });
    await waitFor(() => / worker +message queue=amocrm-hooks .*outcome=ok/.test(out()), 'the worker line', 10_000, 50);
    expect(out()).not.toMatch(/ event +amocrm\./);
    proc.kill('SIGINT');
    expect(await exited(proc)).toBe(0);
  });
});

describe('flags of the amoCRM side', () => {
  it('sandbox by default; --no-sandbox with --config; --sandbox-port; --quiet-events; contradictions refused', async () => {
    const { parseFlags, FlagError } = await import('../../infra/local/flags.ts');
    expect(parseFlags([], {})).toMatchObject({ sandbox: true, sandboxPort: undefined, config: undefined, quietEvents: false });
    expect(parseFlags(['--no-sandbox', '--config', 'my.json', '--quiet-events'], {})).toMatchObject({
      sandbox: false,
      config: 'my.json',
      quietEvents: true,
    });
    expect(parseFlags(['--sandbox-port', '8090'], {}).sandboxPort).toBe(8090);
    expect(() => parseFlags(['--sandbox-port', 'x'], {})).toThrow(/invalid sandbox port "x"/);
    expect(() => parseFlags(['--no-sandbox', '--sandbox-port', '1'], {})).toThrow(FlagError);
    expect(() => parseFlags(['--config', 'a.json'], {})).toThrow(/--config is for --no-sandbox/);
  });
});
