/**
 * The 1C parts in the deployed worker: depsFromEnv adds the `onec` route's processor and, with an
 * `outbound` section, the `onec-export` flow beside the others; without an `onec` section neither.
 */
import { describe, expect, it } from 'vitest';
import { depsFromEnv } from '../../functions/worker.ts';
import { silentLog } from '../../lib/common/log.ts';
import { resolveDeferred } from '../../lib/common/lazy.ts';
import { routeTable } from '../../lib/routes.ts';
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
const catalog = { accounts: [{ account: 'local', catalogId: 1, uidField: 2 }], price: { default: 'Основная цена' } };
const outbound = {
  baseUrl: 'https://1c.example.ru/base/hs/amo/',
  username: 'amo',
  password: { secret: 'onec/pw' },
  accounts: [{ account: 'local', leadIdField: 3, contactIdField: 4, trigger: { statusId: 142 } }],
};
const deps = (config: unknown) =>
  depsFromEnv({ TABLE_NAME: 't', QUEUES, AWS_REGION: 'eu-central-1', AMO_CONFIG_JSON: JSON.stringify(parseConfig(config)) }, silentLog);

describe('the 1C parts in the deployed worker', () => {
  it("onec → the onec processor; with outbound → the onec-export flow on lead.status; none without the section (built at their queues' first messages)", async () => {
    const callers = [{ id: 'erp', key: { secret: 'onec/erp' } }];
    const inbound = deps({ ...base, onec: { callers, catalog } }).ingest!;
    expect(Object.keys(await resolveDeferred(inbound.onec!))).toEqual(['onec']);
    expect(inbound.flows).toBeUndefined();
    const both = deps({ ...base, onec: { callers, catalog, outbound } }).ingest!;
    expect((await resolveDeferred(both.flows))?.for('lead.status').map((f) => f.name)).toEqual(['onec-export']);
    const none = deps(base).ingest!;
    expect(none.onec).toBeUndefined();
    expect(none.flows).toBeUndefined();
  });

  it('an onec section naming an account the config lacks is refused at synth (the schema), before any deploy', () => {
    expect(() =>
      deps({
        ...base,
        onec: {
          callers: [{ id: 'erp', key: { secret: 'k' } }],
          catalog: { ...catalog, accounts: [{ ...catalog.accounts[0], account: 'nope' }] },
        },
      }),
    ).toThrow(/onec\.catalog\.accounts\.0\.account.*unknown account "nope"/s);
  });
});
