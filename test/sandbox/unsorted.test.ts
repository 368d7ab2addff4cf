/**
 * Conformance: Unsorted (amo-docs unsorted-api), sources (sources-api) and the Unsorted side of
 * `leads/complex` (`_embedded.metadata`, `_embedded.source`, leads-api).
 */
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

const form = (over: Record<string, unknown> = {}, md: Record<string, unknown> = {}): Record<string, unknown> => ({
  source_uid: 'site-form',
  source_name: 'Сайт',
  metadata: {
    form_id: 'callback',
    form_name: 'Обратный звонок',
    form_page: 'https://example.test/',
    form_sent_at: 1768467600,
    ip: '192.0.2.1',
    ...md,
  },
  _embedded: {
    leads: [{ name: 'С сайта', price: 500 }],
    contacts: [
      { first_name: 'Пётр', custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+79160000001', enum_code: 'MOB' }] }] },
    ],
  },
  ...over,
});

const sip = (uniq: string): Record<string, unknown> => ({
  source_uid: 'pbx',
  source_name: 'АТС',
  metadata: {
    uniq,
    phone: 79160000002,
    called_at: 1768467600,
    duration: 54,
    service_code: 'pbx_widget',
    link: 'https://pbx.test/rec.mp3',
    is_call_event_needed: true,
  },
  _embedded: { contacts: [{ name: 'Звонивший' }] },
});

describe('unsorted: forms and sip add (unsorted-api)', () => {
  it('a form entry makes a lead in the Unsorted stage and a contact hidden from the contact list', async () => {
    const r = await w.api('POST', '/api/v4/leads/unsorted/forms', t, [form({ request_id: 'f1' })]);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/hal+json');
    const [e] = r.json._embedded.unsorted;
    expect(r.json._total_items).toBe(1);
    expect(e).toMatchObject({
      uid: expect.stringMatching(/^[0-9a-f]{60}$/),
      account_id: expect.any(Number),
      request_id: 'f1',
      _links: { self: { href: `${w.sb.url}/api/v4/leads/unsorted/${e.uid}` } },
    });
    const leadId = e._embedded.leads[0].id;
    const contactId = e._embedded.contacts[0].id;
    expect(e._embedded.companies).toEqual([]);

    const lead = await w.api('GET', `/api/v4/leads/${leadId}?with=contacts`, t);
    expect(lead.json).toMatchObject({ name: 'С сайта', price: 500, pipeline_id: 100, status_id: 1000 });
    expect(lead.json._embedded.contacts).toEqual([expect.objectContaining({ id: contactId, is_main: true })]);
    // «До принятия неразобранной сделки, контакты и компании недоступны в соответствующих разделах».
    expect((await w.api('GET', '/api/v4/contacts', t)).status).toBe(204);
    expect((await w.api('GET', '/api/v4/contacts?query=79160000001', t)).status).toBe(204);
    expect((await w.api('GET', `/api/v4/contacts/${contactId}`, t)).json).toMatchObject({ id: contactId, is_unsorted: true });

    const one = await w.api('GET', `/api/v4/leads/unsorted/${e.uid}`, t);
    expect(one.json).toMatchObject({
      uid: e.uid,
      source_uid: 'site-form',
      source_name: 'Сайт',
      category: 'forms',
      pipeline_id: 100,
      created_at: expect.any(Number),
      metadata: { form_id: 'callback', form_name: 'Обратный звонок', form_sent_at: 1768467600 },
      _embedded: { leads: [{ id: leadId }], contacts: [{ id: contactId }], companies: [] },
    });
  });

  it('refuses what the docs require and what is already in Unsorted', async () => {
    const r = await w.api('POST', '/api/v4/leads/unsorted/forms', t, [
      { source_name: 'x', metadata: { form_id: 'a', form_name: 'b', form_page: 'c', form_sent_at: 1 } },
      form({ pipeline_id: 200 }),
      form({}, { form_sent_at: 'yesterday' }),
    ]);
    expect(r.status).toBe(400);
    const errs = r.json['validation-errors'];
    expect(errs[0].errors).toContainEqual(expect.objectContaining({ code: 'NotBlank', path: 'source_uid' }));
    expect(errs[1].errors).toContainEqual(expect.objectContaining({ code: 'InvalidValue', path: 'pipeline_id' })); // no Unsorted stage there
    expect(errs[2].errors).toContainEqual(expect.objectContaining({ code: 'InvalidType', path: 'metadata.form_sent_at' }));
    expect((await w.api('GET', '/api/v4/leads', t)).status).toBe(204); // nothing written

    expect((await w.api('POST', '/api/v4/leads/unsorted/sip', t, [sip('call-1')])).status).toBe(200);
    const dup = await w.api('POST', '/api/v4/leads/unsorted/sip', t, [sip('call-1')]);
    expect(dup.status).toBe(400);
    expect(dup.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotUnique', path: 'metadata.uniq' });
    const noEmb = await w.api('POST', '/api/v4/leads/unsorted/sip', t, [{ ...sip('call-2'), _embedded: undefined }]);
    expect(noEmb.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotBlank', path: '_embedded' });
  });

  it('sip metadata never returns is_call_event_needed', async () => {
    const r = await w.api('POST', '/api/v4/leads/unsorted/sip', t, [sip('call-9')]);
    const got = await w.api('GET', `/api/v4/leads/unsorted/${r.json._embedded.unsorted[0].uid}`, t);
    expect(got.json.category).toBe('sip');
    expect(got.json.metadata).toEqual({
      uniq: 'call-9',
      phone: 79160000002,
      called_at: 1768467600,
      duration: 54,
      service_code: 'pbx_widget',
      link: 'https://pbx.test/rec.mp3',
    });
  });
});

describe('unsorted: list, accept, decline, link, summary', () => {
  it('list filters by uid, category and pipeline; 204 when empty; unknown uid → 204', async () => {
    expect((await w.api('GET', '/api/v4/leads/unsorted', t)).status).toBe(204);
    const f = await w.api('POST', '/api/v4/leads/unsorted/forms', t, [form(), form({}, { form_id: 'other' })]);
    await w.api('POST', '/api/v4/leads/unsorted/sip', t, [sip('c1')]);
    const all = await w.api('GET', '/api/v4/leads/unsorted', t);
    expect(all.json._page).toBe(1);
    expect(all.json._embedded.unsorted).toHaveLength(3);
    const forms = await w.api('GET', '/api/v4/leads/unsorted?filter[category][]=forms', t);
    expect(forms.json._embedded.unsorted.map((u: { category: string }) => u.category)).toEqual(['forms', 'forms']);
    const uid = f.json._embedded.unsorted[1].uid;
    expect(
      (await w.api('GET', `/api/v4/leads/unsorted?filter[uid]=${uid}`, t)).json._embedded.unsorted.map((u: { uid: string }) => u.uid),
    ).toEqual([uid]);
    expect((await w.api('GET', '/api/v4/leads/unsorted?filter[pipeline_id]=200', t)).status).toBe(204);
    const page = await w.api('GET', '/api/v4/leads/unsorted?limit=2', t);
    expect(page.json._links.next).toBeDefined();
    expect((await w.api('GET', '/api/v4/leads/unsorted?limit=251', t)).status).toBe(422);
    expect((await w.api('GET', '/api/v4/leads/unsorted/0123abc', t)).status).toBe(204);
  });

  it('accept moves the lead to a regular stage and shows the contact; a second accept → 404', async () => {
    const f = await w.api('POST', '/api/v4/leads/unsorted/forms', t, [form()]);
    const e = f.json._embedded.unsorted[0];
    const bad = await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/accept`, t, { status_id: 2001 });
    expect(bad.status).toBe(400); // a stage of another pipeline
    expect(bad.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotSupportedChoice', path: 'status_id' });
    expect((await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/accept`, t, { status_id: 1000 })).status).toBe(400); // not back into Unsorted

    const ok = await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/accept`, t, { user_id: 12, status_id: 1002 });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      uid: e.uid,
      pipeline_id: 100,
      category: 'forms',
      created_at: expect.any(Number),
      _embedded: { leads: [{ id: e._embedded.leads[0].id }], contacts: [{ id: e._embedded.contacts[0].id }], companies: [] },
    });
    expect((await w.api('GET', `/api/v4/leads/${e._embedded.leads[0].id}`, t)).json).toMatchObject({ status_id: 1002, updated_by: 12 });
    const contacts = await w.api('GET', '/api/v4/contacts', t);
    expect(contacts.json._embedded.contacts.map((c: { id: number; is_unsorted: boolean }) => [c.id, c.is_unsorted])).toEqual([
      [e._embedded.contacts[0].id, false],
    ]);
    expect((await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/accept`, t)).status).toBe(404);
    expect((await w.api('GET', `/api/v4/leads/unsorted/${e.uid}`, t)).status).toBe(204);
    const unknown = await w.api('POST', '/api/v4/leads/unsorted/abc/accept', t);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
  });

  it('accept without a stage lands in the first regular stage', async () => {
    const f = await w.api('POST', '/api/v4/leads/unsorted/sip', t, [sip('c-acc')]);
    const e = f.json._embedded.unsorted[0];
    expect((await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/accept`, t)).status).toBe(200);
    expect((await w.api('GET', `/api/v4/leads/${e._embedded.leads[0].id}`, t)).json.status_id).toBe(1001);
  });

  it('decline deletes the lead and contact; the entry is gone', async () => {
    const f = await w.api('POST', '/api/v4/leads/unsorted/forms', t, [form()]);
    const e = f.json._embedded.unsorted[0];
    const d = await w.api('DELETE', `/api/v4/leads/unsorted/${e.uid}/decline`, t, { user_id: 11 });
    expect(d.status).toBe(200);
    expect(d.json).toEqual({
      uid: e.uid,
      pipeline_id: 100,
      category: 'forms',
      created_at: expect.any(Number),
      _embedded: {
        leads: [expect.objectContaining({ id: e._embedded.leads[0].id })],
        contacts: [expect.objectContaining({ id: e._embedded.contacts[0].id })],
      },
    });
    expect((await w.api('GET', `/api/v4/leads/${e._embedded.leads[0].id}`, t)).status).toBe(204);
    expect((await w.api('GET', `/api/v4/contacts/${e._embedded.contacts[0].id}`, t)).status).toBe(204);
    expect((await w.api('DELETE', `/api/v4/leads/unsorted/${e.uid}/decline`, t)).status).toBe(404);
    expect((await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/decline`, t)).status).toBe(405);
  });

  it('link is for chats only: a form entry → 400 "Only chats and mail"', async () => {
    const f = await w.api('POST', '/api/v4/leads/unsorted/forms', t, [form()]);
    const lead = await w.api('POST', '/api/v4/leads', t, [{ name: 'existing' }]);
    const r = await w.api('POST', `/api/v4/leads/unsorted/${f.json._embedded.unsorted[0].uid}/link`, t, {
      link: { entity_id: lead.json._embedded.leads[0].id, entity_type: 'leads' },
    });
    expect(r.status).toBe(400);
    expect(r.json.title).toBe('Only chats and mail');
  });

  it('summary counts entries by category and how they were sorted', async () => {
    const f = await w.api('POST', '/api/v4/leads/unsorted/forms', t, [form(), form({}, { form_id: 'b' })]);
    await w.api('POST', '/api/v4/leads/unsorted/sip', t, [sip('s1')]);
    w.clock.advance(60_000);
    await w.api('POST', `/api/v4/leads/unsorted/${f.json._embedded.unsorted[0].uid}/accept`, t);
    await w.api('DELETE', `/api/v4/leads/unsorted/${f.json._embedded.unsorted[1].uid}/decline`, t);
    const s = await w.api('GET', '/api/v4/leads/unsorted/summary', t);
    expect(s.status).toBe(200);
    expect(s.json).toEqual({
      total: 3,
      accepted: 1,
      declined: 1,
      average_sort_time: 60,
      categories: { sip: { total: 1 }, mail: { total: 0 }, forms: { total: 2 }, chats: { total: 0 } },
    });
    expect((await w.api('GET', '/api/v4/leads/unsorted/summary?filter[pipeline_id]=200', t)).json.total).toBe(0);
  });
});

