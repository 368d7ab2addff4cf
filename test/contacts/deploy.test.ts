/**
 * The contact index flow in the deployed worker: depsFromEnv's loader of the webhook flows (run at
 * the amocrm-hooks queue's first message) composes it after the rules' flows when the config has a
 * `forms` section, and leaves the flows alone without one.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { depsFromEnv } from '../../functions/worker.ts';
import { silentLog } from '../../lib/common/log.ts';
import { resolveDeferred } from '../../lib/common/lazy.ts';
import { routeTable } from '../../lib/routes.ts';
import { DICT } from '../rules/support.ts';
import { parseConfig } from '../../lib/config/load.ts';

const QUEUES = JSON.stringify(
  Object.fromEntries(
    routeTable.queues.map((q) => [
      q.id,
      { arn: `arn:aws:sqs:eu-central-1:1:${q.id}`, url: `https://sqs/1/${q.id}`, dlqUrl: `https://sqs/1/${q.id}-dlq` },
    ]),
  ),
);

const base = {
  integrations: [
    { id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 'client' }, redirectUri: 'https://gw.example.com/oauth/callback' },
  ],
  accounts: [{ id: 'local', integration: 'main', subdomain: 'sandbox', domain: 'amocrm.ru', hookToken: { secret: 'hooks/local' } }],
  events: { publish: false },
};
const forms = { defaultCountry: 'RU', list: [{ id: 'site', account: 'local', lead: { pipeline: 'Продажи' } }] };
const rules = {
  list: [
    { id: 'booked-call', account: 'local', when: { lead: 'status', to: 'Продажи / Записан на приём' }, then: [{ note: { text: 'x' } }] },
  ],
};
const names = (flows: Awaited<ReturnType<typeof flowsOf>>, kind: string) => flows?.for(kind).map((f) => f.name);
const env = (dir: string) => ({ TABLE_NAME: 't', QUEUES, AMO_RULES_DIR: dir, AWS_REGION: 'eu-central-1' });
let dir = '';
async function flowsOf(config: unknown) {
  const flows = depsFromEnv({ ...env(dir), AMO_CONFIG_JSON: JSON.stringify(parseConfig(config)) }, silentLog).ingest?.flows;
  return flows && resolveDeferred(flows);
}

describe('the contact index flow in the deployed worker', () => {
  dir = mkdtempSync(join(tmpdir(), 'amo-contacts-deploy-'));
  mkdirSync(join(dir, 'schema'));
  writeFileSync(join(dir, 'schema', 'local.json'), JSON.stringify(DICT));

  it("forms → the contact-index flow (beside the rules' flows); no forms → none", async () => {
    expect(names(await flowsOf({ ...base, forms }), 'contact.update')).toEqual(['contact-index']);
    expect(names(await flowsOf({ ...base, forms }), 'contact.delete')).toEqual(['contact-index']);
    const both = await flowsOf({ ...base, forms, rules });
    expect(names(both, 'contact.update')).toEqual(['contact-index']);
    expect(names(both, 'lead.status')).toEqual(['rule-booked-call']);
    expect(await flowsOf(base)).toBeUndefined();
    expect(names(await flowsOf({ ...base, rules }), 'contact.update')).toEqual([]);
  });
});
