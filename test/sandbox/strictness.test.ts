/**
 * Audit rows the sandbox used to get wrong or answer more kindly than amoCRM: unknown custom field,
 * tasks `filter[updated_at]`, `with=only_deleted`, extra keys inside a custom field value, the 40
 * fields of `leads/complex`, PHP's way of reading repeated query keys, and a seed whose entities
 * point at users that exist.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { demoSeed } from '../../infra/local/sandbox/demo.ts';
import { phpParse } from '../../infra/local/sandbox/http-util.ts';
import { startSandbox } from '../../infra/local/sandbox/index.ts';
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

const ids = (r: { json?: { _embedded?: Record<string, Array<{ id: number }>> } }, key: string): number[] =>
  (r.json?._embedded?.[key] ?? []).map((x) => x.id);

describe('wrong → right', () => {
  it('GET of an unknown custom field → 404 problem+json "Custom field not found" (amocrm-api-php #403)', async () => {
    const r = await w.api('GET', '/api/v4/leads/custom_fields/607027', t);
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.json).toEqual({ title: 'Not Found', type: 'https://httpstatus.es/404', status: 404, detail: 'Custom field not found' });
    // a field of another entity is unknown here too; a known one still answers 200
    expect((await w.api('GET', '/api/v4/contacts/custom_fields/301', t)).status).toBe(404);
    expect((await w.api('GET', '/api/v4/leads/custom_fields/301', t)).json).toMatchObject({ id: 301, type: 'text' });
    // an unknown lead stays 204 (leads-api)
    expect((await w.api('GET', '/api/v4/leads/999999', t)).status).toBe(204);
  });

  it('tasks filter[updated_at]=<ts> means "changed after"; [from]/[to] bound both ways', async () => {
    const t0 = Math.floor(w.clock.now() / 1000);
    const add = async (text: string) =>
      (await w.api('POST', '/api/v4/tasks', t, [{ text, complete_till: t0 + 86400 }])).json._embedded.tasks[0].id as number;
    const a = await add('first');
    w.clock.advance(10_000);
    const b = await add('second');
    w.clock.advance(10_000);
    const c = await add('third');
    expect(ids(await w.api('GET', `/api/v4/tasks?filter[updated_at]=${t0}`, t), 'tasks')).toEqual([b, c]);
    expect(ids(await w.api('GET', `/api/v4/tasks?filter[updated_at]=${t0 + 10}`, t), 'tasks')).toEqual([c]);
    expect((await w.api('GET', `/api/v4/tasks?filter[updated_at]=${t0 + 20}`, t)).status).toBe(204);
    expect(ids(await w.api('GET', `/api/v4/tasks?filter[updated_at][from]=${t0}&filter[updated_at][to]=${t0 + 10}`, t), 'tasks')).toEqual([
      a,
      b,
    ]);
  });

  it('with=only_deleted lists only deleted leads, in the reduced model with is_deleted=true', async () => {
    const r = await w.api('POST', '/api/v4/leads', t, [{ name: 'keep' }, { name: 'drop me' }]);
    const [keep, drop] = ids(r, 'leads');
    expect((await w.api('GET', '/api/v4/leads?with=only_deleted', t)).status).toBe(204);
    w.clock.advance(5_000);
    const del = w.sb.admin.deleteLead({ leadId: drop!, userId: 12 });
    expect(del).toMatchObject({ id: drop, is_deleted: true, updated_by: 12 });
    const list = await w.api('GET', '/api/v4/leads?with=only_deleted', t);
    expect(list.status).toBe(200);
    expect(list.json._embedded.leads).toEqual([
      {
        id: drop,
        updated_by: 12,
        updated_at: Math.floor(w.clock.now() / 1000),
        is_deleted: true,
        account_id: expect.any(Number),
        _links: { self: { href: `${w.sb.url}/api/v4/leads/${drop}` } },
      },
    ]);
    // a deleted lead leaves the normal list and GET by id
    expect(ids(await w.api('GET', '/api/v4/leads', t), 'leads')).toEqual([keep]);
    expect((await w.api('GET', `/api/v4/leads/${drop}`, t)).status).toBe(204);
    // other `with` values alongside still list only deleted ones
    expect(ids(await w.api('GET', '/api/v4/leads?with=contacts,only_deleted', t), 'leads')).toEqual([drop]);
    // the admin API over HTTP
    const other = ids(await w.api('POST', '/api/v4/leads', t, [{ name: 'x' }]), 'leads')[0]!;
    const viaHttp = await fetch(`${w.sb.url}/_sandbox/leads/${other}/delete`, { method: 'POST', body: '{}' });
    expect(viaHttp.status).toBe(200);
    expect(ids(await w.api('GET', '/api/v4/leads?with=only_deleted', t), 'leads').sort()).toEqual([drop, other].sort());
    expect((await fetch(`${w.sb.url}/_sandbox/leads/${other}/delete`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});

describe('stricter: extra keys in a custom field value → 400 FieldNotExpected', () => {
  const expectNotExpected = (r: { status: number; json: { 'validation-errors': Array<{ errors: unknown[] }> } }, paths: string[]) => {
    expect(r.status).toBe(400);
    expect(r.json['validation-errors'][0]!.errors).toEqual(
      paths.map((path) => ({ code: 'FieldNotExpected', path, detail: 'This field was not expected.' })),
    );
  };

  it('enum_code on a text field (Krukov/amocrm_api #68), enum_id on a checkbox, unknown keys anywhere', async () => {
    expectNotExpected(
      await w.api('POST', '/api/v4/leads', t, [{ custom_fields_values: [{ field_id: 301, values: [{ value: 'x', enum_code: null }] }] }]),
      ['custom_fields_values.0.values.0.enum_code'],
    );
    expectNotExpected(
      await w.api('POST', '/api/v4/leads', t, [
        {
          custom_fields_values: [
            { field_id: 302, values: [{ value: 1 }] },
            { field_id: 306, values: [{ value: true, enum_id: 1 }] },
          ],
        },
      ]),
      ['custom_fields_values.1.values.0.enum_id'],
    );
    expectNotExpected(
      await w.api('POST', '/api/v4/leads', t, [{ custom_fields_values: [{ field_id: 303, values: [{ enum_id: 3031, colour: 'red' }] }] }]),
      ['custom_fields_values.0.values.0.colour'],
    );
    const c = await w.api('POST', '/api/v4/contacts', t, [
      { custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+7900', enum_code: 'MOB', subtype: 'x' }] }] },
    ]);
    expectNotExpected(c, ['custom_fields_values.0.values.0.subtype']);
    // PATCH is checked the same way, and nothing is written
    const lead = ids(await w.api('POST', '/api/v4/leads', t, [{ name: 'L' }]), 'leads')[0]!;
    expectNotExpected(
      await w.api('PATCH', `/api/v4/leads/${lead}`, t, { custom_fields_values: [{ field_id: 301, values: [{ value: 'y', enum_id: 5 }] }] }),
      ['custom_fields_values.0.values.0.enum_id'],
    );
    expect((await w.api('GET', `/api/v4/leads/${lead}`, t)).json.custom_fields_values).toBeNull();
  });

  it('the documented keys still pass: value; enum_id / enum_code / value on enum fields', async () => {
    const r = await w.api('POST', '/api/v4/leads', t, [
      {
        custom_fields_values: [
          { field_id: 301, values: [{ value: 'x' }] },
          { field_id: 303, values: [{ enum_code: 'ONE' }] },
          { field_id: 304, values: [{ enum_id: 3041 }, { value: 'B' }] },
          { field_id: 306, values: [{ value: false }] },
        ],
      },
    ]);
    expect(r.status).toBe(200);
  });
});

describe('stricter: leads/complex takes at most 40 custom field values per entity (leads-api)', () => {
  it('41 fields on the lead, the contact or the company → 400 on that entity; 40 pass', async () => {
    const fields = (
      await w.api(
        'POST',
        '/api/v4/leads/custom_fields',
        t,
        Array.from({ length: 41 }, (_, i) => ({ name: `F${i}`, type: 'text' })),
      )
    ).json._embedded.custom_fields as Array<{ id: number }>;
    const cfs = (n: number) => fields.slice(0, n).map((f) => ({ field_id: f.id, values: [{ value: 'v' }] }));
    const tooMany = await w.api('POST', '/api/v4/leads/complex', t, [{ name: 'big', custom_fields_values: cfs(41) }]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.json['validation-errors'][0].errors).toEqual([
      { code: 'InvalidValue', path: 'custom_fields_values', detail: 'This collection should contain 40 elements or less.' },
    ]);
    expect(w.sb.admin.entities('leads')).toHaveLength(0);
    const ok = await w.api('POST', '/api/v4/leads/complex', t, [{ name: 'fits', custom_fields_values: cfs(40) }]);
    expect(ok.status).toBe(200);
    // nested models count their own fields (contact fields: 40 × the same phone field is still 41 entries)
    const phones = Array.from({ length: 41 }, () => ({ field_code: 'PHONE', values: [{ value: '+7900', enum_code: 'MOB' }] }));
    const nested = await w.api('POST', '/api/v4/leads/complex', t, [
      { name: 'n', _embedded: { contacts: [{ name: 'C', custom_fields_values: phones }] } },
    ]);
    expect(nested.status).toBe(400);
    expect(nested.json['validation-errors'][0].errors[0]).toMatchObject({ path: '_embedded.contacts.0.custom_fields_values' });
    // "не более 40 значений": values count, read pessimistically — one field with 41 phones is refused too.
    const onePhoneField = [
      { field_code: 'PHONE', values: Array.from({ length: 41 }, (_, i) => ({ value: `+7900${i}`, enum_code: 'MOB' })) },
    ];
    const manyValues = await w.api('POST', '/api/v4/leads/complex', t, [
      { name: 'v', _embedded: { contacts: [{ name: 'C', custom_fields_values: onePhoneField }] } },
    ]);
    expect(manyValues.status).toBe(400);
    expect(manyValues.json['validation-errors'][0].errors[0]).toMatchObject({ path: '_embedded.contacts.0.custom_fields_values' });
  });
});

describe('repeated query keys are read as PHP parse_str reads them', () => {
  it('phpParse: last value wins for a repeated key, [] appends, nesting, decoding, PHP name mangling', () => {
    expect(phpParse('filter[id][0]=1&filter[id][0]=2')).toEqual({ filter: { id: ['2'] } });
    expect(phpParse('filter[id][]=1&filter[id][]=2')).toEqual({ filter: { id: ['1', '2'] } });
    expect(phpParse('filter[id]=1&filter[id]=2')).toEqual({ filter: { id: '2' } });
    expect(phpParse('a=1&a=2')).toEqual({ a: '2' });
    expect(phpParse('a=1&a[]=2')).toEqual({ a: ['2'] });
    expect(phpParse('a[]=1&a=2')).toEqual({ a: '2' });
    expect(phpParse('a[5]=x&a[]=y')).toEqual({ a: ['x', 'y'] });
    expect(phpParse('filter[statuses][0][pipeline_id]=1&filter[statuses][0][status_id]=2&filter[statuses][1][status_id]=3')).toEqual({
      filter: { statuses: [{ pipeline_id: '1', status_id: '2' }, { status_id: '3' }] },
    });
    expect(phpParse('filter%5Bname%5D=a+b%20c&with=contacts,source')).toEqual({ filter: { name: 'a b c' }, with: 'contacts,source' });
    expect(phpParse('order[created_at]=desc&x')).toEqual({ order: { created_at: 'desc' }, x: '' });
    expect(phpParse('a.b=1&c d=2&e[=3&[x]=4&f[g]h=5')).toEqual({ a_b: '1', c_d: '2', e_: '3', f: { g: '5' } });
    expect(phpParse('a[x]=1&a[]=2')).toEqual({ a: { x: '1', 0: '2' } });
  });

  it('over HTTP: filter[id][0] twice keeps the last id; filter[id][] twice keeps both', async () => {
    const [a, b, c] = ids(await w.api('POST', '/api/v4/leads', t, [{ name: 'A' }, { name: 'B' }, { name: 'C' }]), 'leads');
    expect(ids(await w.api('GET', `/api/v4/leads?filter[id][0]=${a}&filter[id][0]=${b}`, t), 'leads')).toEqual([b]);
    expect(ids(await w.api('GET', `/api/v4/leads?filter[id][]=${a}&filter[id][]=${c}`, t), 'leads')).toEqual([a, c]);
    expect(ids(await w.api('GET', `/api/v4/leads?filter[id]=${a}&filter[id]=${c}`, t), 'leads')).toEqual([c]);
  });
});

describe('seed: entities point at users that exist', () => {
  it('every responsible_user_id / created_by / updated_by of the demo seed and of a users-replacing seed is in /api/v4/users', async () => {
    const sb = await startSandbox({ integrations: [{ clientId: 'c', clientSecret: 's', redirectUri: 'https://x.test/cb' }] });
    try {
      sb.admin.seed(demoSeed());
      const { code } = sb.admin.mintCode({ clientId: 'c' });
      const tok = (await (
        await fetch(`${sb.url}/oauth2/access_token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            client_id: 'c',
            client_secret: 's',
            grant_type: 'authorization_code',
            code,
            redirect_uri: 'https://x.test/cb',
          }),
        })
      ).json()) as { access_token: string };
      const get = async (path: string) =>
        (await fetch(`${sb.url}${path}`, { headers: { authorization: `Bearer ${tok.access_token}` } })).json() as Promise<{
          _embedded: Record<string, Array<Record<string, number>>>;
        }>;
      const users = new Set((await get('/api/v4/users'))._embedded.users!.map((u) => u.id));
      let checked = 0;
      for (const kind of ['leads', 'contacts']) {
        for (const e of (await get(`/api/v4/${kind}`))._embedded[kind]!) {
          for (const k of ['responsible_user_id', 'created_by', 'updated_by']) {
            expect(users, `${kind} ${e.id} ${k}=${e[k]}`).toContain(e[k]);
            checked++;
          }
        }
      }
      expect(checked).toBe(15); // 3 leads + 2 contacts, 3 user fields each
    } finally {
      await sb.close();
    }
    // seedBasic (users 11, 12) in this file's world
    const lead = ids(await w.api('POST', '/api/v4/leads', t, [{ name: 'after seed' }]), 'leads')[0]!;
    const read = (await w.api('GET', `/api/v4/leads/${lead}`, t)).json;
    expect([11, 12]).toContain(read.created_by);
    expect([11, 12]).toContain(read.responsible_user_id);
  });
});
