/**
 * Account webhooks for changes made through REST v4 (not only the admin's manager moves): every
 * write family fires the subscribed events, in the same shapes as the admin moves and the captures
 * (amo-docs webhooks-format; fixtures under test/fixtures/amocrm-webhooks). The gateway's own
 * writes come back to it this way, as they do from amoCRM.
 */
import qs from 'qs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leadDeleteItem } from '../../infra/local/sandbox/webhook-items.ts';
import { encodeWebhookBody } from '../../infra/local/sandbox/webhook-out.ts';
import { fixtureBytes } from '../support/fixtures.ts';
import { receiver, seedBasic, world, type World } from './support.ts';

let w: World;
let t: string;
let hook: Awaited<ReturnType<typeof receiver>>;
beforeEach(async () => {
  w = await world({
    limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 },
    account: { id: 32427762, subdomain: 'etesttask' },
  });
  seedBasic(w.sb);
  t = (await w.login()).access_token;
  hook = await receiver();
});
afterEach(async () => {
  await w.sb.close();
  await hook.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed form bodies are checked field by field
const parse = (body: string): any => qs.parse(body, { depth: 10, arrayLimit: 500 });

async function subscribe(settings: string[]): Promise<void> {
  expect((await w.api('POST', '/api/v4/webhooks', t, { destination: `${hook.url}/hooks/amocrm/secret`, settings })).status).toBe(201);
}

/** Bodies received since the last call, parsed. */
let seen = 0;
async function received() {
  await w.sb.admin.flushWebhooks();
  const out = hook.got.slice(seen).map((g) => parse(g.body));
  seen = hook.got.length;
  return out;
}
beforeEach(() => {
  seen = 0;
});

describe('webhooks for REST v4 writes', () => {
  it('a status change by PATCH has the same item keys as the same change by a manager (admin move)', async () => {
    await subscribe(['status_lead', 'update_lead']);
    const id = (
      await w.api('POST', '/api/v4/leads', t, [{ name: 'L', custom_fields_values: [{ field_id: 301, values: [{ value: 'x' }] }] }])
    ).json._embedded.leads[0].id;
    await w.api('PATCH', `/api/v4/leads/${id}`, t, { status_id: 1002 });
    await w.sb.admin.moveLead({ leadId: id, statusId: 1001 });
    const [byApi, byManager] = await received();
    expect(Object.keys(byApi.leads)).toEqual(['status', 'update']);
    expect(Object.keys(byManager.leads)).toEqual(['status', 'update']);
    expect(Object.keys(byApi.leads.status[0])).toEqual(Object.keys(byManager.leads.status[0]));
    expect(Object.keys(byApi.leads.update[0])).toEqual(Object.keys(byManager.leads.update[0]));
    expect(byApi.leads.status[0]).toMatchObject({ id: String(id), status_id: '1002', old_status_id: '1001' });
    expect(byManager.leads.status[0]).toMatchObject({ id: String(id), status_id: '1001', old_status_id: '1002' });
  });

  it('contacts and companies: add, batch PATCH, PATCH one, responsible change — under contacts[…] with their type', async () => {
    await subscribe(['add_contact', 'update_contact', 'responsible_contact', 'add_company', 'update_company', 'responsible_company']);
    const c = (await w.api('POST', '/api/v4/contacts', t, [{ name: 'Ann' }])).json._embedded.contacts[0].id;
    const co = (await w.api('POST', '/api/v4/companies', t, [{ name: 'Acme' }])).json._embedded.companies[0].id;
    await w.api('PATCH', '/api/v4/contacts', t, [{ id: c, name: 'Ann B' }]);
    await w.api('PATCH', `/api/v4/contacts/${c}`, t, { responsible_user_id: 12 });
    await w.api('PATCH', `/api/v4/companies/${co}`, t, { name: 'Acme 2', responsible_user_id: 12 });
    const [addC, addCo, upd, resp, coResp] = await received();
    expect(addC.contacts.add[0]).toMatchObject({ id: String(c), name: 'Ann', type: 'contact' });
    expect(addCo.contacts.add[0]).toMatchObject({ id: String(co), name: 'Acme', type: 'company' });
    expect(upd.contacts.update[0]).toMatchObject({ id: String(c), name: 'Ann B', type: 'contact' });
    expect(Object.keys(resp.contacts).sort()).toEqual(['responsible', 'update']);
    expect(resp.contacts.responsible[0]).toMatchObject({ responsible_user_id: '12', old_responsible_user_id: '11', type: 'contact' });
    expect(coResp.contacts.responsible[0]).toMatchObject({ id: String(co), old_responsible_user_id: '11', type: 'company' });
    expect(coResp.contacts.update[0]).toMatchObject({ name: 'Acme 2', type: 'company' });
  });

  it('leads/complex fires add for the lead, the new contact and the new company in one POST', async () => {
    await subscribe(['add_lead', 'add_contact', 'add_company']);
    const r = await w.api('POST', '/api/v4/leads/complex', t, [
      { name: 'Deal', _embedded: { contacts: [{ first_name: 'Bob' }], companies: [{ name: 'Org' }] } },
    ]);
    expect(r.status).toBe(200);
    const [one, ...rest] = await received();
    expect(rest).toHaveLength(0);
    expect(one.leads.add[0].id).toBe(String(r.json[0].id));
    expect(one.contacts.add.map((x: { type: string }) => x.type).sort()).toEqual(['company', 'contact']);
  });

  it('tasks: add, update and completion (action_close, result) as task[add|update]', async () => {
    await subscribe(['add_task', 'update_task']);
    const lead = (await w.api('POST', '/api/v4/leads', t, [{ name: 'L' }])).json._embedded.leads[0].id;
    const id = (
      await w.api('POST', '/api/v4/tasks', t, [{ text: 'Call', complete_till: 1_800_000_000, entity_type: 'leads', entity_id: lead }])
    ).json._embedded.tasks[0].id;
    await w.api('PATCH', `/api/v4/tasks/${id}`, t, { is_completed: true, result: { text: 'Done' } });
    const [add, upd] = await received();
    expect(add.task.add[0]).toMatchObject({ id: String(id), element_id: String(lead), element_type: '2', text: 'Call', status: '0' });
    expect(upd.task.update[0]).toMatchObject({ id: String(id), status: '1', action_close: '1', result: { text: 'Done' } });
  });

  it('a task given to another user also fires responsible_task (task[responsible], old_responsible_user_id)', async () => {
    await subscribe(['update_task', 'responsible_task']);
    const id = (await w.api('POST', '/api/v4/tasks', t, [{ text: 'Call', complete_till: 1_800_000_000 }])).json._embedded.tasks[0].id;
    await w.api('PATCH', '/api/v4/tasks', t, [{ id, responsible_user_id: 12 }]);
    await w.api('PATCH', '/api/v4/tasks', t, [{ id, text: 'Call back' }]);
    const [moved, edited] = await received();
    expect(Object.keys(moved.task).sort()).toEqual(['responsible', 'update']);
    expect(moved.task.responsible[0]).toMatchObject({ id: String(id), responsible_user_id: '12', old_responsible_user_id: '11' });
    expect(Object.keys(edited.task)).toEqual(['update']);
  });

  it('notes on leads, contacts and companies fire note_lead / note_contact / note_company', async () => {
    await subscribe(['note_lead', 'note_contact', 'note_company']);
    const lead = (await w.api('POST', '/api/v4/leads', t, [{ name: 'L' }])).json._embedded.leads[0].id;
    const c = (await w.api('POST', '/api/v4/contacts', t, [{ name: 'C' }])).json._embedded.contacts[0].id;
    const co = (await w.api('POST', '/api/v4/companies', t, [{ name: 'Co' }])).json._embedded.companies[0].id;
    await w.api('POST', `/api/v4/leads/${lead}/notes`, t, [{ note_type: 'common', params: { text: 'on lead' } }]);
    await w.api('POST', '/api/v4/contacts/notes', t, [{ entity_id: c, note_type: 'common', params: { text: 'on contact' } }]);
    await w.api('POST', `/api/v4/companies/${co}/notes`, t, [{ note_type: 'common', params: { text: 'on company' } }]);
    const [nl, nc, nco] = await received();
    expect(nl.leads.note[0].note).toMatchObject({ text: 'on lead', element_id: String(lead), element_type: '2', note_type: '4' });
    expect(nc.contacts.note[0].note).toMatchObject({ text: 'on contact', element_id: String(c), element_type: '1', type: 'contact' });
    expect(nco.contacts.note[0].note).toMatchObject({ text: 'on company', element_id: String(co), element_type: '3', type: 'company' });
  });

  it('a refused write (400) fires nothing; a batch fires one POST per destination with every item', async () => {
    await subscribe(['add_lead']);
    expect((await w.api('POST', '/api/v4/leads', t, [{ name: 'ok' }, { name: 'bad', status_id: 999 }])).status).toBe(400);
    expect(await received()).toEqual([]);
    await w.api('POST', '/api/v4/leads', t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const [one, ...rest] = await received();
    expect(rest).toHaveLength(0);
    expect(one.leads.add.map((x: { name: string }) => x.name)).toEqual(['a', 'b', 'c']);
  });

  it('the lead deletion item (for a manager deleting a deal) re-encodes the captured delete_lead body byte for byte', () => {
    const raw = fixtureBytes('amocrm-webhooks/webhook-07-delete_lead.txt').toString('latin1');
    const body = encodeWebhookBody({ id: 16700680, subdomain: 'unirock', host: 'unirock.amocrm.ru' }, [
      { entity: 'leads', action: 'delete', item: leadDeleteItem({ id: 30052055, status_id: 17944873, pipeline_id: 936736 }) },
    ]);
    expect(body).toBe(raw);
  });

  it('a manager deleting a deal (admin) fires delete_lead with id, status_id and pipeline_id only', async () => {
    await subscribe(['delete_lead']);
    const id = (await w.api('POST', '/api/v4/leads', t, [{ name: 'L', status_id: 1002 }])).json._embedded.leads[0].id;
    w.sb.admin.deleteLead({ leadId: id, userId: 12 });
    const [del] = await received();
    expect(del.leads).toEqual({ delete: [{ id: String(id), status_id: '1002', pipeline_id: '100' }] });
    expect(del.account).toMatchObject({ id: '32427762', subdomain: 'etesttask' });
  });
});