describe('leads/complex: _embedded.metadata and _embedded.source (leads-api)', () => {
  it('metadata puts the lead in Unsorted whatever stage is named, with an entry of its category', async () => {
    const r = await w.api('POST', '/api/v4/leads/complex', t, [
      {
        name: 'Форма',
        status_id: 1002,
        pipeline_id: 100,
        _embedded: {
          metadata: { category: 'forms', form_id: 123, form_name: 'F', form_page: 'https://x.test', form_sent_at: 1768467600 },
          contacts: [{ first_name: 'Евгений' }],
        },
      },
    ]);
    expect(r.status).toBe(200);
    const [{ id, contact_id }] = r.json;
    expect((await w.api('GET', `/api/v4/leads/${id}`, t)).json.status_id).toBe(1000);
    const list = await w.api('GET', '/api/v4/leads/unsorted', t);
    expect(list.json._embedded.unsorted).toEqual([
      expect.objectContaining({
        category: 'forms',
        pipeline_id: 100,
        _embedded: expect.objectContaining({
          leads: [expect.objectContaining({ id })],
          contacts: [expect.objectContaining({ id: contact_id })],
        }),
      }),
    ]);
  });

  it('metadata with an existing contact by id: the contact stays listed, and decline keeps it', async () => {
    const c = await w.api('POST', '/api/v4/contacts', t, [{ name: 'Давний' }]);
    const cid = c.json._embedded.contacts[0].id;
    const r = await w.api('POST', '/api/v4/leads/complex', t, [
      {
        name: 'Повторная заявка',
        _embedded: {
          metadata: { category: 'forms', form_id: 'f', form_name: 'F', form_page: 'https://x.test', form_sent_at: 1 },
          contacts: [{ id: cid }],
        },
      },
    ]);
    expect(r.status).toBe(200);
    expect((await w.api('GET', '/api/v4/contacts', t)).json._embedded.contacts.map((x: { id: number }) => x.id)).toEqual([cid]);
    const [e] = (await w.api('GET', '/api/v4/leads/unsorted', t)).json._embedded.unsorted;
    expect(e._embedded.contacts[0].id).toBe(cid);
    expect((await w.api('DELETE', `/api/v4/leads/unsorted/${e.uid}/decline`, t)).status).toBe(200);
    expect((await w.api('GET', `/api/v4/contacts/${cid}`, t)).status).toBe(200);
    expect((await w.api('GET', `/api/v4/leads/${r.json[0].id}`, t)).status).toBe(204);
  });

  it('metadata category must be sip or forms; the metadata is checked like the Unsorted API', async () => {
    const r = await w.api('POST', '/api/v4/leads/complex', t, [
      { name: 'a', _embedded: { metadata: { category: 'chats' } } },
      { name: 'b', _embedded: { metadata: { category: 'sip', phone: '+7916' } } },
    ]);
    expect(r.status).toBe(400);
    expect(r.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotSupportedChoice', path: '_embedded.metadata.category' });
    expect(r.json['validation-errors'][1].errors).toContainEqual(
      expect.objectContaining({ code: 'NotBlank', path: '_embedded.metadata.uniq' }),
    );
  });

  it("source by external_id: the lead takes the source pipeline and source_id; another integration's or unknown → NotFound", async () => {
    const s = await w.api('POST', '/api/v4/sources', t, [{ name: 'Лендинг', external_id: 'landing-1', pipeline_id: 200 }]);
    expect(s.status).toBe(200);
    expect(s.json._embedded.sources[0]).toMatchObject({
      id: expect.any(Number),
      name: 'Лендинг',
      external_id: 'landing-1',
      pipeline_id: 200,
      default: false,
      request_id: '0',
    });
    expect(
      (await w.api('POST', '/api/v4/sources', t, [{ name: 'again', external_id: 'landing-1' }])).json['validation-errors'][0].errors[0]
        .code,
    ).toBe('NotUnique');
    const r = await w.api('POST', '/api/v4/leads/complex', t, [
      { name: 'by source', _embedded: { source: { external_id: 'landing-1', type: 'widget' } } },
    ]);
    expect(r.status).toBe(200);
    const lead = await w.api('GET', `/api/v4/leads/${r.json[0].id}?with=source_id`, t);
    expect(lead.json).toMatchObject({ pipeline_id: 200, status_id: 2001, source_id: s.json._embedded.sources[0].id });
    const bad = await w.api('POST', '/api/v4/leads/complex', t, [
      { name: 'x', _embedded: { source: { external_id: 'nope' } } },
      { name: 'y', _embedded: { source: { external_id: 'landing-1', type: 'form' } } },
    ]);
    expect(bad.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotFound', path: '_embedded.source.external_id' });
    expect(bad.json['validation-errors'][1].errors[0]).toMatchObject({ code: 'NotSupportedChoice', path: '_embedded.source.type' });
    expect((await w.api('GET', '/api/v4/sources?filter[external_id]=landing-1', t)).json._embedded.sources).toHaveLength(1);
  });

  it('plain POST /api/v4/leads takes _embedded.source the same way; _embedded.metadata there is refused, not silently dropped', async () => {
    const s = await w.api('POST', '/api/v4/sources', t, [{ name: 'Лендинг', external_id: 'landing-2', pipeline_id: 200 }]);
    const r = await w.api('POST', '/api/v4/leads', t, [{ name: 'by source', _embedded: { source: { external_id: 'landing-2' } } }]);
    expect(r.status).toBe(200);
    const lead = await w.api('GET', `/api/v4/leads/${r.json._embedded.leads[0].id}?with=source_id`, t);
    expect(lead.json).toMatchObject({ pipeline_id: 200, status_id: 2001, source_id: s.json._embedded.sources[0].id });
    const before = (await w.api('GET', '/api/v4/leads?limit=250', t)).json._embedded.leads.length;
    const bad = await w.api('POST', '/api/v4/leads', t, [
      { name: 'x', _embedded: { source: { external_id: 'nope' } } },
      { name: 'y', _embedded: { metadata: { category: 'forms', form_id: 'f', form_name: 'n', form_page: 'p', form_sent_at: 1 } } },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotFound', path: '_embedded.source.external_id' });
    expect(bad.json['validation-errors'][1].errors[0]).toMatchObject({ code: 'FieldNotExpected', path: '_embedded.metadata' });
    expect((await w.api('GET', '/api/v4/leads?limit=250', t)).json._embedded.leads).toHaveLength(before);
  });
});
