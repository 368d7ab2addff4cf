/** Entity links (amo-docs entity-links-api) and the PATCH `_embedded` refusal that sends callers to them. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedBasic, world, type World } from './support.ts';

let w: World;
let t: string;
beforeEach(async () => {
  w = await world({ limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 } });
  seedBasic(w.sb);
  w.sb.admin.seed({
    catalogs: [
      {
        id: 501,
        name: 'Товары',
        fields: [
          { id: 5011, name: 'Цена', type: 'price' },
          { id: 5012, name: 'Артикул', type: 'text' },
        ],
        elements: [
          { id: 7001, name: 'Стул' },
          { id: 7002, name: 'Стол' },
        ],
      },
    ],
  });
  t = (await w.login()).access_token;
});
afterEach(async () => {
  await w.sb.close();
});

async function add(kind: string, items: unknown[]): Promise<number[]> {
  const r = await w.api('POST', `/api/v4/${kind}`, t, items);
  expect(r.status).toBe(200);
  return (r.json._embedded[kind] as Array<{ id: number }>).map((x) => x.id);
}

const paths = (r: { json: { 'validation-errors': Array<{ errors: Array<{ path: string; code: string }> }> } }) =>
  r.json['validation-errors'].flatMap((e) => e.errors.map((x) => `${x.path}:${x.code}`));

describe('link / links / unlink on one entity', () => {
  it('links contacts, a company and an element to a lead; the lead, contact and company reads show the same links', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1, c2] = await add('contacts', [{ name: 'Ann' }, { name: 'Bob' }]);
    const [co] = await add('companies', [{ name: 'LLC' }]);
    const r = await w.api('POST', `/api/v4/leads/${lead}/link`, t, [
      { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { quantity: 2.5, catalog_id: 501 } },
      { to_entity_id: c1, to_entity_type: 'contacts' },
      { to_entity_id: c2, to_entity_type: 'contacts', metadata: { is_main: true } },
      { to_entity_id: co, to_entity_type: 'companies' },
    ]);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/hal+json');
    expect(r.json._total_items).toBe(4);
    expect(r.json._embedded.links).toEqual([
      {
        entity_id: lead,
        entity_type: 'leads',
        to_entity_id: 7001,
        to_entity_type: 'catalog_elements',
        metadata: { quantity: 2.5, catalog_id: 501 },
      },
      { entity_id: lead, entity_type: 'leads', to_entity_id: c1, to_entity_type: 'contacts', metadata: { main_contact: true } },
      { entity_id: lead, entity_type: 'leads', to_entity_id: c2, to_entity_type: 'contacts', metadata: { main_contact: true } },
      { entity_id: lead, entity_type: 'leads', to_entity_id: co, to_entity_type: 'companies', metadata: null },
    ]);
    // c2 was made main after c1: only one main contact.
    const links = await w.api('GET', `/api/v4/leads/${lead}/links`, t);
    expect(links.status).toBe(200);
    expect(links.json._embedded.links).toEqual([
      { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { quantity: 2.5, catalog_id: 501 } },
      { to_entity_id: c1, to_entity_type: 'contacts', metadata: { main_contact: false } },
      { to_entity_id: c2, to_entity_type: 'contacts', metadata: { main_contact: true } },
      { to_entity_id: co, to_entity_type: 'companies', metadata: null },
    ]);
    const got = await w.api('GET', `/api/v4/leads/${lead}?with=contacts,catalog_elements`, t);
    expect(got.json._embedded.contacts.map((c: { id: number; is_main: boolean }) => [c.id, c.is_main])).toEqual([
      [c1, false],
      [c2, true],
    ]);
    expect(got.json._embedded.companies.map((c: { id: number }) => c.id)).toEqual([co]);
    expect(got.json._embedded.catalog_elements).toEqual([{ id: 7001, metadata: { quantity: 2.5, catalog_id: 501 } }]);
    const contact = await w.api('GET', `/api/v4/contacts/${c1}?with=leads`, t);
    expect(contact.json._embedded.leads.map((l: { id: number }) => l.id)).toEqual([lead]);
    const company = await w.api('GET', `/api/v4/companies/${co}?with=leads`, t);
    expect(company.json._embedded.leads.map((l: { id: number }) => l.id)).toEqual([lead]);
  });

  it('filters: to_entity_id with to_entity_type, to_catalog_id; one without the other → 400; nothing → 204', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1] = await add('contacts', [{ name: 'Ann' }]);
    await w.api('POST', `/api/v4/leads/${lead}/link`, t, [
      { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501 } },
      { to_entity_id: c1, to_entity_type: 'contacts' },
    ]);
    const byEl = await w.api('GET', `/api/v4/leads/${lead}/links?filter[to_entity_id]=7001&filter[to_entity_type]=catalog_elements`, t);
    expect(byEl.json._embedded.links).toEqual([
      { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { quantity: 1, catalog_id: 501 } },
    ]);
    const byCat = await w.api('GET', `/api/v4/leads/${lead}/links?filter[to_catalog_id]=501`, t);
    expect(byCat.json._embedded.links).toHaveLength(1);
    const half = await w.api('GET', `/api/v4/leads/${lead}/links?filter[to_entity_id]=7001`, t);
    expect(half.status).toBe(400);
    expect(paths(half)).toEqual(['filter.to_entity_type:NotBlank']);
    expect((await w.api('GET', `/api/v4/leads/${lead}/links?filter[to_catalog_id]=999`, t)).status).toBe(204);
    const [bare] = await add('leads', [{ name: 'Bare' }]);
    expect((await w.api('GET', `/api/v4/leads/${bare}/links`, t)).status).toBe(204);
  });

  it('unlink answers 204 with no body and removes what the reads show; unlinking the main contact promotes the next one', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1, c2] = await add('contacts', [{ name: 'Ann' }, { name: 'Bob' }]);
    await w.api('POST', `/api/v4/leads/${lead}/link`, t, [
      { to_entity_id: c1, to_entity_type: 'contacts' },
      { to_entity_id: c2, to_entity_type: 'contacts' },
      { to_entity_id: 7002, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501 } },
    ]);
    const r = await w.api('POST', `/api/v4/leads/${lead}/unlink`, t, [
      { to_entity_id: c1, to_entity_type: 'contacts' },
      { to_entity_id: 7002, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501 } },
    ]);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    const got = await w.api('GET', `/api/v4/leads/${lead}?with=contacts,catalog_elements`, t);
    expect(got.json._embedded.contacts.map((c: { id: number; is_main: boolean }) => [c.id, c.is_main])).toEqual([[c2, true]]);
    expect(got.json._embedded.catalog_elements).toEqual([]);
    // Unlinking what is not linked is still 204.
    expect((await w.api('POST', `/api/v4/leads/${lead}/unlink`, t, [{ to_entity_id: c1, to_entity_type: 'contacts' }])).status).toBe(204);
  });

  it('a contact links a company and an element; a company links contacts and leads; the other sides see it', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1, c2] = await add('contacts', [{ name: 'Ann' }, { name: 'Bob' }]);
    const [co] = await add('companies', [{ name: 'LLC' }]);
    expect(
      (
        await w.api('POST', `/api/v4/contacts/${c1}/link`, t, [
          { to_entity_id: co, to_entity_type: 'companies' },
          { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501 } },
        ])
      ).status,
    ).toBe(200);
    expect(
      (
        await w.api('POST', `/api/v4/companies/${co}/link`, t, [
          { to_entity_id: c2, to_entity_type: 'contacts' },
          { to_entity_id: lead, to_entity_type: 'leads' },
        ])
      ).status,
    ).toBe(200);
    const company = await w.api('GET', `/api/v4/companies/${co}?with=contacts,leads`, t);
    expect(company.json._embedded.contacts.map((c: { id: number }) => c.id)).toEqual([c1, c2]);
    expect(company.json._embedded.leads.map((l: { id: number }) => l.id)).toEqual([lead]);
    expect((await w.api('GET', `/api/v4/contacts/${c2}`, t)).json._embedded.companies.map((c: { id: number }) => c.id)).toEqual([co]);
    expect((await w.api('GET', `/api/v4/leads/${lead}`, t)).json._embedded.companies.map((c: { id: number }) => c.id)).toEqual([co]);
    const links = await w.api('GET', `/api/v4/companies/${co}/links`, t);
    expect(
      links.json._embedded.links.map((l: { to_entity_type: string; to_entity_id: number }) => `${l.to_entity_type}:${l.to_entity_id}`),
    ).toEqual([`contacts:${c1}`, `contacts:${c2}`, `leads:${lead}`]);
  });
});

describe('refusals (entity-links-api "400 — Переданы некорректные данные")', () => {
  it('unknown or wrong targets, a missing catalog_id, an element of another list, a bad is_main → 400 per item, nothing linked', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1] = await add('contacts', [{ name: 'Ann' }]);
    const r = await w.api('POST', `/api/v4/leads/${lead}/link`, t, [
      { to_entity_id: c1, to_entity_type: 'contacts' },
      { to_entity_id: 424242, to_entity_type: 'contacts' },
      { to_entity_id: 7001, to_entity_type: 'catalog_elements' },
      { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 999 } },
      { to_entity_id: 1, to_entity_type: 'customers' },
      { to_entity_id: lead, to_entity_type: 'leads' },
      { to_entity_type: 'contacts' },
      { to_entity_id: c1, to_entity_type: 'contacts', metadata: { is_main: 'yes' } },
    ]);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.json['validation-errors'].map((e: { request_id: string }) => e.request_id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(paths(r)).toEqual([
      'to_entity_id:NotFound',
      'metadata.catalog_id:NotBlank',
      'metadata.catalog_id:NotFound',
      'to_entity_type:NotSupportedChoice',
      'to_entity_type:NotSupportedChoice',
      'to_entity_id:NotBlank',
      'metadata.is_main:InvalidType',
    ]);
    expect((await w.api('GET', `/api/v4/leads/${lead}/links`, t)).status).toBe(204);
  });

  it('a contact cannot link a lead (not in its documented list); an unknown main entity → 400 NotFound; customers and other paths → 404', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1] = await add('contacts', [{ name: 'Ann' }]);
    const r = await w.api('POST', `/api/v4/contacts/${c1}/link`, t, [{ to_entity_id: lead, to_entity_type: 'leads' }]);
    expect(paths(r)).toEqual(['to_entity_type:NotSupportedChoice']);
    const unknown = await w.api('POST', '/api/v4/leads/999999/link', t, [{ to_entity_id: c1, to_entity_type: 'contacts' }]);
    expect(unknown.status).toBe(400);
    expect(paths(unknown)).toEqual(['entity_id:NotFound']);
    expect((await w.api('POST', '/api/v4/customers/1/link', t, [{ to_entity_id: c1, to_entity_type: 'contacts' }])).status).toBe(404);
    expect((await w.api('POST', `/api/v4/leads/${lead}/link`, t, {})).status).toBe(400);
    expect((await w.api('POST', `/api/v4/leads/${lead}/link`, t, [])).json.detail).toBe('Request data can not be empty');
  });

  it('a second company for a lead or a contact is refused until the first is unlinked', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1] = await add('contacts', [{ name: 'Ann' }]);
    const [a, b] = await add('companies', [{ name: 'A' }, { name: 'B' }]);
    await w.api('POST', `/api/v4/leads/${lead}/link`, t, [{ to_entity_id: a, to_entity_type: 'companies' }]);
    await w.api('POST', `/api/v4/contacts/${c1}/link`, t, [{ to_entity_id: a, to_entity_type: 'companies' }]);
    expect(paths(await w.api('POST', `/api/v4/leads/${lead}/link`, t, [{ to_entity_id: b, to_entity_type: 'companies' }]))).toEqual([
      'to_entity_id:InvalidValue',
    ]);
    expect(paths(await w.api('POST', `/api/v4/companies/${b}/link`, t, [{ to_entity_id: c1, to_entity_type: 'contacts' }]))).toEqual([
      'to_entity_id:InvalidValue',
    ]);
    // Re-linking the same company is fine (idempotent).
    expect((await w.api('POST', `/api/v4/leads/${lead}/link`, t, [{ to_entity_id: a, to_entity_type: 'companies' }])).status).toBe(200);
    expect((await w.api('POST', `/api/v4/leads/${lead}/unlink`, t, [{ to_entity_id: a, to_entity_type: 'companies' }])).status).toBe(204);
    expect((await w.api('POST', `/api/v4/leads/${lead}/link`, t, [{ to_entity_id: b, to_entity_type: 'companies' }])).status).toBe(200);
  });

  it('a list with can_link_multiple=false gives an element to one entity only; price_id must be a price field of that list', async () => {
    const [l1, l2] = await add('leads', [{ name: 'One' }, { name: 'Two' }]);
    expect((await w.api('PATCH', '/api/v4/catalogs/501', t, { can_link_multiple: false })).status).toBe(200);
    expect(
      (
        await w.api('POST', `/api/v4/leads/${l1}/link`, t, [
          { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501, price_id: 5011 } },
        ])
      ).json._embedded.links[0].metadata,
    ).toEqual({ quantity: 1, catalog_id: 501, price_id: 5011 });
    expect(
      paths(
        await w.api('POST', `/api/v4/leads/${l2}/link`, t, [
          { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501 } },
        ]),
      ),
    ).toEqual(['to_entity_id:InvalidValue']);
    expect(
      paths(
        await w.api('POST', `/api/v4/leads/${l2}/link`, t, [
          { to_entity_id: 7002, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501, price_id: 5012 } },
        ]),
      ),
    ).toEqual(['metadata.price_id:NotSupportedChoice']);
  });
});

describe('batch link / unlink / links', () => {
  it('POST /{entity}/link takes entity_id per item; GET /{entity}/links needs filter[entity_id]', async () => {
    const [l1, l2] = await add('leads', [{ name: 'One' }, { name: 'Two' }]);
    const [c1] = await add('contacts', [{ name: 'Ann' }]);
    const r = await w.api('POST', '/api/v4/leads/link', t, [
      { entity_id: l1, to_entity_id: c1, to_entity_type: 'contacts', metadata: { is_main: true } },
      { entity_id: l2, to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501, quantity: 3 } },
    ]);
    expect(r.status).toBe(200);
    expect(r.json._embedded.links.map((x: { entity_id: number }) => x.entity_id)).toEqual([l1, l2]);
    const list = await w.api('GET', `/api/v4/leads/links?filter[entity_id][]=${l1}&filter[entity_id][]=${l2}`, t);
    expect(list.json._embedded.links).toEqual([
      { entity_id: l1, entity_type: 'leads', to_entity_id: c1, to_entity_type: 'contacts', metadata: { main_contact: true } },
      {
        entity_id: l2,
        entity_type: 'leads',
        to_entity_id: 7001,
        to_entity_type: 'catalog_elements',
        metadata: { quantity: 3, catalog_id: 501 },
      },
    ]);
    const noFilter = await w.api('GET', '/api/v4/leads/links', t);
    expect(noFilter.status).toBe(400);
    expect(paths(noFilter)).toEqual(['filter.entity_id:NotBlank']);
    const missing = await w.api('POST', '/api/v4/leads/link', t, [{ to_entity_id: c1, to_entity_type: 'contacts' }]);
    expect(paths(missing)).toEqual(['entity_id:NotBlank']);
    expect((await w.api('POST', '/api/v4/leads/unlink', t, [{ entity_id: l1, to_entity_id: c1, to_entity_type: 'contacts' }])).status).toBe(
      204,
    );
    expect((await w.api('GET', `/api/v4/leads/links?filter[entity_id]=${l1}`, t)).status).toBe(204);
  });
});

describe('`_embedded` other than tags (leads-api, contacts-api: "при создании и редактировании можно передать только теги")', () => {
  it('a lead PATCH with _embedded.contacts → 400 FieldNotExpected at the path, nothing changes; tags still pass', async () => {
    const [lead] = await add('leads', [{ name: 'Deal' }]);
    const [c1] = await add('contacts', [{ name: 'Ann' }]);
    const one = await w.api('PATCH', `/api/v4/leads/${lead}`, t, { name: 'Renamed', _embedded: { contacts: [{ id: c1 }] } });
    expect(one.status).toBe(400);
    expect(one.json['validation-errors'][0].errors).toEqual([
      { code: 'FieldNotExpected', path: '_embedded.contacts', detail: 'This field was not expected.' },
    ]);
    const batch = await w.api('PATCH', '/api/v4/leads', t, [{ id: lead, _embedded: { companies: [{ id: 1 }], tags: [{ name: 'x' }] } }]);
    expect(paths(batch)).toEqual(['_embedded.companies:FieldNotExpected']);
    const contact = await w.api('PATCH', `/api/v4/contacts/${c1}`, t, { _embedded: { leads: [{ id: lead }] } });
    expect(paths(contact)).toEqual(['_embedded.leads:FieldNotExpected']);
    const after = await w.api('GET', `/api/v4/leads/${lead}?with=contacts`, t);
    expect(after.json).toMatchObject({ name: 'Deal', _embedded: { contacts: [] } });
    expect((await w.api('PATCH', `/api/v4/leads/${lead}`, t, { _embedded: { tags: [{ name: 'vip' }] } })).status).toBe(200);
  });

  it('a contact or company add takes only tags in _embedded too (contacts-api); a lead add keeps contacts and companies', async () => {
    const [co] = await add('companies', [{ name: 'LLC' }]);
    const c = await w.api('POST', '/api/v4/contacts', t, [{ name: 'Ann', _embedded: { companies: [{ id: co }], tags: [{ name: 't' }] } }]);
    expect(paths(c)).toEqual(['_embedded.companies:FieldNotExpected']);
    expect(paths(await w.api('POST', '/api/v4/companies', t, [{ name: 'X', _embedded: { contacts: [{ id: 1 }] } }]))).toEqual([
      '_embedded.contacts:FieldNotExpected',
    ]);
    expect((await w.api('POST', '/api/v4/leads', t, [{ name: 'L', _embedded: { companies: [{ id: co }] } }])).status).toBe(200);
    // Seeds may still name a contact's company.
    const seeded = w.sb.admin.seed({ contacts: [{ name: 'Seeded', _embedded: { companies: [{ id: co }] } }] });
    expect(
      (await w.api('GET', `/api/v4/contacts/${seeded.contacts[0]}`, t)).json._embedded.companies.map((x: { id: number }) => x.id),
    ).toEqual([co]);
  });

  it('contacts and companies show their element links with=catalog_elements', async () => {
    const [c1] = await add('contacts', [{ name: 'Ann' }]);
    const [co] = await add('companies', [{ name: 'LLC' }]);
    await w.api('POST', `/api/v4/contacts/${c1}/link`, t, [
      { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501, quantity: 4 } },
    ]);
    await w.api('POST', '/api/v4/companies/link', t, [
      { entity_id: co, to_entity_id: 7002, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501 } },
    ]);
    expect((await w.api('GET', `/api/v4/contacts/${c1}?with=catalog_elements`, t)).json._embedded.catalog_elements).toEqual([
      { id: 7001, metadata: { quantity: 4, catalog_id: 501 } },
    ]);
    expect((await w.api('GET', `/api/v4/companies/${co}?with=catalog_elements`, t)).json._embedded.catalog_elements).toEqual([
      { id: 7002, metadata: { quantity: 1, catalog_id: 501 } },
    ]);
    expect((await w.api('GET', `/api/v4/companies/${co}`, t)).json._embedded.catalog_elements).toBeUndefined();
  });
});
