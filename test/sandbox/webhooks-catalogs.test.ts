import qs from 'qs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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

async function subscribe(settings: string[], path = '/hooks/amocrm/secret-token') {
  const r = await w.api('POST', '/api/v4/webhooks', t, { destination: `${hook.url}${path}`, settings });
  expect(r.status).toBe(201);
  return r.json;
}

describe('webhook subscriptions API (amocrm-protocol#subscriptions)', () => {
  it('POST answers 201 with the model; same destination updates; GET filters; DELETE 204 then 404', async () => {
    const m = await subscribe(['status_lead']);
    expect(Object.keys(m)).toEqual([
      'id',
      'destination',
      'created_at',
      'updated_at',
      'account_id',
      'created_by',
      'sort',
      'disabled',
      'settings',
    ]);
    expect(m).toMatchObject({ account_id: 32427762, disabled: false, settings: ['status_lead'] });
    const again = await subscribe(['status_lead', 'add_lead']);
    expect(again.id).toBe(m.id);
    expect(again.settings).toEqual(['status_lead', 'add_lead']);
    const list = await w.api('GET', `/api/v4/webhooks?filter[destination]=${encodeURIComponent(m.destination)}`, t);
    expect(list.json._embedded.webhooks).toHaveLength(1);
    expect((await w.api('GET', '/api/v4/webhooks?filter[destination]=https://nope.example', t)).status).toBe(204);
    expect((await w.api('DELETE', '/api/v4/webhooks', t, { destination: m.destination })).status).toBe(204);
    expect((await w.api('DELETE', '/api/v4/webhooks', t, { destination: m.destination })).status).toBe(404);
  });

  it('refuses unknown settings and bad destinations', async () => {
    const r = await w.api('POST', '/api/v4/webhooks', t, { destination: 'not a url', settings: ['status_lead', 'bogus'] });
    expect(r.status).toBe(400);
    expect(r.json['validation-errors'][0].errors.map((e: { path: string }) => e.path)).toEqual(['destination', 'settings.1']);
  });
});

