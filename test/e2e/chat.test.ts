/**
 * The chat channel end to end over real sockets: your messenger → POST /chat/{channel}/messages
 * (API key at the edge, FIFO per conversation) → the worker → the sandbox's amojo and REST; and a
 * manager's reply → amojo's signed callback → the worker → a test messenger's webhook → delivery
 * status back in the sandbox.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { buildEnvelope } from '../../lib/envelope.ts';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import { signCallbackBody } from '../../lib/amojo/signing.ts';
import { LOCAL_CHAT_SECRETS } from '../../infra/local/chat.ts';
import { startMessenger, type TestMessenger } from '../support/messenger.ts';
import { RecordingFetch, startWorld, useWorlds, waitFor, type World } from './support.ts';

useWorlds();
const messengers: TestMessenger[] = [];
afterEach(async () => {
  await Promise.all(messengers.splice(0).map((m) => m.close()));
});

async function world(
  opts: { messenger?: TestMessenger } = {},
): Promise<World & { key: string; chatFetch: RecordingFetch; scopeId: string }> {
  const chatFetch = new RecordingFetch();
  const w = await startWorld({
    random: () => 0,
    amocrm: {
      chatFetch: chatFetch.fetch,
      ...(opts.messenger ? { chat: { messengers: [{ id: 'site', webhookUrl: opts.messenger.url, secret: opts.messenger.secret }] } } : {}),
    },
  });
  const key = await w.amo.secrets.get(LOCAL_CHAT_SECRETS.apiKey);
  const scopeId = await waitFor(() => w.sandbox.amojo.snapshot().scopes[0]?.scope_id, 'the channel connected at start');
  return { ...w, key, chatFetch, scopeId };
}

/** `key`: the API key sent (default the right one; null sends none). */
function post(w: World & { key: string }, channel: string, body: unknown, key: string | null = w.key): Promise<Response> {
  return fetch(`${w.runner.url}/chat/${channel}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key !== null ? { 'x-api-key': key } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const incoming = (w: World) => w.sandbox.amojo.snapshot().messages.filter((m) => m.direction === 'incoming');

describe('inbound: your messenger → amoCRM chat', () => {
  it('100 messages from 10 users arrive in order per chat, each chat created once, contacts linked (a known phone finds its contact)', async () => {
    const w = await world();
    const seeded = w.sandbox.admin.seed({ contacts: [{ name: 'Known Person', custom_fields_values: [cf.phone(['+79165550000'])] }] });
    const known = seeded.contacts[0];
    const users = Array.from({ length: 10 }, (_, u) => u);
    await Promise.all(
      users.map(async (u) => {
        for (let i = 0; i < 10; i++) {
          const res = await post(w, 'demo', {
            id: `u${u}-m${i}`,
            conversation_id: `conv-${u}`,
            sender: { id: `user-${u}`, name: `User ${u}`, ...(u === 0 ? { phone: '89165550000' } : { email: `user${u}@example.com` }) },
            message: { type: 'text', text: `message ${i} of user ${u}` },
          });
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }
      }),
    );
    await waitFor(() => incoming(w).length >= 100, '100 messages in amojo', 60_000, 100);
    const snap = w.sandbox.amojo.snapshot();
    expect(snap.chats).toHaveLength(10);
    for (const u of users) {
      const chat = snap.chats.find((c) => c.conversation_ids[0] === `demo:conv-${u}`);
      expect(chat).toBeDefined();
      const texts = snap.messages.filter((m) => m.chat_id === chat?.id).map((m) => m.message.text);
      expect(texts).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i} of user ${u}`));
    }
    // Each chat created once: one create-chat request per conversation.
    const creates = w.chatFetch.sent.filter((s) => s.method === 'POST' && /\/chats$/.test(new URL(s.url).pathname));
    expect(creates).toHaveLength(10);
    const links = w.sandbox.admin.chatLinks();
    expect(links).toHaveLength(10);
    const first = snap.chats.find((c) => c.conversation_ids[0] === 'demo:conv-0');
    expect(links.find((l) => l.chat_id === first?.id)?.contact_id).toBe(known);
  }, 120_000);

  it('a contact added before the delivery failed is not added again by the retry (no phone or e-mail to find it by: the add re-checks)', async () => {
    const w = await world();
    // The link after the add fails until the client gives up: the message is retried (FIFO: same
    // message, received again), with the contact already in amoCRM and not yet remembered anywhere.
    w.sandbox.admin.setFaults([{ path: '/api/v4/contacts/chats', method: 'POST', errorRate: 1, errorStatus: 500, times: 6 }]);
    const res = await post(w, 'demo', {
      id: 'nameless-1',
      conversation_id: 'conv-nameless',
      sender: { id: 'user-nameless', name: 'Только Имя' },
      message: { type: 'text', text: 'hello' },
    });
    expect(res.status).toBe(200);
    await waitFor(() => incoming(w).length >= 1 || undefined, 'the message in amojo', 60_000, 100);
    expect(w.sandbox.admin.entities('contacts').filter((c) => c.name === 'Только Имя')).toHaveLength(1);
    expect(w.sandbox.admin.chatLinks()).toHaveLength(1);
  }, 90_000);

  it('duplicates of one messenger message id give one amojo message; a bad key is 403, a body without ids 400, an invalid payload is parked', async () => {
    const w = await world();
    const msg = { id: 'dup-1', conversation_id: 'c-dup', sender: { id: 'u', name: 'U' }, message: { type: 'text', text: 'once' } };
    for (let i = 0; i < 3; i++) expect((await post(w, 'demo', msg)).status).toBe(200);
    await waitFor(() => incoming(w).length >= 1, 'the message');
    // Within SQS's 5-minute window the repeat is dropped at the queue; past it (here: the same event
    // re-sent with another deduplication id, as after 5 minutes) amojo refuses the msgid and the worker counts it done.
    const envelope = buildEnvelope(
      {
        routeId: 'chat-inbound',
        pathParams: { channel: 'demo' },
        query: {},
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(msg)),
        receivedAt: Date.now(),
        requestId: 'late-repeat',
        sourceIp: '127.0.0.1',
      },
      ['content-type', 'user-agent'],
    );
    const q = w.runner.queues['chat-in'];
    await w.runner.sqs.send(
      new SendMessageCommand({
        QueueUrl: q?.url,
        MessageBody: JSON.stringify(envelope),
        MessageGroupId: 'demo:c-dup',
        MessageDeduplicationId: 'late-repeat',
      }),
    );
    expect((await post(w, 'demo', { ...msg, id: 'dup-2', message: { type: 'text', text: 'next' } })).status).toBe(200);
    await waitFor(() => incoming(w).length >= 2, 'the second message');
    await waitFor(
      () =>
        w.lines.some((l) => / worker .*route=chat-inbound .*outcome=ok/.test(l)) && (w.runner.pollerStats()['chat-in']?.deleted ?? 0) >= 3,
      'the late repeat handled',
    );
    expect(incoming(w).map((m) => m.message.text)).toEqual(['once', 'next']);
    expect(w.lines.some((l) => l.includes('amojo-duplicate-msgid'))).toBe(false);

    expect((await post(w, 'demo', msg, 'wrong')).status).toBe(403);
    expect((await post(w, 'demo', msg, null)).status).toBe(403);
    const noIds = await post(w, 'demo', { conversation_id: 'c', message: {} });
    expect(noIds.status).toBe(400);
    expect(await noIds.json()).toEqual({ message: 'Invalid request body' });
    expect((await post(w, 'demo', { id: 'bad-1', conversation_id: 'c-bad', message: { type: 'text', text: 'no sender' } })).status).toBe(
      200,
    );
    await waitFor(() => w.lines.find((l) => l.includes('chat-invalid-payload')), 'the invalid payload parked');
  }, 60_000);
});

