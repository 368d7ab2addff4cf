/** The operations CLI in-process (`run(argv, io)`), against DynamoDB Local and the sandbox. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../infra/cli/main.ts';
import type { CliIO } from '../../infra/cli/command.ts';
import { CLIENT_SECRET_NAME, startWorld, type World } from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

interface Captured {
  io: CliIO;
  out: string[];
  err: string[];
}

function cli(w: World, stdin = ''): Captured {
  const dir = mkdtempSync(join(tmpdir(), 'amo-cli-'));
  const configFile = join(dir, 'amo.config.json');
  writeFileSync(configFile, JSON.stringify(w.config));
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: {
        AMO_CONFIG_FILE: configFile,
        AMO_DYNAMODB_ENDPOINT: w.table.endpoint,
        AMO_TABLE_NAME: w.table.tableName,
        [`AMO_SECRET_${CLIENT_SECRET_NAME.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`]: w.clientSecret,
      },
      readStdin: async () => stdin,
      fetch: w.fetch.fetch,
      clock: w.clock,
    },
  };
}

describe('amo-gateway CLI', () => {
  it('--help works at every level; unknown commands and options are usage errors', async () => {
    world = await startWorld();
    const c = cli(world);
    expect(await run(['--help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toMatch(/auth link[\s\S]*token status/);
    for (const path of [
      ['auth', 'link'],
      ['auth', 'exchange-code'],
      ['auth', 'long-lived'],
      ['token', 'status'],
      ['token', 'refresh'],
    ]) {
      c.out.length = 0;
      expect(await run([...path, '--help'], c.io)).toBe(0);
      expect(c.out[0]).toContain(`usage: amo-gateway ${path.join(' ')}`);
      expect(c.out.join('\n')).toContain('--table <name>');
    }
    expect(await run(['auth', '--help'], c.io)).toBe(0);
    expect(await run(['nope', 'list'], c.io)).toBe(2);
    expect(c.err.at(-1)).toMatch(/unknown command "nope list"/);
    expect(await run(['token', 'status', '--bogus'], c.io)).toBe(2);
    expect(await run(['auth', 'exchange-code'], c.io)).toBe(2);
  });

  it('exchange-code, status, refresh — and status never prints a token', async () => {
    world = await startWorld();
    const w = world;
    const c = cli(w);
    expect(await run(['token', 'status'], c.io)).toBe(1); // not connected yet
    expect(c.out.join('\n')).toMatch(/clinic .* not-connected/);

    const { code } = w.sb.admin.mintCode({ clientId: w.clientId });
    expect(await run(['auth', 'exchange-code', code, '--account', 'clinic'], c.io)).toBe(0);
    expect(c.out.at(-1)).toMatch(/^connected clinic: access token valid until 2026-01-16T09:00:00Z/);

    c.out.length = 0;
    expect(await run(['token', 'status'], c.io)).toBe(0);
    const text = c.out.join('\n');
    expect(text).toMatch(/clinic\s+127\.0\.0\.1:\d+\s+oauth\s+active\s+2026-01-16T09:00:00Z \(in 24h0m\)\s+never\s+code\s+1/);
    const rec = await w.oauth().lifecycle.read('clinic');
    for (const secret of [rec?.current?.accessToken, rec?.current?.refreshToken, w.clientSecret]) expect(text).not.toContain(secret);

    c.out.length = 0;
    expect(await run(['token', 'status', '--json'], c.io)).toBe(0);
    expect(JSON.parse(c.out[0] ?? '')).toMatchObject({
      account: 'clinic',
      status: 'active',
      kind: 'oauth',
      version: 1,
      previousKept: false,
    });
    expect(c.out[0]).not.toContain(rec?.current?.accessToken ?? '<none>');

    c.out.length = 0;
    expect(await run(['token', 'refresh'], c.io)).toBe(0); // nothing past half-life
    expect(c.out).toEqual(['clinic: fresh']);
    expect(await run(['token', 'refresh', '--account', 'clinic'], c.io)).toBe(0); // forced
    expect(c.out.at(-1)).toMatch(/^clinic: refreshed; access token valid until/);
    expect(w.tokenCounts()).toMatchObject({ 'refresh_token:ok': 1 });
  });

  it('auth link prints only the URL on stdout; long-lived reads the token from stdin', async () => {
    world = await startWorld();
    const w = world;
    const c = cli(w);
    expect(await run(['auth', 'link'], c.io)).toBe(0); // the only account is the default
    expect(c.out).toHaveLength(1);
    expect(c.out[0]).toMatch(new RegExp(`^${w.sb.url}/oauth\\?client_id=.*&state=.*&mode=post_message$`));
    expect(c.err.at(-1)).toMatch(/state valid until .* redirect to http:\/\/127\.0\.0\.1:9\/oauth\/callback/);

    const ll = w.sb.admin.issueLongLivedToken({ clientId: w.clientId, ttlSeconds: 30 * 86_400 });
    const c2 = cli(w, `${ll.access_token}\n`);
    expect(await run(['auth', 'long-lived', '-'], c2.io)).toBe(0);
    expect(c2.out.at(-1)).toMatch(/^stored a long-lived token for clinic: valid until 2026-02-14/);
    const rec = await w.oauth().lifecycle.read('clinic');
    expect(rec?.kind).toBe('long-lived');
    expect(await run(['auth', 'long-lived', 'not a token'], c2.io)).toBe(1);
    expect(c2.err.at(-1)).toMatch(/one line without spaces/);
  });

  it('a revoked account shows needs-reauth with its reason and exits 1', async () => {
    world = await startWorld();
    const w = world;
    await w.install();
    w.sb.admin.revokeTokens({});
    const c = cli(w);
    expect(await run(['token', 'refresh', '--account', 'clinic'], c.io)).toBe(1);
    expect(c.err.at(-1)).toMatch(
      /clinic: account "clinic" needs re-authorization \(refresh token revoked\); run `amo-gateway auth link --account clinic`/,
    );
    expect(await run(['token', 'status'], c.io)).toBe(1);
    expect(c.out.join('\n')).toMatch(/clinic: needs-reauth — refresh token revoked/);
  });

  it('a missing table is a clear usage error', async () => {
    world = await startWorld();
    const c = cli(world);
    delete c.io.env.AMO_TABLE_NAME;
    expect(await run(['token', 'status'], c.io)).toBe(2);
    expect(c.err.at(-1)).toMatch(
      /no table: pass --local \(a running npm start\), --stack <name>, or --table <name> \(env AMO_TABLE_NAME\)/,
    );
  });
});
