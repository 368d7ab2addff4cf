/**
 * The `contact-index` webhook flow: real webhook bodies (the public fixtures, parsed by our parser)
 * into the index on the run's DynamoDB emulator; then end to end through the local runner — a
 * contact added in the sandbox reaches the index through the sandbox's webhook, our hook route,
 * SQS and the ingest worker, and the finder then finds it under `literal` search without a search.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAccountWebhook } from '../../lib/amocrm/webhooks/index.ts';
import type { WebhookEvent } from '../../lib/amocrm/webhooks/types.ts';
import { createAmoClientRuntime } from '../../lib/aws/amo-client-runtime.ts';
import { createContactsRuntime } from '../../lib/aws/contacts-runtime.ts';
import { silentLog } from '../../lib/common/log.ts';
import type { AccountConfig } from '../../lib/config/schema.ts';
import { CONTACT_INDEX_FLOW, registerContactIndexFlow } from '../../lib/contacts/index.ts';
import { FlowRegistry, type FlowContext } from '../../lib/ingest/flows.ts';
import { DynamoContactIndex } from '../../lib/store/contact-index.ts';
import { startWorld, useWorlds, waitFor } from '../e2e/support.ts';
import { createTestTable } from '../support/ddb.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'amocrm-webhooks');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));

function events(body: Uint8Array | string): WebhookEvent[] {
  const r = parseAccountWebhook(body);
  if (!r.ok) throw new Error(`fixture did not parse: ${r.error.code}`);
  return r.events;
}

describe('the contact-index flow on parsed webhooks', () => {
  let index: DynamoContactIndex;
  let flows: FlowRegistry;
  const ctx = (id: string): FlowContext => ({
    account: { id } as AccountConfig,
    requestId: 'r',
    receivedAt: Date.now(),
    stepKey: 'k',
    log: silentLog,
    now: Date.now,
  });
  const run = async (account: string, evs: WebhookEvent[]) => {
    for (const ev of evs) for (const f of flows.for(ev.kind)) await f.handle(ev, ctx(account));
  };

  beforeAll(async () => {
    const t = await createTestTable('cflow');
    index = new DynamoContactIndex({ doc: t.doc, tableName: t.tableName });
    flows = registerContactIndexFlow(new FlowRegistry(), { index, defaultCountry: 'RU', accounts: new Set(['fpa']) });
  });

  it('registers one flow for contact add/update/restore/responsible/delete, none for companies or notes', () => {
    for (const k of ['contact.add', 'contact.update', 'contact.restore', 'contact.responsible', 'contact.delete'])
      expect(flows.for(k).map((f) => f.name)).toEqual([CONTACT_INDEX_FLOW]);
    for (const k of ['company.add', 'contact.note', 'lead.update']) expect(flows.for(k)).toEqual([]);
  });

  it("update_contact (webhook-11): the contact's phone and e-mail become its keys; delete drops them; other accounts are skipped", async () => {
    const upd = events(fixture('webhook-11-update_contact-cyrillic.txt'));
    await run('other', upd);
    expect(await index.lookup('other', ['phone:+79031453455'])).toEqual(new Map());
    await run('fpa', upd);
    expect(await index.lookup('fpa', ['phone:+79031453455', 'email:kloder3@gmail.com'])).toEqual(
      new Map([
        ['phone:+79031453455', [22309159]],
        ['email:kloder3@gmail.com', [22309159]],
      ]),
    );
    // webhook-10: PHONE "333" and EMAIL "444" are not a phone or an e-mail: no keys, no error
    await run('fpa', events(fixture('webhook-10-update_contact.txt')));
    expect((await index.lookup('fpa', ['phone:333' as 'phone:+7'])).size).toBe(0);
    // a company (webhook-12, under contacts[add] with type=company) is not a person
    await run('fpa', events(fixture('webhook-12-add_company.txt')));

    // a body whose fields carry no codes (older formats) says nothing about phones: nothing is dropped
    const noCodes = new URLSearchParams({
      'account[subdomain]': 'apfitness',
      'contacts[update][0][id]': '22309159',
      'contacts[update][0][type]': 'contact',
      'contacts[update][0][custom_fields][0][id]': '54667',
      'contacts[update][0][custom_fields][0][values][0][value]': '89031453455',
    }).toString();
    await run('fpa', events(noCodes));
    expect((await index.lookup('fpa', ['phone:+79031453455', 'email:kloder3@gmail.com'])).size).toBe(2);

    await run(
      'fpa',
      events('account[subdomain]=apfitness&contacts%5Bdelete%5D%5B0%5D%5Bid%5D=22309159&contacts%5Bdelete%5D%5B0%5D%5Btype%5D=contact'),
    );
    expect(await index.lookup('fpa', ['phone:+79031453455', 'email:kloder3@gmail.com'])).toEqual(new Map());
  });
});

useWorlds();

describe('the contact-index flow through the local runner', () => {
  it('a contact added (and then changed) in the sandbox reaches the index through the webhook and the worker; the finder needs no search', async () => {
    const w = await startWorld({
      amocrm: {
        printEvents: false,
        forms: { defaultCountry: 'RU', list: [{ id: 'site', account: 'local', lead: { pipeline: 'Продажи' } }] },
      },
    });
    w.sandbox.admin.setSearchMode('literal');
    const index = new DynamoContactIndex({ doc: w.runner.doc, tableName: w.runner.tableName });
    const { access_token } = w.sandbox.admin.issueLongLivedToken();
    const api = (method: string, body: unknown) =>
      fetch(`${w.sandbox.url}/api/v4/contacts`, {
        method,
        headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as { _embedded: { contacts: Array<{ id: number }> } } }));

    const added = await api('POST', [
      {
        name: 'Site visitor',
        custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+7 (999) 123-45-67', enum_code: 'MOB' }] }],
      },
    ]);
    expect(added.status).toBe(200);
    const id = added.json._embedded.contacts[0]!.id;
    await waitFor(
      async () => (await index.lookup('local', ['phone:+79991234567'])).get('phone:+79991234567')?.includes(id),
      'the index entry',
      30_000,
    );

    // The finder of the runner's world: one contacts read, no search, although `literal` search could not find this spelling.
    const runtime = createAmoClientRuntime({
      config: w.amo.config,
      oauth: w.amo.oauth.provider,
      doc: w.runner.doc,
      tableName: w.runner.tableName,
      mode: 'await',
    });
    const { finder } = createContactsRuntime({
      config: w.amo.config,
      doc: w.runner.doc,
      tableName: w.runner.tableName,
      clientFor: (a) => runtime.clientFor(a),
      log: silentLog,
    });
    const reads = () => w.sandbox.admin.count({ method: 'GET', route: '/api/v4/contacts' });
    const before = reads();
    const [m] = await finder.find('local', [{ phone: '+79991234567' }]);
    expect(m).toMatchObject({ contactId: id, via: 'index' });
    expect(reads() - before).toBe(1);

    // The phone changes in amoCRM: the update webhook moves the entry.
    expect(
      (
        await api('PATCH', [
          { id, custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '8 916 000 11 22', enum_code: 'MOB' }] }] },
        ])
      ).status,
    ).toBe(200);
    await waitFor(
      async () => (await index.lookup('local', ['phone:+79160001122'])).get('phone:+79160001122')?.includes(id),
      'the new entry',
      30_000,
    );
    expect(await index.lookup('local', ['phone:+79991234567'])).toEqual(new Map());
    // no phone in the runner's log lines
    expect(w.lines.join('\n')).not.toMatch(/9991234567|9160001122/);
  }, 60_000);
});