describe('outbound: a manager replies', () => {
  async function started(m: TestMessenger) {
    const w = await world({ messenger: m });
    const res = await post(w, 'site', {
      id: 'm-1',
      conversation_id: 'c-1',
      sender: { id: 'u1', name: 'Client' },
      message: { type: 'text', text: 'hi' },
    });
    expect(res.status).toBe(200);
    await waitFor(() => incoming(w).length >= 1, 'the client message');
    return w;
  }

  it('reaches the messenger signed (it verifies), and amoCRM gets delivered; a read receipt becomes read', async () => {
    const m = await startMessenger();
    messengers.push(m);
    const w = await started(m);
    const r = await w.sandbox.amojo.reply({ scope_id: w.scopeId, conversation_id: 'site:c-1', text: 'Hello from the manager' });
    expect(r.hook.ok).toBe(true);
    const got = await waitFor(() => m.received[0], 'the relay');
    expect(got.verified).toBe(true);
    expect(got.json).toMatchObject({ id: r.message.id, conversation_id: 'c-1', message: { type: 'text', text: 'Hello from the manager' } });
    const statuses = () => w.sandbox.amojo.snapshot().messages.find((x) => x.id === r.message.id)?.delivery_statuses ?? [];
    await waitFor(() => statuses().some((s) => s.delivery_status === 1), 'delivered in amoCRM');
    expect(
      (await post(w, 'site', { id: 'r-1', conversation_id: 'c-1', status: { message_id: r.message.id, status: 'read' } })).status,
    ).toBe(200);
    await waitFor(() => statuses().some((s) => s.delivery_status === 2), 'read in amoCRM');
  }, 60_000);

  it('the messenger down: retried, then the failure status in amoCRM', async () => {
    const m = await startMessenger();
    messengers.push(m);
    const w = await started(m);
    m.answer(503);
    const r = await w.sandbox.amojo.reply({ scope_id: w.scopeId, conversation_id: 'site:c-1', text: 'Nobody home' });
    const statuses = () => w.sandbox.amojo.snapshot().messages.find((x) => x.id === r.message.id)?.delivery_statuses ?? [];
    const failed = await waitFor(() => statuses().find((s) => s.delivery_status === -1), 'the failure status', 60_000, 100);
    expect(failed.error_code).toBe(905);
    expect(m.received.length).toBe(5); // the amojo queue's maxAttempts
    expect(statuses().some((s) => s.delivery_status === 1)).toBe(false);
  }, 90_000);

  it('a callback with a bad, missing or stale signature never reaches the messenger', async () => {
    const m = await startMessenger();
    messengers.push(m);
    const w = await started(m);
    const chat = w.sandbox.amojo.snapshot().chats[0];
    const body = (time: number) =>
      JSON.stringify({
        account_id: 'x',
        time,
        message: {
          receiver: { id: 'r' },
          sender: { id: 's', name: 'Forger' },
          conversation: { id: chat?.id, client_id: 'site:c-1' },
          timestamp: time,
          msec_timestamp: time * 1000,
          message: { id: `forged-${time}`, type: 'text', text: 'forged' },
        },
      });
    const secret = await w.amo.secrets.get(LOCAL_CHAT_SECRETS.channel);
    const now = Math.floor(Date.now() / 1000);
    const send = (b: string, sig: string | undefined) =>
      fetch(`${w.runner.url}/chat/amojo/${w.scopeId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(sig !== undefined ? { 'x-signature': sig } : {}) },
        body: b,
      });
    expect((await send(body(now), signCallbackBody('not-the-secret', body(now)))).status).toBe(200);
    expect((await send(body(now + 1), undefined)).status).toBe(200);
    expect((await send(body(now - 3600), signCallbackBody(secret, body(now - 3600)))).status).toBe(200);
    await waitFor(
      () => w.lines.filter((l) => l.includes('amojo-bad-signature')).length >= 2 && w.lines.some((l) => l.includes('amojo-stale-callback')),
      'three parked',
      20_000,
    );
    expect(m.received).toHaveLength(0);
    expect(w.amo.metrics.total('ChatCallbackRejected')).toBe(3);
  }, 60_000);
});
