import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedBasic, world, type World } from './support.ts';

let w: World;
let t: string;
beforeEach(async () => {
  w = await world({ limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 } });
  seedBasic(w.sb);
  t = (await w.login()).access_token;
});
afterEach(async () => {
  await w.sb.close();
});

async function addLeads(items: unknown[]) {
  const r = await w.api('POST', '/api/v4/leads', t, items);
  expect(r.status).toBe(200);
  return (r.json._embedded.leads as Array<{ id: number }>).map((x) => x.id);
}

describe('leads: add and read (leads-api)', () => {
  it('add echoes request_id (given or the index) and reads back the documented shape', async () => {
    const r = await w.api('POST', '/api/v4/leads', t, [{ name: 'A', price: 100, request_id: 'req-a' }, { name: 'B' }]);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/hal+json');
    const [a, b] = r.json._embedded.leads;
    expect(a).toMatchObject({ request_id: 'req-a', _links: { self: { href: `${w.sb.url}/api/v4/leads/${a.id}` } } });
    expect(b.request_id).toBe('1');
    const one = await w.api('GET', `/api/v4/leads/${a.id}`, t);
    expect(one.json).toMatchObject({
      id: a.id,
      name: 'A',
      price: 100,
      pipeline_id: 100,
      status_id: 1001,
      responsible_user_id: 11,
      is_deleted: false,
      custom_fields_values: null,
      _embedded: { tags: [], companies: [] },
    });
    expect(one.json._embedded.contacts).toBeUndefined(); // only with=contacts
  });

  it('get by unknown id → 204 with no body; empty list → 204', async () => {
    const r = await w.api('GET', '/api/v4/leads/999999', t);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    const l = await w.api('GET', '/api/v4/leads', t);
    expect(l.status).toBe(204);
    expect(l.text).toBe('');
    expect(l.headers.get('content-type')).toBeNull();
  });

  it('status must belong to the pipeline; unknown responsible user is refused', async () => {
    const r = await w.api('POST', '/api/v4/leads', t, [
      { name: 'x', pipeline_id: 100, status_id: 2001 },
      { name: 'y', responsible_user_id: 777 },
      { name: 'ok', pipeline_id: 200 },
    ]);
    expect(r.status).toBe(400);
    expect(r.json['validation-errors']).toEqual([
      {
        request_id: '0',
        errors: [{ code: 'NotSupportedChoice', path: 'status_id', detail: 'The value you selected is not a valid choice.' }],
      },
      {
        request_id: '1',
        errors: [{ code: 'NotSupportedChoice', path: 'responsible_user_id', detail: 'The value you selected is not a valid choice.' }],
      },
    ]);
    expect(w.sb.admin.state().counts).toMatchObject({ leads: 0 }); // all or nothing
    const ok = await addLeads([{ name: 'ok', pipeline_id: 200 }]);
    expect((await w.api('GET', `/api/v4/leads/${ok[0]}`, t)).json.status_id).toBe(2001);
  });

  it('types are strict: price must be an int', async () => {
    const r = await w.api('POST', '/api/v4/leads', t, [{ name: 'x', price: '100' }]);
    expect(r.status).toBe(400);
    expect(r.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'InvalidType', path: 'price' });
  });

  it('bodies: empty array, non-array, broken JSON', async () => {
    const empty = await w.api('POST', '/api/v4/leads', t, []);
    expect(empty.status).toBe(400);
    expect(empty.json.detail).toBe('Request data can not be empty');
    expect((await w.api('POST', '/api/v4/leads', t, { name: 'x' })).status).toBe(400);
    const broken = await w.api('POST', '/api/v4/leads', t, undefined, { 'content-type': 'application/json' });
    expect(broken.status).toBe(400);
  });
});

