/**
 * Hooks amojo sends to a channel (docs/amojo-protocol.md#callbacks, [chat-hooks]): "a manager replies in amoCRM" and
 * "a manager is typing", signed with the channel secret and sent once to its webhook URL.
 */
import { randomUUID } from 'node:crypto';
import { signCallbackBody } from '../../../../lib/amojo/signing.ts';
import { JSON_CT } from './http.ts';
import { chatByConversation, chatInScope, refUser, type AmojoCtx } from './state.ts';
import type { ChatView, HookRecord, ManagerReplyInput, MessageView, ScopeView } from './types.ts';

const MAX_HOOK_RECORDS = 5_000;

/** A refusal of the admin API (not an amojo answer): `{error}` with its status. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

function redactHookUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname.replace(/[^/]{12,}/g, (s) => `${s.slice(0, 6)}…`)}`;
  } catch {
    return '<invalid url>';
  }
}

async function sendHook(
  ctx: AmojoCtx,
  kind: HookRecord['kind'],
  scope: ScopeView,
  payload: unknown,
  trailingNewline: boolean,
): Promise<HookRecord> {
  const channel = ctx.channels.get(scope.channel_id);
  if (!channel) throw new Error(`channel ${scope.channel_id} vanished`);
  const url = channel.webhookUrl.split(':scope_id').join(scope.scope_id);
  const json = JSON.stringify(payload); // compact, UTF-8 not escaped (as fixture amojo-01)
  const signature = signCallbackBody(channel.secret, json);
  const body = trailingNewline ? `${json}\n` : json;
  const rec: HookRecord = {
    id: randomUUID(),
    kind,
    scope_id: scope.scope_id,
    url,
    at: ctx.nowMs(),
    body,
    signature,
    status: null,
    ok: false,
    duration_ms: 0,
  };
  const started = performance.now();
  try {
    // Sent once, never retried ([chat-hooks] "Хук отправляется только один раз"); 5 s at most (#callbacks).
    // *assumed* headers: Content-Type application/json and X-Signature; the docs name no others.
    const res = await ctx.fetchFn(url, {
      method: 'POST',
      headers: { 'Content-Type': JSON_CT, 'X-Signature': signature },
      body: Buffer.from(body, 'utf8'),
      redirect: 'manual',
      signal: AbortSignal.timeout(ctx.hookTimeoutMs),
    });
    rec.status = res.status;
    const text = await res.text().catch(() => '');
    rec.response_body = text.slice(0, 2048);
    rec.ok = res.status === 200; // "ответить на запрос с http-кодом 200" ([chat-steps])
    if (!rec.ok) rec.error = `HTTP ${res.status}`;
  } catch (e) {
    const name = e instanceof Error ? e.name : '';
    rec.error =
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${ctx.hookTimeoutMs} ms`
        : `network error: ${e instanceof Error ? e.message : String(e)}`;
  }
  rec.duration_ms = Math.round(performance.now() - started);
  ctx.st.hooks.push(rec);
  if (ctx.st.hooks.length > MAX_HOOK_RECORDS) ctx.st.hooks.splice(0, ctx.st.hooks.length - MAX_HOOK_RECORDS);
  ctx.log(`amojo ${kind} hook → ${redactHookUrl(url)}: ${rec.ok ? rec.status : rec.error}`);
  return rec;
}

function managerOf(ctx: AmojoCtx, scopeId: string, sender?: { id?: string; name?: string }): { id: string; name: string } {
  if (sender?.id) return { id: sender.id, name: sender.name ?? 'Менеджер' };
  let m = ctx.st.managers.get(scopeId);
  if (!m) {
    m = { id: randomUUID(), name: 'Менеджер Песочницы' };
    ctx.st.managers.set(scopeId, m);
  }
  return sender?.name ? { ...m, name: sender.name } : m;
}

function findChatForAdmin(ctx: AmojoCtx, scopeId: string, conversationId?: string, chatId?: string): ChatView {
  const chat =
    chatId !== undefined
      ? chatInScope(ctx, scopeId, chatId)
      : conversationId !== undefined
        ? chatByConversation(ctx, scopeId, conversationId)
        : undefined;
  if (!chat) throw new AdminError(404, 'no such chat in this scope (give conversation_id or chat_id)');
  return chat;
}

function adminScope(ctx: AmojoCtx, scopeId: string): ScopeView {
  const scope = ctx.st.scopes.get(scopeId);
  if (!scope) throw new AdminError(404, `scope ${scopeId} was never connected`);
  // amojo stops hooks to a disconnected channel ([chat-api] disconnect).
  if (!scope.connected) throw new AdminError(409, `scope ${scopeId} is disconnected: amojo sends it no hooks`);
  return scope;
}

export async function reply(ctx: AmojoCtx, input: ManagerReplyInput): Promise<{ message: MessageView; hook: HookRecord }> {
  const scope = adminScope(ctx, input.scope_id);
  const chat = findChatForAdmin(ctx, scope.scope_id, input.conversation_id, input.chat_id);
  const client = ctx.st.participants.get(chat.client_user_id);
  const type = input.type ?? 'text';
  if (type === 'text' && !input.text) throw new AdminError(400, 'text is required for a text reply');
  const manager = managerOf(ctx, scope.scope_id, input.sender);
  refUser(ctx, scope.scope_id, manager.id, manager.name);
  const at = ctx.nowMs();
  const message: Record<string, unknown> = {
    type,
    text: input.text ?? '',
    media: input.media ?? '',
    file_name: input.file_name ?? '',
    file_size: input.file_size ?? 0,
  };
  const msg: MessageView = {
    id: randomUUID(),
    scope_id: scope.scope_id,
    chat_id: chat.id,
    direction: 'outgoing',
    origin: 'manager',
    timestamp: Math.floor(at / 1000),
    msec_timestamp: at,
    sender_id: manager.id,
    receiver_id: chat.client_user_id,
    silent: false,
    message,
    edits: 0,
    delivery_statuses: [],
    reactions: [],
    received_at: at,
  };
  ctx.st.messages.set(msg.id, msg);
  const conversationClientId = chat.conversation_ids[0];
  let hookBody: unknown;
  if (scope.hook_api_version === 'v2') {
    // v2 outgoing-message hook (#callbacks / [chat-hooks]), key order of fixtures amojo-01 and amojo-03.
    hookBody = {
      account_id: scope.account_id,
      time: Math.floor(at / 1000),
      message: {
        receiver: {
          id: chat.client_user_id,
          ...(client?.name !== undefined ? { name: client.name } : {}),
          ...(client?.phone !== undefined ? { phone: client.phone } : {}),
          ...(client?.email !== undefined ? { email: client.email } : {}),
          ...(client?.client_id !== undefined ? { client_id: client.client_id } : {}),
        },
        sender: { id: manager.id, name: manager.name },
        ...(chat.source_external_id !== undefined ? { source: { external_id: chat.source_external_id } } : {}),
        // client_id is absent for chats started with "Написать первым" (#callbacks).
        conversation: { id: chat.id, ...(conversationClientId !== undefined ? { client_id: conversationClientId } : {}) },
        timestamp: msg.timestamp,
        msec_timestamp: msg.msec_timestamp,
        message: {
          id: msg.id,
          type,
          text: input.text ?? '',
          markup: null,
          tag: '',
          media: input.media ?? '',
          thumbnail: '',
          file_name: input.file_name ?? '',
          file_size: input.file_size ?? 0,
        },
      },
    };
  } else {
    // v1 (deprecated, still sent by Kommo): the shape of fixture amojo-02. *assumed*: receiver =
    // the client's integration id, conversation_id = the integration's conversation id.
    hookBody = {
      receiver: client?.client_id ?? chat.client_user_id,
      conversation_id: conversationClientId ?? chat.id,
      msec_timestamp: msg.msec_timestamp,
      type,
      text: input.text ?? '',
      markup: null,
      tag: '',
      media: input.media ?? '',
      thumbnail: '',
      file_name: input.file_name ?? '',
      file_size: input.file_size ?? 0,
      media_group_id: '',
    };
  }
  const hook = await sendHook(ctx, 'message', scope, hookBody, input.trailing_newline ?? false);
  return { message: msg, hook };
}

export async function typingHook(
  ctx: AmojoCtx,
  input: { scope_id: string; conversation_id?: string; chat_id?: string; user_id?: string },
): Promise<HookRecord> {
  const scope = adminScope(ctx, input.scope_id);
  const chat = findChatForAdmin(ctx, scope.scope_id, input.conversation_id, input.chat_id);
  const userId = input.user_id ?? managerOf(ctx, scope.scope_id).id;
  const at = ctx.nowSec();
  const conversationClientId = chat.conversation_ids[0];
  // Typing hook (#callbacks, [chat-hooks]): expired_at = start + 5 s.
  return sendHook(
    ctx,
    'typing',
    scope,
    {
      account_id: scope.account_id,
      time: at,
      action: {
        typing: {
          user: { id: userId },
          conversation: { id: chat.id, ...(conversationClientId !== undefined ? { client_id: conversationClientId } : {}) },
          expired_at: at + 5,
        },
      },
    },
    false,
  );
}
