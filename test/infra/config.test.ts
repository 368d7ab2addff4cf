/**
 * The deployment's config at synth: `-c config=<path>` (default amo.config.json), validated with
 * the lib/config schema; a missing or invalid config fails synth with a clear message. The app's
 * context keys are checked in-process (from-context.ts); one test runs infra/aws/app.ts itself.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { checkSecretsPrefix, DeployConfigError, loadDeployConfig, secretLookingValues, secretNames } from '../../infra/aws/config.ts';
import { isOperatorError, stackFromContext } from '../../infra/aws/from-context.ts';
import { PROJECT_ROOT } from '../../infra/aws/gateway.ts';
import { EXAMPLE_CONFIG_PATH, exampleConfig } from './support/config.ts';

const run = promisify(execFile);
const tempDir = () => mkdtempSync(join(tmpdir(), 'amo-cfg-'));

/** A config with two mistakes: a plain-text client secret and a domain amoCRM does not have. */
const BAD_CONFIG = {
  integrations: [
    {
      id: 'main',
      clientId: '00000000-0000-4000-8000-000000000001',
      clientSecret: 'plaintext-secret',
      redirectUri: 'https://gw.example.com/oauth/callback',
    },
  ],
  accounts: [{ id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.de' }],
};

describe('loadDeployConfig', () => {
  it('fails synth when a rule names a status the pulled dictionary does not have, with the rule path and the candidates', () => {
    const dir = tempDir();
    const dict = {
      version: 1,
      pulledAt: '2026-01-01T00:00:00.000Z',
      account: { id: 1, name: 'A', subdomain: 'a' },
      pipelines: [{ id: 5001, name: 'Продажи', is_main: true, statuses: [{ id: 50011, name: 'Новая заявка', sort: 10 }] }],
      customFields: { leads: [], contacts: [], companies: [] },
      tags: { leads: [], contacts: [], companies: [] },
      taskTypes: [],
      users: [],
    };
    const base = exampleConfig;
    const account = base.accounts[0]!.id;
    writeFileSync(join(dir, 'dict.json'), JSON.stringify(dict));
    const rule = (to: string) => ({
      accounts: { [account]: { dictionary: 'dict.json' } },
      list: [{ id: 'r', account, when: { lead: 'status', to }, then: [{ note: { text: 'x' } }] }],
    });
    writeFileSync(join(dir, 'amo.config.json'), JSON.stringify({ ...base, rules: rule('Продажи / Новая заявк') }));
    expect(() => loadDeployConfig(undefined, dir)).toThrow(
      /rules\.list\[0\] "r" when\.to: unknown status of pipeline "Продажи" "Новая заявк" \(closest: "Новая заявка"/,
    );
    writeFileSync(join(dir, 'amo.config.json'), JSON.stringify({ ...base, rules: rule('Продажи / Новая заявка') }));
    expect(loadDeployConfig(undefined, dir).config.rules?.list).toHaveLength(1);
  });

  it('without -c config and without amo.config.json: a clear error that says what to do', () => {
    const dir = tempDir();
    expect(() => loadDeployConfig(undefined, dir)).toThrow(DeployConfigError);
    expect(() => loadDeployConfig(undefined, dir)).toThrow(
      /^no config: amo\.config\.json does not exist in .* and no -c config=<path> was given\. Write one with `npx amo-gateway init`.*copy amo\.config\.example\.json to amo\.config\.json/,
    );
  });

  it('reads amo.config.json from the working directory by default', () => {
    const dir = tempDir();
    copyFileSync(EXAMPLE_CONFIG_PATH, join(dir, 'amo.config.json'));
    const { config, file } = loadDeployConfig(undefined, dir);
    expect(file).toBe(join(dir, 'amo.config.json'));
    expect(config).toEqual(exampleConfig);
  });

  it('a -c config path that does not exist is named', () => {
    const dir = tempDir();
    expect(() => loadDeployConfig('prod.json', dir)).toThrow(
      `no config: the file given with -c config=prod.json does not exist (${join(dir, 'prod.json')})`,
    );
  });

  it('an invalid config fails with every zod issue and its path', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(BAD_CONFIG));
    let error: unknown;
    try {
      loadDeployConfig('bad.json', dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeployConfigError);
    expect((error as Error).message).toBe(
      [
        `invalid config file ${join(dir, 'bad.json')}:`,
        '  - integrations.0.clientSecret: Invalid input: expected object, received string',
        '  - accounts.0.domain: Invalid option: expected one of "amocrm.ru"|"amocrm.com"|"kommo.com"',
      ].join('\n'),
    );
    // The secret's value is never repeated in the message.
    expect((error as Error).message).not.toContain('plaintext-secret');
  });

  it('a file that is not JSON says so', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'amo.config.json'), '{"integrations": [');
    expect(() => loadDeployConfig(undefined, dir)).toThrow(/^the config file .*amo\.config\.json is not valid JSON/);
  });
});

