/**
 * Typed resources against the sandbox: custom fields of every type written, read back and
 * cleared; pagination; complex adds; tasks, notes, tags, lists, webhooks, chat links, entity links; coalesced
 * updates as one PATCH; the cache (dictionaries without requests, entities revalidated).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import { cf, encodeFieldValue, readField, type FieldDefinition, type FieldInput } from '../../lib/amocrm/client/custom-fields.ts';
import type { ClientEvent } from '../../lib/amocrm/client/types.ts';
import { collect } from '../../lib/amocrm/client/pagination.ts';
import { signRequest } from '../../lib/amojo/signing.ts';
import { ACCOUNT, CLIENT_ID, fastClient, requestsOf, sandbox, type TestSandbox } from './support.ts';

/** amoCRM links only chats of a channel naming this integration (contacts-api): the sandbox gets one. */
const CHANNEL = { id: '344a5002-f8ca-454d-af3d-396180102ac7', secret: 'channel-secret-test' };
const AMOJO_ACCOUNT = '52e591f7-c98f-4255-8495-827210138c81';

/** A real amojo chat for the chat-link calls: connect the channel, create a chat, return its id. */
async function amojoChat(url: string, conversationId: string): Promise<string> {
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const text = JSON.stringify(body);
    const r = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { ...signRequest(CHANNEL.secret, { method: 'POST', path, date: Date.now(), body: text }) },
      body: text,
    });
    if (r.status !== 200) throw new Error(`amojo ${path}: ${r.status}`);
    return (await r.json()) as Record<string, unknown>;
  };
  await post(`/v2/origin/custom/${CHANNEL.id}/connect`, { account_id: AMOJO_ACCOUNT, hook_api_version: 'v2' });
  const chat = await post(`/v2/origin/custom/${CHANNEL.id}_${AMOJO_ACCOUNT}/chats`, {
    conversation_id: conversationId,
    user: { id: 'client-1', name: 'Клиент' },
  });
  return chat.id as string;
}

const FIELD_TYPES: Array<{ name: string; type: string; enums?: string[] }> = [
  { name: 'Комментарий', type: 'text' },
  { name: 'Сумма', type: 'numeric' },
  { name: 'Согласие', type: 'checkbox' },
  { name: 'Дата визита', type: 'date' },
  { name: 'Время визита', type: 'date_time' },
  { name: 'День рождения', type: 'birthday' },
  { name: 'Источник', type: 'select', enums: ['Сайт', 'Звонок', 'Реклама'] },
  { name: 'Канал', type: 'radiobutton', enums: ['Email', 'SMS'] },
  { name: 'Услуги', type: 'multiselect', enums: ['МРТ', 'КТ', 'УЗИ'] },
  { name: 'Ссылка', type: 'url' },
  { name: 'Заметки', type: 'textarea' },
];