describe('leads: list filters, search, pagination', () => {
  it('filter[id] single and array, filter[statuses], query, with=contacts', async () => {
    const contact = await w.api('POST', '/api/v4/contacts', t, [{ name: 'Ivan' }]);
    const cid = contact.json._embedded.contacts[0].id;
    const [a, b, c] = await addLeads([
      { name: 'Alpha', status_id: 1001, _embedded: { contacts: [{ id: cid }] } },
      { name: 'Beta', status_id: 1002 },
      { name: 'Gamma', pipeline_id: 200, status_id: 2002 },
    ]);
    const ids = async (q: string) =>
      ((await w.api('GET', `/api/v4/leads?${q}`, t)).json?._embedded.leads ?? []).map((l: { id: number }) => l.id);
    expect(await ids(`filter[id]=${b}`)).toEqual([b]);
    expect(await ids(`filter[id][]=${a}&filter[id][]=${c}`)).toEqual([a, c]);
    expect(await ids(`filter[id][0]=${a}&filter[id][1]=${b}`)).toEqual([a, b]);
    expect(
      await ids(
        'filter[statuses][0][pipeline_id]=100&filter[statuses][0][status_id]=1002&filter[statuses][1][pipeline_id]=200&filter[statuses][1][status_id]=2002',
      ),
    ).toEqual([b, c]);
    expect(await ids('filter[pipeline_id]=200')).toEqual([c]);
    expect(await ids('query=gam')).toEqual([c]);
    expect((await w.api('GET', '/api/v4/leads?query=nothing-like-this', t)).status).toBe(204);
    const withC = await w.api('GET', `/api/v4/leads?with=contacts&filter[id]=${a}`, t);
    expect(withC.json._embedded.leads[0]._embedded.contacts).toEqual([
      { id: cid, is_main: true, _links: { self: { href: `${w.sb.url}/api/v4/contacts/${cid}` } } },
    ]);
    expect(await ids('order[id]=desc')).toEqual([c, b, a]);
  });

  it('page/limit with _links.next until the last page', async () => {
    await addLeads(Array.from({ length: 5 }, (_, i) => ({ name: `L${i}` })));
    const p1 = await w.api('GET', '/api/v4/leads?limit=2', t);
    expect(p1.json._page).toBe(1);
    expect(p1.json._embedded.leads).toHaveLength(2);
    const next = new URL(p1.json._links.next.href);
    expect(next.searchParams.get('page')).toBe('2');
    expect(next.searchParams.get('limit')).toBe('2');
    const p3 = await w.api('GET', '/api/v4/leads?limit=2&page=3', t);
    expect(p3.json._embedded.leads).toHaveLength(1);
    expect(p3.json._links.next).toBeUndefined();
    expect(p3.json._links.prev.href).toContain('page=2');
    expect((await w.api('GET', '/api/v4/leads?limit=2&page=4', t)).status).toBe(204);
  });

  it('If-Modified-Since (*assumed*): only leads updated after the date; none → 204', async () => {
    const [a] = await addLeads([{ name: 'old' }]);
    const since = new Date(w.clock.now()).toUTCString();
    w.clock.advance(5_000);
    const [b] = await addLeads([{ name: 'new' }]);
    const r = await w.api('GET', '/api/v4/leads', t, undefined, { 'if-modified-since': since });
    expect(r.json._embedded.leads.map((l: { id: number }) => l.id)).toEqual([b]);
    w.clock.advance(5_000);
    const later = new Date(w.clock.now()).toUTCString();
    expect((await w.api('GET', '/api/v4/leads', t, undefined, { 'if-modified-since': later })).status).toBe(204);
    expect(a).toBeLessThan(b!);
  });
});

