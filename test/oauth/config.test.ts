/** The typed config, its loader's errors, the referer allow-list and the local SecretSource. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_REFERER_ALLOW_LIST,
  SecretNotFoundError,
  accountBaseUrl,
  accountHost,
  hostAllowed,
  loadConfigFile,
  loadConfigFromEnv,
  localSecretSource,
  parseConfig,
  readDeployedConfig,
  resolveAccount,
  secretEnvName,
} from '../../lib/config/index.ts';
import { normalizeReferer } from '../../lib/amocrm/oauth/index.ts';

const good = {
  integrations: [
    {
      id: 'main',
      clientId: '01d01160-aaaa-bbbb-cccc-000000000001',
      clientSecret: { secret: 'amo/main' },
      redirectUri: 'https://gw.example.com/oauth/callback',
    },
  ],
  accounts: [
    { id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru' },
    { id: 'intl', integration: 'main', subdomain: 'clinic', domain: 'kommo.com', accountId: 32720107 },
  ],
};

describe('config', () => {
  it('parses, applies the OAuth defaults and resolves accounts', () => {
    const c = parseConfig(good);
    expect(c.oauth).toEqual({ refererAllowList: DEFAULT_REFERER_ALLOW_LIST, allowStatelessInstall: false, stateTtlSeconds: 3600 });
    const r = resolveAccount(c, 'intl');
    expect(r.integration.id).toBe('main');
    expect(accountBaseUrl(r.account)).toBe('https://clinic.kommo.com');
    expect(accountHost(r.account)).toBe('clinic.kommo.com');
    expect(() => resolveAccount(c, 'nope')).toThrow(/unknown account "nope" \(configured: clinic, intl\)/);
  });

  it('lists every problem with its path', () => {
    const bad = {
      integrations: [{ id: 'main', clientId: 'x', clientSecret: 'plain-text-secret', redirectUri: 'http://gw.example.com/cb' }],
      accounts: [
        { id: 'clinic', integration: 'other', subdomain: 'Clinic', domain: 'amocrm.de' },
        { id: 'local', integration: 'main', subdomain: 'local', domain: 'amocrm.ru', baseUrl: 'http://127.0.0.1:4000' },
      ],
      notASection: {},
    };
    let err: unknown;
    try {
      parseConfig(bad, 'amo.config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^invalid amo\.config\.json:/);
    expect(msg).toMatch(/integrations\.0\.clientId:/);
    expect(msg).toMatch(/integrations\.0\.clientSecret:/); // a secret must be a reference
    expect(msg).toMatch(/integrations\.0\.redirectUri: must be https/);
    expect(msg).toMatch(/accounts\.0\.subdomain:/);
    expect(msg).toMatch(/accounts\.0\.domain:/);
    expect(msg).toMatch(/Unrecognized key.*notASection/i); // later sections must be added to the schema first
    expect(msg).not.toContain('plain-text-secret');
  });

  it('refuses an account that could never be installed (host off the allow-list) and duplicates', () => {
    expect(() =>
      parseConfig({
        ...good,
        accounts: [{ id: 'local', integration: 'main', subdomain: 'x', domain: 'amocrm.ru', baseUrl: 'http://127.0.0.1:4000' }],
      }),
    ).toThrow(/host 127\.0\.0\.1:4000 is not in oauth\.refererAllowList/);
    expect(() =>
      parseConfig({
        ...good,
        accounts: [{ id: 'local', integration: 'main', subdomain: 'x', domain: 'amocrm.ru', baseUrl: 'http://127.0.0.1:4000' }],
        oauth: { refererAllowList: ['127.0.0.1:4000'] },
      }),
    ).not.toThrow();
    expect(() => parseConfig({ ...good, accounts: [good.accounts[0], { ...good.accounts[0], id: 'dup' }] })).toThrow(
      /already uses host clinic\.amocrm\.ru/,
    );
    expect(() => parseConfig({ ...good, accounts: [...good.accounts, good.accounts[0]] })).toThrow(/duplicate account id "clinic"/);
  });

  it('loads from AMO_CONFIG_JSON or AMO_CONFIG_FILE, and says what is missing', () => {
    expect(loadConfigFromEnv({ AMO_CONFIG_JSON: JSON.stringify(good) }).accounts).toHaveLength(2);
    const dir = mkdtempSync(join(tmpdir(), 'amo-config-'));
    const file = join(dir, 'amo.config.json');
    writeFileSync(file, JSON.stringify(good));
    expect(loadConfigFromEnv({ AMO_CONFIG_FILE: file }).integrations[0]?.id).toBe('main');
    expect(() => loadConfigFromEnv({})).toThrow(/set AMO_CONFIG_JSON .* or AMO_CONFIG_FILE/);
    expect(() => loadConfigFromEnv({ AMO_CONFIG_JSON: '{oops' })).toThrow(/AMO_CONFIG_JSON is not valid JSON/);
    expect(() => loadConfigFile(join(dir, 'missing.json'))).toThrow(/cannot read the config file/);
  });

  it('reads the synth-validated config without zod, and refuses one that skipped the schema', () => {
    // What the construct puts in AMO_CONFIG_JSON: parsed, defaults filled in (infra/aws/gateway.ts configEnvJson).
    const validated = parseConfig(good);
    const read = readDeployedConfig({ AMO_CONFIG_JSON: JSON.stringify(validated) });
    expect(read).toEqual(validated);
    expect(read.oauth.stateTtlSeconds).toBe(3600);
    // Written by hand: no defaults, so not the construct's; refused with what is missing, never half-read.
    expect(() => readDeployedConfig({ AMO_CONFIG_JSON: JSON.stringify(good) })).toThrow(
      /AMO_CONFIG_JSON is not a config validated at synth[\s\S]*no oauth[\s\S]*no events/,
    );
    expect(() => readDeployedConfig({ AMO_CONFIG_JSON: '[]' })).toThrow(ConfigError);
    expect(() => readDeployedConfig({ AMO_CONFIG_JSON: '{oops' })).toThrow(/AMO_CONFIG_JSON is not valid JSON/);
    expect(() => readDeployedConfig({})).toThrow(/set AMO_CONFIG_JSON .* or AMO_CONFIG_FILE/);
  });
});

describe('referer allow-list', () => {
  const list = ['*.amocrm.ru', '*.kommo.com', '127.0.0.1:4000'];
  it.each([
    ['clinic.amocrm.ru', true],
    ['my-co.kommo.com', true],
    ['127.0.0.1:4000', true],
    ['amocrm.ru', false], // the wildcard needs exactly one label
    ['a.b.amocrm.ru', false],
    ['clinic.amocrm.ru.evil.com', false],
    ['evilamocrm.ru', false],
    ['clinic.amocrm.ru:8443', false],
    ['127.0.0.1:4001', false],
    ['-x.amocrm.ru', false],
  ])('%s → %s', (host, ok) => {
    expect(hostAllowed(host, list)).toBe(ok);
  });

  it.each([
    ['Clinic.AmoCRM.ru', 'clinic.amocrm.ru'],
    ['127.0.0.1:4000', '127.0.0.1:4000'],
    ['https://clinic.amocrm.ru', undefined],
    ['clinic.amocrm.ru/path', undefined],
    ['user@clinic.amocrm.ru', undefined],
    ['clinic..amocrm.ru', undefined],
    ['', undefined],
  ])('normalizeReferer(%j) → %j', (raw, want) => {
    expect(normalizeReferer(raw)).toBe(want);
  });
});

describe('local SecretSource', () => {
  it('reads env AMO_SECRET_<NAME> first, then the JSON file; errors name the secret, never a value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amo-secrets-'));
    const file = join(dir, 'secrets.json');
    writeFileSync(file, JSON.stringify({ 'amo/main': 'from-file', other: 'file-only' }));
    expect(secretEnvName('amo/main')).toBe('AMO_SECRET_AMO_MAIN');
    const s = localSecretSource({ env: { AMO_SECRET_AMO_MAIN: 'from-env' }, file });
    expect(await s.get('amo/main')).toBe('from-env');
    expect(await s.get('other')).toBe('file-only');
    const err = await s.get('missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretNotFoundError);
    expect((err as Error).message).toMatch(/secret "missing" not found \(looked in env AMO_SECRET_MISSING and .*secrets\.json\)/);
    writeFileSync(file, '{"broken": "from-file-value"');
    const err2 = await localSecretSource({ env: {}, file })
      .get('broken')
      .catch((e: unknown) => e);
    expect((err2 as Error).message).not.toContain('from-file-value');
    expect(
      await localSecretSource({ env: {}, file: join(dir, 'none.json') })
        .get('x')
        .catch((e: unknown) => (e as Error).name),
    ).toBe('SecretNotFoundError');
  });
});
