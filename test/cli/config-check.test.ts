/**
 * `amo-gateway config check`: real files in a temp dir, the CLI in-process with captured output.
 * Every problem is one line `<path>: <what is wrong> — fix: <what to do>`; exit 0 valid, 1 invalid,
 * 2 usage. The last step builds the stack as synth does (bundling skipped), so synth-only checks
 * (the Lambda environment size) are reported too.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, parseConfig } from '../../lib/config/index.ts';
import { explainConfig, jsonSyntaxProblem } from '../../lib/config/explain.ts';
import { PROJECT_ROOT } from '../../infra/aws/gateway.ts';
import { cli } from './support.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'config-check-'));

/** A valid config, as `amo-gateway init` would write it with real answers. */
function good(): {
  integrations: Array<Record<string, unknown>>;
  accounts: Array<Record<string, unknown>>;
  [k: string]: unknown;
} {
  return {
    integrations: [
      {
        id: 'main',
        clientId: '3f1c9a07-1b2c-4d5e-8f90-a1b2c3d4e5f6',
        clientSecret: { secret: 'client-secret/main' },
        redirectUri: 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/oauth/callback',
      },
    ],
    accounts: [
      { id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru', hookToken: { secret: 'hook-token/clinic' } },
      { id: 'intl', integration: 'main', subdomain: 'clinic', domain: 'kommo.com', hookToken: { secret: 'hook-token/intl' } },
    ],
  };
}

function write(config: unknown, name = 'amo.config.json'): string {
  const file = join(dir(), name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

async function check(file: string, ...flags: string[]) {
  return cli(['config', 'check', file, ...flags], {});
}

describe('amo-gateway config check', () => {
  it('a valid file: exit 0 and the summary — integrations, accounts, forms, secrets — after the stack was built as synth builds it', async () => {
    const file = join(dir(), 'amo.config.example.json');
    copyFileSync(join(PROJECT_ROOT, 'amo.config.example.json'), file);
    const r = await check(file);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(`${file}: valid`);
    expect(r.text).toMatch(/integrations\s+2: main-ru, main-kommo/);
    expect(r.text).toMatch(/accounts\s+2: clinic \(exampleclinic\.amocrm\.ru\), clinic-intl \(exampleclinic\.kommo\.com\)/);
    expect(r.text).toMatch(/forms\s+0/);
    expect(r.text).toMatch(/sections\s+rdesk/);
    expect(r.text).toMatch(
      /secrets\s+5: client-secret\/main-kommo, client-secret\/main-ru, hook-token\/clinic, hook-token\/clinic-intl, rdesk-token\/clinic/,
    );
  });

  it('broken values: one line each with the path and the fix, exit 1; a secret value is never echoed', async () => {
    const c = good();
    c.accounts[0]!.domain = 'amocrm.kz';
    c.integrations[0]!.clientSecret = 'hunter2-the-real-secret';
    c.accounts[1]!.accountId = '32720107';
    c.accounts[1]!.id = 'Intl';
    c.oauth = { stateTtlSeconds: 10 };
    const r = await check(write(c), '--no-synth');
    expect(r.code).toBe(1);
    expect(r.out).toEqual([
      'integrations.0.clientSecret: must be a secret reference, not a string — fix: use { "secret": "client-secret/main" } and create client-secret/main in Secrets Manager (the value goes there, never in this file)',
      'accounts.0.domain: "amocrm.kz" is not a supported domain — fix: did you mean "amocrm.ru"? use one of amocrm.ru, amocrm.com, kommo.com',
      'accounts.1.id: "Intl" is not valid: ids are lower-case kebab-case (a-z, 0-9, -), starting with a letter — fix: e.g. "intl"',
      'accounts.1.accountId: expected a number, got a string "32720107" — fix: write 32720107 without quotes',
      'oauth.stateTtlSeconds: needs at least 60 — fix: use at least 60',
    ]);
    expect(r.err.join('\n')).toContain('5 problem(s); synth would fail');
    expect([...r.out, ...r.err].join('\n')).not.toContain('hunter2');
  });

  it('unknown keys: did-you-mean for a typo, the known keys otherwise; a missing field says what to add', async () => {
    const c = good();
    c.acounts = [];
    const a = c.accounts[0]!;
    a.subdomian = a.subdomain;
    delete a.subdomain;
    c.integrations[0]!.apiKey = 'x';
    const r = await check(write(c), '--no-synth');
    expect(r.code).toBe(1);
    expect(r.out).toContain('acounts: unknown key — fix: did you mean "accounts"?');
    expect(r.out).toContain('accounts.0.subdomian: unknown key — fix: did you mean "subdomain"?');
    expect(r.out).toContain('accounts.0.subdomain: is missing — fix: add "subdomain" ("mycompany" for mycompany.amocrm.ru)');
    expect(r.out).toContain(
      'integrations.0.apiKey: unknown key — fix: remove it (known here: id, clientId, clientSecret, redirectUri, disconnectUri)',
    );
  });

  it('a rule action no form accepts: its key against every action; a known action: its own fields', async () => {
    const c = good();
    c.rules = {
      list: [{ id: 'r', account: 'clinic', when: { lead: 'status', to: 'X' }, then: [{ nots: { text: 'x' } }, { task: { txt: 'a' } }] }],
    };
    const r = await check(write(c), '--no-synth');
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/^rules\.list\.0\.then\.0\.nots: unknown key — fix: did you mean "note"\? one of task, .*note/);
    expect(r.out).toContain('rules.list.0.then.1.task.txt: unknown key — fix: did you mean "text"?');
    expect(r.out).toContain('rules.list.0.then.1.task.text: is missing — fix: add "text" (a string)');
    expect(r.out.filter((l) => l.includes('then.1') && !l.includes('then.1.task'))).toEqual([]);
  });

  it('cross-field mistakes: unknown ids with their candidates, a shared hook token, a host off the allow-list', async () => {
    const c = good();
    c.accounts[1]!.integration = 'mian';
    c.accounts[1]!.hookToken = { secret: 'hook-token/clinic' };
    c.oauth = { refererAllowList: ['*.amocrm.ru'] };
    const r = await check(write(c), '--no-synth');
    expect(r.code).toBe(1);
    expect(r.out).toEqual([
      'accounts.1.hookToken: account "clinic" already uses hookToken secret "hook-token/clinic" — fix: give each account its own hook token secret, e.g. { "secret": "hook-token/intl" }',
      'accounts.1.integration: unknown integration "mian" — fix: did you mean "main"? use the id of one of the integrations (main)',
      'accounts.1: host clinic.kommo.com is not in oauth.refererAllowList, so this account could never be installed — fix: add "*.kommo.com" to oauth.refererAllowList (or remove the list to allow every amoCRM domain)',
    ]);
  });

  it('JSON syntax errors: line and column, and what to do', async () => {
    const trailing = await check(write('{\n  "integrations": [],\n  "accounts": [\n    { "id": "a", },\n  ]\n}\n'));
    expect(trailing.code).toBe(1);
    expect(trailing.out).toEqual(["line 4, column 18: a trailing comma before '}' — fix: remove the last comma"]);
    const comma = await check(write('{\n  "integrations": []\n  "accounts": []\n}\n'));
    expect(comma.out).toEqual(["line 3, column 3: expected ',' or '}' after a value — fix: add a comma between the entries"]);
    const comment = await check(write('{\n  // my config\n  "accounts": []\n}'));
    expect(comment.out).toEqual(['line 2, column 3: a comment (JSON has none) — fix: remove it']);
    const quotes = await check(write("{ 'accounts': [] }"));
    expect(quotes.out).toEqual(['line 1, column 3: a key in single quotes — fix: write keys in double quotes: "key"']);
    const cut = await check(write('{ "accounts": [ { "id": "a"'));
    expect(cut.out[0]).toMatch(/^line 1, column 28: /);
  });

  it('a redirect URI that is not a URL is a problem line (the schema used to throw a TypeError on it)', async () => {
    const c = good();
    c.integrations[0]!.redirectUri = 'gw.example.com/oauth/callback';
    expect(() => parseConfig(c)).toThrow(ConfigError);
    const r = await check(write(c), '--no-synth');
    expect(r.code).toBe(1);
    expect(r.out).toEqual([
      'integrations.0.redirectUri: "gw.example.com/oauth/callback" is not a URL — fix: write the whole URL, starting with https://',
    ]);
    c.integrations[0]!.redirectUri = 'http://gw.example.com/oauth/callback';
    expect((await check(write(c), '--no-synth')).out).toEqual([
      'integrations.0.redirectUri: must be https:// (http:// is accepted only for 127.0.0.1 / localhost) — fix: use the https:// address (API Gateway URLs are https)',
    ]);
  });

  it('plain strings under secret-sounding keys in other sections, and rules whose dictionary was never pulled', async () => {
    const c = good();
    c.rdesk = { accounts: [{ account: 'clinic', token: 'rdesk-plaintext', timeZone: 'Europe/Moscow', fields: {} }] };
    const r = await check(write(c), '--no-synth');
    expect(r.out).toEqual([
      'rdesk.accounts.0.token: must be a secret reference, not a string — fix: use { "secret": "rdesk-token/clinic" } and create rdesk-token/clinic in Secrets Manager (the value goes there, never in this file)',
    ]);
    expect(r.text).not.toContain('rdesk-plaintext');

    const rules = good();
    rules.rules = {
      accounts: { clinic: { dictionary: join(dir(), 'missing.json') } },
      list: [{ id: 'r', account: 'clinic', when: { lead: 'status', to: 'Продажи / Новая' }, then: [{ note: { text: 'x' } }] }],
    };
    const rr = await check(write(rules), '--no-synth');
    expect(rr.code).toBe(1);
    expect(rr.out).toHaveLength(1);
    expect(rr.out[0]).toMatch(/^rules\.list\[0\] "r": no dictionary for account "clinic": .*missing\.json/);
    expect(rr.out[0]).toContain("— fix: pull the account's dictionary first: `amo-gateway schema pull --account clinic`");
  });

  it('what only synth sees: a config too big for the Lambda environment is a (synth) line', async () => {
    const c = good();
    c.accounts = Array.from({ length: 40 }, (_, i) => ({
      id: `acc${i}`,
      integration: 'main',
      subdomain: `clinic${i}`,
      domain: 'amocrm.ru',
      hookToken: { secret: `hook-token/acc${i}` },
    }));
    const file = write(c);
    const quick = await check(file, '--no-synth');
    expect(quick.code).toBe(0);
    const r = await check(file);
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^\(synth\): function \w[\w-]*: its environment would be about \d+ bytes, over Lambda's 4096-byte limit/);
    expect(r.out[0]).toContain(' — fix: ');
  });

  it('warns about what init left to replace and accounts without a hook token, still exit 0', async () => {
    const c = good();
    c.integrations[0]!.clientId = '00000000-0000-0000-0000-000000000000';
    c.integrations[0]!.redirectUri = 'https://replace-after-first-deploy.invalid/oauth/callback';
    delete c.accounts[1]!.hookToken;
    const r = await check(write(c), '--no-synth');
    expect(r.code).toBe(0);
    const warnings = r.out.filter((l) => l.startsWith('warning: '));
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^warning: integrations\.0\.clientId: still the placeholder .* — fix: .*--client-id/);
    expect(warnings[1]).toMatch(/^warning: integrations\.0\.redirectUri: still the placeholder .* — fix: .*--api-url/);
    expect(warnings[2]).toBe(
      'warning: accounts.1.hookToken: not set: every amoCRM webhook of "intl" will be parked as bad-token — fix: add "hookToken": { "secret": "hook-token/intl" } and create that secret (a random string)',
    );
  });

  it('the real command: stdout has the problem lines, stderr the count, the exit code says invalid', async () => {
    const c = good();
    c.accounts[0]!.domain = 'amocrm.kz';
    const file = write(c);
    const res = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, [join(PROJECT_ROOT, 'infra/cli/bin.js'), 'config', 'check', file, '--no-synth'], (e, stdout, stderr) =>
        e && typeof e.code !== 'number' ? reject(e) : resolve({ code: typeof e?.code === 'number' ? e.code : 0, stdout, stderr }),
      ),
    );
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(
      'accounts.0.domain: "amocrm.kz" is not a supported domain — fix: did you mean "amocrm.ru"? use one of amocrm.ru, amocrm.com, kommo.com\n',
    );
    expect(res.stderr).toBe(`${file}: 1 problem(s); synth would fail\n`);
  }, 30_000);

  it('usage errors exit 2: no such file, a bad --stage', async () => {
    const missing = await check(join(dir(), 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.err.join('\n')).toMatch(/nope\.json does not exist/);
    const stage = await check(write(good()), '--stage', 'staging');
    expect(stage.code).toBe(2);
    expect(stage.err.join('\n')).toContain('--stage must be one of dev, prod, not "staging"');
  });

  it('any mangled config: explained without throwing, a problem exactly when the schema refuses it, each with a path and a fix', () => {
    const example = JSON.parse(readFileSync(join(PROJECT_ROOT, 'amo.config.example.json'), 'utf8')) as unknown;
    const paths: Array<Array<string | number>> = [];
    const walk = (v: unknown, p: Array<string | number>): void => {
      paths.push(p);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
    };
    walk(example, []);
    const replacement = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(null, 0, -1, 1.5, true, '', 'x', 'Not Valid!', 'gw.example.com/x', 'http://gw.example.com/x', 'https://', [], {}, [
        {},
      ]),
      fc.string(),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: paths.length - 1 }), replacement), { minLength: 1, maxLength: 4 }),
        (edits) => {
          const c = structuredClone(example) as Record<string, unknown>;
          for (const [at, value] of edits) {
            const path = paths[at]!;
            if (path.length === 0) continue;
            let parent: unknown = c;
            for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, unknown> | undefined)?.[k];
            if (!parent || typeof parent !== 'object') continue;
            const key = path.at(-1)!;
            if (value === undefined && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
            else (parent as Record<string | number, unknown>)[key] = value;
          }
          const problems = explainConfig(c);
          expect(problems.length > 0).toBe(!configSchema.safeParse(c).success);
          for (const p of problems) {
            expect(p.path).not.toBe('');
            expect(p.problem).not.toBe('');
            expect(p.fix).not.toBe('');
          }
          // And as text: the JSON itself is fine, so no syntax problem is invented.
          expect(jsonSyntaxProblem(JSON.stringify(c, null, 2))).toBeUndefined();
        },
      ),
      { seed: 20261207, numRuns: 300 },
    );
  });

  it('any JSON text cut short or with a character removed: a line and column inside the text, or none when it still parses', () => {
    const text = readFileSync(join(PROJECT_ROOT, 'amo.config.example.json'), 'utf8');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length - 1 }), fc.boolean(), (at, cut) => {
        const broken = cut ? text.slice(0, at) : text.slice(0, at) + text.slice(at + 1);
        let parses = true;
        try {
          JSON.parse(broken);
        } catch {
          parses = false;
        }
        const p = jsonSyntaxProblem(broken);
        expect(p === undefined).toBe(parses);
        if (p) {
          const lines = broken.split('\n');
          expect(p.line).toBeGreaterThanOrEqual(1);
          expect(p.line).toBeLessThanOrEqual(lines.length);
          expect(p.column).toBeLessThanOrEqual((lines[p.line - 1]?.length ?? 0) + 1);
        }
      }),
      { seed: 20261207, numRuns: 300 },
    );
  });
});
