/** Notes params per type and PATCH, and the account's event list (amo-docs events-and-notes). */
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

async function lead(body: Record<string, unknown> = { name: 'Deal' }): Promise<number> {
  const r = await w.api('POST', '/api/v4/leads', t, [body]);
  expect(r.status).toBe(200);
  return r.json._embedded.leads[0].id as number;
}

const paths = (r: { json: { 'validation-errors': Array<{ errors: Array<{ path: string; code: string }> }> } }) =>
  r.json['validation-errors'].flatMap((e) => e.errors.map((x) => `${x.path}:${x.code}`));

const CALL = {
  uniq: '8f52d38a-5fb3-406d-93a3-a4832dc28f8b',
  duration: 60,
  source: 'onlinePBX',
  link: 'https://example.com/rec.mp3',
  phone: '+79999999999',
};

describe('notes: params per note type ("Типы примечаний, для которых обязателен массив params")', () => {
  it('the documented examples of every type are taken', async () => {
    const id = await lead();
    const r = await w.api('POST', `/api/v4/leads/${id}/notes`, t, [
      { note_type: 'common', params: { text: 'Обычное примечание' } },
      { note_type: 'call_in', params: { ...CALL, call_responsible: 'Василий' } },
      { note_type: 'call_out', params: { ...CALL, call_responsible: 504141 } },
      { note_type: 'service_message', params: { service: 'Сервис', text: 'Текст' } },
      { note_type: 'extended_service_message', params: { service: 'Сервис', text: 'Текст' } },
      { note_type: 'message_cashier', params: { status: 'created', text: 'Текст' } },
      { note_type: 'geolocation', params: { text: 'Гео', address: 'ул. Пушкина', longitude: '53.714816', latitude: '91.423146' } },
      { note_type: 'sms_in', params: { text: 'Входящее', phone: '+79999999999' } },
      { note_type: 'sms_out', params: { text: 'Исходящее', phone: '+79999999999' } },
      { note_type: 'attachment', params: { file_uuid: '9905db7c-3a29-4d30-8953-bac68c05e8e8', file_name: 'изображение.png' } },
    ]);
    expect(r.status).toBe(200);
    expect(r.json._embedded.notes).toHaveLength(10);
  });

  it('missing or wrong params → 400 with the path of each, per item; nothing is added', async () => {
    const id = await lead();
    const r = await w.api('POST', '/api/v4/leads/notes', t, [
      { entity_id: id, note_type: 'call_in', params: { uniq: 'u', source: 'pbx', phone: '+7999' } },
      { entity_id: id, note_type: 'call_out', params: { ...CALL, duration: '60', link: 'not a url' } },
      { entity_id: id, note_type: 'service_message', params: { text: 'no service' } },
      { entity_id: id, note_type: 'sms_out', params: { text: 'x' } },
      { entity_id: id, note_type: 'geolocation', params: { text: 'g', address: 'a', longitude: 'east', latitude: '1' } },
      { entity_id: id, note_type: 'message_cashier', params: { status: 'paid', text: 't' } },
      { entity_id: id, note_type: 'common', params: { text: '   ' } },
      { entity_id: id, note_type: 'common' },
      { entity_id: id, note_type: 'attachment', params: { file_uuid: 'nope', file_name: 'f' } },
      { entity_id: id, note_type: 'bogus', params: {} },
    ]);
    expect(r.status).toBe(400);
    expect(paths(r)).toEqual([
      'params.duration:NotBlank',
      'params.link:NotBlank',
      'params.duration:InvalidType',
      'params.link:InvalidValue',
      'params.service:NotBlank',
      'params.phone:NotBlank',
      'params.longitude:InvalidType',
      'params.status:NotSupportedChoice',
      'params.text:NotBlank',
      'params:NotBlank',
      'params.file_uuid:InvalidValue',
      'note_type:NotSupportedChoice',
    ]);
    expect((await w.api('GET', `/api/v4/leads/${id}/notes`, t)).status).toBe(204);
  });
});

