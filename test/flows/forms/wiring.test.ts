/** The forms worker's wiring: the deployed worker builds its amoCRM side when the config has a `forms` section, and only then. */
import { describe, expect, it } from 'vitest';
import { depsFromEnv } from '../../../functions/worker.ts';
import { formsProcessors } from '../../../lib/aws/forms-worker-runtime.ts';
import { silentLog } from '../../../lib/common/log.ts';
import { resolveDeferred } from '../../../lib/common/lazy.ts';
import { routeTable } from '../../../lib/routes.ts';
import { parseConfig } from '../../../lib/config/load.ts';

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
const forms = { list: [{ id: 'site', account: 'local', lead: { pipeline: 'Продажи' } }] };
const deps = (config: unknown) =>
  depsFromEnv({ TABLE_NAME: 't', QUEUES, AWS_REGION: 'eu-central-1', AMO_CONFIG_JSON: JSON.stringify(parseConfig(config)) }, silentLog);
const guard = { once: async () => ({ status: 'duplicate' as const }) };

describe('forms worker wiring (AWS)', () => {
  it("forms → the client, the contact finder and the state are built (at the forms queue's first message), and route `forms` has its processor; no forms → none", async () => {
    const on = deps({ ...base, forms }).ingest!;
    const built = await resolveDeferred(on.forms!);
    expect(built).toMatchObject({ clientFor: expect.any(Function), finder: expect.any(Object), state: expect.any(Object) });
    expect(Object.keys(formsProcessors({ config: on.config, forms: built }, guard, silentLog, undefined))).toEqual(['forms']);
    const off = deps(base).ingest!;
    expect(off.forms).toBeUndefined();
    expect(formsProcessors({ config: off.config }, guard, silentLog, undefined)).toEqual({});
  });
});