describe('resources against the sandbox', () => {
  let sb: TestSandbox;
  let acc: AmoClientForAccount;
  let events: ClientEvent[];
  let defs: FieldDefinition[];
  let pipeline: { id: number; statuses: Array<{ id: number; name: string }> };

  beforeAll(async () => {
    sb = await sandbox({
      fast: true,
      account: { amojoId: AMOJO_ACCOUNT },
      amojo: { channels: [{ ...CHANNEL, webhookUrl: 'http://127.0.0.1:9/chat/amojo/:scope_id', clientId: CLIENT_ID }] },
    });
    const seeded = sb.admin.seed({
      customFields: { leads: FIELD_TYPES.map((f) => ({ name: f.name, type: f.type, ...(f.enums ? { enums: f.enums } : {}) })) },
      pipelines: [{ name: 'Воронка', is_main: true, statuses: [{ name: 'Новая' }, { name: 'В работе' }] }],
      tags: { leads: ['VIP'] },
      catalogs: [{ name: 'Товары', type: 'products', fields: [{ name: 'Артикул', type: 'text' }] }],
    });
    defs = (seeded.customFields.leads ?? []).map((d) => ({ id: d.id, name: d.name, type: d.type, code: d.code, enums: d.enums }));
    pipeline = seeded.pipelines[0]!;
    const c = fastClient(sb);
    acc = c.client.forAccount(ACCOUNT);
    events = c.events;
  });
  afterAll(async () => {
    await sb.close();
  });

  const def = (name: string) => defs.find((d) => d.name === name)!;

  it('every custom field type: write, read back, clear', async () => {
    const inputs: Record<string, FieldInput> = {
      Комментарий: 'Перезвонить после 18:00',
      Сумма: 12_500.5,
      Согласие: true,
      'Дата визита': new Date('2025-03-01T00:00:00Z'),
      'Время визита': new Date('2025-03-01T09:30:00Z'),
      'День рождения': new Date('1990-07-15T00:00:00Z'),
      Источник: 'Звонок',
      Канал: { enumId: def('Канал').enums![1]!.id },
      Услуги: ['МРТ', 'УЗИ'],
      Ссылка: 'https://example.ru/a?b=%2B1',
      Заметки: 'строка 1\nстрока 2 ₽',
    };
    const [added] = await acc.leads.add([
      { name: 'CF round trip', custom_fields_values: FIELD_TYPES.map((f) => encodeFieldValue(def(f.name), inputs[f.name]!)) },
    ]);
    const lead = await acc.leads.get(added!.id, { cache: false });
    expect(lead).toBeDefined();
    const back = (n: string) => readField(lead!, def(n).id);
    expect(back('Комментарий')).toBe('Перезвонить после 18:00');
    expect(back('Сумма')).toBe(12_500.5);
    expect(back('Согласие')).toBe(true);
    expect(back('Дата визита')).toEqual(new Date('2025-03-01T00:00:00Z'));
    expect(back('Время визита')).toEqual(new Date('2025-03-01T09:30:00Z'));
    expect(back('День рождения')).toEqual(new Date('1990-07-15T00:00:00Z'));
    expect(back('Источник')).toMatchObject({ label: 'Звонок', enumId: def('Источник').enums![1]!.id });
    expect(back('Канал')).toMatchObject({ label: 'SMS' });
    expect((back('Услуги') as Array<{ label: string }>).map((x) => x.label)).toEqual(['МРТ', 'УЗИ']);
    expect(back('Ссылка')).toBe('https://example.ru/a?b=%2B1');
    expect(back('Заметки')).toBe('строка 1\nстрока 2 ₽');

    // Change one, clear the others (values: null), in one PATCH.
    await acc.leads.updateOne(added!.id, {
      custom_fields_values: [
        encodeFieldValue(def('Сумма'), 99),
        ...FIELD_TYPES.filter((f) => f.name !== 'Сумма').map((f) => encodeFieldValue(def(f.name), null)),
      ],
    });
    const cleared = await acc.leads.get(added!.id, { cache: false });
    expect(readField(cleared!, def('Сумма').id)).toBe(99);
    for (const f of FIELD_TYPES.filter((x) => x.name !== 'Сумма')) expect(readField(cleared!, def(f.name).id)).toBeUndefined();
    await acc.leads.updateOne(added!.id, { custom_fields_values: [cf.clear(def('Сумма').id)] });
    expect((await acc.leads.get(added!.id, { cache: false }))?.custom_fields_values).toBeNull();
  });

  it('phone and email (multitext with enum codes) on contacts: write, read, clear', async () => {
    const [c] = await acc.contacts.add([
      {
        name: 'Иван',
        custom_fields_values: [cf.phone([{ value: '+79161234567', kind: 'MOB' }, '+74951234567']), cf.email(['ivan@example.ru'])],
      },
    ]);
    const got = await acc.contacts.get(c!.id, { cache: false });
    expect(readField(got!, { code: 'PHONE' })).toEqual([
      expect.objectContaining({ value: '+79161234567', enumCode: 'MOB' }),
      expect.objectContaining({ value: '+74951234567', enumCode: 'WORK' }),
    ]);
    expect(readField(got!, { code: 'EMAIL' })).toEqual([expect.objectContaining({ value: 'ivan@example.ru', enumCode: 'WORK' })]);
    const found = await collect(acc.contacts.search('89161234567'));
    expect(found.map((x) => x.id)).toContain(c!.id);
    await acc.contacts.updateOne(c!.id, { custom_fields_values: [cf.clear({ code: 'PHONE' })] });
    const after = await acc.contacts.get(c!.id, { cache: false });
    expect(readField(after!, { code: 'PHONE' })).toBeUndefined();
    expect(readField(after!, { code: 'EMAIL' })).toHaveLength(1);
  });

  it('adds ≤ 50 per request and pages lists as an async iterator (204 ends it)', async () => {
    const before = sb.admin.count({ method: 'POST', route: '/api/v4/leads' });
    const added = await acc.leads.add(Array.from({ length: 120 }, (_, i) => ({ name: `Bulk ${i}`, price: i })));
    expect(added).toHaveLength(120);
    expect(new Set(added.map((a) => a.id)).size).toBe(120);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/leads' }) - before).toBe(3);
    const listed = await collect(acc.leads.list({ query: 'Bulk', limit: 50 }));
    expect(listed).toHaveLength(120);
    expect(listed.map((l) => l.name)).toContain('Bulk 119');
  });

  it('coalesces 40 updates of 30 leads into one PATCH, later wins', async () => {
    const ids = (await acc.leads.add(Array.from({ length: 30 }, (_, i) => ({ name: `Co ${i}` })))).map((a) => a.id);
    const patches = [
      ...ids.map((id) => ({ id, price: 1, custom_fields_values: [cf.text(def('Комментарий').id, 'first')] })),
      ...ids.slice(0, 10).map((id) => ({ id, price: 2 })),
    ];
    const before = sb.admin.count({ method: 'PATCH', route: '/api/v4/leads' });
    const out = await acc.leads.update(patches);
    expect(out).toHaveLength(30);
    expect(sb.admin.count({ method: 'PATCH', route: '/api/v4/leads' }) - before).toBe(1);
    const l0 = await acc.leads.get(ids[0]!, { cache: false });
    const l20 = await acc.leads.get(ids[20]!, { cache: false });
    expect([l0?.price, l20?.price]).toEqual([2, 1]);
    expect(readField(l0!, def('Комментарий').id)).toBe('first');
  });

  it('complex add: lead + new contact + company in one request', async () => {
    const [r] = await acc.leads.addComplex([
      {
        name: 'Комплекс',
        pipeline_id: pipeline.id,
        _embedded: {
          contacts: [{ name: 'Пётр', custom_fields_values: [cf.phone(['+79990001122'])] }],
          companies: [{ name: 'ООО Ромашка' }],
        },
      },
    ]);
    expect(r).toMatchObject({ merged: false });
    expect(r!.contact_id).toBeGreaterThan(0);
    expect(r!.company_id).toBeGreaterThan(0);
    const lead = await acc.leads.get(r!.id, { with: ['contacts'], cache: false });
    expect(lead?._embedded?.contacts?.[0]?.id).toBe(r!.contact_id);
  });

  it('tasks, notes, tags, lists and elements, webhooks, chat links', async () => {
    const [lead] = await acc.leads.add([{ name: 'Для задач' }]);
    const till = Math.floor(Date.now() / 1000) + 3600;
    const [task] = await acc.tasks.add([
      { text: 'Позвонить', complete_till: till, entity_type: 'leads', entity_id: lead!.id, task_type_id: 1 },
    ]);
    await acc.tasks.complete(task!.id, 'Дозвонились');
    expect(await acc.tasks.get(task!.id)).toMatchObject({ is_completed: true, result: { text: 'Дозвонились' } });
    expect((await collect(acc.tasks.list({ filter: { entity_type: 'leads', entity_id: [lead!.id] } }))).map((t) => t.id)).toEqual([
      task!.id,
    ]);

    const [note] = await acc.notes('leads').add([{ entity_id: lead!.id, note_type: 'common', params: { text: 'Заметка' } }]);
    expect((await acc.notes('leads').get(lead!.id, note!.id))?.params?.text).toBe('Заметка');

    const [tag] = await acc.tags('leads').add([{ name: 'Горячий' }]);
    expect((await collect(acc.tags('leads').list())).map((t) => t.name)).toEqual(expect.arrayContaining(['VIP', 'Горячий']));
    await acc.leads.updateOne(lead!.id, { tags_to_add: [{ id: tag!.id }] });
    expect((await acc.leads.get(lead!.id, { cache: false }))?._embedded?.tags?.map((t) => t.name)).toEqual(['Горячий']);

    const catalog = (await collect(acc.catalogs.list()))[0]!;
    const fields = await acc.customFields(`catalogs/${catalog.id}`).list();
    const [el] = await acc.catalogs.elements(catalog.id).add([{ name: 'Кабель', custom_fields_values: [cf.text(fields[0]!.id, 'A-1')] }]);
    expect(readField((await acc.catalogs.elements(catalog.id).get(el!.id))!, fields[0]!.id)).toBe('A-1');

    const hook = await acc.webhooks.subscribe('https://gw.example/hooks/amocrm/tok', ['status_lead', 'add_lead']);
    expect(hook.settings).toEqual(['status_lead', 'add_lead']);
    expect((await acc.webhooks.subscribe('https://gw.example/hooks/amocrm/tok', ['status_lead'])).id).toBe(hook.id);
    expect(await acc.webhooks.list('https://gw.example/hooks/amocrm/tok')).toHaveLength(1);
    expect(await acc.webhooks.unsubscribe('https://gw.example/hooks/amocrm/tok')).toBe(true);
    expect(await acc.webhooks.unsubscribe('https://gw.example/hooks/amocrm/tok')).toBe(false);
    expect(await acc.webhooks.list()).toEqual([]);

    const [contact] = await acc.contacts.add([{ name: 'Чат' }]);
    const chatId = await amojoChat(sb.url, 'conv-1');
    const linked = await acc.chats.link([{ chat_id: chatId, contact_id: contact!.id }]);
    expect(linked[0]).toMatchObject({ chat_id: chatId, contact_id: contact!.id });
    expect(await acc.chats.list({ contactIds: [contact!.id] })).toHaveLength(1);
    expect(await acc.chats.list({ chatIds: ['nope'] })).toEqual([]);
  });

  it('entity links: a contact and an element linked to a lead, read back, unlinked; a PATCH with _embedded.contacts is refused', async () => {
    const [lead] = await acc.leads.add([{ name: 'Для связей' }]);
    const [contact] = await acc.contacts.add([{ name: 'Связь' }]);
    const catalog = (await collect(acc.catalogs.list()))[0]!;
    const [el] = await acc.catalogs.elements(catalog.id).add([{ name: 'Товар для связи' }]);
    const links = acc.links('leads');
    const made = await links.link(lead!.id, [
      { to_entity_id: contact!.id, to_entity_type: 'contacts', metadata: { is_main: true } },
      { to_entity_id: el!.id, to_entity_type: 'catalog_elements', metadata: { catalog_id: catalog.id, quantity: 2 } },
    ]);
    expect(made.map((l) => l.to_entity_type)).toEqual(['contacts', 'catalog_elements']);
    expect(await links.list(lead!.id, { to: { id: contact!.id, type: 'contacts' } })).toEqual([
      { to_entity_id: contact!.id, to_entity_type: 'contacts', metadata: { main_contact: true } },
    ]);
    expect((await links.listMany([lead!.id])).map((l) => l.entity_id)).toEqual([lead!.id, lead!.id]);
    expect((await acc.leads.get(lead!.id, { with: ['contacts'], cache: false }))?._embedded?.contacts?.map((c) => c.id)).toEqual([
      contact!.id,
    ]);
    await links.unlink(lead!.id, [{ to_entity_id: contact!.id, to_entity_type: 'contacts' }]);
    await links.unlinkMany([
      { entity_id: lead!.id, to_entity_id: el!.id, to_entity_type: 'catalog_elements', metadata: { catalog_id: catalog.id } },
    ]);
    expect(await links.list(lead!.id)).toEqual([]);
    // The kinder sandbox used to answer 200 and link nothing; amoCRM takes only tags in _embedded on edit.
    await expect(acc.leads.updateOne(lead!.id, { _embedded: { contacts: [{ id: contact!.id }] } })).rejects.toMatchObject({
      validationErrors: [
        expect.objectContaining({ errors: [expect.objectContaining({ code: 'FieldNotExpected', path: '_embedded.contacts' })] }),
      ],
    });
  });

  it('dictionaries are served from cache within their TTL (no request); users, pipelines, fields, task types', async () => {
    const count = () => requestsOf(events).length;
    const p1 = await acc.pipelines.list();
    expect(p1.find((p) => p.id === pipeline.id)?._embedded.statuses.map((s) => s.name)).toEqual(
      expect.arrayContaining(['Новая', 'В работе']),
    );
    await acc.customFields('leads').list();
    await acc.users.list();
    await acc.account.taskTypes();
    const n = count();
    await acc.pipelines.list();
    await acc.customFields('leads').list();
    await acc.users.list();
    expect(await acc.account.taskTypes()).toEqual(expect.arrayContaining([expect.objectContaining({ id: 1 })]));
    expect(count()).toBe(n);
  });

  it('a dictionary missed by several callers at once is read once: they share the one read in flight', async () => {
    // Cold batches of one container (Lambda's concurrent batches, the local --concurrency) each
    // read the field definitions side by side before: one more read per batch.
    const cold = fastClient(sb).client.forAccount(ACCOUNT);
    const reads = () => sb.admin.count({ method: 'GET', route: '/api/v4/users' });
    const before = reads();
    const lists = await Promise.all(Array.from({ length: 5 }, () => cold.users.list()));
    expect(reads() - before).toBe(1);
    expect(new Set(lists.map((l) => l.length)).size).toBe(1);
    await cold.users.list({ refresh: true });
    expect(reads() - before).toBe(2);
  });
});