describe('notes: PATCH ("Редактирование примечаний") and GET /{entity}/notes/{id}', () => {
  it('batch, per entity and one model; answers {id, entity_id, updated_at, _links}; the reads show the change', async () => {
    const id = await lead();
    const added = await w.api('POST', `/api/v4/leads/${id}/notes`, t, [
      { note_type: 'sms_in', params: { text: 'old', phone: '+79990000000' } },
      { note_type: 'common', params: { text: 'old common' } },
    ]);
    const [n1, n2] = added.json._embedded.notes.map((n: { id: number }) => n.id);
    w.clock.advance(60_000);
    const batch = await w.api('PATCH', '/api/v4/leads/notes', t, [
      { id: n1, note_type: 'sms_in', params: { text: 'Новое входящие SMS', phone: '+79999999999' } },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.json._embedded.notes).toEqual([
      {
        id: n1,
        entity_id: id,
        updated_at: Math.floor(w.clock.now() / 1000),
        _links: { self: { href: `${w.sb.url}/api/v4/leads/${id}/notes/${n1}` } },
      },
    ]);
    const one = await w.api('PATCH', `/api/v4/leads/${id}/notes/${n2}`, t, { params: { text: 'new common' } });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: n2, entity_id: id });
    expect((await w.api('PATCH', `/api/v4/leads/${id}/notes`, t, [{ id: n2, params: { text: 'again' } }])).status).toBe(200);
    expect((await w.api('PATCH', `/api/v4/leads/notes/${n2}`, t, { params: { text: 'by id' } })).status).toBe(200);
    const got = await w.api('GET', `/api/v4/leads/notes/${n1}`, t);
    expect(got.json).toMatchObject({ id: n1, note_type: 'sms_in', params: { text: 'Новое входящие SMS', phone: '+79999999999' } });
    expect((await w.api('GET', `/api/v4/leads/${id}/notes/${n2}`, t)).json.params).toEqual({ text: 'by id' });
  });

  it('refusals: unknown id, a note of another entity, a type change, params that fail their type', async () => {
    const a = await lead();
    const b = await lead({ name: 'Other' });
    const n = (await w.api('POST', `/api/v4/leads/${a}/notes`, t, [{ note_type: 'sms_out', params: { text: 't', phone: '+7999' } }])).json
      ._embedded.notes[0].id;
    const r = await w.api('PATCH', '/api/v4/leads/notes', t, [
      { id: 99999999, params: { text: 'x' } },
      { id: n, note_type: 'common', params: { text: 'x' } },
      { id: n, params: { text: 'only text' } },
      { params: { text: 'no id' } },
    ]);
    expect(r.status).toBe(400);
    // params are checked against the note's own type (sms_out), whatever note_type the item claims.
    expect(paths(r)).toEqual([
      'id:NotFound',
      'note_type:NotSupportedChoice',
      'params.phone:NotBlank',
      'params.phone:NotBlank',
      'id:NotBlank',
    ]);
    expect(paths(await w.api('PATCH', `/api/v4/leads/${b}/notes/${n}`, t, { params: { text: 't', phone: '1' } }))).toEqual(['id:NotFound']);
    expect(paths(await w.api('PATCH', `/api/v4/contacts/notes/${n}`, t, { params: { text: 't', phone: '1' } }))).toEqual(['id:NotFound']);
    expect((await w.api('GET', `/api/v4/leads/${a}/notes/${n}`, t)).json.params).toEqual({ text: 't', phone: '+7999' });
  });
});

