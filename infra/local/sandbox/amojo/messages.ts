/**
 * Messages: `POST /{scope_id}` with `new_message` / `edit_message` (docs/amojo-protocol.md#endpoints, #messages),
 * delivery statuses (#delivery-status) and reactions (#endpoints).
 */
import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import type { SbRequest, SbResponse } from '../types.ts';
import { AmojoHttpError, bad, jsonBody, jsonResponse, parseWith } from './http.ts';
import {
  checkMessageFields,
  checkStatusRule,
  deliveryStatusSchema,
  editMessagePayloadSchema,
  newMessagePayloadSchema,
  reactSchema,
  type embeddedMessageSchema,
  type MessageIn,
} from './schemas.ts';
import {
  chatByConversation,
  chatInScope,
  k2,
  messageInScope,
  newChat,
  refUser,
  upsertClient,
  type AmojoCtx,
  type Participant,
} from './state.ts';
import type { ChatView, MessageView, ScopeView } from './types.ts';

function normalizedMessage(m: MessageIn): Record<string, unknown> {
  const { delivery_status: _ds, ...rest } = m;
  return rest;
}

function checkEmbedded(
  ctx: AmojoCtx,
  scopeId: string,
  chat: ChatView | undefined,
  m: z.infer<typeof embeddedMessageSchema>,
  where: string,
  sameChat: boolean,
): void {
  if (m.id === undefined && m.msgid === undefined) return;
  const target = messageInScope(ctx, scopeId, m);
  // *assumed*: a quote of an unknown message is bad data.
  if (!target) throw bad(`${where}: no such message in this scope`);
  // "Сообщение из цитаты с ответом может принадлежать только тому же чату" ([chat-api] reply_to).
  if (sameChat && chat && target.chat_id !== chat.id) throw bad(`${where}: a reply may quote only a message of the same chat`);
}

function newMessage(ctx: AmojoCtx, scope: ScopeView, payloadRaw: unknown): SbResponse {
  const st = ctx.st;
  const p = parseWith(newMessagePayloadSchema, payloadRaw, 'payload');
  checkMessageFields(p.message, false);
  // "API чатов не принимает несколько сообщений с одинаковым payload[msgid]" ([chat-steps]).
  // *assumed*: refused with 400 (the method documents only 200/403/400).
  if (st.messageByClientId.has(k2(scope.scope_id, p.msgid))) {
    throw new AmojoHttpError(400, 'DUPLICATE_MSGID', `payload.msgid ${p.msgid} was already accepted`);
  }
  let chat = chatByConversation(ctx, scope.scope_id, p.conversation_id);
  if (p.conversation_ref_id !== undefined) {
    const byRef = chatInScope(ctx, scope.scope_id, p.conversation_ref_id);
    if (!byRef) throw bad('payload.conversation_ref_id: no such chat in this scope');
    if (chat && chat.id !== byRef.id) throw bad('payload.conversation_id is already bound to another chat');
    if (!chat) {
      // "Написать первым": binds the integration's conversation id to the amojo chat ([chat-api]).
      byRef.conversation_ids.push(p.conversation_id);
      st.chatByConversation.set(k2(scope.scope_id, p.conversation_id), byRef.id);
    }
    chat = byRef;
  }
  if (p.reply_to) checkEmbedded(ctx, scope.scope_id, chat, p.reply_to.message, 'payload.reply_to.message', true);
  p.forwards?.messages.forEach((m, i) => checkEmbedded(ctx, scope.scope_id, undefined, m, `payload.forwards.messages.${i}`, false));

  // Incoming: only sender (the client). Outgoing: sender = amoCRM user/bot (ref_id), receiver = client ([chat-api] table).
  const incoming = p.receiver === undefined;
  const clientIn = incoming ? p.sender : p.receiver!;
  const client = upsertClient(ctx, scope.scope_id, clientIn);
  const sender = incoming
    ? client
    : p.sender.ref_id !== undefined
      ? refUser(ctx, scope.scope_id, p.sender.ref_id, p.sender.name)
      : upsertClient(ctx, scope.scope_id, p.sender); // *assumed*: an outgoing sender without ref_id is an external user
  // "an unknown conversation_id creates a new chat" ([chat-steps]).
  if (!chat) chat = newChat(ctx, scope.scope_id, p.conversation_id, client, p.source?.external_id);

  const msg: MessageView = {
    id: randomUUID(),
    scope_id: scope.scope_id,
    chat_id: chat.id,
    client_id: p.msgid,
    direction: incoming ? 'incoming' : 'outgoing',
    origin: 'api',
    timestamp: p.timestamp,
    msec_timestamp: p.msec_timestamp,
    sender_id: sender.id,
    silent: p.silent ?? false,
    message: normalizedMessage(p.message),
    edits: 0,
    delivery_statuses: [],
    reactions: [],
    received_at: ctx.nowMs(),
    ...(incoming ? {} : { receiver_id: client.id }),
  };
  st.messages.set(msg.id, msg);
  st.messageByClientId.set(k2(scope.scope_id, p.msgid), msg.id);
  ctx.log(`amojo new_message ${scope.scope_id} chat ${chat.id} (${msg.direction}, ${p.message.type})`);
  if (incoming) tellIncoming(ctx, scope, chat, client, p.conversation_id, p.message, p.timestamp);
  return jsonResponse(200, { new_message: newMessageView(msg) });
}

