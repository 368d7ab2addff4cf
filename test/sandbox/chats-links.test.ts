/**
 * Conformance: `POST|GET /api/v4/contacts/chats` as strict as amo-docs contacts-api ("Привязка чатов
 * к контактам"): only chats of a channel whose settings name the calling integration, connected for
 * this account; a chat belongs to one contact (re-linking refused); admin users only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { amojoCaller, type AmojoCaller } from './amojo-client.ts';
import { INTEG, world, type World } from './support.ts';

const AMOJO_ACCOUNT = '52e591f7-c98f-4255-8495-827210138c81';
const OURS = { id: '344a5002-f8ca-454d-af3d-396180102ac7', secret: 'f2d7f8704eff95087ed45b23ba99c0b5aac8278e', account: AMOJO_ACCOUNT };
const THEIRS = { id: '9b0c2f7e-1111-4222-8333-444455556666', secret: 'another-channel-secret', account: AMOJO_ACCOUNT };
const OTHER_INTEG = { clientId: 'other-integration', clientSecret: 'other-secret', redirectUri: 'https://other.example/cb' };

let w: World;
let t: string;
let ours: AmojoCaller;
let theirs: AmojoCaller;
let a: number;
let b: number;
beforeEach(async () => {
  w = await world({
    limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 },
    account: { amojoId: AMOJO_ACCOUNT },
    integrations: [INTEG, OTHER_INTEG],
    amojo: {
      channels: [
        { id: OURS.id, secret: OURS.secret, title: 'Наш канал', webhookUrl: 'http://127.0.0.1:9/a/:scope_id', clientId: INTEG.clientId },
        {
          id: THEIRS.id,
          secret: THEIRS.secret,
          title: 'Чужой канал',
          webhookUrl: 'http://127.0.0.1:9/b/:scope_id',
          clientId: OTHER_INTEG.clientId,
        },
      ],
    },
  });
  t = (await w.login()).access_token;
  ours = amojoCaller(w, OURS);
  theirs = amojoCaller(w, THEIRS);
  await ours.connect();
  await theirs.connect();
  [a, b] = (await w.api('POST', '/api/v4/contacts', t, [{ name: 'A' }, { name: 'B' }])).json._embedded.contacts.map(
    (c: { id: number }) => c.id,
  );
});
afterEach(async () => {
  await w.sb.close();
});

describe('contacts/chats: link (contacts-api)', () => {
  it("links chats of the integration's own channel; the documented answer; GET by contact_id and chat_id", async () => {
    const c1 = await ours.createChat('conv-1');
    const c2 = await ours.createChat('conv-2');
    const r = await w.api('POST', '/api/v4/contacts/chats', t, [
      { contact_id: a, chat_id: c1 },
      { contact_id: a, chat_id: c2, request_id: 'x' },
    ]);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/hal+json');
    expect(r.json).toEqual({
      _total_items: 2,
      _embedded: {
        chats: [
          { chat_id: c1, contact_id: a, id: expect.any(Number), request_id: '0' },
          { chat_id: c2, contact_id: a, id: expect.any(Number), request_id: 'x' },
        ],
      },
    });
    const byContact = await w.api('GET', `/api/v4/contacts/chats?contact_id=${a}`, t);
    expect(byContact.json._embedded.chats.map((c: { chat_id: string }) => c.chat_id)).toEqual([c1, c2]);
    expect((await w.api('GET', `/api/v4/contacts/chats?chat_id=${c1}`, t)).json).toEqual({
      _total_items: 1,
      _embedded: { chats: [{ chat_id: c1, contact_id: a, id: r.json._embedded.chats[0].id }] },
    });
    // The same pair again answers the same link.
    const again = await w.api('POST', '/api/v4/contacts/chats', t, [{ contact_id: a, chat_id: c1 }]);
    expect(again.json._embedded.chats[0].id).toBe(r.json._embedded.chats[0].id);
  });

  it('re-linking a chat to another contact is refused, not moved (NotUnique on chat_id), also within one batch', async () => {
    const c1 = await ours.createChat('conv-1');
    expect((await w.api('POST', '/api/v4/contacts/chats', t, [{ contact_id: a, chat_id: c1 }])).status).toBe(200);
    const moved = await w.api('POST', '/api/v4/contacts/chats', t, [{ contact_id: b, chat_id: c1 }]);
    expect(moved.status).toBe(400);
    expect(moved.headers.get('content-type')).toContain('application/problem+json');
    expect(moved.json['validation-errors']).toEqual([
      { request_id: '0', errors: [{ code: 'NotUnique', path: 'chat_id', detail: 'The chat is already linked to another contact.' }] },
    ]);
    expect((await w.api('GET', `/api/v4/contacts/chats?chat_id=${c1}`, t)).json._embedded.chats[0].contact_id).toBe(a);

    const c2 = await ours.createChat('conv-2');
    const both = await w.api('POST', '/api/v4/contacts/chats', t, [
      { contact_id: a, chat_id: c2 },
      { contact_id: b, chat_id: c2 },
    ]);
    expect(both.status).toBe(400);
    expect(both.json['validation-errors']).toEqual([
      { request_id: '1', errors: [expect.objectContaining({ code: 'NotUnique', path: 'chat_id' })] },
    ]);
    expect((await w.api('GET', `/api/v4/contacts/chats?chat_id=${c2}`, t)).status).toBe(204); // nothing written
  });

  it("an Unsorted chat (linked to its entry's contact) cannot be linked elsewhere", async () => {
    const chat = await ours.clientWrites('conv-u', 'Здравствуйте');
    const r = await w.api('POST', '/api/v4/contacts/chats', t, [{ contact_id: a, chat_id: chat }]);
    expect(r.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotUnique', path: 'chat_id' });
  });

  it("refuses chats the integration may not see: unknown, another integration's channel, a disconnected channel", async () => {
    const foreign = await theirs.createChat('conv-f');
    const mine = await ours.createChat('conv-m');
    const r = await w.api('POST', '/api/v4/contacts/chats', t, [
      { contact_id: a, chat_id: '6cbab3d5-c4c1-46ff-b710-ad59ad10805f' },
      { contact_id: a, chat_id: foreign },
      { contact_id: 1, chat_id: mine },
      { contact_id: a, chat_id: '' },
    ]);
    expect(r.status).toBe(400);
    expect(r.json['validation-errors']).toEqual([
      { request_id: '0', errors: [{ code: 'NotFound', path: 'chat_id', detail: 'Entity not found.' }] },
      { request_id: '1', errors: [{ code: 'NotFound', path: 'chat_id', detail: 'Entity not found.' }] },
      { request_id: '2', errors: [{ code: 'NotFound', path: 'contact_id', detail: 'Entity not found.' }] },
      { request_id: '3', errors: [expect.objectContaining({ code: 'NotBlank', path: 'chat_id' })] },
    ]);

    // The other integration may link its own chat, and each sees only its own channel's links.
    const other = (await w.login(OTHER_INTEG.clientId)).access_token;
    expect((await w.api('POST', '/api/v4/contacts/chats', other, [{ contact_id: b, chat_id: foreign }])).status).toBe(200);
    expect((await w.api('GET', `/api/v4/contacts/chats?contact_id=${b}`, t)).status).toBe(204);
    expect((await w.api('GET', `/api/v4/contacts/chats?contact_id=${b}`, other)).json._embedded.chats).toEqual([
      expect.objectContaining({ chat_id: foreign }),
    ]);

    expect((await ours.call('DELETE', `/v2/origin/custom/${OURS.id}/disconnect`, { account_id: AMOJO_ACCOUNT })).status).toBe(200);
    const gone = await w.api('POST', '/api/v4/contacts/chats', t, [{ contact_id: a, chat_id: mine }]);
    expect(gone.json['validation-errors'][0].errors[0]).toMatchObject({ code: 'NotFound', path: 'chat_id' });
  });

  it('GET needs contact_id or chat_id (400); a non-numeric contact_id → 400; nothing → 204', async () => {
    expect((await w.api('GET', '/api/v4/contacts/chats', t)).status).toBe(400);
    expect((await w.api('GET', '/api/v4/contacts/chats?contact_id=abc', t)).status).toBe(400);
    expect((await w.api('GET', `/api/v4/contacts/chats?contact_id=${a}`, t)).status).toBe(204);
  });

  it('admin users only: a token of a non-admin user → 403', async () => {
    w.sb.admin.seed({ users: [{ id: 21, name: 'Менеджер', is_admin: false }] });
    const tok = w.sb.admin.issueLongLivedToken({ clientId: INTEG.clientId }).access_token;
    expect((await w.api('GET', `/api/v4/contacts/chats?contact_id=${a}`, tok)).status).toBe(403);
  });
});
