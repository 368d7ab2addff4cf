/**
 * Conformance: a client writing through the channel (an incoming amojo `new_message`) on a chat no
 * contact is linked to files an Unsorted "chats" entry with a new contact and lead (amo-docs
 * unsorted-api), and `GET /api/v4/contacts/chats` answers that contact (contacts-api).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { amojoCaller, type AmojoCaller } from './amojo-client.ts';
import { INTEG, seedBasic, world, type World } from './support.ts';

const CHANNEL = '344a5002-f8ca-454d-af3d-396180102ac7';
const SECRET = 'f2d7f8704eff95087ed45b23ba99c0b5aac8278e';
const AMOJO_ACCOUNT = '52e591f7-c98f-4255-8495-827210138c81';
const SCOPE = `${CHANNEL}_${AMOJO_ACCOUNT}`;

let w: World;
let t: string;
let am: AmojoCaller;
beforeEach(async () => {
  w = await world({
    limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 },
    account: { amojoId: AMOJO_ACCOUNT },
    amojo: {
      channels: [
        {
          id: CHANNEL,
          secret: SECRET,
          title: 'Telegram-канал',
          webhookUrl: 'http://127.0.0.1:9/chat/amojo/:scope_id',
          clientId: INTEG.clientId,
        },
      ],
    },
  });
  seedBasic(w.sb);
  t = (await w.login()).access_token;
  am = amojoCaller(w, { id: CHANNEL, secret: SECRET, account: AMOJO_ACCOUNT });
  await am.connect();
});
afterEach(async () => {
  await w.sb.close();
});

const amojo = (method: string, path: string, body: unknown) => am.call(method, path, body);

interface ClientUser {
  id: string;
  name: string;
  profile?: { phone?: string };
}
const clientWrites = (
  conversation: string,
  text: string,
  user: ClientUser = { id: 'tg-user-1', name: 'Вася Клиент', profile: { phone: '+79151112233' } },
): Promise<string> => am.clientWrites(conversation, text, user);

describe('incoming chats → Unsorted (unsorted-api, contacts-api)', () => {
  it('the first client message on an unknown chat files a chats entry with a new contact and lead', async () => {
    const chatId = await clientWrites('conv-1', 'Здравствуйте, сколько стоит?');
    const list = await w.api('GET', '/api/v4/leads/unsorted?filter[category][]=chats', t);
    expect(list.status).toBe(200);
    const [e] = list.json._embedded.unsorted;
    expect(e).toMatchObject({
      category: 'chats',
      pipeline_id: 100,
      source_uid: null,
      source_name: 'Telegram-канал',
      metadata: {
        from: 'Вася Клиент',
        client: { name: 'Вася Клиент' },
        origin: { chat_id: chatId },
        last_message_text: 'Здравствуйте, сколько стоит?',
      },
    });
    const contactId = e._embedded.contacts[0].id;
    const leadId = e._embedded.leads[0].id;
    expect((await w.api('GET', `/api/v4/leads/${leadId}`, t)).json).toMatchObject({ status_id: 1000, pipeline_id: 100 });
    const contact = await w.api('GET', `/api/v4/contacts/${contactId}`, t);
    expect(contact.json).toMatchObject({ name: 'Вася Клиент', is_unsorted: true });
    expect(contact.json.custom_fields_values[0]).toMatchObject({
      field_code: 'PHONE',
      values: [{ value: '+79151112233', enum_code: 'MOB' }],
    });

    // «Если чат относится к неразобранному, метод вернет id контакта в этом неразобранном».
    const byChat = await w.api('GET', `/api/v4/contacts/chats?chat_id=${chatId}`, t);
    expect(byChat.status).toBe(200);
    expect(byChat.json._embedded.chats).toEqual([{ chat_id: chatId, contact_id: contactId, id: expect.any(Number) }]);

    // More messages in the same chat file nothing new.
    await clientWrites('conv-1', 'Алло?');
    const after = (await w.api('GET', '/api/v4/leads/unsorted', t)).json._embedded.unsorted;
    expect(after).toHaveLength(1);
    expect(after[0].metadata.last_message_text).toBe('Алло?');
  });

  it('outgoing messages file nothing; a chat linked to a contact files nothing', async () => {
    const now = w.clock.now();
    const out = await amojo('POST', `/v2/origin/custom/${SCOPE}`, {
      event_type: 'new_message',
      payload: {
        timestamp: Math.floor(now / 1000),
        msec_timestamp: now,
        msgid: 'out-1',
        conversation_id: 'conv-out',
        sender: { id: 'bot', ref_id: '0c7b4d0c-0000-4000-8000-000000000001', name: 'Бот' },
        receiver: { id: 'tg-user-2', name: 'Петя' },
        message: { type: 'text', text: 'Добрый день' },
      },
    });
    expect(out.status).toBe(200);
    expect((await w.api('GET', '/api/v4/leads/unsorted', t)).status).toBe(204);

    const contact = await w.api('POST', '/api/v4/contacts', t, [{ name: 'Петя' }]);
    const chatId = (out.json.new_message as { conversation_id: string }).conversation_id;
    expect(
      (await w.api('POST', '/api/v4/contacts/chats', t, [{ chat_id: chatId, contact_id: contact.json._embedded.contacts[0].id }])).status,
    ).toBe(200);
    await clientWrites('conv-out', 'Спасибо', { id: 'tg-user-2', name: 'Петя', profile: { phone: '+79150000000' } });
    expect((await w.api('GET', '/api/v4/leads/unsorted', t)).status).toBe(204);
  });

  it('accept keeps the chat on the now visible contact; decline drops the link and the next message files again', async () => {
    const chatA = await clientWrites('conv-a', 'A');
    const chatB = await clientWrites('conv-b', 'B', { id: 'tg-user-b', name: 'Бэ', profile: { phone: '+79150000001' } });
    const list = (await w.api('GET', '/api/v4/leads/unsorted', t)).json._embedded.unsorted as Array<{
      uid: string;
      metadata: { origin: { chat_id: string } };
      _embedded: { contacts: Array<{ id: number }> };
    }>;
    const a = list.find((u) => u.metadata.origin.chat_id === chatA)!;
    const b = list.find((u) => u.metadata.origin.chat_id === chatB)!;
    expect((await w.api('POST', `/api/v4/leads/unsorted/${a.uid}/accept`, t)).status).toBe(200);
    expect((await w.api('GET', '/api/v4/contacts', t)).json._embedded.contacts.map((c: { id: number }) => c.id)).toEqual([
      a._embedded.contacts[0]!.id,
    ]);
    expect((await w.api('GET', `/api/v4/contacts/chats?chat_id=${chatA}`, t)).json._embedded.chats[0].contact_id).toBe(
      a._embedded.contacts[0]!.id,
    );

    expect((await w.api('DELETE', `/api/v4/leads/unsorted/${b.uid}/decline`, t)).status).toBe(200);
    expect((await w.api('GET', `/api/v4/contacts/chats?chat_id=${chatB}`, t)).status).toBe(204);
    await clientWrites('conv-b', 'B again', { id: 'tg-user-b', name: 'Бэ' });
    const again = await w.api('GET', '/api/v4/leads/unsorted', t);
    expect(again.json._embedded.unsorted).toHaveLength(1);
    expect(again.json._embedded.unsorted[0].uid).not.toBe(b.uid);
  });

  it('link: the chat joins an existing lead and the contact named in metadata; the entry lead is dropped', async () => {
    const chatId = await clientWrites('conv-l', 'Я уже ваш клиент');
    const [e] = (await w.api('GET', '/api/v4/leads/unsorted', t)).json._embedded.unsorted;
    const known = await w.api('POST', '/api/v4/contacts', t, [{ name: 'Давний клиент' }]);
    const knownId = known.json._embedded.contacts[0].id;
    const lead = await w.api('POST', '/api/v4/leads', t, [{ name: 'Открытая сделка', _embedded: { contacts: [{ id: knownId }] } }]);
    const leadId = lead.json._embedded.leads[0].id;
    const bad = await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/link`, t, { link: { entity_id: leadId, entity_type: 'customers' } });
    expect(bad.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotSupportedChoice', path: 'link.entity_type' });
    const r = await w.api('POST', `/api/v4/leads/unsorted/${e.uid}/link`, t, {
      link: { entity_id: leadId, entity_type: 'leads', metadata: { contact_id: knownId } },
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      uid: e.uid,
      _embedded: { leads: [{ id: leadId, _links: { self: { href: `${w.sb.url}/api/v4/leads/${leadId}` } } }] },
    });
    expect((await w.api('GET', `/api/v4/leads/${e._embedded.leads[0].id}`, t)).status).toBe(204);
    expect((await w.api('GET', `/api/v4/contacts/chats?chat_id=${chatId}`, t)).json._embedded.chats[0].contact_id).toBe(knownId);
    expect((await w.api('GET', '/api/v4/leads/unsorted', t)).status).toBe(204);
    expect((await w.api('GET', '/api/v4/leads/unsorted/summary', t)).json).toMatchObject({
      total: 1,
      accepted: 1,
      categories: { chats: { total: 1 } },
    });
  });

  it('a chat created with a source external_id files into the source pipeline', async () => {
    w.sb.admin.seed({
      pipelines: [
        {
          id: 100,
          name: 'Main',
          is_main: true,
          statuses: [
            { id: 1000, name: 'Unsorted', type: 1 },
            { id: 1001, name: 'New' },
          ],
        },
        {
          id: 300,
          name: 'Telegram',
          statuses: [
            { id: 3000, name: 'Unsorted', type: 1 },
            { id: 3001, name: 'New' },
          ],
        },
      ],
    });
    expect((await w.api('POST', '/api/v4/sources', t, [{ name: 'TG bot', external_id: 'tg-bot-1', pipeline_id: 300 }])).status).toBe(200);
    const r = await amojo('POST', `/v2/origin/custom/${SCOPE}/chats`, {
      conversation_id: 'conv-src',
      source: { external_id: 'tg-bot-1' },
      user: { id: 'tg-user-s', name: 'Сэ' },
    });
    expect(r.status).toBe(200);
    await clientWrites('conv-src', 'hi', { id: 'tg-user-s', name: 'Сэ' });
    const [e] = (await w.api('GET', '/api/v4/leads/unsorted', t)).json._embedded.unsorted;
    expect(e).toMatchObject({ pipeline_id: 300, source_name: 'TG bot' });
    expect((await w.api('GET', `/api/v4/leads/${e._embedded.leads[0].id}`, t)).json.status_id).toBe(3000);
  });
});
