/**
 * `amo-gateway chat connect | disconnect | status` in-process against a running local gateway
 * (`startLocal` with the sandbox, whose amojo knows our channel), reached with explicit
 * `--config/--dynamodb-endpoint/--table`: the amojo id comes from the sandbox's
 * `GET /api/v4/account?with=amojo_id`, the channel is connected at the sandbox's amojo (every request
 * signature-checked there), and the scope lands in the runner's table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import type { Sandbox } from '../../infra/local/sandbox/index.ts';
import { DynamoScopeStore } from '../../lib/store/amojo-scopes.ts';
import { cli } from './support.ts';

const CHANNEL = { id: '5b0c7a52-3f61-4e8e-9d3c-0a1b2c3d4e5f', secret: 'the-channel-secret-from-support' };

describe('chat connect / disconnect / status', () => {
  let runner: LocalRunner;
  let sb: Sandbox;
  let dir: string;
  let flags: string[];
  let badFlags: string[];
  const run = (...argv: string[]) => cli([...argv, ...flags], {});

  beforeAll(async () => {
    runner = await startLocal({
      port: 0,
      memory: true,
      quiet: true,
      schedule: false,
      pollWaitSeconds: 1,
      amocrm: {
        // The test brings its own channel and connects it through the CLI: no local chat set up by npm start.
        chat: false,
        sandbox: {
          options: { amojo: { channels: [{ ...CHANNEL, title: 'Site chat', webhookUrl: 'http://127.0.0.1:9/chat/amojo/:scope_id' }] } },
        },
        printEvents: false,
      },
    });
    sb = runner.amo!.sandbox!;
    dir = mkdtempSync(join(tmpdir(), 'amo-chat-'));
    const config = {
      ...runner.amo!.config,
      chat: { channel: { id: CHANNEL.id, secret: { secret: 'chat/channel' }, title: 'Site chat' }, accounts: [{ account: 'local' }] },
    };
    writeFileSync(join(dir, 'amo.config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ 'chat/channel': CHANNEL.secret }));
    writeFileSync(join(dir, 'bad-secrets.json'), JSON.stringify({ 'chat/channel': 'a-wrong-secret-value' }));
    writeFileSync(join(dir, 'no-chat.json'), JSON.stringify(runner.amo!.config));
    const target = ['--dynamodb-endpoint', runner.ddbEndpoint, '--table', runner.tableName];
    flags = ['--config', join(dir, 'amo.config.json'), ...target, '--secrets-file', join(dir, 'secrets.json')];
    badFlags = ['--config', join(dir, 'amo.config.json'), ...target, '--secrets-file', join(dir, 'bad-secrets.json')];
  });
  afterAll(async () => {
    await runner?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('help lists the commands; connect and disconnect want --account; a config without `chat` says so (exit 1)', async () => {
    const top = await cli(['--help'], {});
    expect(top.text).toMatch(/chat connect[\s\S]*chat disconnect[\s\S]*chat status/);
    expect((await run('chat', 'connect')).code).toBe(2);
    const noAccount = await run('chat', 'disconnect');
    expect(noAccount.err.at(-1)).toMatch(/--account is required/);
    const noChat = await cli(['chat', 'status', '--config', join(dir, 'no-chat.json'), ...flags.slice(2)], {});
    expect(noChat.code).toBe(1);
    expect(noChat.err.at(-1)).toMatch(/no chat channel is configured: the config has no `chat` section/);
  });

  it('status (not connected, exit 1) → connect (amojo id from amoCRM, scope stored) → status (connected) → disconnect → status', async () => {
    const amojoId = sb.accounts[0]!.amojoId;
    const before = await run('chat', 'status');
    expect(before.code).toBe(1);
    expect(before.out[1]).toMatch(/^local +not connected +- +- +- +-$/);

    const c = await run('chat', 'connect', '--account', 'local');
    expect(c.code, c.err.join('\n')).toBe(0);
    const scopeId = `${CHANNEL.id}_${amojoId}`;
    expect(c.text).toContain(`scope_id ${scopeId}, title "Site chat"`);
    expect(sb.amojo.snapshot().scopes).toEqual([expect.objectContaining({ scope_id: scopeId, hook_api_version: 'v2', connected: true })]);
    expect(sb.admin.count({ route: '/api/v4/account' })).toBeGreaterThanOrEqual(1);
    const stored = await new DynamoScopeStore({ doc: runner.doc, tableName: runner.tableName }).byScopeId(scopeId);
    expect(stored).toMatchObject({ account: 'local', amojoId, state: 'connected' });

    const on = await run('chat', 'status', '--json');
    expect(on.code).toBe(0);
    expect(JSON.parse(on.out[0]!)).toMatchObject({ account: 'local', state: 'connected', scopeId });
    // Again (after a reinstall): harmless, the same scope.
    expect((await run('chat', 'connect', '--account', 'local')).code).toBe(0);

    const d = await run('chat', 'disconnect', '--account', 'local');
    expect(d.code, d.err.join('\n')).toBe(0);
    expect(d.text).toContain(`disconnected (scope_id ${scopeId})`);
    expect(sb.amojo.snapshot().scopes[0]).toMatchObject({ connected: false });
    const off = await run('chat', 'status', '--account', 'local');
    expect(off.code).toBe(1);
    expect(off.out[1]).toMatch(/^local +disconnected +/);
  });

  it('a wrong channel secret is reported as such (exit 1), naming the secret reference, never its value', async () => {
    const r = await cli(['chat', 'connect', '--account', 'local', ...badFlags], {});
    expect(r.code).toBe(1);
    expect(r.err.at(-1)).toMatch(/amojo refused the signature: check the channel id .* and the secret "chat\/channel"/);
    expect([...r.out, ...r.err].join('\n')).not.toContain('a-wrong-secret-value');
  });

  it("a skewed clock is reported as the clock's fault, not the secret's", async () => {
    const io = { clock: { now: () => Date.now() + 30 * 60_000 } };
    const { run: runCli } = await import('../../infra/cli/main.ts');
    const err: string[] = [];
    const code = await runCli(['chat', 'connect', '--account', 'local', ...flags], {
      out: () => undefined,
      err: (l) => err.push(l),
      env: { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
      readStdin: async () => '',
      ...io,
    });
    expect(code).toBe(1);
    expect(err.at(-1), err.join('\n')).toMatch(/our clock is 1[78][0-9][0-9] s ahead of amojo's[\s\S]*Fix this machine's clock/);
  });
});