function clientIdOf(ctx: AmojoCtx, scope: ScopeView): string | undefined {
  return ctx.channels.get(scope.channel_id)?.clientId;
}

function tellIncoming(
  ctx: AmojoCtx,
  scope: ScopeView,
  chat: ChatView,
  client: Participant,
  conversationId: string,
  m: MessageIn,
  timestamp: number,
): void {
  if (!ctx.opts.onIncoming) return;
  try {
    ctx.opts.onIncoming({
      scope_id: scope.scope_id,
      channel_id: scope.channel_id,
      account_id: scope.account_id,
      channel_title: scope.title,
      chat_id: chat.id,
      ...(clientIdOf(ctx, scope) !== undefined ? { channel_client_id: clientIdOf(ctx, scope) } : {}),
      conversation_id: conversationId,
      ...(chat.source_external_id !== undefined ? { source_external_id: chat.source_external_id } : {}),
      client: {
        id: client.id,
        ...(client.client_id !== undefined ? { client_id: client.client_id } : {}),
        ...(client.name !== undefined ? { name: client.name } : {}),
        ...(client.avatar !== undefined ? { avatar: client.avatar } : {}),
        ...(client.phone !== undefined ? { phone: client.phone } : {}),
        ...(client.email !== undefined ? { email: client.email } : {}),
      },
      message_type: m.type,
      ...(m.text !== undefined ? { text: m.text } : {}),
      timestamp,
    });
  } catch (e) {
    // The account side failing must not change amojo's answer: the message was accepted.
    ctx.log(`amojo onIncoming failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * `new_message` response. Ids per the [amotop] live log (samples/chats/generateTextConversation.js):
 * conversation_id = amojo chat id, sender_id/receiver_id = amojo user ids (receiver_id absent for
 * incoming), msgid = amojo message id, ref_id = ours (#ids).
 */
function newMessageView(m: MessageView): Record<string, unknown> {
  return {
    conversation_id: m.chat_id,
    sender_id: m.sender_id,
    ...(m.receiver_id !== undefined ? { receiver_id: m.receiver_id } : {}),
    msgid: m.id,
    ...(m.client_id !== undefined ? { ref_id: m.client_id } : {}),
  };
}

function editMessage(ctx: AmojoCtx, scope: ScopeView, payloadRaw: unknown): SbResponse {
  const st = ctx.st;
  const p = parseWith(editMessagePayloadSchema, payloadRaw, 'payload');
  checkMessageFields(p.message, true);
  // With both: look up by the amojo id; msgid becomes the integration id ([chat-api] payload.msgid).
  const msg = messageInScope(ctx, scope.scope_id, p.id !== undefined ? { id: p.id } : { msgid: p.msgid! });
  // *assumed*: editing an unknown message is bad data (400); this method documents no 404.
  if (!msg) throw bad('payload: no message with this id/msgid in this scope');
  const chat = chatByConversation(ctx, scope.scope_id, p.conversation_id);
  if (!chat || chat.id !== msg.chat_id) throw bad("payload.conversation_id does not match the message's chat");
  if (p.id !== undefined && p.msgid !== undefined && p.msgid !== msg.client_id) {
    const key = k2(scope.scope_id, p.msgid);
    const other = st.messageByClientId.get(key);
    if (other && other !== msg.id) throw new AmojoHttpError(400, 'DUPLICATE_MSGID', `payload.msgid ${p.msgid} belongs to another message`);
    if (msg.client_id !== undefined) st.messageByClientId.delete(k2(scope.scope_id, msg.client_id));
    msg.client_id = p.msgid;
    st.messageByClientId.set(key, msg.id);
  }
  msg.message = { ...msg.message, ...normalizedMessage(p.message) };
  msg.edits += 1;
  const ds = p.message.delivery_status;
  if (ds) {
    msg.delivery_statuses.push({
      delivery_status: ds.status_code,
      at: ctx.nowMs(),
      ...(ds.error_code !== undefined ? { error_code: ds.error_code } : {}),
      ...(ds.error !== undefined ? { error: ds.error } : {}),
    });
  }
  // *assumed*: the edit answers with the same `new_message` object (#endpoints).
  return jsonResponse(200, { new_message: newMessageView(msg) });
}

export function postToScope(ctx: AmojoCtx, req: SbRequest, scope: ScopeView): SbResponse {
  const body = jsonBody(req);
  // "на данный момент поддерживается только new_message и edit_message" ([chat-api]).
  if (body.event_type === 'new_message') return newMessage(ctx, scope, body.payload);
  if (body.event_type === 'edit_message') return editMessage(ctx, scope, body.payload);
  throw bad('event_type must be "new_message" or "edit_message"');
}

export function deliveryStatus(ctx: AmojoCtx, req: SbRequest, scope: ScopeView, msgidInPath: string): SbResponse {
  const raw = jsonBody(req);
  if ('status_code' in raw && !('delivery_status' in raw)) {
    // #endpoints: the RU parameter table says status_code; every working client and the
    // verified [chat-steps] vector send delivery_status. The sandbox holds clients to the latter.
    throw bad(
      'delivery_status is required (status_code is the wording of one doc table; send {msgid, delivery_status, error_code?, error?})',
    );
  }
  const body = parseWith(deliveryStatusSchema, raw, '');
  // *assumed*: the body msgid must equal the one in the path ("same id as in URL", #endpoints).
  if (body.msgid !== msgidInPath) throw bad('msgid in the body must equal the message id in the path');
  checkStatusRule(body.delivery_status, body.error_code, body.error, 'body');
  // The path id is the amojo message id (message.message.id of the hook).
  const msg = messageInScope(ctx, scope.scope_id, { id: msgidInPath });
  if (!msg) throw new AmojoHttpError(404, 'NOT_FOUND', 'no such message'); // "404 Сообщения не существует" ([chat-api])
  msg.delivery_statuses.push({
    delivery_status: body.delivery_status,
    at: ctx.nowMs(),
    ...(body.error_code !== undefined ? { error_code: body.error_code } : {}),
    ...(body.error !== undefined ? { error: body.error } : {}),
  });
  ctx.log(`amojo delivery_status ${msg.id} → ${body.delivery_status}${body.error_code ? ` (${body.error_code})` : ''}`);
  return { status: 200 }; // "метод не возвращает ответ" ([chat-api])
}

export function react(ctx: AmojoCtx, req: SbRequest, scope: ScopeView): SbResponse {
  const body = parseWith(reactSchema, jsonBody(req), '');
  if (body.conversation_id === undefined && body.conversation_ref_id === undefined)
    throw bad('conversation_id or conversation_ref_id is required');
  if (body.id === undefined && body.msgid === undefined) throw bad('id or msgid is required');
  if (body.user.id === undefined && body.user.ref_id === undefined) throw bad('user.id or user.ref_id is required');
  // "emoji … Необязательное поле" ([chat-api] react): a react without emoji is accepted and stored as such.
  const chat =
    body.conversation_ref_id !== undefined
      ? chatInScope(ctx, scope.scope_id, body.conversation_ref_id)
      : chatByConversation(ctx, scope.scope_id, body.conversation_id!);
  const msg = messageInScope(ctx, scope.scope_id, body.id !== undefined ? { id: body.id } : { msgid: body.msgid! });
  // "404 Сообщение не существует" ([chat-api] react); a message of another chat counts as missing (*assumed*).
  if (!chat || !msg || msg.chat_id !== chat.id) throw new AmojoHttpError(404, 'NOT_FOUND', 'no such message in this conversation');
  const userId = body.user.ref_id ?? ctx.st.participantByClient.get(k2(scope.scope_id, body.user.id!)) ?? body.user.id!;
  msg.reactions.push({ user_id: userId, type: body.type, at: ctx.nowMs(), ...(body.emoji !== undefined ? { emoji: body.emoji } : {}) });
  return { status: 200 };
}