describe('GET /api/v4/events', () => {
  it('records lead_added, lead_status_changed, custom_field_value_changed, responsible and note events in the documented shape', async () => {
    const id = await lead({ name: 'Deal', custom_fields_values: [{ field_id: 303, values: [{ enum_id: 3031 }] }] });
    w.clock.advance(1000);
    expect(
      (
        await w.api('PATCH', `/api/v4/leads/${id}`, t, {
          status_id: 1002,
          responsible_user_id: 12,
          custom_fields_values: [{ field_id: 303, values: [{ enum_id: 3032 }] }],
        })
      ).status,
    ).toBe(200);
    await w.api('POST', `/api/v4/leads/${id}/notes`, t, [{ note_type: 'common', params: { text: 'hi' } }]);
    const r = await w.api('GET', `/api/v4/events?filter[entity]=lead&filter[entity_id][]=${id}`, t);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/hal+json');
    const events = r.json._embedded.events as Array<Record<string, unknown>>;
    expect(events.map((e) => e.type)).toEqual([
      'common_note_added',
      'custom_field_value_changed',
      'entity_responsible_changed',
      'lead_status_changed',
      'lead_added',
    ]);
    const added = events[4]!;
    expect(added).toMatchObject({
      entity_id: id,
      entity_type: 'lead',
      created_by: 11,
      value_after: [],
      value_before: [],
      account_id: expect.any(Number),
    });
    expect(added.id).toMatch(/^[0-9a-z]{26}$/);
    expect(added._embedded).toEqual({ entity: { id, _links: { self: { href: `${w.sb.url}/api/v4/leads/${id}` } } } });
    expect(events[3]).toMatchObject({
      value_after: [{ lead_status: { id: 1002, pipeline_id: 100 } }],
      value_before: [{ lead_status: { id: 1001, pipeline_id: 100 } }],
    });
    expect(events[2]).toMatchObject({ value_after: [{ responsible_user: { id: 12 } }], value_before: [{ responsible_user: { id: 11 } }] });
    expect(events[1]).toMatchObject({
      value_after: [{ custom_field_value: { field_id: 303, field_type: 4, enum_id: 3032, text: 'Two' } }],
      value_before: [{ custom_field_value: { field_id: 303, field_type: 4, enum_id: 3031, text: 'One' } }],
    });
    const note = (await w.api('GET', `/api/v4/leads/${id}/notes`, t)).json._embedded.notes[0].id;
    expect(events[0]).toMatchObject({ value_after: [{ note: { id: note } }] });
    const byId = await w.api('GET', `/api/v4/events/${String(added.id)}`, t);
    expect(byId.json).toMatchObject({ id: added.id, type: 'lead_added' });
  });

  it('filters by type (custom_field_{ID}_value_changed too), created_at, value_after; an admin move records a status change', async () => {
    const id = await lead();
    const since = Math.floor(w.clock.now() / 1000);
    w.clock.advance(5000);
    await w.api('PATCH', `/api/v4/leads/${id}`, t, { custom_fields_values: [{ field_id: 301, values: [{ value: 'x' }] }] });
    await w.sb.admin.moveLead({ leadId: id, statusId: 2001, pipelineId: 200 });
    const types = await w.api('GET', '/api/v4/events?filter[type][]=lead_status_changed', t);
    expect(types.json._embedded.events.map((e: { value_after: unknown }) => e.value_after)).toEqual([
      [{ lead_status: { id: 2001, pipeline_id: 200 } }],
    ]);
    const field = await w.api('GET', '/api/v4/events?filter[type]=custom_field_301_value_changed', t);
    expect(field.json._embedded.events).toHaveLength(1);
    expect((await w.api('GET', '/api/v4/events?filter[type]=custom_field_302_value_changed', t)).status).toBe(204);
    const after = await w.api('GET', `/api/v4/events?filter[created_at]=${since}`, t);
    expect(after.json._embedded.events.map((e: { type: string }) => e.type)).toEqual(['lead_status_changed', 'custom_field_value_changed']);
    const vAfter = await w.api(
      'GET',
      '/api/v4/events?filter[value_after][leads_statuses][0][pipeline_id]=200&filter[value_after][leads_statuses][0][status_id]=2001',
      t,
    );
    expect(vAfter.json._embedded.events).toHaveLength(1);
    expect((await w.api('GET', '/api/v4/events?filter[type]=contact_added', t)).status).toBe(204);
  });

  it('pages (limit ≤ 100, else 422); filter[entity_id] without exactly one filter[entity] → 400; with=lead_name', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await lead({ name: `L${i}` }));
    const p1 = await w.api('GET', '/api/v4/events?limit=2', t);
    expect(p1.json._embedded.events).toHaveLength(2);
    expect(p1.json._links.next.href).toContain('page=2');
    const p2 = await w.api('GET', '/api/v4/events?limit=2&page=2', t);
    expect(p2.json._embedded.events).toHaveLength(1);
    expect(p2.json._links.next).toBeUndefined();
    expect((await w.api('GET', '/api/v4/events?limit=2&page=3', t)).status).toBe(204);
    const big = await w.api('GET', '/api/v4/events?limit=101', t);
    expect(big.status).toBe(422);
    expect(big.json.detail).toBe('Limit 100 per page');
    const bad = await w.api('GET', `/api/v4/events?filter[entity_id]=${ids[0]}`, t);
    expect(bad.status).toBe(400);
    expect(paths(bad)).toEqual(['filter.entity:InvalidValue']);
    const named = await w.api('GET', `/api/v4/events?filter[entity]=lead&filter[entity_id]=${ids[1]}&with=lead_name`, t);
    expect(named.json._embedded.events[0]._embedded.entity.name).toBe('L1');
  });

  it('links record their events on the main entity', async () => {
    const id = await lead();
    const c = (await w.api('POST', '/api/v4/contacts', t, [{ name: 'Ann' }])).json._embedded.contacts[0].id;
    await w.api('POST', `/api/v4/leads/${id}/link`, t, [{ to_entity_id: c, to_entity_type: 'contacts' }]);
    await w.api('POST', `/api/v4/leads/${id}/unlink`, t, [{ to_entity_id: c, to_entity_type: 'contacts' }]);
    const r = await w.api('GET', '/api/v4/events?filter[type][]=contact_linked&filter[type][]=contact_unlinked', t);
    expect(
      r.json._embedded.events.map((e: { type: string; entity_id: number; value_after: unknown; value_before: unknown }) => [
        e.type,
        e.entity_id,
        e.value_after,
        e.value_before,
      ]),
    ).toEqual([
      ['contact_unlinked', id, [], [{ unlink: { entity: { type: 'contact', id: c } } }]],
      ['contact_linked', id, [{ link: { entity: { type: 'contact', id: c } } }], []],
    ]);
  });
});
