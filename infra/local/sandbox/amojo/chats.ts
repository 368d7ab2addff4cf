/**
 * Chats: create (`POST /{scope_id}/chats`, docs/amojo-protocol.md#endpoints), history (`GET …/chats/{id}/history`,
 * ibid.) and typing (`POST /{scope_id}/typing`, ibid.).
 */
import type { SbRequest, SbResponse } from '../types.ts';
import { bad, jsonBody, jsonResponse, parseWith, pick } from './http.ts';
import { createChatSchema, typingSchema } from './schemas.ts';
import { chatByConversation, chatInScope, k2, newChat, refUser, upsertClient, type AmojoCtx, type Participant } from './state.ts';
import type { MessageView, ScopeView } from './types.ts';

export function createChat(ctx: AmojoCtx, req: SbRequest, scope: ScopeView): SbResponse {
  const raw = jsonBody(req);
  const body = parseWith(createChatSchema, raw, '');
  const rawUser = raw.user as Record<string, unknown>;
  // #endpoints: phone/email go under user.profile. *assumed* strictness: real amojo likely
  // ignores the flat keys silently; the sandbox refuses them so the mistake cannot ship.
  for (const k of ['phone', 'email'] as const) {
    if (k in rawUser) throw bad(`user.${k}: phone and email go under user.profile.{phone,email}`);
  }
  const u = body.user;
  if (u.ref_id === undefined && (!u.id || !u.name))
    throw bad('user.id and user.name are required (or user.ref_id of an existing amojo user)');

  const existing = chatByConversation(ctx, scope.scope_id, body.conversation_id);
  if (existing) {
    // "если для conversation_id чат уже существует, вернет его id" ([chat-api]).
    const client = ctx.st.participants.get(existing.client_user_id);
    return jsonResponse(200, { id: existing.id, user: client ? chatUserView(client) : { id: existing.client_user_id } });
  }
  if (u.ref_id !== undefined) {
    // [amotop] log: create chat with user {ref_id} only → 200 {id, user: {id}}.
    const p = refUser(ctx, scope.scope_id, u.ref_id, u.name);
    const chat = newChat(ctx, scope.scope_id, body.conversation_id, p, body.source?.external_id);
    return jsonResponse(200, { id: chat.id, user: { id: p.id } });
  }
  const client = upsertClient(ctx, scope.scope_id, { id: u.id!, name: u.name!, ...pick(u, ['avatar', 'profile', 'profile_link']) });
  const chat = newChat(ctx, scope.scope_id, body.conversation_id, client, body.source?.external_id);
  return jsonResponse(200, { id: chat.id, user: chatUserView(client) });
}

/** Create-chat response user: {id, client_id, name, avatar ('' when none), phone?, email?} ([chat-api]). */
function chatUserView(p: Participant): Record<string, unknown> {
  return {
    id: p.id,
    ...(p.client_id !== undefined ? { client_id: p.client_id } : {}),
    name: p.name ?? '',
    avatar: p.avatar ?? '',
    ...(p.phone !== undefined ? { phone: p.phone } : {}),
    ...(p.email !== undefined ? { email: p.email } : {}),
  };
}

export function history(ctx: AmojoCtx, req: SbRequest, scope: ScopeView, chatId: string): SbResponse {
  const intParam = (name: string, dflt: number): number => {
    const v = req.query.get(name);
    if (v === null) return dflt;
    if (!/^\d+$/.test(v)) throw bad(`${name} must be a non-negative integer`);
    return Number(v);
  };
  const offset = intParam('offset', 0);
  // "limit … (Максимум – 50)" ([chat-api]). *assumed*: default 50; 0 refused.
  const limit = intParam('limit', 50);
  if (limit < 1 || limit > 50) throw bad('limit must be between 1 and 50');
  // "204 Чат не существует или сообщения отсутствуют" ([chat-api]). A chat of another scope is not
  // readable ([chat-capabilities]), so it is "not existing" here too.
  const chat = chatInScope(ctx, scope.scope_id, chatId);
  if (!chat) return { status: 204 };
  const all = [...ctx.st.messages.values()].filter((m) => m.chat_id === chat.id);
  // Newest first, as in the [chat-api] example (descending timestamps). *assumed* for ties: later received first.
  const order = all
    .map((m, i) => ({ m, i }))
    .sort((a, b) => b.m.msec_timestamp - a.m.msec_timestamp || b.i - a.i)
    .map((x) => x.m);
  const page = order.slice(offset, offset + limit);
  if (page.length === 0) return { status: 204 }; // *assumed*: a page past the end is "no messages"
  return jsonResponse(200, { messages: page.map((m) => historyItem(ctx, m)) });
}

/** History item ([chat-api] "Параметры ответа"; empty values may be omitted). */
function historyItem(ctx: AmojoCtx, m: MessageView): Record<string, unknown> {
  const who = (id: string | undefined): Record<string, unknown> | undefined => {
    if (id === undefined) return undefined;
    const p = ctx.st.participants.get(id);
    if (!p) return { id };
    return {
      id: p.id,
      ...(p.client_id !== undefined ? { client_id: p.client_id } : {}),
      ...(p.avatar ? { avatar: p.avatar } : {}),
      name: p.name ?? '',
      ...(p.phone ? { phone: p.phone } : {}),
      ...(p.email ? { email: p.email } : {}),
    };
  };
  const msg = m.message;
  const receiver = who(m.receiver_id);
  return {
    timestamp: m.timestamp,
    msec_timestamp: m.msec_timestamp,
    sender: who(m.sender_id),
    ...(receiver ? { receiver } : {}),
    message: {
      id: m.id,
      ...(m.client_id !== undefined ? { client_id: m.client_id } : {}),
      type: msg.type,
      text: msg.text ?? '',
      media: msg.media ?? '',
      thumbnail: '',
      file_name: msg.file_name ?? '',
      file_size: msg.file_size ?? 0,
      ...(msg.location !== undefined ? { location: msg.location } : {}),
      ...(msg.contact !== undefined ? { contact: msg.contact } : {}),
    },
  };
}

export function typingIn(ctx: AmojoCtx, req: SbRequest, scope: ScopeView): SbResponse {
  const body = parseWith(typingSchema, jsonBody(req), '');
  const chat = chatByConversation(ctx, scope.scope_id, body.conversation_id);
  // *assumed*: typing in a conversation amojo does not know is bad data (400).
  if (!chat) throw bad('conversation_id: no such conversation in this scope');
  const senderId = ctx.st.participantByClient.get(k2(scope.scope_id, body.sender.id)) ?? body.sender.id;
  ctx.st.typing.push({
    scope_id: scope.scope_id,
    chat_id: chat.id,
    sender_id: senderId,
    duration_ms: body.duration_ms ?? 5000,
    at: ctx.nowMs(),
  });
  return { status: 204 }; // "204 Событие принято" ([chat-api] typing)
}
