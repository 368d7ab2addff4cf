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

const cf = (field_id: number, values: unknown) => ({ custom_fields_values: [{ field_id, values }] });

async function errorsOf(item: Record<string, unknown>) {
  const r = await w.api('POST', '/api/v4/leads', t, [{ name: 'x', ...item }]);
  expect(r.status).toBe(400);
  return r.json['validation-errors'][0].errors as Array<{ code: string; path: string }>;
}

describe('custom field values are validated by type', () => {
  it('accepts every documented value shape and returns the REST read shape', async () => {
    const r = await w.api('POST', '/api/v4/leads', t, [
      {
        name: 'ok',
        custom_fields_values: [
          { field_code: 'TXT', values: [{ value: 'hello' }] },
          { field_id: 302, values: [{ value: '1.5' }] },
          { field_id: 303, values: [{ enum_id: 3032 }] },
          { field_id: 304, values: [{ enum_id: 3041 }, { value: 'B' }] },
          { field_id: 305, values: [{ value: 1577836800 }] },
          { field_id: 306, values: [{ value: true }] },
          { field_id: 307, values: [{ value: 'https://www.amocrm.ru/' }] },
          { field_id: 308, values: [{ value: '2026-01-15T12:00:00+03:00' }] },
        ],
      },
    ]);
    expect(r.status).toBe(200);
    const lead = (await w.api('GET', `/api/v4/leads/${r.json._embedded.leads[0].id}`, t)).json;
    const byId = Object.fromEntries(lead.custom_fields_values.map((f: { field_id: number }) => [f.field_id, f]));
    expect(byId[301]).toEqual({ field_id: 301, field_name: 'Text', field_code: 'TXT', field_type: 'text', values: [{ value: 'hello' }] });
    expect(byId[303].values).toEqual([{ value: 'Two', enum_id: 3032, enum_code: null }]);
    expect(byId[304].values.map((v: { enum_id: number }) => v.enum_id)).toEqual([3041, 3042]);
    expect(byId[306].values).toEqual([{ value: true }]);
    expect(byId[308].values).toEqual([{ value: Date.parse('2026-01-15T09:00:00Z') / 1000 }]);
  });

  it.each([
    ['unknown field id', cf(999, [{ value: 'x' }]), 'NotSupportedChoice', 'custom_fields_values.0.field_id'],
    ['wrong enum_id', cf(303, [{ enum_id: 1 }]), 'NotSupportedChoice', 'custom_fields_values.0.values.0.enum_id'],
    ['select value not in enums', cf(303, [{ value: 'Three' }]), 'NotSupportedChoice', 'custom_fields_values.0.values.0.value'],
    ['non-numeric numeric', cf(302, [{ value: '12abc' }]), 'InvalidType', 'custom_fields_values.0.values.0.value'],
    ['bad date', cf(305, [{ value: '15.01.2026' }]), 'InvalidType', 'custom_fields_values.0.values.0.value'],
    ['checkbox as string', cf(306, [{ value: '1' }]), 'InvalidType', 'custom_fields_values.0.values.0.value'],
    ['url that is not one', cf(307, [{ value: 'not a url' }]), 'InvalidValue', 'custom_fields_values.0.values.0.value'],
    ['two values for a select', cf(303, [{ enum_id: 3031 }, { enum_id: 3032 }]), 'InvalidValue', 'custom_fields_values.0.values'],
    ['empty values array (*assumed*)', cf(301, []), 'NotBlank', 'custom_fields_values.0.values'],
  ])('%s → 400 validation-errors', async (_n, item, code, path) => {
    expect(await errorsOf(item)).toEqual([expect.objectContaining({ code, path })]);
  });

  it('one entry per failing request_id; the passing items are not written either', async () => {
    const r = await w.api('POST', '/api/v4/leads', t, [
      { name: 'good' },
      { name: 'bad1', request_id: 'r-1', ...cf(302, [{ value: 'x' }]) },
      { name: 'bad2', ...cf(303, [{ enum_id: 5 }]) },
    ]);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({
      title: 'Bad Request',
      type: 'https://httpstatus.es/400',
      status: 400,
      detail: 'Request validation failed',
    });
    expect(r.json['validation-errors'].map((e: { request_id: string }) => e.request_id)).toEqual(['r-1', '2']);
    expect(w.sb.admin.state().counts).toMatchObject({ leads: 0 });
  });

  it('multitext needs enum_id or enum_code (PHONE/EMAIL codes)', async () => {
    const bad = await w.api('POST', '/api/v4/contacts', t, [
      { name: 'c', custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+7999' }] }] },
    ]);
    expect(bad.json['validation-errors'][0].errors[0]).toMatchObject({
      code: 'NotBlank',
      path: 'custom_fields_values.0.values.0.enum_code',
    });
    const wrong = await w.api('POST', '/api/v4/contacts', t, [
      { name: 'c', custom_fields_values: [{ field_code: 'EMAIL', values: [{ value: 'a@b.c', enum_code: 'MOB' }] }] },
    ]);
    expect(wrong.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotSupportedChoice' });
    const ok = await w.api('POST', '/api/v4/contacts', t, [
      { name: 'c', custom_fields_values: [{ field_code: 'EMAIL', values: [{ value: 'a@b.c', enum_code: 'PRIV' }] }] },
    ]);
    expect(ok.status).toBe(200);
  });
});

describe('writing fields on PATCH', () => {
  it('fields not mentioned stay, mentioned ones are replaced, values:null clears', async () => {
    const add = await w.api('POST', '/api/v4/leads', t, [
      {
        name: 'x',
        custom_fields_values: [
          { field_id: 301, values: [{ value: 'a' }] },
          { field_id: 302, values: [{ value: 1 }] },
        ],
      },
    ]);
    const id = add.json._embedded.leads[0].id;
    const fields = async () =>
      ((await w.api('GET', `/api/v4/leads/${id}`, t)).json.custom_fields_values ?? []).map(
        (f: { field_id: number; values: Array<{ value: unknown }> }) => [f.field_id, f.values[0]?.value],
      );
    await w.api('PATCH', '/api/v4/leads', t, [{ id, custom_fields_values: [{ field_id: 302, values: [{ value: 2 }] }] }]);
    expect(await fields()).toEqual([
      [301, 'a'],
      [302, '2'],
    ]);
    await w.api('PATCH', '/api/v4/leads', t, [{ id, custom_fields_values: [{ field_id: 301, values: null }] }]);
    expect(await fields()).toEqual([[302, '2']]);
    await w.api('PATCH', `/api/v4/leads/${id}`, t, { custom_fields_values: [{ field_id: 302, values: null }] });
    expect((await w.api('GET', `/api/v4/leads/${id}`, t)).json.custom_fields_values).toBeNull();
  });
});

describe('custom field dictionaries', () => {
  it('lists fields with enums; contacts have the predefined PHONE/EMAIL with their enum codes', async () => {
    const leads = await w.api('GET', '/api/v4/leads/custom_fields', t);
    const sel = leads.json._embedded.custom_fields.find((f: { id: number }) => f.id === 303);
    expect(sel).toMatchObject({
      type: 'select',
      entity_type: 'leads',
      enums: [
        { id: 3031, value: 'One', code: 'ONE' },
        { id: 3032, value: 'Two' },
      ],
    });
    const contacts = await w.api('GET', '/api/v4/contacts/custom_fields', t);
    const phone = contacts.json._embedded.custom_fields.find((f: { code: string }) => f.code === 'PHONE');
    expect(phone.enums.map((e: { value: string }) => e.value)).toEqual(['WORK', 'WORKDD', 'MOB', 'FAX', 'HOME', 'OTHER']);
    expect((await w.api('GET', '/api/v4/leads/custom_fields/303', t)).json.id).toBe(303);
    expect(
      (await w.api('GET', '/api/v4/leads/custom_fields?filter[type][0]=numeric', t)).json._embedded.custom_fields.map(
        (f: { id: number }) => f.id,
      ),
    ).toEqual([302]);
  });

  it('a field created by POST can be written at once', async () => {
    const r = await w.api('POST', '/api/v4/companies/custom_fields', t, [
      { name: 'Tier', type: 'radiobutton', enums: [{ value: 'Gold' }, { value: 'Silver' }] },
    ]);
    expect(r.status).toBe(200);
    const f = r.json._embedded.custom_fields[0];
    const c = await w.api('POST', '/api/v4/companies', t, [
      { name: 'Co', custom_fields_values: [{ field_id: f.id, values: [{ value: 'Gold' }] }] },
    ]);
    expect(c.status).toBe(200);
  });
});
