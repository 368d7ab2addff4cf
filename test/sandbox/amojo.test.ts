import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest, stringToSign, verifyCallbackSignature } from '../../lib/amojo/signing.ts';
import { createAmojo, type AmojoChannelConfig, type AmojoSandbox } from '../../infra/local/sandbox/amojo.ts';
import { startSandbox } from '../../infra/local/sandbox/index.ts';
import type { SbClock, SbRequest, SbRoute } from '../../infra/local/sandbox/types.ts';

const CHANNEL = '344a5002-f8ca-454d-af3d-396180102ac7';
const SECRET = 'f2d7f8704eff95087ed45b23ba99c0b5aac8278e';
const ACCOUNT = '52e591f7-c98f-4255-8495-827210138c81';
const OTHER_ACCOUNT = '11111111-2222-4333-8444-555555555555';
const SCOPE = `${CHANNEL}_${ACCOUNT}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Mounts SbRoutes on a real node:http server (the sandbox core does the same). */
async function serve(routes: SbRoute[]): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://sandbox');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        const sb: SbRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers,
          body: Buffer.concat(chunks),
        };
        for (const r of routes) {
          const out = await r(sb);
          if (out) {
            res.writeHead(out.status, out.headers ?? {});
            res.end(out.body);
            return;
          }
        }
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"no route"}');
      })().catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

interface Hit {
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Mounted {
  base: string;
  amojo: AmojoSandbox;
  close(): Promise<void>;
}
interface Mount {
  name: string;
  start(clock: SbClock, channels: AmojoChannelConfig[], log: (l: string) => void): Promise<Mounted>;
}

/** The real sandbox server (its core), with one account whose amojo id is ACCOUNT. */
const throughSandbox: Mount = {
  name: 'through startSandbox',
  async start(clock, channels, log) {
    const sb = await startSandbox({ clock, log, account: { amojoId: ACCOUNT }, amojo: { channels } });
    return { base: sb.url, amojo: sb.amojo, close: () => sb.close() };
  },
};
/** The module alone on node:http, so its contract is proven whatever the core does. */
const bare: Mount = {
  name: 'mounted bare on node:http',
  async start(clock, channels, log) {
    const amojo = createAmojo({ clock, channels, accounts: [{ amojoId: ACCOUNT }], log });
    const { base, server } = await serve([amojo.route, amojo.adminRoute]);
    return { base, amojo, close: () => stop(server) };
  },
};

describe.each([throughSandbox, bare])('amojo sandbox over a real socket ($name)', (mount) => {
  let now = Date.UTC(2026, 2, 1, 10, 0, 0);
  const clock = { now: () => now };
  let amojo: AmojoSandbox;
  let base = '';
  let mounted: Mounted;
  // The channel's hook receiver (our gateway in real life).
  const hits: Hit[] = [];
  let receiverMode: { status: number; delayMs?: number } = { status: 200 };
  let receiver: Server;
  let receiverBase = '';
  const logs: string[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hits.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        const answer = (): void => {
          res.writeHead(receiverMode.status, { 'content-type': 'application/json' });
          res.end('{"status":"ok"}');
        };
        if (receiverMode.delayMs) setTimeout(answer, receiverMode.delayMs);
        else answer();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    mounted = await mount.start(
      clock,
      [{ id: CHANNEL, secret: SECRET, title: 'Sandbox channel', webhookUrl: `${receiverBase}/chat/amojo/:scope_id` }],
      (l) => logs.push(l),
    );
    ({ base, amojo } = mounted);
  });
  afterAll(async () => {
    await mounted.close();
    await stop(receiver);
  });

  interface CallOpts {
    secret?: string;
    date?: number;
    contentType?: string;
    sendBody?: string;
    signPath?: string;
  }
  /** A request signed with lib/amojo/signing, as the real client will send it. */
  async function call(
    method: string,
    path: string,
    body?: unknown,
    o: CallOpts = {},
  ): Promise<{ status: number; json: Record<string, unknown> | undefined; text: string; contentType: string | null }> {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = signRequest(o.secret ?? SECRET, {
      method,
      path: o.signPath ?? path,
      date: o.date ?? now,
      ...(text !== undefined ? { body: text } : {}),
    });
    if (o.contentType !== undefined) {
      // Signed consistently with the odd Content-Type, so only the Content-Type rule can refuse it.
      headers['Content-Type'] = o.contentType;
      headers['X-Signature'] = createHmac('sha1', o.secret ?? SECRET)
        .update(
          stringToSign({
            method,
            contentMd5: headers['Content-MD5']!,
            contentType: o.contentType,
            date: headers.Date!,
            path: path.split('?')[0]!,
          }),
        )
        .digest('hex');
    }
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      ...((o.sendBody ?? text) !== undefined ? { body: o.sendBody ?? text } : {}),
    });
    const raw = await res.text();
    return {
      status: res.status,
      text: raw,
      contentType: res.headers.get('content-type'),
      json: raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined,
    };
  }
  const admin = async (path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${base}/_sandbox/amojo${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  const conversationId = 'gw-conv-1';
  const clientUserId = 'gw-user-1';
  let chatId = '';
  let amojoUserId = '';
  let firstAmojoMsgId = '';
  const msg = (msgid: string, text: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    event_type: 'new_message',
    payload: {
      timestamp: Math.floor(now / 1000),
      msec_timestamp: now,
      msgid,
      conversation_id: conversationId,
      sender: { id: clientUserId, name: 'Вася клиент', profile: { phone: '+79151112233' } },
      message: { type: 'text', text },
      silent: false,
      ...extra,
    },
  });

  it('only claims its own paths', async () => {
    const req = (path: string): SbRequest => ({ method: 'GET', path, query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0) });
    expect(await amojo.route(req('/api/v4/leads'))).toBeUndefined();
    expect(await amojo.route(req('/_sandbox/amojo/state'))).toBeUndefined();
    expect(await amojo.adminRoute(req('/v2/origin/custom/x'))).toBeUndefined();
    expect(await amojo.adminRoute(req('/_sandbox/amojoX'))).toBeUndefined();
  });

  it('connect: returns scope_id {channel}_{account} and echoes the sent fields; validates strictly', async () => {
    const r = await call('POST', `/v2/origin/custom/${CHANNEL}/connect`, {
      account_id: ACCOUNT,
      title: 'ChatsIntegration',
      hook_api_version: 'v2',
    });
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/json');
    expect(r.json).toEqual({ account_id: ACCOUNT, scope_id: SCOPE, title: 'ChatsIntegration', hook_api_version: 'v2' });

    const unknownChannel = await call('POST', '/v2/origin/custom/00000000-0000-4000-8000-000000000000/connect', {
      account_id: ACCOUNT,
      hook_api_version: 'v2',
    });
    expect(unknownChannel.status).toBe(404);
    expect(unknownChannel.json).toMatchObject({ error_code: 404, error_type: 'NOT_FOUND' });
    expect((await call('POST', `/v2/origin/custom/${CHANNEL}/connect`, { account_id: 42, hook_api_version: 'v2' })).status).toBe(400);
    expect((await call('POST', `/v2/origin/custom/${CHANNEL}/connect`, { account_id: ACCOUNT, hook_api_version: 'v3' })).status).toBe(400);
    expect(
      (await call('POST', `/v2/origin/custom/${CHANNEL}/connect`, { account_id: 'not-an-account', hook_api_version: 'v2' })).status,
    ).toBe(400);
    expect((await call('GET', `/v2/origin/custom/${CHANNEL}/connect`)).status).toBe(405);
  });

  it('create chat: user.profile.{phone,email}; idempotent per conversation_id; flat phone refused', async () => {
    const body = {
      conversation_id: conversationId,
      source: { external_id: 'landing-1' },
      user: { id: clientUserId, name: 'Вася клиент', profile: { phone: '+79151112233', email: 'v@example.com' } },
    };
    const r = await call('POST', `/v2/origin/custom/${SCOPE}/chats`, body);
    expect(r.status).toBe(200);
    const user = r.json?.user as Record<string, unknown>;
    expect(r.json?.id).toMatch(UUID);
    expect(user).toEqual({
      id: expect.stringMatching(UUID),
      client_id: clientUserId,
      name: 'Вася клиент',
      avatar: '',
      phone: '+79151112233',
      email: 'v@example.com',
    });
    chatId = r.json?.id as string;
    amojoUserId = user.id as string;
    const again = await call('POST', `/v2/origin/custom/${SCOPE}/chats`, body);
    expect(again.json?.id).toBe(chatId);

    const flat = await call('POST', `/v2/origin/custom/${SCOPE}/chats`, {
      conversation_id: 'c-flat',
      user: { id: 'u', name: 'n', phone: '+7900' },
    });
    expect(flat.status).toBe(400);
    expect(flat.json).toMatchObject({
      error_code: 400,
      error_type: 'INVALID_REQUEST_DATA',
      error_description: expect.stringContaining('user.profile'),
    });
    expect((await call('POST', `/v2/origin/custom/${SCOPE}/chats`, { conversation_id: 'c2', user: { id: 'u' } })).status).toBe(400);
    expect(
      (
        await call('POST', `/v2/origin/custom/${SCOPE}/chats`, {
          conversation_id: 'c3',
          source: { external_id: 'x'.repeat(41) },
          user: { id: 'u', name: 'n' },
        })
      ).status,
    ).toBe(400);
  });

  it("new_message: msgid in the answer is amojo's, ref_id ours; the duplicate msgid is refused; ints must be ints", async () => {
    const r = await call('POST', `/v2/origin/custom/${SCOPE}`, msg('gw-msg-1', 'Здравствуйте!'));
    expect(r.status).toBe(200);
    const nm = r.json?.new_message as Record<string, unknown>;
    expect(nm).toEqual({ conversation_id: chatId, sender_id: amojoUserId, msgid: expect.stringMatching(UUID), ref_id: 'gw-msg-1' });
    firstAmojoMsgId = nm.msgid as string;

    const dup = await call('POST', `/v2/origin/custom/${SCOPE}`, msg('gw-msg-1', 'again'));
    expect(dup.status).toBe(400);
    expect(dup.json).toMatchObject({ error_type: 'DUPLICATE_MSGID' });

    const asString = msg('gw-msg-2', 'x');
    (asString.payload as Record<string, unknown>).timestamp = String(Math.floor(now / 1000));
    const typed = await call('POST', `/v2/origin/custom/${SCOPE}`, asString);
    expect(typed.status).toBe(400);
    expect(typed.json?.error_description).toContain('payload.timestamp');
    expect((await call('POST', `/v2/origin/custom/${SCOPE}`, msg('gw-msg-3', ''))).status).toBe(400); // text type needs text
    expect((await call('POST', `/v2/origin/custom/${SCOPE}`, msg('gw-msg-4', 'x', { silent: 'false' }))).status).toBe(400);
    expect((await call('POST', `/v2/origin/custom/${SCOPE}`, { event_type: 'delete_message', payload: {} })).status).toBe(400);
    expect((await call('POST', `/v2/origin/custom/${SCOPE}`, '{not json')).status).toBe(400);

    // An unknown conversation_id creates a new chat; an outgoing one (receiver + ref_id) has a receiver_id.
    const out = await call('POST', `/v2/origin/custom/${SCOPE}`, {
      event_type: 'new_message',
      payload: {
        timestamp: Math.floor(now / 1000),
        msec_timestamp: now + 1,
        msgid: 'gw-msg-5',
        conversation_id: 'gw-conv-2',
        sender: { id: 'bot', name: 'Bot', ref_id: 'f1910c7f-b1e0-4184-bd09-c7def2a9109a' },
        receiver: { id: 'gw-user-2', name: 'Петя' },
        message: { type: 'text', text: 'hi' },
        silent: true,
      },
    });
    expect(out.status).toBe(200);
    const onm = out.json?.new_message as Record<string, unknown>;
    expect(onm.conversation_id).not.toBe(chatId);
    expect(onm.sender_id).toBe('f1910c7f-b1e0-4184-bd09-c7def2a9109a');
    expect(onm.receiver_id).toMatch(UUID);
  });

  it('history: signed without its query string; newest first; limit ≤ 50; 204 when none', async () => {
    now += 1000;
    expect((await call('POST', `/v2/origin/custom/${SCOPE}`, msg('gw-msg-6', 'второе'))).status).toBe(200);
    const path = `/v2/origin/custom/${SCOPE}/chats/${chatId}/history`;
    const h = await call('GET', `${path}?offset=0&limit=50`);
    expect(h.status).toBe(200);
    const messages = h.json?.messages as Array<Record<string, Record<string, unknown>>>;
    expect(messages.map((m) => m.message?.client_id)).toEqual(['gw-msg-6', 'gw-msg-1']);
    expect(messages[1]?.message).toMatchObject({ id: firstAmojoMsgId, type: 'text', text: 'Здравствуйте!', media: '', file_size: 0 });
    expect(messages[1]?.sender).toMatchObject({ id: amojoUserId, client_id: clientUserId, name: 'Вася клиент', phone: '+79151112233' });
    expect(typeof messages[1]?.timestamp).toBe('number');

    const page2 = await call('GET', `${path}?offset=1&limit=1`);
    expect((page2.json?.messages as unknown[]).length).toBe(1);
    expect((await call('GET', `${path}?limit=51`)).status).toBe(400);
    expect((await call('GET', `${path}?limit=abc`)).status).toBe(400);
    expect((await call('GET', `${path}?offset=5`)).status).toBe(204);
    const none = await call('GET', `/v2/origin/custom/${SCOPE}/chats/00000000-0000-4000-8000-000000000000/history`);
    expect(none.status).toBe(204);
    expect(none.text).toBe('');
    // The query string is not part of the signed path: signRequest drops it…
    expect((await call('GET', `${path}?limit=10`, undefined, { signPath: `${path}?limit=10x` })).status).toBe(200);
    // …and a client that signs it anyway is refused.
    const date = signRequest(SECRET, { method: 'GET', path, date: now }).Date;
    const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
    const naive = createHmac('sha1', SECRET)
      .update(stringToSign({ method: 'GET', contentMd5: md5, contentType: 'application/json', date, path: `${path}?limit=10` }))
      .digest('hex');
    const refused = await fetch(`${base}${path}?limit=10`, {
      headers: { Date: date, 'Content-Type': 'application/json', 'Content-MD5': md5, 'X-Signature': naive },
    });
    expect(refused.status).toBe(403);
  });

  it('refuses badly signed requests with 403 and a JSON error body', async () => {
    const path = `/v2/origin/custom/${SCOPE}`;
    const good = msg('gw-msg-sig', 'x');
    const expect403 = async (p: Promise<{ status: number; json: Record<string, unknown> | undefined }>, type: string): Promise<void> => {
      const r = await p;
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({ error_code: 403, error_type: type, error_description: expect.any(String) });
    };
    // Bad MD5: the bytes sent are not the bytes signed (one extra newline).
    await expect403(call('POST', path, good, { sendBody: `${JSON.stringify(good)}\n` }), 'INVALID_CONTENT_MD5');
    // Stale Date: 16 minutes old by the sandbox's clock.
    await expect403(call('POST', path, good, { date: now - 16 * 60_000 }), 'EXPIRED_SIGNATURE');
    await expect403(call('POST', path, good, { date: now + 16 * 60_000 }), 'EXPIRED_SIGNATURE');
    // Wrong secret.
    await expect403(call('POST', path, good, { secret: 'a'.repeat(40) }), 'INVALID_SIGNATURE');
    // Changed path: signed for /chats, sent to the scope root.
    await expect403(call('POST', path, good, { signPath: `${path}/chats` }), 'INVALID_SIGNATURE');
    // Content-Type with charset (signed consistently — still refused: only application/json is supported).
    await expect403(call('POST', path, good, { contentType: 'application/json; charset=utf-8' }), 'INVALID_CONTENT_TYPE');
    // No signature headers at all.
    const bare = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(good) });
    expect(bare.status).toBe(403);
    // None of them was stored.
    expect(amojo.snapshot(SCOPE).messages.some((m) => m.client_id === 'gw-msg-sig')).toBe(false);
    // 14 min 59 s old is still inside the window.
    expect((await call('POST', path, good, { date: now - (15 * 60_000 - 1000) })).status).toBe(200);
  });

  it('unknown channel or scope → 404; typing → 204; react; edit_message', async () => {
    expect((await call('POST', `/v2/origin/custom/${CHANNEL}_${OTHER_ACCOUNT}`, msg('m', 'x'))).status).toBe(404); // an account that never connected
    expect((await call('POST', `/v2/origin/custom/nochannel_${ACCOUNT}`, msg('m', 'x'))).status).toBe(404);
    expect((await call('POST', `/v2/origin/custom/${SCOPE}/what/ever/x`, {})).status).toBe(404);

    const t = await call('POST', `/v2/origin/custom/${SCOPE}/typing`, { conversation_id: conversationId, sender: { id: clientUserId } });
    expect(t.status).toBe(204);
    expect(t.text).toBe('');
    expect(
      (
        await call('POST', `/v2/origin/custom/${SCOPE}/typing`, {
          conversation_id: conversationId,
          sender: { id: clientUserId },
          duration_ms: '5000',
        })
      ).status,
    ).toBe(400);

    const react = await call('POST', `/v2/origin/custom/${SCOPE}/react`, {
      conversation_id: conversationId,
      msgid: 'gw-msg-1',
      user: { id: clientUserId },
      type: 'react',
      emoji: '😍',
    });
    expect(react.status).toBe(200);
    expect(
      (
        await call('POST', `/v2/origin/custom/${SCOPE}/react`, {
          conversation_id: conversationId,
          msgid: 'nope',
          user: { id: clientUserId },
          type: 'react',
        })
      ).status,
    ).toBe(404);

    const edit = await call('POST', `/v2/origin/custom/${SCOPE}`, {
      event_type: 'edit_message',
      payload: {
        timestamp: Math.floor(now / 1000),
        msec_timestamp: now,
        msgid: 'gw-msg-1',
        conversation_id: conversationId,
        message: { type: 'text', text: 'Здравствуйте (ред.)' },
      },
    });
    expect(edit.status).toBe(200);
    const stored = amojo.snapshot(SCOPE).messages.find((m) => m.client_id === 'gw-msg-1');
    expect(stored).toMatchObject({
      edits: 1,
      message: { text: 'Здравствуйте (ред.)' },
      reactions: [{ user_id: amojoUserId, type: 'react', emoji: '😍' }],
    });
  });

  it('a manager replies: the v2 hook reaches the receiver once, signed over the exact bytes; delivery_status is validated', async () => {
    hits.length = 0;
    receiverMode = { status: 200 };
    const r = await admin('/reply', { scope_id: SCOPE, conversation_id: conversationId, text: 'Добрый день! Чем помочь?' });
    expect(r.status).toBe(200);
    expect(hits).toHaveLength(1);
    const hit = hits[0]!;
    expect(hit.url).toBe(`/chat/amojo/${SCOPE}`);
    expect(hit.headers['content-type']).toBe('application/json');
    const sig = hit.headers['x-signature'] as string;
    expect(sig).toMatch(/^[0-9a-f]{40}$/);
    expect(verifyCallbackSignature(SECRET, hit.body, sig)).toEqual({ ok: true, matched: 'raw' });
    expect(verifyCallbackSignature('wrong-secret', hit.body, sig).ok).toBe(false);
    const hook = JSON.parse(hit.body.toString('utf8')) as {
      account_id: string;
      time: number;
      message: Record<string, Record<string, unknown>>;
    };
    expect(hook.account_id).toBe(ACCOUNT);
    expect(hook.time).toBe(Math.floor(now / 1000));
    expect(Object.keys(hook.message)).toEqual(['receiver', 'sender', 'source', 'conversation', 'timestamp', 'msec_timestamp', 'message']);
    expect(hook.message.receiver).toEqual({
      id: amojoUserId,
      name: 'Вася клиент',
      phone: '+79151112233',
      email: 'v@example.com',
      client_id: clientUserId,
    });
    expect(hook.message.conversation).toEqual({ id: chatId, client_id: conversationId });
    expect(hook.message.source).toEqual({ external_id: 'landing-1' });
    expect(hook.message.message).toMatchObject({
      id: expect.stringMatching(UUID),
      type: 'text',
      text: 'Добрый день! Чем помочь?',
      markup: null,
      tag: '',
      media: '',
      file_size: 0,
    });
    const hookMsgId = hook.message.message!.id as string;
    expect(r.json.hook as Record<string, unknown>).toMatchObject({ status: 200, ok: true, kind: 'message', scope_id: SCOPE });

    // delivery_status for that message (path id = amojo id from the hook).
    const dsPath = `/v2/origin/custom/${SCOPE}/${hookMsgId}/delivery_status`;
    expect((await call('POST', dsPath, { msgid: hookMsgId, delivery_status: -1, error_code: 905 })).status).toBe(400); // 905 needs error text
    expect((await call('POST', dsPath, { msgid: hookMsgId, delivery_status: 1, error_code: 901 })).status).toBe(400); // codes only with -1
    expect((await call('POST', dsPath, { msgid: hookMsgId, delivery_status: -1 })).status).toBe(400); // -1 needs a code
    expect((await call('POST', dsPath, { msgid: hookMsgId, delivery_status: '1' })).status).toBe(400); // strict ints
    expect((await call('POST', dsPath, { msgid: hookMsgId, status_code: 1 })).status).toBe(400);
    expect((await call('POST', dsPath, { msgid: 'other', delivery_status: 1 })).status).toBe(400);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(
      (await call('POST', `/v2/origin/custom/${SCOPE}/${missing}/delivery_status`, { msgid: missing, delivery_status: 1 })).status,
    ).toBe(404);
    const okStatus = await call('POST', dsPath, { msgid: hookMsgId, delivery_status: -1, error_code: 905, error: 'Мессенджер недоступен' });
    expect(okStatus.status).toBe(200);
    expect(okStatus.text).toBe('');
    expect((await call('POST', dsPath, { msgid: hookMsgId, delivery_status: 2 })).status).toBe(200);
    const stored = amojo.snapshot(SCOPE).messages.find((m) => m.id === hookMsgId);
    expect(stored?.delivery_statuses.map((d) => [d.delivery_status, d.error_code ?? null])).toEqual([
      [-1, 905],
      [2, null],
    ]);
    expect(stored).toMatchObject({ origin: 'manager', direction: 'outgoing', receiver_id: amojoUserId });
  });

  it('hook variants: trailing newline not covered by the signature; non-200 is recorded, never retried; typing hook', async () => {
    hits.length = 0;
    const nl = await admin('/reply', { scope_id: SCOPE, conversation_id: conversationId, text: 'with newline', trailing_newline: true });
    expect(nl.status).toBe(200);
    const body = hits[0]!.body;
    expect(body[body.length - 1]).toBe(0x0a);
    expect(verifyCallbackSignature(SECRET, body, hits[0]!.headers['x-signature'] as string)).toEqual({ ok: true, matched: 'trimmed' });

    receiverMode = { status: 500 };
    const failed = await amojo.reply({ scope_id: SCOPE, conversation_id: conversationId, text: 'x' });
    expect(failed.hook).toMatchObject({ status: 500, ok: false, error: 'HTTP 500' });
    receiverMode = { status: 202 };
    expect((await amojo.reply({ scope_id: SCOPE, conversation_id: conversationId, text: 'z' })).hook.ok).toBe(false); // only 200 counts
    receiverMode = { status: 200 };
    expect(hits).toHaveLength(3); // once each, no retries

    const typing = await admin('/typing', { scope_id: SCOPE, conversation_id: conversationId });
    expect(typing.status).toBe(200);
    const th = JSON.parse(hits[3]!.body.toString('utf8')) as {
      action: { typing: { conversation: Record<string, string>; expired_at: number; user: { id: string } } };
      time: number;
    };
    expect(th.action.typing.conversation).toEqual({ id: chatId, client_id: conversationId });
    expect(th.action.typing.expired_at).toBe(th.time + 5);
    expect(verifyCallbackSignature(SECRET, hits[3]!.body, hits[3]!.headers['x-signature'] as string).ok).toBe(true);

    const state = await admin('/state');
    expect((state.json.hooks as unknown[]).length).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(state.json)).not.toContain(SECRET);
    expect((await admin('/reply', { scope_id: SCOPE, conversation_id: 'nope', text: 'x' })).status).toBe(404);
    expect((await admin('/reply', { scope_id: SCOPE, conversation_id: conversationId })).status).toBe(400);
  });

  it('disconnect: 200 with no body; afterwards the scope is gone and no hooks are sent', async () => {
    const r = await call('DELETE', `/v2/origin/custom/${CHANNEL}/disconnect`, { account_id: ACCOUNT });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    expect((await call('POST', `/v2/origin/custom/${SCOPE}`, msg('after', 'x'))).status).toBe(404);
    expect((await admin('/reply', { scope_id: SCOPE, conversation_id: conversationId, text: 'x' })).status).toBe(409);
    expect((await call('DELETE', `/v2/origin/custom/${CHANNEL}/disconnect`, {})).status).toBe(400);
    // Reconnecting gives the same scope back, with its chats.
    const again = await call('POST', `/v2/origin/custom/${CHANNEL}/connect`, { account_id: ACCOUNT, hook_api_version: 'v2' });
    expect(again.json?.scope_id).toBe(SCOPE);
    expect(
      (await call('POST', `/v2/origin/custom/${SCOPE}/chats`, { conversation_id: conversationId, user: { id: clientUserId, name: 'n' } }))
        .json?.id,
    ).toBe(chatId);
    expect(logs.join('\n')).not.toContain('+79151112233');
  });

  it('v1 scopes get the v1 hook shape (fixture amojo-02); reset() clears everything', async () => {
    const c = await call('POST', `/v2/origin/custom/${CHANNEL}/connect`, { account_id: ACCOUNT });
    expect(c.json?.hook_api_version).toBe('v1'); // "По умолчанию v1": a reconnect without it switches the hooks to v1
    const scope = SCOPE;
    await call('POST', `/v2/origin/custom/${scope}/chats`, {
      conversation_id: 'wa-conv',
      user: { id: 'wa-+5215583232460', name: 'Cliente' },
    });
    hits.length = 0;
    await amojo.reply({ scope_id: scope, conversation_id: 'wa-conv', text: 'going' });
    const v1 = JSON.parse(hits[0]!.body.toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(v1)).toEqual([
      'receiver',
      'conversation_id',
      'msec_timestamp',
      'type',
      'text',
      'markup',
      'tag',
      'media',
      'thumbnail',
      'file_name',
      'file_size',
      'media_group_id',
    ]);
    expect(v1).toMatchObject({ receiver: 'wa-+5215583232460', conversation_id: 'wa-conv', text: 'going' });

    expect((await admin('/reset', {})).status).toBe(200);
    expect(amojo.snapshot()).toMatchObject({ scopes: [], chats: [], messages: [], hooks: [] });
    expect((await call('POST', `/v2/origin/custom/${SCOPE}`, msg('x', 'x'))).status).toBe(404);
  });
});

describe('amojo hook timeout (5 s in amojo; a 300 ms knob here)', () => {
  it('a receiver that answers late is recorded as failed, once', async () => {
    let hits = 0;
    const receiver = createServer((_req, res) => {
      hits += 1;
      setTimeout(() => {
        res.writeHead(200);
        res.end();
      }, 600);
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook/:scope_id`;
    const clock = { now: () => Date.UTC(2026, 2, 1) };
    const amojo = createAmojo({
      clock,
      channels: [{ id: CHANNEL, secret: SECRET, webhookUrl: url }],
      accounts: [{ amojoId: ACCOUNT }],
      hookTimeoutMs: 300,
    });
    const { base, server } = await serve([amojo.route, amojo.adminRoute]);
    try {
      const send = async (path: string, body: unknown): Promise<number> => {
        const text = JSON.stringify(body);
        return (
          await fetch(`${base}${path}`, {
            method: 'POST',
            headers: signRequest(SECRET, { method: 'POST', path, body: text, date: clock.now() }),
            body: text,
          })
        ).status;
      };
      expect(await send(`/v2/origin/custom/${CHANNEL}/connect`, { account_id: ACCOUNT, hook_api_version: 'v2' })).toBe(200);
      expect(await send(`/v2/origin/custom/${SCOPE}/chats`, { conversation_id: 'c', user: { id: 'u', name: 'n' } })).toBe(200);
      const t0 = performance.now();
      const slow = await amojo.reply({ scope_id: SCOPE, conversation_id: 'c', text: 'late' });
      expect(slow.hook).toMatchObject({ status: null, ok: false, error: 'no answer within 300 ms' });
      expect(performance.now() - t0).toBeLessThan(1500); // well under the 5 s real timeout; loose for a loaded CI
      await new Promise((r) => setTimeout(r, 400));
      expect(hits).toBe(1);
    } finally {
      await stop(server);
      await stop(receiver);
    }
  });
});
