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

const phone = (value: string) => ({ field_code: 'PHONE', values: [{ value, enum_code: 'MOB' }] });
const email = (value: string) => ({ field_code: 'EMAIL', values: [{ value, enum_code: 'WORK' }] });

describe('contacts', () => {
  it('query searches name, phone (by digits) and email', async () => {
    w.sb.admin.setSearchMode('normalising'); // the phone-digit rule is the `normalising` mode's (test/sandbox/search-modes.test.ts covers the others)
    const r = await w.api('POST', '/api/v4/contacts', t, [
      { first_name: 'Иван', last_name: 'Петров', custom_fields_values: [phone('+7 (916) 123-45-67'), email('ivan@example.test')] },
      { name: 'Мария', custom_fields_values: [phone('+79035550011')] },
    ]);
    const [ivan, maria] = r.json._embedded.contacts.map((c: { id: number }) => c.id);
    const found = async (q: string) =>
      ((await w.api('GET', `/api/v4/contacts?query=${encodeURIComponent(q)}`, t)).json?._embedded.contacts ?? []).map(
        (c: { id: number }) => c.id,
      );
    expect(await found('89161234567')).toEqual([ivan]);
    expect(await found('+79035550011')).toEqual([maria]);
    expect(await found('ivan@example')).toEqual([ivan]);
    expect(await found('петров')).toEqual([ivan]);
    expect(await found('nobody')).toEqual([]);
    const c = (await w.api('GET', `/api/v4/contacts/${ivan}`, t)).json;
    expect(c).toMatchObject({ name: 'Иван Петров', first_name: 'Иван', last_name: 'Петров' });
  });

  it('patch, with=leads, and companies', async () => {
    const co = await w.api('POST', '/api/v4/companies', t, [{ name: 'ACME', custom_fields_values: [phone('+100')] }]);
    expect(co.status).toBe(200);
    const cid = (await w.api('POST', '/api/v4/contacts', t, [{ name: 'A' }])).json._embedded.contacts[0].id;
    const lead = (await w.api('POST', '/api/v4/leads', t, [{ name: 'L', _embedded: { contacts: [{ id: cid }] } }])).json._embedded.leads[0]
      .id;
    const p = await w.api('PATCH', '/api/v4/contacts', t, [{ id: cid, name: 'A2' }]);
    expect(p.json._embedded.contacts[0]).toMatchObject({ id: cid, name: 'A2' });
    const read = (await w.api('GET', `/api/v4/contacts/${cid}?with=leads`, t)).json;
    expect(read._embedded.leads.map((l: { id: number }) => l.id)).toEqual([lead]);
    expect((await w.api('GET', '/api/v4/companies?query=acme', t)).json._embedded.companies[0].name).toBe('ACME');
  });
  // Chat links need real amojo chats now: test/sandbox/chats-links.test.ts.
});

describe('tasks (amocrm-protocol#tasks)', () => {
  it('text and complete_till are required; the rest defaults', async () => {
    const lead = (await w.api('POST', '/api/v4/leads', t, [{ name: 'L' }])).json._embedded.leads[0].id;
    const bad = await w.api('POST', '/api/v4/tasks', t, [{ entity_type: 'leads', entity_id: lead }]);
    expect(bad.status).toBe(400);
    expect(bad.json['validation-errors'][0].errors.map((e: { path: string }) => e.path)).toEqual(['text', 'complete_till']);
    const till = Math.floor(w.clock.now() / 1000) + 3600;
    const r = await w.api('POST', '/api/v4/tasks', t, [
      { text: 'Call back', complete_till: till, entity_type: 'leads', entity_id: lead, request_id: 't1' },
    ]);
    expect(r.status).toBe(200);
    const id = r.json._embedded.tasks[0].id;
    expect(r.json._embedded.tasks[0].request_id).toBe('t1');
    const task = (await w.api('GET', `/api/v4/tasks/${id}`, t)).json;
    expect(task).toMatchObject({
      text: 'Call back',
      complete_till: till,
      responsible_user_id: 11,
      task_type_id: 1,
      is_completed: false,
      entity_type: 'leads',
      entity_id: lead,
    });
    expect((await w.api('GET', `/api/v4/leads/${lead}`, t)).json.closest_task_at).toBe(till);
  });

  it('unknown task type, unknown entity → validation errors; list filters; complete by PATCH', async () => {
    const bad = await w.api('POST', '/api/v4/tasks', t, [
      { text: 'x', complete_till: 1, task_type_id: 99 },
      { text: 'y', complete_till: 1, entity_type: 'leads', entity_id: 5 },
    ]);
    expect(bad.json['validation-errors'].map((e: { errors: Array<{ path: string }> }) => e.errors[0]?.path)).toEqual([
      'task_type_id',
      'entity_id',
    ]);
    const ids = (
      await w.api('POST', '/api/v4/tasks', t, [
        { text: 'a', complete_till: 10 },
        { text: 'b', complete_till: 20, task_type_id: 2, responsible_user_id: 12 },
      ])
    ).json._embedded.tasks.map((x: { id: number }) => x.id);
    const list = async (q: string) =>
      ((await w.api('GET', `/api/v4/tasks?${q}`, t)).json?._embedded.tasks ?? []).map((x: { id: number }) => x.id);
    expect(await list('filter[responsible_user_id]=12')).toEqual([ids[1]]);
    expect(await list('filter[task_type]=2')).toEqual([ids[1]]);
    await w.api('PATCH', '/api/v4/tasks', t, [{ id: ids[0], is_completed: true, result: { text: 'done' } }]);
    expect(await list('filter[is_completed]=1')).toEqual([ids[0]]);
    expect(await list('order[complete_till]=desc')).toEqual([ids[1], ids[0]]);
  });
});