describe('account webhooks on lead changes', () => {
  it('an API status change sends status_lead to the subscribed destination only, in the captured format', async () => {
    await subscribe(['status_lead']);
    const other = await receiver();
    try {
      await w.api('POST', '/api/v4/webhooks', t, { destination: `${other.url}/x`, settings: ['add_contact'] });
      const id = (
        await w.api('POST', '/api/v4/leads', t, [
          { name: 'Сделка', price: 500, custom_fields_values: [{ field_id: 303, values: [{ enum_id: 3031 }] }] },
        ])
      ).json._embedded.leads[0].id;
      await w.sb.admin.flushWebhooks();
      expect(hook.got).toHaveLength(0); // add_lead is not subscribed
      await w.api('PATCH', '/api/v4/leads', t, [{ id, status_id: 1002 }]);
      await w.sb.admin.flushWebhooks();
      expect(hook.got).toHaveLength(1);
      expect(other.got).toHaveLength(0);
      const got = hook.got[0]!;
      expect(got.method).toBe('POST');
      expect(got.url).toBe('/hooks/amocrm/secret-token');
      expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(got.headers['user-agent']).toBe('amoCRM-Webhooks/3.0');
      expect(got.headers['x-amocrm-requestid']).toMatch(/^[0-9a-f-]{36}$/);
      expect(got.body.startsWith('account%5Bsubdomain%5D=etesttask&account%5Bid%5D=32427762')).toBe(true);
      const b = parse(got.body);
      expect(Object.keys(b.leads)).toEqual(['status']);
      expect(b.leads.status[0]).toMatchObject({
        id: String(id),
        name: 'Сделка',
        status_id: '1002',
        old_status_id: '1001',
        pipeline_id: '100',
        price: '500',
        account_id: '32427762',
      });
      expect(b.leads.status[0].custom_fields[0]).toEqual({ id: '303', name: 'Sel', values: [{ value: 'One', enum: '3031' }] });
    } finally {
      await other.close();
    }
  });

  it('add/update/responsible events carry their keys; one POST holds all events of one write', async () => {
    await subscribe(['add_lead', 'update_lead', 'status_lead', 'responsible_lead', 'add_contact', 'add_company']);
    const id = (await w.api('POST', '/api/v4/leads', t, [{ name: 'L' }])).json._embedded.leads[0].id;
    await w.api('POST', '/api/v4/contacts', t, [{ name: 'C' }]);
    await w.api('POST', '/api/v4/companies', t, [{ name: 'Co' }]);
    await w.api('PATCH', `/api/v4/leads/${id}`, t, { status_id: 1002, responsible_user_id: 12 });
    await w.sb.admin.flushWebhooks();
    expect(hook.got).toHaveLength(4);
    const [add, contact, company, patch] = hook.got.map((g) => parse(g.body));
    expect(add.leads.add[0].id).toBe(String(id));
    expect(add.leads.add[0].old_status_id).toBeUndefined();
    expect(contact.contacts.add[0].type).toBe('contact');
    expect(company.contacts.add[0].type).toBe('company');
    expect(Object.keys(patch.leads).sort()).toEqual(['responsible', 'status', 'update']);
    expect(patch.leads.responsible[0]).toMatchObject({ responsible_user_id: '12', old_responsible_user_id: '11' });
    expect(patch.leads.update[0].old_status_id).toBe('1001');
  });

  it('a manager moving a deal (admin) fires status_lead and reports the delivery', async () => {
    await subscribe(['status_lead']);
    const id = (await w.api('POST', '/api/v4/leads', t, [{ name: 'L' }])).json._embedded.leads[0].id;
    const moved = await w.sb.admin.moveLead({ leadId: id, statusId: 142, userId: 12 });
    expect(moved.lead).toMatchObject({ status_id: 142, updated_by: 12 });
    expect(moved.deliveries).toHaveLength(1);
    expect(moved.deliveries[0]?.result).toMatchObject({ status: 200, ok: true });
    const b = parse(hook.got[0]!.body);
    expect(b.leads.status[0]).toMatchObject({ status_id: '142', old_status_id: '1001', modified_user_id: '12' });
    expect(w.sb.admin.webhookDeliveries()).toHaveLength(1);
    // over HTTP too
    const r = await fetch(`${w.sb.url}/_sandbox/leads/${id}/move`, { method: 'POST', body: JSON.stringify({ status_id: 143 }) });
    expect(r.status).toBe(200);
    expect(hook.got).toHaveLength(2);
  });
});

describe('catalogs (amocrm-protocol#catalogs)', () => {
  it('lists and elements: add, list with query, patch; no DELETE; at most 10 lists', async () => {
    w.sb.admin.seed({ catalogs: [{ id: 501, name: 'Услуги', fields: [{ id: 5011, name: 'Цена', type: 'price' }] }] });
    const add = await w.api('POST', '/api/v4/catalogs/501/elements', t, [
      { name: 'Консультация', custom_fields_values: [{ field_id: 5011, values: [{ value: 1500 }] }] },
    ]);
    expect(add.status).toBe(200);
    const el = add.json._embedded.elements[0];
    expect(el).toMatchObject({ name: 'Консультация', catalog_id: 501, request_id: '0' });
    const bad = await w.api('POST', '/api/v4/catalogs/501/elements', t, [
      { name: 'x', custom_fields_values: [{ field_id: 5011, values: [{ value: 'abc' }] }] },
    ]);
    expect(bad.status).toBe(400);
    expect((await w.api('GET', '/api/v4/catalogs/501/elements?query=консул', t)).json._embedded.elements[0].id).toBe(el.id);
    const p = await w.api('PATCH', `/api/v4/catalogs/501/elements/${el.id}`, t, { name: 'Приём' });
    expect(p.json.name).toBe('Приём');
    expect((await w.api('DELETE', `/api/v4/catalogs/501/elements/${el.id}`, t)).status).toBe(405);
    const cats = await w.api(
      'POST',
      '/api/v4/catalogs',
      t,
      Array.from({ length: 9 }, (_, i) => ({ name: `C${i}` })),
    );
    expect(cats.status).toBe(200);
    const over = await w.api('POST', '/api/v4/catalogs', t, [{ name: 'eleventh' }]);
    expect(over.status).toBe(400);
    expect((await w.api('GET', '/api/v4/catalogs?limit=250', t)).json._embedded.catalogs).toHaveLength(10);
  });
});