describe('the committed example config', () => {
  it('is valid, has one amocrm.ru and one kommo.com account, and references its client secrets', () => {
    expect(exampleConfig.accounts.map((a) => a.domain).sort()).toEqual(['amocrm.ru', 'kommo.com']);
    for (const i of exampleConfig.integrations) expect(Object.keys(i.clientSecret)).toEqual(['secret']);
    expect(secretNames(exampleConfig)).toEqual([
      'client-secret/main-kommo',
      'client-secret/main-ru',
      'hook-token/clinic',
      'hook-token/clinic-intl',
      'rdesk-token/clinic',
    ]);
    for (const a of exampleConfig.accounts) expect(Object.keys(a.hookToken ?? {})).toEqual(['secret']);
    expect(secretLookingValues(exampleConfig)).toEqual([]);
  });
});

describe('secret references and secret-looking values', () => {
  const sample = {
    integrations: [{ clientSecret: { secret: 'a' } }, { clientSecret: { secret: 'b' } }],
    chat: { channelSecret: { secret: 'chat/channel' }, apiKey: 'sk_live_123', api_key: { secret: 'x' } },
    forms: [{ token: 'abc', tokenTtlSeconds: 60, name: 'contact' }],
  };

  it('finds every {secret} reference, deduplicated and sorted', () => {
    expect(secretNames(sample)).toEqual(['a', 'b', 'chat/channel', 'x']);
    expect(secretNames({ a: [{ secret: 'a' }, { secret: 'a' }] })).toEqual(['a']);
  });

  it('flags plain strings under secret-sounding keys, never references or numbers', () => {
    expect(secretLookingValues(sample)).toEqual(['chat.apiKey', 'forms.0.token']);
  });

  it('the secrets prefix must end with / and be a Secrets Manager name', () => {
    expect(checkSecretsPrefix('amo-gateway/prod/')).toBe('amo-gateway/prod/');
    for (const bad of ['', '/', 'amo-gateway', 'amo gateway/', '*/', 'amo*/'])
      expect(() => checkSecretsPrefix(bad), bad).toThrow(/secretsPrefix .* must be a Secrets Manager name prefix ending with "\/"/);
  });
});

describe('the CDK app', () => {
  const appWith = (context: Record<string, unknown>) =>
    new App({ outdir: tempDir(), context: { ...context, 'aws:cdk:bundling-stacks': [] } });

  it('builds the stack from the context keys', () => {
    const app = appWith({
      config: EXAMPLE_CONFIG_PATH,
      stackName: 'AmoGatewayStaging',
      secretsPrefix: 'amo/staging/',
      alarmEmail: 'ops@example.com',
      eventArchiveDays: '7',
      apiCloudWatchRole: 'false',
    });
    const stack = stackFromContext(app, tempDir());
    expect(stack.stackName).toBe('AmoGatewayStaging');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Events::EventBus', { Name: 'amo-gateway-staging' });
    t.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 7 });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'amo-gateway-staging-amocrm-hooks' });
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
    for (const fn of Object.values(t.findResources('AWS::Lambda::Function')) as Array<{
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }>) {
      expect(fn.Properties.Environment.Variables.AMO_SECRETS_PREFIX).toBe('amo/staging/');
      expect(JSON.parse(String(fn.Properties.Environment.Variables.AMO_CONFIG_JSON))).toEqual(exampleConfig);
    }
  });

  it('fails without a config, and on bad context values, with operator errors', () => {
    const noConfig = (() => {
      try {
        stackFromContext(appWith({}), tempDir());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isOperatorError(noConfig)).toBe(true);
    expect((noConfig as Error).message).toMatch(/^no config: amo\.config\.json does not exist/);
    expect(() => stackFromContext(appWith({ config: EXAMPLE_CONFIG_PATH, alarmEmail: 'ops' }), tempDir())).toThrow(
      'context alarmEmail "ops" is not an e-mail address',
    );
    expect(() => stackFromContext(appWith({ config: EXAMPLE_CONFIG_PATH, eventArchiveDays: 'soon' }), tempDir())).toThrow(
      /eventArchiveDays must be a whole number of days ≥ 1, got NaN/,
    );
    expect(() => stackFromContext(appWith({ config: EXAMPLE_CONFIG_PATH, apiCloudWatchRole: 'maybe' }), tempDir())).toThrow(
      'context apiCloudWatchRole must be true or false, got "maybe"',
    );
  });

  // One real process (≈3 s of CPU): infra/aws/app.ts as `cdk synth` runs it (context in
  // CDK_CONTEXT_JSON), bundling skipped.
  it('app.ts exits 1 on an invalid config with the zod message and no stack trace', { timeout: 60_000 }, async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'bad.json'), JSON.stringify(BAD_CONFIG));
    const r = await run(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [join(PROJECT_ROOT, 'infra', 'aws', 'app.ts')], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        CDK_CONTEXT_JSON: JSON.stringify({ config: 'bad.json', 'aws:cdk:bundling-stacks': [] }),
        CDK_OUTDIR: join(cwd, 'cdk.out'),
        CDK_VALIDATION: 'false',
      },
      timeout: 60_000,
    }).then(
      (ok) => ({ code: 0, stderr: ok.stderr }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? '' }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `amo-gateway: invalid config file ${join(cwd, 'bad.json')}:`,
        '  - integrations.0.clientSecret: Invalid input: expected object, received string',
        '  - accounts.0.domain: Invalid option: expected one of "amocrm.ru"|"amocrm.com"|"kommo.com"',
        '',
      ].join('\n'),
    );
  });
});
