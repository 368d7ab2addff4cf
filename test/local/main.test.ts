/** `npm start` end to end: the CLI process serves /health, prints every route, consumes, stops on SIGINT. */
import { afterEach, describe, expect, it } from 'vitest';
import { exited, killStarted, startMain } from '../support/npm-start.ts';
import { routeTable } from '../../lib/routes.ts';
import { FlagError, parseFlags } from '../../infra/local/flags.ts';
import { tempDataDir, waitFor } from './helpers.ts';

afterEach(killStarted);

describe('npm start (infra/local/main.ts)', () => {
  it('serves /health within 30 s, prints every route, the health URL and a sample curl; consumes a request; SIGINT stops it cleanly', async () => {
    const dataDir = tempDataDir();
    const t0 = Date.now();
    const { proc, out } = startMain(['--port', '0', '--data-dir', dataDir, '--no-schedule']);
    const url = await waitFor(() => /amo-gateway local runner on (http:\/\/127\.0\.0\.1:\d+)/.exec(out())?.[1], 'the banner', 30_000, 100);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(30_000);
    const banner = out();
    for (const r of routeTable.routes) expect(banner).toContain(`${r.method} ${url}${r.path}`);
    expect(banner).toContain(`GET ${url}/health`);
    expect(banner).toContain(`console   ${url}/_console`);
    expect((await fetch(`${url}/_console`)).status).toBe(200);
    expect(banner).toMatch(/curl -sS -X POST '.+' -H 'content-type: [^']+' --data '[^']*'/);
    expect(banner).not.toMatch(/Warning/);

    // The sample request the banner suggests, then the worker's line for it.
    const sample = /curl -sS -X POST '([^']+)' -H 'content-type: ([^']+)' --data '([^']*)'/.exec(banner)!;
    const res = await fetch(sample[1]!, { method: 'POST', headers: { 'content-type': sample[2]! }, body: sample[3]! });
    expect(res.status).toBe(200);
    // The sample is an unsigned amojo callback: the chat relay parks it (bad signature), never relays it.
    await waitFor(
      () => / worker +WARN message .*route=amojo-callback .*outcome=park action=park .*reason=amojo-bad-signature/.test(out()),
      'the worker line',
      10_000,
      50,
    );

    proc.kill('SIGINT');
    expect(await exited(proc)).toBe(0);
    expect(out()).toMatch(/SIGINT: stopping/);
    // The parked message is kept (its DLQ is in the journal with the queues) for `dlq list` / `dlq replay`.
    expect(out()).toMatch(/1 queued message\(s\) kept in .*sqs-journal\.log; they are re-queued on the next start/);
  });
});

describe('flags', () => {
  it('parse into runner options; PORT is the fallback; bad input is refused', () => {
    expect(parseFlags([], {})).toEqual({
      help: false,
      port: undefined,
      host: undefined,
      memory: false,
      dataDir: undefined,
      quiet: false,
      debug: false,
      schedule: true,
      concurrency: 1,
      sandbox: true,
      sandboxPort: undefined,
      config: undefined,
      quietEvents: false,
      rules: undefined,
      with1c: false,
    });
    expect(parseFlags(['--rules', 'rules.json'], {}).rules).toBe('rules.json');
    expect(parseFlags(['--with-1c'], {}).with1c).toBe(true);
    expect(parseFlags(['--concurrency', '4'], {}).concurrency).toBe(4);
    for (const bad of ['0', '1.5', 'x', '65']) expect(() => parseFlags(['--concurrency', bad], {})).toThrow(/invalid concurrency/);
    expect(() => parseFlags(['--with-1c', '--no-sandbox'], {})).toThrow(/--with-1c is for the sandbox/);
    expect(() => parseFlags(['--rules', 'rules.json', '--no-sandbox'], {})).toThrow(/--rules is for the sandbox/);
    expect(
      parseFlags(['--port', '0', '--memory', '--data-dir', '/tmp/x', '--quiet', '--no-schedule', '--host', '0.0.0.0'], { PORT: '9999' }),
    ).toMatchObject({ port: 0, memory: true, dataDir: '/tmp/x', quiet: true, schedule: false, host: '0.0.0.0' });
    expect(parseFlags([], { PORT: '8080' }).port).toBe(8080);
    expect(parseFlags([], { PORT: '' }).port).toBeUndefined();
    expect(() => parseFlags(['--port', 'abc'], {})).toThrow(FlagError);
    expect(() => parseFlags(['--port', '70000'], {})).toThrow(/invalid port "70000"/);
    expect(() => parseFlags(['--port', ' '], {})).toThrow(/invalid port/);
    expect(() => parseFlags(['--bogus'], {})).toThrow(FlagError);
    expect(() => parseFlags(['stray'], {})).toThrow(FlagError);
  });
});
