/**
 * AmojoClient and AmojoChannel against the sandbox's amojo over real sockets: every request is
 * checked there by the same signature rules amojo applies (Content-MD5 over the exact bytes, the
 * 15-minute Date window, HMAC-SHA1), and the scope store is the DynamoDB adapter on a real table.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AmojoChannel,
  AmojoClient,
  AmojoClockSkewError,
  AmojoDuplicateMessageError,
  AmojoNotConnectedError,
  AmojoNotFoundError,
  AmojoServerError,
  AmojoSignatureError,
  AmojoValidationError,
  type ChatMessage,
} from '../../lib/amojo/index.ts';
import { outcomeFromError } from '../../lib/pipeline/outcome.ts';
import { DynamoScopeStore } from '../../lib/store/amojo-scopes.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { world, type World } from '../sandbox/support.ts';

const CHANNEL = { id: '344a5002-f8ca-454d-af3d-396180102ac7', secret: 'f2d7f8704eff95087ed45b23ba99c0b5aac8278e' };

let w: World;
let ddb: TestTable;

beforeAll(async () => {
  w = await world({ amojo: { channels: [{ ...CHANNEL, title: 'Gateway', webhookUrl: 'http://127.0.0.1:9/chat/amojo/:scope_id' }] } });
  ddb = await createTestTable('amojo-client');
});
afterAll(async () => {
  await w?.sb.close();
});
beforeEach(() => {
  w.sb.admin.reset();
});

const amojoId = () => w.sb.accounts[0]!.amojoId;
function client(over: Partial<ConstructorParameters<typeof AmojoClient>[0]> = {}): AmojoClient {
  return new AmojoClient({
    baseUrl: w.sb.url,
    channelId: CHANNEL.id,
    secret: CHANNEL.secret,
    now: () => w.clock.now(),
    retry: { baseDelayMs: 1 },
    ...over,
  });
}
function channel(c = client(), onReconnect?: (a: string, s: string) => void): AmojoChannel {
  return new AmojoChannel({
    client: c,
    store: new DynamoScopeStore({ doc: ddb.doc, tableName: ddb.tableName }),
    now: () => w.clock.now(),
    ...(onReconnect ? { onReconnect } : {}),
  });
}
const client1 = {
  id: 'tg-1001',
  name: 'Анна Петрова',
  phone: '+79990001122',
  email: 'anna@example.ru',
  avatar: 'https://example.org/a.png',
};

describe('connect, status, disconnect', () => {
  it('connect stores the scope amojo returned (v2 callbacks asked for); status reads it; disconnect marks it', async () => {
    const ch = channel();
    const scope = await ch.connect('clinic', amojoId(), 'Clinic chat');
    expect(scope).toMatchObject({
      account: 'clinic',
      amojoId: amojoId(),
      scopeId: `${CHANNEL.id}_${amojoId()}`,
      title: 'Clinic chat',
      state: 'connected',
    });
    expect(w.sb.amojo.snapshot().scopes).toEqual([
      expect.objectContaining({ scope_id: scope.scopeId, hook_api_version: 'v2', connected: true }),
    ]);
    expect(await ch.status('clinic')).toEqual(scope);
    expect(await new DynamoScopeStore({ doc: ddb.doc, tableName: ddb.tableName }).byScopeId(scope.scopeId)).toEqual(scope);

    const off = await ch.disconnect('clinic');
    expect(off).toMatchObject({ state: 'disconnected', scopeId: scope.scopeId });
    expect(w.sb.amojo.snapshot().scopes[0]).toMatchObject({ connected: false });
    const err = await ch.scopeOf('clinic').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmojoNotConnectedError);
    expect((err as Error).message).toBe(
      'amojo: no chat channel is connected for account "clinic" (amo-gateway chat connect --account clinic)',
    );
    expect(outcomeFromError(err)).toEqual({ kind: 'defer', reason: 'amojo-not-connected', delaySeconds: 900 });
  });

  it('reconnects after a reinstall: a 404 for the stored scope connects again and the call goes through once more', async () => {
    const reconnects: string[] = [];
    const c = client();
    const ch = channel(c, (_a, s) => reconnects.push(s));
    await ch.connect('clinic', amojoId());
    // The integration was turned off and on in amoCRM: amojo disconnected the channel, our record did not change.
    await c.disconnect(amojoId());
    const sent = await ch.withScope('clinic', (scopeId) =>
      c.sendMessage(scopeId, {
        msgid: 'm-after-reinstall',
        conversationId: 'conv-1',
        at: w.clock.now(),
        sender: client1,
        message: { type: 'text', text: 'снова здесь' },
      }),
    );
    expect(sent.msgid).toBe('m-after-reinstall');
    expect(reconnects).toEqual([`${CHANNEL.id}_${amojoId()}`]);
    expect(w.sb.amojo.snapshot().scopes[0]).toMatchObject({ connected: true });
  });
});

describe('chats and messages', () => {
  const ALL: ChatMessage[] = [
    { type: 'text', text: 'Здравствуйте! 👋 Хочу записаться' },
    { type: 'picture', media: 'https://example.org/p.jpg', fileName: 'p.jpg', fileSize: 1024, text: 'фото' },
    { type: 'video', media: 'https://example.org/v.mp4', fileName: 'v.mp4', fileSize: 2048 },
    { type: 'file', media: 'https://example.org/f.pdf', fileName: 'f.pdf', fileSize: 4096 },
    { type: 'voice', media: 'https://example.org/v.ogg', durationSeconds: 7 },
    { type: 'audio', media: 'https://example.org/a.mp3' },
    { type: 'sticker', media: 'https://example.org/s.webp' },
    { type: 'location', lon: 37.6176, lat: 55.7558 },
    { type: 'contact', name: 'Иван', phone: '+79990003344' },
  ];

  it('create chat is idempotent per conversation; every message type is accepted, signed over its exact (UTF-8) bytes; history reads them back newest first', async () => {
    const c = client();
    const { scopeId } = await channel(c).connect('clinic', amojoId());
    const chat = await c.createChat(scopeId, { conversationId: 'conv-7', user: client1, sourceExternalId: 'site-widget' });
    const again = await c.createChat(scopeId, { conversationId: 'conv-7', user: client1 });
    expect(again.chatId).toBe(chat.chatId);
    expect(w.sb.amojo.snapshot(scopeId).participants).toEqual(
      expect.arrayContaining([expect.objectContaining({ client_id: 'tg-1001', phone: '+79990001122', email: 'anna@example.ru' })]),
    );

    for (const [i, message] of ALL.entries()) {
      const sent = await c.sendMessage(scopeId, {
        msgid: `m-${i}`,
        conversationId: 'conv-7',
        at: w.clock.now() + i,
        sender: client1,
        message,
      });
      expect(sent).toMatchObject({ chatId: chat.chatId, msgid: `m-${i}` });
    }
    const history = await c.history(scopeId, chat.chatId, { limit: 50 });
    expect(history.map((m) => m.type)).toEqual([...ALL].reverse().map((m) => m.type));
    expect(history.at(-1)).toMatchObject({ msgid: 'm-0', text: 'Здравствуйте! 👋 Хочу записаться', senderClientId: 'tg-1001' });
    expect(await c.history(scopeId, 'no-such-chat')).toEqual([]);
  });

  it('a duplicate msgid is its own error (the message is there already); edit, typing and delivery statuses land', async () => {
    const c = client();
    const { scopeId } = await channel(c).connect('clinic', amojoId());
    const first = await c.sendMessage(scopeId, {
      msgid: 'dup-1',
      conversationId: 'conv-9',
      at: w.clock.now(),
      sender: client1,
      message: { type: 'text', text: 'раз' },
    });
    const dup = await c
      .sendMessage(scopeId, {
        msgid: 'dup-1',
        conversationId: 'conv-9',
        at: w.clock.now(),
        sender: client1,
        message: { type: 'text', text: 'раз' },
      })
      .catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(AmojoDuplicateMessageError);
    expect(outcomeFromError(dup)).toMatchObject({ kind: 'park', reason: 'amojo-duplicate-msgid' });

    await c.editMessage(scopeId, { conversationId: 'conv-9', msgid: 'dup-1', message: { type: 'text', text: 'два' } });
    const edited = w.sb.amojo.snapshot(scopeId).messages.find((m) => m.id === first.amojoMsgid);
    expect(edited).toMatchObject({ edits: 1, message: { type: 'text', text: 'два' } });

    await c.typing(scopeId, 'conv-9', 'tg-1001', 3000);
    expect(w.sb.amojo.snapshot(scopeId).typing).toEqual([expect.objectContaining({ chat_id: first.chatId, duration_ms: 3000 })]);

    // A manager answers in amoCRM; we report the reply delivered, read, and (another one) failed.
    const { message: reply } = await w.sb.amojo.reply({ scope_id: scopeId, conversation_id: 'conv-9', text: 'Добрый день' });
    await c.deliveryStatus(scopeId, reply.id, { status: 'delivered' });
    await c.deliveryStatus(scopeId, reply.id, { status: 'read' });
    await c.deliveryStatus(scopeId, reply.id, { status: 'error', code: 905, text: 'messenger is down' });
    const statuses = w.sb.amojo.snapshot(scopeId).messages.find((m) => m.id === reply.id)?.delivery_statuses;
    expect(statuses?.map((s) => [s.delivery_status, s.error_code, s.error])).toEqual([
      [1, undefined, undefined],
      [2, undefined, undefined],
      [-1, 905, 'messenger is down'],
    ]);
    const missing = await c.deliveryStatus(scopeId, 'no-such-message', { status: 'delivered' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AmojoNotFoundError);
  });

  it("amojo's refusals are typed: a bad request parks (validation), never retried", async () => {
    const c = client();
    const { scopeId } = await channel(c).connect('clinic', amojoId());
    const before = w.sb.admin.count({ route: '/v2/origin/custom/*' });
    const e = await c
      .createChat(scopeId, { conversationId: 'conv-x', user: client1, sourceExternalId: 'x'.repeat(41) })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AmojoValidationError);
    expect(outcomeFromError(e)).toMatchObject({ kind: 'park', reason: 'amojo-validation' });
    expect(w.sb.admin.count({ route: '/v2/origin/custom/*' }) - before).toBe(1);
  });
});

describe('signatures, skew and retries', () => {
  it('a skewed clock is reported as skew (ahead or behind), deferred, never as a bad signature', async () => {
    for (const offset of [20 * 60_000, -20 * 60_000]) {
      const e = await client({ now: () => w.clock.now() + offset })
        .connect(amojoId())
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AmojoClockSkewError);
      expect(Math.abs((e as AmojoClockSkewError).skewMs!)).toBeGreaterThan(Math.abs(offset) - 2000);
      expect(Math.sign((e as AmojoClockSkewError).skewMs!)).toBe(Math.sign(offset));
      expect((e as Error).message).toMatch(offset > 0 ? /1200 s ahead of amojo's/ : /1200 s behind amojo's/);
      expect(outcomeFromError(e)).toEqual({ kind: 'defer', reason: 'amojo-clock-skew', delaySeconds: 300 });
    }
    // Within the window is fine.
    await expect(client({ now: () => w.clock.now() + 10 * 60_000 }).connect(amojoId())).resolves.toMatchObject({
      scopeId: expect.any(String),
    });
  });

  it("tells skew by amojo's own Date when its error wording says nothing about dates (amojo's wording is undocumented)", async () => {
    // A stand-in that answers every request as an amojo that words nothing would: 403, a generic
    // error type, and its own Date — 20 minutes before ours; then a sane Date for the bad-secret case.
    let serverNow = Date.now() - 20 * 60_000;
    const server = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json', date: new Date(serverNow).toUTCString() });
      res.end('{"error_code":403,"error_type":"FORBIDDEN","error_description":"Forbidden"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = client({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, now: () => Date.now() });
      const skewed = await c.connect(amojoId()).catch((x: unknown) => x);
      expect(skewed).toBeInstanceOf(AmojoClockSkewError);
      expect((skewed as AmojoClockSkewError).skewMs).toBeGreaterThan(19 * 60_000);
      serverNow = Date.now();
      expect(await c.connect(amojoId()).catch((x: unknown) => x)).toBeInstanceOf(AmojoSignatureError);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a wrong channel secret is a bad signature (parked), and the secret is nowhere in the error', async () => {
    const e = await client({ secret: 'not-the-channel-secret-at-all' })
      .connect(amojoId())
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AmojoSignatureError);
    expect(e).not.toBeInstanceOf(AmojoClockSkewError);
    expect(outcomeFromError(e)).toMatchObject({ kind: 'park', reason: 'amojo-bad-signature' });
    expect(JSON.stringify({ m: (e as Error).message, o: outcomeFromError(e) })).not.toContain('not-the-channel-secret');
  });

  it('retries only where safe: a 503 on typing is retried (re-signed); on new_message it is not (it may have landed)', async () => {
    const c = client();
    const { scopeId } = await channel(c).connect('clinic', amojoId());
    await c.createChat(scopeId, { conversationId: 'conv-r', user: client1 });
    w.sb.admin.setFaults([{ path: '/v2/origin/custom/*/typing', errorRate: 1, errorStatus: 503, times: 2 }]);
    await c.typing(scopeId, 'conv-r', 'tg-1001');
    expect(w.sb.amojo.snapshot(scopeId).typing).toHaveLength(1);
    expect(w.sb.admin.count({ route: '/v2/origin/custom/*', status: 503 })).toBe(2);

    w.sb.admin.setFaults([{ path: `/v2/origin/custom/${scopeId}`, method: 'POST', errorRate: 1, errorStatus: 503, times: 1 }]);
    const before = w.sb.admin.count({ route: '/v2/origin/custom/*' });
    const e = await c
      .sendMessage(scopeId, {
        msgid: 'r-1',
        conversationId: 'conv-r',
        at: w.clock.now(),
        sender: client1,
        message: { type: 'text', text: 'hi' },
      })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AmojoServerError);
    expect(outcomeFromError(e).kind).toBe('retry');
    expect(w.sb.admin.count({ route: '/v2/origin/custom/*' }) - before).toBe(1);
  });
});
