/** Catalog custom fields (create, list, strict element values) and the legacy v2 element delete. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, seedBasic, world, type World } from './support.ts';

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
        elements: [
          { id: 7001, name: 'Стул' },
          { id: 7002, name: 'Стол' },
          { id: 7003, name: 'Шкаф' },
        ],
      },
    ],
  });
  t = (await w.login()).access_token;
});
afterEach(async () => {
  await w.sb.close();
});

describe('catalog custom fields (custom-fields: POST|GET /api/v4/catalogs/{id}/custom_fields)', () => {
  it('creates fields, lists and gets them; elements are validated against them as strictly as lead fields', async () => {
    const r = await w.api('POST', '/api/v4/catalogs/501/custom_fields', t, [
      { name: 'Цена', type: 'price', request_id: 'p' },
      { name: 'Цвет', type: 'select', enums: [{ value: 'Красный' }, { value: 'Синий' }] },
    ]);
    expect(r.status).toBe(200);
    const [price, color] = r.json._embedded.custom_fields;
    expect(price).toMatchObject({ name: 'Цена', type: 'price', entity_type: 'catalogs', request_id: 'p' });
    const list = await w.api('GET', '/api/v4/catalogs/501/custom_fields', t);
    expect(list.json._embedded.custom_fields.map((f: { id: number }) => f.id)).toEqual([price.id, color.id]);
    expect(
      (await w.api('GET', `/api/v4/catalogs/501/custom_fields/${color.id}`, t)).json.enums.map((e: { value: string }) => e.value),
    ).toEqual(['Красный', 'Синий']);
    expect((await w.api('GET', `/api/v4/leads/custom_fields/${price.id}`, t)).status).toBe(404);
    const ok = await w.api('POST', '/api/v4/catalogs/501/elements', t, [
      {
        name: 'Диван',
        custom_fields_values: [
          { field_id: price.id, values: [{ value: 15000 }] },
          { field_id: color.id, values: [{ value: 'Синий' }] },
        ],
      },
    ]);
    expect(ok.status).toBe(200);
    expect(
      ok.json._embedded.elements[0].custom_fields_values.map((f: { values: Array<{ value: unknown }> }) => f.values[0]!.value),
    ).toEqual(['15000', 'Синий']);
    const bad = await w.api('POST', '/api/v4/catalogs/501/elements', t, [
      {
        name: 'x',
        custom_fields_values: [
          { field_id: price.id, values: [{ value: 'дорого' }] },
          { field_id: color.id, values: [{ value: 'Зелёный' }] },
        ],
      },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.json['validation-errors'][0].errors.map((e: { code: string }) => e.code)).toEqual(['InvalidType', 'NotSupportedChoice']);
  });

  it('refuses a nameless or unknown-type field; an unknown list → 204', async () => {
    const r = await w.api('POST', '/api/v4/catalogs/501/custom_fields', t, [{ type: 'text' }, { name: 'x', type: 'bogus' }]);
    expect(r.status).toBe(400);
    expect(r.json['validation-errors'].map((e: { errors: Array<{ path: string }> }) => e.errors[0]!.path)).toEqual(['name', 'type']);
    expect((await w.api('POST', '/api/v4/catalogs/99999/custom_fields', t, [{ name: 'x', type: 'text' }])).status).toBe(204);
  });
});

describe('catalog element delete: v4 DELETE stays 405, v2 POST /api/v2/catalog_elements {"delete": [...]} works', () => {
  it('deletes the elements (ids as numbers or strings) and their links; the v2 envelope answers', async () => {
    const lead = (await w.api('POST', '/api/v4/leads', t, [{ name: 'Deal' }])).json._embedded.leads[0].id;
    await w.api('POST', `/api/v4/leads/${lead}/link`, t, [
      { to_entity_id: 7001, to_entity_type: 'catalog_elements', metadata: { catalog_id: 501 } },
    ]);
    expect((await w.api('DELETE', '/api/v4/catalogs/501/elements/7001', t)).status).toBe(405);
    const r = await w.api('POST', '/api/v2/catalog_elements', t, { delete: [7001, '7002'] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ _links: { self: { href: '/api/v2/catalog_elements', method: 'post' } }, _embedded: { items: [] } });
    expect((await w.api('GET', '/api/v4/catalogs/501/elements/7001', t)).status).toBe(204);
    const left = await w.api('GET', '/api/v4/catalogs/501/elements', t);
    expect(left.json._embedded.elements.map((e: { id: number }) => e.id)).toEqual([7003]);
    expect((await w.api('GET', `/api/v4/leads/${lead}/links`, t)).status).toBe(204);
    expect(w.sb.admin.count({ route: '/api/v2/catalog_elements' })).toBe(1);
  });

  it('refuses unknown ids (nothing deleted), add/update, an empty or missing list, and no token', async () => {
    const unknown = await w.api('POST', '/api/v2/catalog_elements', t, { delete: [7003, 424242] });
    expect(unknown.status).toBe(400);
    expect(unknown.json.detail).toContain('424242');
    expect((await w.api('GET', '/api/v4/catalogs/501/elements/7003', t)).status).toBe(200);
    expect((await w.api('POST', '/api/v2/catalog_elements', t, { add: [{ name: 'x', catalog_id: 501 }] })).status).toBe(400);
    expect((await w.api('POST', '/api/v2/catalog_elements', t, { delete: [] })).status).toBe(400);
    expect((await w.api('POST', '/api/v2/catalog_elements', t, [7003])).status).toBe(400);
    expect((await call(`${w.sb.url}/api/v2/catalog_elements`, { method: 'POST', body: JSON.stringify({ delete: [7003] }) })).status).toBe(
      401,
    );
    expect((await w.api('GET', '/api/v2/catalog_elements', t)).status).toBe(405);
    expect((await w.api('GET', '/api/v2/leads', t)).status).toBe(404);
  });
});
