/**
 * `amo-gateway breaker status | lift` in-process against a running local gateway (`startLocal`
 * with the sandbox), reached with explicit `--config/--dynamodb-endpoint/--table`: the sandbox blocks the
 * account, a client call opens the breaker, status shows it, lift closes it, calls flow again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import type { Sandbox } from '../../infra/local/sandbox/index.ts';
import { AmoAccountBlockedError } from '../../lib/amocrm/client/errors.ts';
import { createAmoClientRuntime } from '../../lib/aws/amo-client-runtime.ts';
import { cli } from './support.ts';

describe('breaker status / lift', () => {
  let runner: LocalRunner;
  let sb: Sandbox;
  let dir: string;
  let flags: string[];
  const run = (...argv: string[]) => cli([...argv, ...flags], {});
  /** What the gateway's worker would do next: one call through the runner's own table. */
  const gatewayCall = () =>
    createAmoClientRuntime({ config: runner.amo!.config, oauth: runner.amo!.oauth.provider, doc: runner.doc, tableName: runner.tableName })
      .clientFor('local')
      .account.get();

  beforeAll(async () => {
    runner = await startLocal({
      port: 0,
      memory: true,
      quiet: true,
      schedule: false,
      pollWaitSeconds: 1,
      amocrm: { sandbox: true, printEvents: false },
    });
    sb = runner.amo!.sandbox!;
    dir = mkdtempSync(join(tmpdir(), 'amo-breaker-'));
    const config = join(dir, 'amo.config.json');
    writeFileSync(config, JSON.stringify(runner.amo!.config));
    flags = [
      '--config',
      config,
      '--dynamodb-endpoint',
      runner.ddbEndpoint,
      '--table',
      runner.tableName,
      '--secrets-file',
      join(dir, 'secrets.json'),
    ];
  });
  afterAll(async () => {
    await runner?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('help says lifting follows amoCRM support; lift wants --account and --yes', async () => {
    const help = await cli(['breaker', 'lift', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.text).toMatch(/after amoCRM support has unblocked the account/);
    expect(help.text).toContain('--yes');
    const top = await cli(['--help'], {});
    expect(top.text).toMatch(/breaker status[\s\S]*breaker lift/);
    expect(top.text).toMatch(/schema pull/);
    const noAccount = await run('breaker', 'lift', '--yes');
    expect(noAccount.code).toBe(2);
    expect(noAccount.err.at(-1)).toMatch(/--account is required/);
  });

  it('block → a call opens the breaker → status shows it → lift (after support) → calls flow again', async () => {
    const closed = await run('breaker', 'status');
    expect(closed.code).toBe(0);
    expect(closed.out[1]).toMatch(new RegExp(`^local +${sb.accountHost.replace(/\./g, '\\.')} +closed +- +- +-$`));

    sb.admin.block('too many 429s');
    const pull = await run('schema', 'pull', '--out', '-', '--quiet');
    expect(pull.code).toBe(1);
    expect(pull.err.at(-1)).toMatch(
      /local: amoCRM blocked the account \(403\); its breaker is now open[\s\S]*breaker lift --account local --yes/,
    );

    const open = await run('breaker', 'status');
    expect(open.code).toBe(1);
    expect(open.out[1]).toMatch(/^local +\S+ +open +\d{4}-\d\d-\d\dT\S+Z +403 from GET \/api\/v4\/account +-$/);
    expect(open.text).toMatch(
      /local: blocked by amoCRM \(403\) since .*Ask amoCRM support to unblock the account, then `amo-gateway breaker lift --account local --yes`/,
    );
    const json = await run('breaker', 'status', '--account', 'local', '--json');
    expect(JSON.parse(json.out[0] ?? '')).toMatchObject({
      account: 'local',
      host: sb.accountHost,
      open: true,
      reason: '403 from GET /api/v4/account',
    });

    // While it is open nothing reaches amoCRM, from the CLI or the gateway.
    const sent = sb.admin.count({});
    const refused = await run('schema', 'pull', '--out', '-', '--quiet');
    expect(refused.code).toBe(1);
    expect(refused.err.at(-1)).toMatch(/local: the account's 403 breaker is open \(amoCRM blocked it\); nothing was sent/);
    await expect(gatewayCall()).rejects.toThrow(/blocked/);
    expect(sb.admin.count({})).toBe(sent);

    // Without --yes nothing changes.
    const asked = await run('breaker', 'lift', '--account', 'local');
    expect(asked.code).toBe(2);
    expect(asked.err.join('\n')).toMatch(
      /breaker open since .* — 403 from GET \/api\/v4\/account[\s\S]*only once amoCRM support has unblocked the account[\s\S]*Pass --yes/,
    );
    expect((await run('breaker', 'status')).code).toBe(1);

    // Lifted too early (amoCRM still blocks): the next call opens it again.
    expect((await run('breaker', 'lift', '--account', 'local', '--yes')).code).toBe(0);
    await expect(gatewayCall()).rejects.toBeInstanceOf(AmoAccountBlockedError);
    expect((await run('breaker', 'status')).code).toBe(1);

    // Support unblocks the account, the operator lifts the breaker: the next call goes through.
    expect(sb.admin.liftBlock()).toBe(true);
    const lifted = await run('breaker', 'lift', '--account', 'local', '--yes', '--by', 'ops@example');
    expect(lifted.code).toBe(0);
    expect(lifted.out[0]).toMatch(/^local \(\S+\): breaker lifted; every instance calls amoCRM again within a second/);
    const after = await run('breaker', 'status');
    expect(after.code).toBe(0);
    expect(after.out[1]).toMatch(/^local +\S+ +closed +- +- +\d{4}-\S+Z by ops@example$/);
    await expect(gatewayCall()).resolves.toMatchObject({ subdomain: 'sandbox' });

    const again = await run('breaker', 'lift', '--account', 'local', '--yes');
    expect(again.code).toBe(0);
    expect(again.out[0]).toMatch(/the breaker is not open; nothing to lift/);
  });
});
