/**
 * `amo-gateway init`: answers as flags, or typed (a scripted stdin: one line per question, a
 * refused answer takes the next line), a written file that the schema and `config check` accept,
 * the next steps (secret names and commands, never values), and the refusals. One test runs the
 * real bin with a pipe, as a user's shell would.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../infra/cli/command.ts';
import { run } from '../../infra/cli/main.ts';
import { PROJECT_ROOT } from '../../infra/aws/gateway.ts';
import { parseConfig } from '../../lib/config/index.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'init-cli-'));

/** The CLI in-process; `typed` are the lines a script pipes into stdin. */
async function init(argv: string[], typed?: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: {},
    readStdin: async () => '',
    stdin: Readable.from(typed ? [typed.map((l) => `${l}\n`).join('')] : []),
    stdinIsTTY: false,
  };
  const code = await run(['init', ...argv], io);
  return { code, out, err, text: out.join('\n'), errText: err.join('\n') };
}

const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

describe('amo-gateway init', () => {
  it('with flags: writes a valid config with secret references, prints the secrets to create and the deploy command', async () => {
    const file = join(dir(), 'amo.config.json');
    const r = await init([
      '--client-id',
      '3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6',
      '--domain',
      'amocrm.ru',
      '--api-url',
      'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/',
      '--account',
      'clinic',
      '--account',
      'intl=clinic:kommo.com',
      '--stage',
      'prod',
      '--out',
      file,
    ]);
    expect(r.errText).toBe('');
    expect(r.code).toBe(0);
    const config = readJson(file);
    expect(config).toEqual({
      integrations: [
        {
          id: 'main',
          clientId: '3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6',
          clientSecret: { secret: 'client-secret/main' },
          redirectUri: 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/oauth/callback',
          disconnectUri: 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/oauth/disconnect',
        },
      ],
      accounts: [
        { id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru', hookToken: { secret: 'hook-token/clinic' } },
        { id: 'intl', integration: 'main', subdomain: 'clinic', domain: 'kommo.com', hookToken: { secret: 'hook-token/intl' } },
      ],
    });
    expect(() => parseConfig(config)).not.toThrow();
    expect(r.out[0]).toBe(
      `wrote ${file}: integration main (3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6), 2 account(s): clinic (clinic.amocrm.ru), intl (clinic.kommo.com)`,
    );
    // The secrets: names under the stage's prefix, values read with read -rs or generated, never printed.
    expect(r.text).toContain(
      `read -rsp 'client-secret/main: ' SECRET && echo && printf %s "$SECRET" | aws secretsmanager create-secret --name amo-gateway-prod/client-secret/main --secret-string file:///dev/stdin; unset SECRET`,
    );
    for (const a of ['clinic', 'intl'])
      expect(r.text).toContain(
        `openssl rand -hex 24 | tr -d '\\n' | aws secretsmanager create-secret --name amo-gateway-prod/hook-token/${a} --secret-string file:///dev/stdin`,
      );
    expect(r.text).toContain(`npx cdk deploy -c config=${file} -c stage=prod -c alarmEmail=<address>`);
    expect(r.text).toContain('npx amo-gateway auth link --account clinic');
    expect(r.text).toContain('npx amo-gateway auth link --account intl');
    // Real values: no placeholder step.
    expect(r.text).not.toContain('init --force');

    // What it wrote passes the whole check, the stack included.
    const check = await run(['config', 'check', file, '--stage', 'prod'], {
      out: () => {},
      err: () => {},
      env: {},
      readStdin: async () => '',
    });
    expect(check).toBe(0);
  });

  it('typed answers: each checked as it is typed, a refused one re-asked with the reason', async () => {
    const file = join(dir(), 'amo.config.json');
    const r = await init(
      ['--out', file],
      [
        'not a client id!', // refused
        '3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6',
        'amocrm.kz', // refused
        '3', // kommo.com, by its number
        'https://gw.example.com/v1/oauth/disconnect', // refused, offers the callback
        '', // Enter takes the offer
        'Clinic_1', // refused
        'https://clinic.kommo.com, crm=sales',
        'staging', // refused
        'prod',
      ],
    );
    expect(r.errText).not.toContain('amo-gateway:');
    expect(r.code).toBe(0);
    expect(r.errText).toContain('integration ID [Enter: placeholder]:');
    expect(r.errText).toMatch(/✗ a client id is the integration ID from amoCRM/);
    expect(r.errText).toContain('✗ "amocrm.kz" is not a supported domain: use one of amocrm.ru, amocrm.com, kommo.com');
    expect(r.errText).toContain(
      `✗ the gateway's OAuth callback is …/oauth/callback — Enter takes "https://gw.example.com/v1/oauth/callback"`,
    );
    expect(r.errText).toMatch(/✗ "Clinic_1": a subdomain is lower-case letters, digits and dashes/);
    expect(r.errText).toContain('✗ the stage is dev or prod');
    const config = readJson(file) as { integrations: Array<Record<string, unknown>>; accounts: Array<Record<string, unknown>> };
    expect(config.integrations[0]).toMatchObject({
      clientId: '3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6',
      redirectUri: 'https://gw.example.com/v1/oauth/callback',
      disconnectUri: 'https://gw.example.com/v1/oauth/disconnect',
    });
    expect(config.accounts.map((a) => [a.id, a.subdomain, a.domain])).toEqual([
      ['clinic', 'clinic', 'kommo.com'],
      ['crm', 'sales', 'kommo.com'],
    ]);
    expect(r.text).toContain('-c stage=prod -c alarmEmail=<address>');
  });

  it('not deployed yet: Enter takes placeholders, and the next steps say how the real values come in', async () => {
    const file = join(dir(), 'amo.config.json');
    const r = await init(['--out', file], ['', '', '', 'clinic', '']);
    expect(r.code).toBe(0);
    const config = readJson(file) as { integrations: Array<Record<string, unknown>> };
    expect(config.integrations[0]).toMatchObject({
      clientId: '00000000-0000-0000-0000-000000000000',
      redirectUri: 'https://replace-after-first-deploy.invalid/oauth/callback',
    });
    expect(r.text).toContain('-c stage=dev');
    expect(r.text).toMatch(/The deploy prints the OAuth callback URL \(output RedirectUri/);
    expect(r.text).toContain(`npx amo-gateway init --force --out ${file} --api-url <ApiUrl> --client-id <Integration ID>`);
  });

  it('--yes: the defaults for what no flag gives; the accounts have none', async () => {
    const file = join(dir(), 'amo.config.json');
    const none = await init(['--yes', '--out', file]);
    expect(none.code).toBe(2);
    expect(none.errText).toContain('--account is required with --yes');
    expect(existsSync(file)).toBe(false);
    const r = await init(['--yes', '--account', 'clinic', '--out', file]);
    expect(r.code).toBe(0);
    expect(readJson(file)).toMatchObject({ accounts: [{ id: 'clinic', subdomain: 'clinic', domain: 'amocrm.ru' }] });
  });

  it('refuses to overwrite without --force; with it, the earlier answers are the defaults and the other sections are kept', async () => {
    const file = join(dir(), 'amo.config.json');
    expect((await init(['--yes', '--account', 'clinic', '--out', file])).code).toBe(0);
    // The user added a section by hand after the first init.
    const first = readJson(file);
    const rdesk = { accounts: [{ account: 'clinic', token: { secret: 'rdesk-token/clinic' }, timeZone: 'Europe/Moscow', fields: {} }] };
    writeFileSync(file, JSON.stringify({ ...first, rdesk }, null, 2));
    const before = readFileSync(file, 'utf8');

    const refused = await init(['--yes', '--account', 'clinic', '--out', file]);
    expect(refused.code).toBe(2);
    expect(refused.errText).toContain('exists; pass --force');
    expect(readFileSync(file, 'utf8')).toBe(before);

    const again = await init([
      '--force',
      '--yes',
      '--out',
      file,
      '--api-url',
      'https://abc123.execute-api.eu-central-1.amazonaws.com/v1',
      '--client-id',
      '3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6',
    ]);
    expect(again.code).toBe(0);
    const second = readJson(file);
    expect(second.rdesk).toEqual(rdesk);
    expect(second).toMatchObject({
      integrations: [
        {
          clientId: '3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6',
          redirectUri: 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/oauth/callback',
        },
      ],
      accounts: [{ id: 'clinic', hookToken: { secret: 'hook-token/clinic' } }],
    });
    expect(again.text).toContain('rdesk-token/clinic');

    // Dropping the account rdesk names would not be a valid config: nothing is written.
    const invalid = await init(['--force', '--yes', '--account', 'other', '--out', file]);
    expect(invalid.code).toBe(1);
    expect(invalid.errText).toContain(
      'rdesk.accounts.0.account: unknown account "clinic" — fix: use the id of one of the accounts (other)',
    );
    expect(invalid.errText).toContain('not written');
    expect(readJson(file).accounts).toEqual(second.accounts);
  });

  it('flag values are checked like typed ones: a usage error naming the flag', async () => {
    const file = join(dir(), 'amo.config.json');
    const cases: Array<[string[], string]> = [
      [['--domain', 'amocrm.kz'], '--domain: "amocrm.kz" is not a supported domain'],
      [['--account', 'Bad_Sub'], '--account: "Bad_Sub": a subdomain is lower-case letters'],
      [['--account', 'clinic,clinic'], '--account: clinic.amocrm.ru is listed twice'],
      [['--account', 'https://crm.example.com'], '--account: "crm.example.com" is not an amoCRM address'],
      [['--account', 'clinic:amocrm.kz'], '--account: "amocrm.kz" is not a supported domain'],
      [['--redirect-uri', 'http://gw.example.com/oauth/callback'], '--redirect-uri: must be https://'],
      [['--client-id', 'x'], '--client-id: a client id is the integration ID from amoCRM'],
      [
        ['--secrets-prefix', 'no-slash'],
        '--secrets-prefix: secretsPrefix "no-slash" must be a Secrets Manager name prefix ending with "/"',
      ],
    ];
    for (const [flags, message] of cases) {
      const r = await init(['--yes', '--account', 'clinic', '--out', file, ...flags]);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.errText).toContain(message);
    }
    expect(existsSync(file)).toBe(false);
  });

  it('stdin ending before every question is answered is a usage error, and nothing is written', async () => {
    const file = join(dir(), 'amo.config.json');
    const r = await init(['--out', file], ['3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6']);
    expect(r.code).toBe(2);
    expect(r.errText).toContain('stdin ended before "domain" was answered');
    expect(existsSync(file)).toBe(false);
  });

  it('the real command with answers piped in writes ./amo.config.json', async () => {
    const cwd = dir();
    const { stdout, code } = await new Promise<{ stdout: string; code: number }>((resolve, reject) => {
      const child = execFile(
        process.execPath,
        [join(PROJECT_ROOT, 'infra/cli/bin.js'), 'init', '--stage', 'dev'],
        { cwd, env: { ...process.env, NO_COLOR: '1' } },
        (e, stdout) => (e && typeof e.code !== 'number' ? reject(e) : resolve({ stdout, code: typeof e?.code === 'number' ? e.code : 0 })),
      );
      child.stdin?.end('3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6\nru\nhttps://gw.example.com/oauth/callback\nclinic\n');
    });
    expect(code).toBe(0);
    expect(stdout).toContain('wrote amo.config.json');
    expect(readJson(join(cwd, 'amo.config.json'))).toMatchObject({ accounts: [{ id: 'clinic', domain: 'amocrm.ru' }] });
  }, 30_000);
});