describe('entity cache with If-Modified-Since revalidation', () => {
  it('fresh → no request; stale and unchanged → one revalidation (204); changed → the new version; writes drop it', async () => {
    const sb = await sandbox({ fast: true });
    try {
      let now = Date.now();
      const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
      const { client, events } = fastClient(sb, { clock, cachePolicy: { entityTtlMs: 30_000 } });
      const acc = client.forAccount(ACCOUNT);
      const [lead] = await acc.leads.add([{ name: 'Cached' }]);
      const reqs = () => requestsOf(events).map((r) => `${r.method} ${r.route}`);
      const n0 = reqs().length;
      await acc.leads.get(lead!.id);
      await acc.leads.get(lead!.id);
      expect(reqs().slice(n0)).toEqual([`GET /api/v4/leads/${lead!.id}`]);
      now += 31_000; // stale
      expect((await acc.leads.get(lead!.id))?.name).toBe('Cached');
      expect(reqs().slice(n0 + 1)).toEqual(['GET /api/v4/leads']);
      expect(events.some((e) => e.type === 'cache' && e.kind === 'revalidated')).toBe(true);
      // Someone else changes it (a second later, so updated_at moves past the cached one).
      now += 31_000;
      await new Promise((r) => setTimeout(r, 1_100));
      const other = fastClient(sb).client.forAccount(ACCOUNT);
      await other.leads.updateOne(lead!.id, { name: 'Changed' });
      expect((await acc.leads.get(lead!.id))?.name).toBe('Changed');
      // Our own write drops our copy at once.
      await acc.leads.updateOne(lead!.id, { name: 'Mine' });
      expect((await acc.leads.get(lead!.id))?.name).toBe('Mine');
    } finally {
      await sb.close();
    }
  });
});