describe('notes', () => {
  it('add by entity path and by entity_id; list per entity and for the kind', async () => {
    const [a, b] = (await w.api('POST', '/api/v4/leads', t, [{ name: 'A' }, { name: 'B' }])).json._embedded.leads.map(
      (l: { id: number }) => l.id,
    );
    const r1 = await w.api('POST', `/api/v4/leads/${a}/notes`, t, [{ note_type: 'common', params: { text: 'hello' } }]);
    expect(r1.status).toBe(200);
    expect(r1.json._embedded.notes[0]).toMatchObject({ entity_id: a, request_id: '0' });
    const r2 = await w.api('POST', '/api/v4/leads/notes', t, [
      { entity_id: b, note_type: 'service_message', params: { service: 'gw', text: 'booked' } },
    ]);
    expect(r2.status).toBe(200);
    expect(
      (await w.api('GET', `/api/v4/leads/${a}/notes`, t)).json._embedded.notes.map((n: { params: { text: string } }) => n.params.text),
    ).toEqual(['hello']);
    expect((await w.api('GET', '/api/v4/leads/notes', t)).json._embedded.notes).toHaveLength(2);
    const bad = await w.api('POST', '/api/v4/leads/notes', t, [
      { entity_id: a, note_type: 'common', params: {} },
      { entity_id: a, note_type: 'bogus', params: { text: 'x' } },
    ]);
    expect(bad.json['validation-errors'].map((e: { errors: Array<{ path: string }> }) => e.errors[0]?.path)).toEqual([
      'params.text',
      'note_type',
    ]);
  });
});

describe('account, users, pipelines', () => {
  it('account with amojo_id,task_types,users_groups', async () => {
    const plain = (await w.api('GET', '/api/v4/account', t)).json;
    expect(plain.amojo_id).toBeUndefined();
    const a = (await w.api('GET', '/api/v4/account?with=amojo_id,task_types,users_groups', t)).json;
    expect(a.amojo_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.current_user_id).toBe(11);
    expect(a._embedded.task_types.map((x: { id: number }) => x.id)).toEqual([1, 2]);
    expect(a._embedded.users_groups[0]).toMatchObject({ id: 0 });
  });

  it('users and pipelines with 142/143 in every pipeline', async () => {
    const users = (await w.api('GET', '/api/v4/users', t)).json;
    expect(users._embedded.users.map((u: { id: number }) => u.id)).toEqual([11, 12]);
    const p = (await w.api('GET', '/api/v4/leads/pipelines', t)).json;
    expect(p._total_items).toBe(2);
    for (const pl of p._embedded.pipelines) {
      const ids = pl._embedded.statuses.map((s: { id: number }) => s.id);
      expect(ids.slice(-2)).toEqual([142, 143]);
    }
    expect(
      (await w.api('GET', '/api/v4/leads/pipelines/200/statuses', t)).json._embedded.statuses.map((s: { id: number }) => s.id),
    ).toEqual([2001, 2002, 142, 143]);
    expect((await w.api('GET', '/api/v4/leads/pipelines/999', t)).status).toBe(204);
  });

  it('unknown path → 404 problem, wrong method → 405', async () => {
    const nf = await w.api('GET', '/api/v4/nothing', t);
    expect(nf.status).toBe(404);
    expect(nf.json.detail).toBe('Cannot GET /api/v4/nothing');
    expect((await w.api('DELETE', '/api/v4/leads/1', t)).status).toBe(405);
  });
});