describe('leads: patch', () => {
  it('batch PATCH needs an id per item and answers id + updated_at', async () => {
    const [a, b] = await addLeads([{ name: 'A' }, { name: 'B' }]);
    w.clock.advance(2_000);
    const r = await w.api('PATCH', '/api/v4/leads', t, [
      { id: a, price: 5 },
      { id: b, name: 'B2', status_id: 1002 },
    ]);
    expect(r.status).toBe(200);
    expect(r.json._embedded.leads).toEqual([
      { id: a, updated_at: Math.floor(w.clock.now() / 1000), _links: { self: { href: `${w.sb.url}/api/v4/leads/${a}` } } },
      { id: b, updated_at: Math.floor(w.clock.now() / 1000), _links: { self: { href: `${w.sb.url}/api/v4/leads/${b}` } } },
    ]);
    expect((await w.api('GET', `/api/v4/leads/${b}`, t)).json).toMatchObject({ name: 'B2', status_id: 1002 });
    const bad = await w.api('PATCH', '/api/v4/leads', t, [{ price: 1 }, { id: 424242, price: 1 }]);
    expect(bad.status).toBe(400);
    expect(bad.json['validation-errors']).toEqual([
      { request_id: '0', errors: [{ code: 'NotBlank', path: 'id', detail: 'This value should not be blank.' }] },
      { request_id: '1', errors: [{ code: 'NotFound', path: 'id', detail: 'Entity not found.' }] },
    ]);
  });

  it('PATCH /leads/{id} with one model; moving to 142 sets closed_at', async () => {
    const [a] = await addLeads([{ name: 'A' }]);
    const r = await w.api('PATCH', `/api/v4/leads/${a}`, t, { status_id: 142 });
    expect(r.status).toBe(200);
    expect(r.json.id).toBe(a);
    const lead = (await w.api('GET', `/api/v4/leads/${a}`, t)).json;
    expect(lead.status_id).toBe(142);
    expect(lead.closed_at).toBe(Math.floor(w.clock.now() / 1000));
  });

  it('tags: _embedded.tags on write, tags_to_add/delete, null clears', async () => {
    const [a] = await addLeads([{ name: 'A', _embedded: { tags: [{ name: 'vip' }] }, tags_to_add: [{ name: 'web' }] }]);
    const names = async () =>
      ((await w.api('GET', `/api/v4/leads/${a}`, t)).json._embedded.tags as Array<{ name: string }>).map((x) => x.name);
    expect(await names()).toEqual(['vip', 'web']);
    await w.api('PATCH', '/api/v4/leads', t, [{ id: a, tags_to_delete: [{ name: 'vip' }] }]);
    expect(await names()).toEqual(['web']);
    await w.api('PATCH', '/api/v4/leads', t, [{ id: a, _embedded: { tags: null } }]);
    expect(await names()).toEqual([]);
    const list = await w.api('GET', '/api/v4/leads/tags', t);
    expect(list.json._embedded.tags.map((x: { name: string }) => x.name).sort()).toEqual(['vip', 'web']);
  });
});

describe('leads/complex (amocrm-protocol#entity-limits)', () => {
  it('creates lead + contact + company, links them and answers the documented array', async () => {
    const r = await w.api('POST', '/api/v4/leads/complex', t, [
      {
        name: 'Deal',
        price: 10,
        request_id: 'q1',
        _embedded: {
          contacts: [
            { first_name: 'Eva', custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+79990001122', enum_code: 'WORK' }] }] },
          ],
          companies: [{ name: 'LLC' }],
        },
      },
      { name: 'Second' },
    ]);
    expect(r.status).toBe(200);
    expect(r.json).toHaveLength(2);
    const [first, second] = r.json;
    expect(first).toMatchObject({ contact_id: expect.any(Number), company_id: expect.any(Number), request_id: ['q1'], merged: false });
    expect(second).toMatchObject({ contact_id: null, company_id: null, request_id: ['1'], merged: false });
    const lead = (await w.api('GET', `/api/v4/leads/${first.id}?with=contacts`, t)).json;
    expect(lead._embedded.contacts[0].id).toBe(first.contact_id);
    expect(lead._embedded.companies[0].id).toBe(first.company_id);
    const contact = (await w.api('GET', `/api/v4/contacts/${first.contact_id}`, t)).json;
    expect(contact._embedded.companies[0].id).toBe(first.company_id);
    expect(contact.custom_fields_values[0]).toMatchObject({ field_code: 'PHONE', values: [{ value: '+79990001122', enum_code: 'WORK' }] });
  });

  it('at most one contact per lead; nested errors carry the nested path', async () => {
    const r = await w.api('POST', '/api/v4/leads/complex', t, [
      { name: 'x', _embedded: { contacts: [{ name: 'a' }, { name: 'b' }] } },
      {
        name: 'y',
        _embedded: {
          contacts: [{ name: 'c', custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '1', enum_code: 'NOPE' }] }] }],
        },
      },
    ]);
    expect(r.status).toBe(400);
    expect(r.json['validation-errors'][0].errors[0].path).toBe('_embedded.contacts');
    expect(r.json['validation-errors'][1].errors[0].path).toBe('_embedded.contacts.0.custom_fields_values.0.values.0.enum_code');
  });
});
