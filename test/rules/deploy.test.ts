/**
 * The rules in the deployed worker: depsFromEnv's loader of the webhook flows (run at the
 * amocrm-hooks queue's first message) resolves them against the dictionaries bundled with the
 * function (AMO_RULES_DIR) and registers one flow per rule; the CDK construct's bundling hooks copy
 * those dictionaries into the worker's bundle.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { depsFromEnv } from '../../functions/worker.ts';
import { parseConfig } from '../../lib/config/index.ts';
import { silentLog } from '../../lib/common/log.ts';
import { resolveDeferred } from '../../lib/common/lazy.ts';
import { routeTable } from '../../lib/routes.ts';
import { rulesDictionaryHooks } from '../../infra/aws/gateway.ts';
import { DICT } from './support.ts';

/** AMO_CONFIG_JSON as the construct writes it: validated at synth, defaults filled in (infra/aws/gateway.ts configEnvJson). */
const deployed = (c: unknown) => JSON.stringify(parseConfig(c));

const QUEUES = JSON.stringify(
  Object.fromEntries(
    routeTable.queues.map((q) => [
      q.id,
      { arn: `arn:aws:sqs:eu-central-1:1:${q.id}`, url: `https://sqs/1/${q.id}`, dlqUrl: `https://sqs/1/${q.id}-dlq` },
    ]),
  ),
);

const config = (to: string) => ({
  integrations: [
    { id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 'client' }, redirectUri: 'https://gw.example.com/oauth/callback' },
  ],
  accounts: [{ id: 'local', integration: 'main', subdomain: 'sandbox', domain: 'amocrm.ru', hookToken: { secret: 'hooks/local' } }],
  events: { publish: false },
  rules: { list: [{ id: 'booked-call', account: 'local', when: { lead: 'status', to }, then: [{ note: { text: 'x' } }] }] },
});

describe('rules in the deployed worker', () => {
  it("are resolved at the hooks queue's first message against the bundled dictionaries and registered as flows", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-deploy-'));
    mkdirSync(join(dir, 'schema'));
    writeFileSync(join(dir, 'schema', 'local.json'), JSON.stringify(DICT));
    const env = { TABLE_NAME: 't', QUEUES, AMO_RULES_DIR: dir, AWS_REGION: 'eu-central-1' };
    const flowsOf = async (json: string) => {
      const flows = depsFromEnv({ ...env, AMO_CONFIG_JSON: json }, silentLog).ingest?.flows;
      return flows && resolveDeferred(flows);
    };
    const flows = await flowsOf(deployed(config('Продажи / Записан на приём')));
    expect(flows?.for('lead.status').map((f) => f.name)).toEqual(['rule-booked-call']);
    // A name that does not resolve: the cold start passes, the loader (that queue's first message) fails.
    const bad = depsFromEnv({ ...env, AMO_CONFIG_JSON: deployed(config('Продажи / Записан')) }, silentLog);
    await expect(resolveDeferred(bad.ingest!.flows)).rejects.toThrow(
      /rules\.list\[0\] "booked-call" when\.to: unknown status of pipeline "Продажи" "Записан"/,
    );
    // Without rules, no flows (and no client runtime).
    const { rules: _none, ...plain } = config('x');
    expect(depsFromEnv({ ...env, AMO_CONFIG_JSON: deployed(plain) }, silentLog).ingest?.flows).toBeUndefined();
  });

  it("the worker's bundling copies each dictionary to the same relative path; a path outside the project is refused", () => {
    const hooks = rulesDictionaryHooks(parseConfig(config('Новая заявка'))).commandHooks!;
    expect(hooks.afterBundling('/src', '/out')).toEqual(["mkdir -p '/out/schema'", "cp '/src/schema/local.json' '/out/schema/local.json'"]);
    expect(rulesDictionaryHooks(parseConfig({ ...config('x'), rules: undefined }))).toEqual({});
    const outside = { ...config('x'), rules: { ...config('x').rules, accounts: { local: { dictionary: '../dict.json' } } } };
    expect(() => rulesDictionaryHooks(parseConfig(outside))).toThrow(/inside the project/);
  });

  it('a transfer bundles the target account dictionary too; an unknown target account fails the config', () => {
    const base = config('x');
    const withCorp = (to: string) => ({
      ...base,
      accounts: [...base.accounts, { id: 'corp', integration: 'main', subdomain: 'corp', domain: 'amocrm.ru' }],
      rules: {
        list: [
          {
            id: 'ret2corp',
            account: 'local',
            when: { lead: 'status' },
            then: [{ transfer: { to, status: 'Корпорат / Новая', linkField: 'ID' } }],
          },
        ],
      },
    });
    const hooks = rulesDictionaryHooks(parseConfig(withCorp('corp'))).commandHooks!;
    expect(hooks.afterBundling('/src', '/out')).toEqual([
      "mkdir -p '/out/schema'",
      "cp '/src/schema/local.json' '/out/schema/local.json'",
      "mkdir -p '/out/schema'",
      "cp '/src/schema/corp.json' '/out/schema/corp.json'",
    ]);
    expect(() => parseConfig(withCorp('nowhere'))).toThrow(/unknown account "nowhere"/);
  });
});
