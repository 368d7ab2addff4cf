/**
 * The sandbox's amojo (Chat API): a strict stand-in for `https://amojo.amocrm.ru/v2/origin/custom/*`
 * and the hooks amojo sends to a channel when a manager writes in amoCRM.
 *
 * Every rule carries its source — `#section` = a section of docs/amojo-protocol.md, `[name]` = a
 * public source listed in its #sources — or the word *assumed* where the docs are silent.
 * Signature rules live in lib/amojo/signing.ts, shared with the real client, so the sandbox and
 * the client cannot drift apart.
 *
 * Mounted by the sandbox core (index.ts): `route` for `/v2/origin/custom/*`, `adminRoute` for
 * `/_sandbox/amojo/*` (state, "a manager replies", "a manager is typing", reset).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { signCallbackBody, verifyRequestSignature, type RequestSignatureFailure } from '../../../lib/amojo/signing.ts';
import type { SbClock, SbRequest, SbResponse, SbRoute } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export interface AmojoChannelConfig {
  /** Channel UUID issued at registration (#ids). */
  id: string;
  /** Channel secret: signs requests and hooks (#the-signed-string, #callbacks). */
  secret: string;
  /** Default connect title ("По умолчанию – имя канала", [chat-api] connect). */
  title?: string;
  /** Registered hook URL with the `:scope_id` placeholder amojo fills in (#endpoints, [chat-start]). */
  webhookUrl: string;
}

export interface CreateAmojoOptions {
  clock: SbClock;
  fetch?: typeof fetch;
  channels: AmojoChannelConfig[];
  /** amojo ids of the accounts that may connect (a private channel lists them at registration, [chat-steps]). */
  accounts: Array<{ amojoId: string }>;
  log?: (line: string) => void;
  /** amojo waits at most 5 s for a hook answer (#callbacks). Knob for tests. */
  hookTimeoutMs?: number;
  /** Signature validity (#date-window: 15 minutes). Knob for tests. */
  signatureWindowMs?: number;
}

export type HookApiVersion = 'v1' | 'v2';

export interface ScopeView {
  scope_id: string;
  channel_id: string;
  account_id: string;
  title: string;
  hook_api_version: HookApiVersion;
  is_time_window_disabled?: boolean;
  connected: boolean;
  connected_at: number;
  disconnected_at?: number;
}

export interface ParticipantView {
  /** amojo id. */
  id: string;
  /** Integration-side id (absent for amoCRM users and bots). */
  client_id?: string;
  name?: string;
  avatar?: string;
  phone?: string;
  email?: string;
  profile_link?: string;
  kind: 'client' | 'user';
}

export interface ChatView {
  id: string;
  scope_id: string;
  /** The integration's conversation ids bound to this chat (first = the creating one). */
  conversation_ids: string[];
  client_user_id: string;
  source_external_id?: string;
  created_at: number;
}

export interface DeliveryStatusRecord {
  delivery_status: 1 | 2 | -1;
  error_code?: number;
  error?: string;
  at: number;
}

export interface MessageView {
  id: string;
  scope_id: string;
  chat_id: string;
  /** The integration's msgid (absent for messages a manager wrote in the sandbox). */
  client_id?: string;
  direction: 'incoming' | 'outgoing';
  origin: 'api' | 'manager';
  timestamp: number;
  msec_timestamp: number;
  sender_id: string;
  receiver_id?: string;
  silent: boolean;
  message: Record<string, unknown>;
  edits: number;
  delivery_statuses: DeliveryStatusRecord[];
  reactions: Array<{ user_id: string; type: 'react' | 'unreact'; emoji?: string; at: number }>;
  received_at: number;
}

export interface HookRecord {
  id: string;
  kind: 'message' | 'typing';
  scope_id: string;
  url: string;
  at: number;
  /** The exact bytes sent (UTF-8). */
  body: string;
  signature: string;
  status: number | null;
  /** amojo counts a hook as accepted only on HTTP 200 (#callbacks, [chat-hooks]). */
  ok: boolean;
  error?: string;
  duration_ms: number;
  response_body?: string;
}

export interface ManagerReplyInput {
  scope_id: string;
  /** The integration's conversation id (hook `conversation.client_id`) … */
  conversation_id?: string;
  /** … or the amojo chat id. */
  chat_id?: string;
  text?: string;
  type?: 'text' | 'picture' | 'video' | 'file' | 'voice' | 'audio' | 'sticker';
  media?: string;
  file_name?: string;
  file_size?: number;
  sender?: { id?: string; name?: string };
  /**
   * Simulate the live Kommo capture (fixture amojo-02): send the body with a trailing `\n` that the
   * signature does not cover (#callbacks). Default false.
   */
  trailing_newline?: boolean;
}

export interface AmojoSandbox {
  route: SbRoute;
  adminRoute: SbRoute;
  reset(): void;
  /** "A manager replies in amoCRM": store the message, POST the hook once, return what happened. */
  reply(input: ManagerReplyInput): Promise<{ message: MessageView; hook: HookRecord }>;
  /** "A manager is typing": the typing hook (#callbacks). */
  typing(input: { scope_id: string; conversation_id?: string; chat_id?: string; user_id?: string }): Promise<HookRecord>;
  snapshot(scopeId?: string): AmojoSnapshot;
}

export interface AmojoSnapshot {
  channels: Array<{ id: string; title?: string; webhook_url: string }>;
  accounts: string[];
  scopes: ScopeView[];
  chats: ChatView[];
  participants: ParticipantView[];
  messages: MessageView[];
  typing: Array<{ scope_id: string; chat_id: string; sender_id: string; duration_ms: number; at: number }>;
  hooks: HookRecord[];
}

/** Thrown inside handlers; turned into the JSON error body. */
class AmojoHttpError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
    this.name = 'AmojoHttpError';
  }
}

// ---------------------------------------------------------------------------------------------
// Request schemas ([chat-api] tables; "API чатов имеет строгую типизацию", [chat-start] — ints as ints)
// ---------------------------------------------------------------------------------------------

const nonEmpty = z.string().min(1);
const int = z.number().int();
const profileSchema = z.object({ phone: z.string().optional(), email: z.string().optional() });
/** ≤ 40 printable ASCII characters and space ([chat-api] create chat, `source[external_id]`). */
const sourceSchema = z.object({ external_id: z.string().max(40).regex(/^[\x20-\x7e]*$/, 'printable ASCII only') });

const participantSchema = z.object({
  id: nonEmpty,
  ref_id: z.string().optional(),
  name: z.string(),
  avatar: z.string().optional(),
  profile: profileSchema.optional(),
  profile_link: z.string().optional(),
});

const MESSAGE_TYPES = ['text', 'contact', 'file', 'video', 'picture', 'voice', 'audio', 'sticker', 'location'] as const;

const deliveryStatusValue = z.union([z.literal(1), z.literal(2), z.literal(-1)]);
const errorCode = z.union([z.literal(901), z.literal(902), z.literal(903), z.literal(904), z.literal(905)]);

const messageSchema = z.object({
  type: z.enum(MESSAGE_TYPES),
  text: z.string().optional(),
  media: z.string().optional(),
  file_name: z.string().optional(),
  file_size: int.nonnegative().optional(),
  sticker_id: z.string().optional(),
  location: z.object({ lon: z.number(), lat: z.number() }).optional(),
  contact: z.object({ name: nonEmpty, phone: nonEmpty }).optional(),
  callback_data: z.string().optional(),
  media_duration: int.nonnegative().optional(),
  shared_post: z.object({
    url: nonEmpty, type: z.literal('post'), preview_link: z.string().optional(), preview_permalink: z.string().optional(), site_name: z.string().optional(),
  }).optional(),
  post: z.object({
    id: nonEmpty, url: nonEmpty, preview_url: z.string().optional(), preview_permalink: z.string().optional(), username: z.string().optional(), caption: z.string().optional(),
  }).optional(),
  // Edit only ([chat-api] "Описание объекта delivery_status"): {status_code, error_code, error}.
  delivery_status: z.object({ status_code: deliveryStatusValue, error_code: errorCode.optional(), error: z.string().optional() }).optional(),
});
type MessageIn = z.infer<typeof messageSchema>;

const embeddedMessageSchema = z.object({
  id: z.string().optional(),
  msgid: z.string().optional(),
  type: z.enum(MESSAGE_TYPES).optional(),
  text: z.string().optional(),
  file_name: z.string().optional(),
  file_size: int.nonnegative().optional(),
  media_duration: int.nonnegative().optional(),
  location: z.object({ lon: z.number(), lat: z.number() }).optional(),
  contact: z.object({ name: nonEmpty, phone: nonEmpty }).optional(),
  timestamp: int.nonnegative().optional(),
  msec_timestamp: int.nonnegative().optional(),
  sender: z.object({ id: z.string().optional(), ref_id: z.string().optional(), name: z.string().optional() }).optional(),
}).superRefine((m, ctx) => {
  // [chat-api] embedded_message: without an id, type/timestamp/msec_timestamp/sender are required.
  if (m.id === undefined && m.msgid === undefined) {
    for (const k of ['type', 'timestamp', 'msec_timestamp', 'sender'] as const) {
      if (m[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'required when neither id nor msgid is given' });
    }
  }
});

const newMessagePayloadSchema = z.object({
  timestamp: int.nonnegative(),
  msec_timestamp: int.nonnegative(),
  msgid: nonEmpty,
  conversation_id: nonEmpty,
  conversation_ref_id: z.string().optional(),
  silent: z.boolean().optional(),
  source: sourceSchema.optional(),
  sender: participantSchema,
  receiver: participantSchema.optional(),
  message: messageSchema,
  reply_to: z.object({ message: embeddedMessageSchema }).optional(),
  // "на данный момент нельзя переслать более 1 сообщения" ([chat-api] forwards).
  forwards: z.object({
    messages: z.array(embeddedMessageSchema).min(1).max(1), conversation_id: z.string().optional(), conversation_ref_id: z.string().optional(),
  }).optional(),
});

const editMessagePayloadSchema = z.object({
  timestamp: int.nonnegative().optional(),
  msec_timestamp: int.nonnegative().optional(),
  msgid: z.string().optional(),
  id: z.string().optional(),
  conversation_id: nonEmpty,
  message: messageSchema,
}).refine((p) => p.msgid !== undefined || p.id !== undefined, { message: 'msgid or id is required', path: ['msgid'] });

const connectSchema = z.object({
  account_id: nonEmpty,
  hook_api_version: z.enum(['v1', 'v2']).optional(),
  title: z.string().optional(),
  is_time_window_disabled: z.boolean().optional(),
});
const disconnectSchema = z.object({ account_id: nonEmpty });

const createChatSchema = z.object({
  conversation_id: nonEmpty,
  source: sourceSchema.optional(),
  user: z.object({
    id: z.string().optional(),
    ref_id: z.string().optional(),
    name: z.string().optional(),
    avatar: z.string().optional(),
    profile: profileSchema.optional(),
    profile_link: z.string().optional(),
  }),
});

const deliveryStatusSchema = z.object({
  msgid: nonEmpty,
  delivery_status: deliveryStatusValue,
  error_code: errorCode.optional(),
  error: z.string().optional(),
});

const typingSchema = z.object({
  conversation_id: nonEmpty,
  sender: z.object({ id: nonEmpty }),
  duration_ms: int.positive().optional(),
});

const reactSchema = z.object({
  conversation_id: z.string().optional(),
  conversation_ref_id: z.string().optional(),
  id: z.string().optional(),
  msgid: z.string().optional(),
  user: z.object({ id: z.string().optional(), ref_id: z.string().optional() }),
  type: z.enum(['react', 'unreact']),
  emoji: z.string().optional(),
});

function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => `${[where, ...i.path.map(String)].filter(Boolean).join('.')}: ${i.message}`).join('; ');
  throw new AmojoHttpError(400, 'INVALID_REQUEST_DATA', details);
}

function bad(description: string): AmojoHttpError {
  return new AmojoHttpError(400, 'INVALID_REQUEST_DATA', description);
}

/** Type-specific required fields (#messages; [chat-api] "Описание объекта message"). */
function checkMessageFields(m: MessageIn, edit: boolean): void {
  const need = (cond: boolean, what: string): void => { if (!cond) throw bad(`payload.message: ${what} (type "${m.type}")`); };
  switch (m.type) {
    case 'text':
      need(typeof m.text === 'string' && m.text.length > 0, 'text is required');
      break;
    case 'picture': case 'video': case 'file':
      // "Необязательное поле, если при редактировании сообщения файл не меняется."
      if (!edit) need(!!m.media && !!m.file_name && m.file_size !== undefined, 'media, file_name and file_size are required');
      break;
    case 'voice': case 'audio': case 'sticker':
      if (!edit) need(!!m.media, 'media is required');
      break;
    case 'location':
      need(m.location !== undefined, 'location {lon, lat} is required');
      break;
    case 'contact':
      need(m.contact !== undefined, 'contact {name, phone} is required');
      break;
  }
  if (!edit && m.delivery_status !== undefined) throw bad('payload.message.delivery_status may be sent only with edit_message (DOC-REF)');
  if (m.delivery_status) checkStatusRule(m.delivery_status.status_code, m.delivery_status.error_code, m.delivery_status.error, 'payload.message.delivery_status');
}

/**
 * #delivery-status: `error_code`/`error` only with status -1 ("Обязателен только при status_code = -1";
 * [kommo-delivery] "Don't send in case of status not error"); -1 needs a code; 905 needs the `error` text.
 */
function checkStatusRule(status: number, code: number | undefined, error: string | undefined, where: string): void {
  if (status !== -1) {
    if (code !== undefined || error !== undefined) throw bad(`${where}: error_code and error are sent only with status -1`);
    return;
  }
  if (code === undefined) throw bad(`${where}: error_code (901–905) is required with status -1`);
  if (code === 905 && (error === undefined || error.trim() === '')) throw bad(`${where}: error text is required with error_code 905`);
}

// ---------------------------------------------------------------------------------------------
// The module
// ---------------------------------------------------------------------------------------------

const PREFIX = '/v2/origin/custom/';
const ADMIN_PREFIX = '/_sandbox/amojo';
const JSON_CT = 'application/json';
const MAX_HOOK_RECORDS = 5_000;

interface Participant extends ParticipantView { scope_id: string }

interface State {
  scopes: Map<string, ScopeView>;
  chats: Map<string, ChatView>;
  /** `${scope}\0${conversation_id}` → chat id. */
  chatByConversation: Map<string, string>;
  participants: Map<string, Participant>;
  /** `${scope}\0${client user id}` → amojo user id. */
  participantByClient: Map<string, string>;
  messages: Map<string, MessageView>;
  /** `${scope}\0${client msgid}` → amojo message id. */
  messageByClientId: Map<string, string>;
  typing: AmojoSnapshot['typing'];
  hooks: HookRecord[];
  /** One default "manager" per scope for sandbox replies. */
  managers: Map<string, { id: string; name: string }>;
}

function emptyState(): State {
  return {
    scopes: new Map(), chats: new Map(), chatByConversation: new Map(), participants: new Map(), participantByClient: new Map(),
    messages: new Map(), messageByClientId: new Map(), typing: [], hooks: [], managers: new Map(),
  };
}

const k2 = (a: string, b: string): string => `${a}\u0000${b}`;

function jsonResponse(status: number, body: unknown): SbResponse {
  return { status, headers: { 'content-type': JSON_CT }, body: JSON.stringify(body) };
}

/**
 * Error body. *assumed* shape: the docs only say "details in the body"; [fcritic]'s gateway reads
 * `error_code`, `error_type`, `error_description` (#errors). error_code = HTTP status here.
 */
function errorResponse(status: number, type: string, description: string): SbResponse {
  return jsonResponse(status, { error_code: status, error_type: type, error_description: description });
}

const SIGNATURE_ERROR_TYPE: Record<RequestSignatureFailure, string> = {
  missing_header: 'MISSING_HEADER',
  content_type: 'INVALID_CONTENT_TYPE',
  content_md5_malformed: 'INVALID_CONTENT_MD5',
  content_md5_mismatch: 'INVALID_CONTENT_MD5',
  date_malformed: 'INVALID_DATE',
  date_out_of_window: 'EXPIRED_SIGNATURE',
  signature_malformed: 'INVALID_SIGNATURE',
  signature_mismatch: 'INVALID_SIGNATURE',
};

function redactHookUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname.replace(/[^/]{12,}/g, (s) => `${s.slice(0, 6)}…`)}`;
  } catch {
    return '<invalid url>';
  }
}

export function createAmojo(opts: CreateAmojoOptions): AmojoSandbox {
  const clock = opts.clock;
  const log = opts.log ?? (() => {});
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const hookTimeoutMs = opts.hookTimeoutMs ?? 5000;
  const channels = new Map(opts.channels.map((c) => [c.id, c]));
  const accounts = new Set(opts.accounts.map((a) => a.amojoId));
  let st = emptyState();

  const nowMs = (): number => clock.now();
  const nowSec = (): number => Math.floor(clock.now() / 1000);

  // ---- lookups -------------------------------------------------------------------------------

  /** scope_id is `{channel_id}_{amojo_id}` in every observed example (#ids). */
  function channelOfScope(scopeId: string): AmojoChannelConfig | undefined {
    for (const c of channels.values()) if (scopeId.startsWith(`${c.id}_`)) return c;
    return undefined;
  }

  function requireSignature(req: SbRequest, channel: AmojoChannelConfig): void {
    const r = verifyRequestSignature(channel.secret, {
      method: req.method, path: req.path, headers: req.headers, body: req.body, now: nowMs(),
      ...(opts.signatureWindowMs !== undefined ? { windowMs: opts.signatureWindowMs } : {}),
    });
    if (!r.ok) {
      // 403 = bad signature ([chat-api], every method). The wrong Content-Type is refused the same way: it is signed.
      log(`amojo ${req.method} ${req.path} → 403 ${r.reason}`);
      throw new AmojoHttpError(403, SIGNATURE_ERROR_TYPE[r.reason], r.detail);
    }
  }

  function jsonBody(req: SbRequest): Record<string, unknown> {
    let v: unknown;
    try {
      v = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw bad('the body is not valid JSON');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the body must be a JSON object');
    return v as Record<string, unknown>;
  }

  function connectedScope(scopeId: string): ScopeView {
    const s = st.scopes.get(scopeId);
    // *assumed*: a scope that was never connected, or was disconnected, answers 404 like an unknown channel.
    if (!s || !s.connected) throw new AmojoHttpError(404, 'NOT_FOUND', `scope ${scopeId} is not connected`);
    return s;
  }

  function upsertClient(scopeId: string, p: { id: string; name?: string; avatar?: string; profile?: { phone?: string; email?: string }; profile_link?: string }): Participant {
    const key = k2(scopeId, p.id);
    const existingId = st.participantByClient.get(key);
    const existing = existingId ? st.participants.get(existingId) : undefined;
    const base: Participant = existing ?? { id: randomUUID(), client_id: p.id, kind: 'client', scope_id: scopeId };
    if (p.name !== undefined && p.name !== '') base.name = p.name;
    if (p.avatar !== undefined) base.avatar = p.avatar;
    if (p.profile?.phone !== undefined) base.phone = p.profile.phone;
    if (p.profile?.email !== undefined) base.email = p.profile.email;
    if (p.profile_link !== undefined) base.profile_link = p.profile_link;
    st.participants.set(base.id, base);
    st.participantByClient.set(key, base.id);
    return base;
  }

  /** An amoCRM user or bot known by its amojo id (`ref_id`); we cannot check it, so we accept it. */
  function refUser(scopeId: string, refId: string, name?: string): Participant {
    const existing = st.participants.get(refId);
    if (existing) {
      if (name) existing.name = name;
      return existing;
    }
    const p: Participant = { id: refId, kind: 'user', scope_id: scopeId, ...(name ? { name } : {}) };
    st.participants.set(refId, p);
    return p;
  }

  function newChat(scopeId: string, conversationId: string | undefined, client: Participant, source?: string): ChatView {
    const chat: ChatView = {
      id: randomUUID(), scope_id: scopeId, conversation_ids: conversationId ? [conversationId] : [], client_user_id: client.id, created_at: nowMs(),
      ...(source !== undefined ? { source_external_id: source } : {}),
    };
    st.chats.set(chat.id, chat);
    if (conversationId) st.chatByConversation.set(k2(scopeId, conversationId), chat.id);
    return chat;
  }

  function chatInScope(scopeId: string, chatId: string): ChatView | undefined {
    const c = st.chats.get(chatId);
    return c && c.scope_id === scopeId ? c : undefined;
  }

  function chatByConversation(scopeId: string, conversationId: string): ChatView | undefined {
    const id = st.chatByConversation.get(k2(scopeId, conversationId));
    return id ? st.chats.get(id) : undefined;
  }

  function messageInScope(scopeId: string, ref: { id?: string; msgid?: string }): MessageView | undefined {
    if (ref.id !== undefined) {
      const m = st.messages.get(ref.id);
      if (m && m.scope_id === scopeId) return m;
    }
    if (ref.msgid !== undefined) {
      const id = st.messageByClientId.get(k2(scopeId, ref.msgid));
      if (id) return st.messages.get(id);
    }
    return undefined;
  }

  function normalizedMessage(m: MessageIn): Record<string, unknown> {
    const { delivery_status: _ds, ...rest } = m;
    return rest;
  }

  // ---- handlers ------------------------------------------------------------------------------

  function connect(req: SbRequest, channel: AmojoChannelConfig): SbResponse {
    const body = parseWith(connectSchema, jsonBody(req), '');
    // *assumed*: an account the channel does not know is bad data (400); the docs give no code for it.
    if (!accounts.has(body.account_id)) throw bad(`account_id ${body.account_id} is not an account this channel may connect`);
    const scopeId = `${channel.id}_${body.account_id}`;
    const prev = st.scopes.get(scopeId);
    const scope: ScopeView = {
      scope_id: scopeId,
      channel_id: channel.id,
      account_id: body.account_id,
      title: body.title ?? channel.title ?? channel.id,
      // "По умолчанию v1" ([chat-api] connect): always send "v2".
      hook_api_version: body.hook_api_version ?? 'v1',
      connected: true,
      connected_at: prev?.connected ? prev.connected_at : nowMs(),
      ...(body.is_time_window_disabled !== undefined ? { is_time_window_disabled: body.is_time_window_disabled } : {}),
    };
    st.scopes.set(scopeId, scope);
    log(`amojo connect ${scopeId} (hooks ${scope.hook_api_version})`);
    // "Метод вернет переданные поля запроса, и scope_id" ([chat-api]; [chat-steps] response has no is_time_window_disabled when not sent).
    return jsonResponse(200, {
      account_id: scope.account_id,
      scope_id: scopeId,
      title: scope.title,
      hook_api_version: scope.hook_api_version,
      ...(scope.is_time_window_disabled !== undefined ? { is_time_window_disabled: scope.is_time_window_disabled } : {}),
    });
  }

  function disconnect(req: SbRequest, channel: AmojoChannelConfig): SbResponse {
    const body = parseWith(disconnectSchema, jsonBody(req), '');
    if (!accounts.has(body.account_id)) throw bad(`account_id ${body.account_id} is not an account this channel knows`);
    const scope = st.scopes.get(`${channel.id}_${body.account_id}`);
    // *assumed*: disconnecting an account that is not connected is a no-op 200 (idempotent).
    if (scope && scope.connected) {
      scope.connected = false;
      scope.disconnected_at = nowMs();
    }
    log(`amojo disconnect ${channel.id}_${body.account_id}`);
    return { status: 200 }; // "Метод не возвращает тела ответа" ([chat-api])
  }

  function createChat(req: SbRequest, scope: ScopeView): SbResponse {
    const raw = jsonBody(req);
    const body = parseWith(createChatSchema, raw, '');
    const rawUser = raw.user as Record<string, unknown>;
    // #endpoints: phone/email go under user.profile. *assumed* strictness: real amojo likely
    // ignores the flat keys silently; the sandbox refuses them so the mistake cannot ship.
    for (const k of ['phone', 'email'] as const) {
      if (k in rawUser) throw bad(`user.${k}: phone and email go under user.profile.{phone,email}`);
    }
    const u = body.user;
    if (u.ref_id === undefined && (!u.id || !u.name)) throw bad('user.id and user.name are required (or user.ref_id of an existing amojo user)');

    const existing = chatByConversation(scope.scope_id, body.conversation_id);
    if (existing) {
      // "если для conversation_id чат уже существует, вернет его id" ([chat-api]).
      const client = st.participants.get(existing.client_user_id);
      return jsonResponse(200, { id: existing.id, user: client ? chatUserView(client) : { id: existing.client_user_id } });
    }
    if (u.ref_id !== undefined) {
      // [amotop] log: create chat with user {ref_id} only → 200 {id, user: {id}}.
      const p = refUser(scope.scope_id, u.ref_id, u.name);
      const chat = newChat(scope.scope_id, body.conversation_id, p, body.source?.external_id);
      return jsonResponse(200, { id: chat.id, user: { id: p.id } });
    }
    const client = upsertClient(scope.scope_id, { id: u.id!, name: u.name!, ...pick(u, ['avatar', 'profile', 'profile_link']) });
    const chat = newChat(scope.scope_id, body.conversation_id, client, body.source?.external_id);
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

  function checkEmbedded(scopeId: string, chat: ChatView | undefined, m: z.infer<typeof embeddedMessageSchema>, where: string, sameChat: boolean): void {
    if (m.id === undefined && m.msgid === undefined) return;
    const target = messageInScope(scopeId, m);
    // *assumed*: a quote of an unknown message is bad data.
    if (!target) throw bad(`${where}: no such message in this scope`);
    // "Сообщение из цитаты с ответом может принадлежать только тому же чату" ([chat-api] reply_to).
    if (sameChat && chat && target.chat_id !== chat.id) throw bad(`${where}: a reply may quote only a message of the same chat`);
  }

  function newMessage(scope: ScopeView, payloadRaw: unknown): SbResponse {
    const p = parseWith(newMessagePayloadSchema, payloadRaw, 'payload');
    checkMessageFields(p.message, false);
    // "API чатов не принимает несколько сообщений с одинаковым payload[msgid]" ([chat-steps]).
    // *assumed*: refused with 400 (the method documents only 200/403/400).
    if (st.messageByClientId.has(k2(scope.scope_id, p.msgid))) {
      throw new AmojoHttpError(400, 'DUPLICATE_MSGID', `payload.msgid ${p.msgid} was already accepted`);
    }
    let chat = chatByConversation(scope.scope_id, p.conversation_id);
    if (p.conversation_ref_id !== undefined) {
      const byRef = chatInScope(scope.scope_id, p.conversation_ref_id);
      if (!byRef) throw bad('payload.conversation_ref_id: no such chat in this scope');
      if (chat && chat.id !== byRef.id) throw bad('payload.conversation_id is already bound to another chat');
      if (!chat) {
        // "Написать первым": binds the integration's conversation id to the amojo chat ([chat-api]).
        byRef.conversation_ids.push(p.conversation_id);
        st.chatByConversation.set(k2(scope.scope_id, p.conversation_id), byRef.id);
      }
      chat = byRef;
    }
    if (p.reply_to) checkEmbedded(scope.scope_id, chat, p.reply_to.message, 'payload.reply_to.message', true);
    p.forwards?.messages.forEach((m, i) => checkEmbedded(scope.scope_id, undefined, m, `payload.forwards.messages.${i}`, false));

    // Incoming: only sender (the client). Outgoing: sender = amoCRM user/bot (ref_id), receiver = client ([chat-api] table).
    const incoming = p.receiver === undefined;
    const clientIn = incoming ? p.sender : p.receiver!;
    const client = upsertClient(scope.scope_id, clientIn);
    const sender = incoming ? client
      : p.sender.ref_id !== undefined ? refUser(scope.scope_id, p.sender.ref_id, p.sender.name)
        : upsertClient(scope.scope_id, p.sender); // *assumed*: an outgoing sender without ref_id is an external user
    // "an unknown conversation_id creates a new chat" ([chat-steps]).
    if (!chat) chat = newChat(scope.scope_id, p.conversation_id, client, p.source?.external_id);

    const msg: MessageView = {
      id: randomUUID(), scope_id: scope.scope_id, chat_id: chat.id, client_id: p.msgid, direction: incoming ? 'incoming' : 'outgoing', origin: 'api',
      timestamp: p.timestamp, msec_timestamp: p.msec_timestamp, sender_id: sender.id, silent: p.silent ?? false,
      message: normalizedMessage(p.message), edits: 0, delivery_statuses: [], reactions: [], received_at: nowMs(),
      ...(incoming ? {} : { receiver_id: client.id }),
    };
    st.messages.set(msg.id, msg);
    st.messageByClientId.set(k2(scope.scope_id, p.msgid), msg.id);
    log(`amojo new_message ${scope.scope_id} chat ${chat.id} (${msg.direction}, ${p.message.type})`);
    return jsonResponse(200, { new_message: newMessageView(msg) });
  }

  /**
   * `new_message` response. Ids per the [amotop] live log (samples/chats/generateTextConversation.js):
   * conversation_id = amojo chat id, sender_id/receiver_id = amojo user ids (receiver_id absent for
   * incoming), msgid = amojo message id, ref_id = ours (#ids).
   */
  function newMessageView(m: MessageView): Record<string, unknown> {
    return {
      conversation_id: m.chat_id, sender_id: m.sender_id, ...(m.receiver_id !== undefined ? { receiver_id: m.receiver_id } : {}),
      msgid: m.id, ...(m.client_id !== undefined ? { ref_id: m.client_id } : {}),
    };
  }

  function editMessage(scope: ScopeView, payloadRaw: unknown): SbResponse {
    const p = parseWith(editMessagePayloadSchema, payloadRaw, 'payload');
    checkMessageFields(p.message, true);
    // With both: look up by the amojo id; msgid becomes the integration id ([chat-api] payload.msgid).
    const msg = messageInScope(scope.scope_id, p.id !== undefined ? { id: p.id } : { msgid: p.msgid! });
    // *assumed*: editing an unknown message is bad data (400); this method documents no 404.
    if (!msg) throw bad('payload: no message with this id/msgid in this scope');
    const chat = chatByConversation(scope.scope_id, p.conversation_id);
    if (!chat || chat.id !== msg.chat_id) throw bad('payload.conversation_id does not match the message\'s chat');
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
        delivery_status: ds.status_code, at: nowMs(),
        ...(ds.error_code !== undefined ? { error_code: ds.error_code } : {}), ...(ds.error !== undefined ? { error: ds.error } : {}),
      });
    }
    // *assumed*: the edit answers with the same `new_message` object (#endpoints).
    return jsonResponse(200, { new_message: newMessageView(msg) });
  }

  function postToScope(req: SbRequest, scope: ScopeView): SbResponse {
    const body = jsonBody(req);
    // "на данный момент поддерживается только new_message и edit_message" ([chat-api]).
    if (body.event_type === 'new_message') return newMessage(scope, body.payload);
    if (body.event_type === 'edit_message') return editMessage(scope, body.payload);
    throw bad('event_type must be "new_message" or "edit_message"');
  }

  function deliveryStatus(req: SbRequest, scope: ScopeView, msgidInPath: string): SbResponse {
    const raw = jsonBody(req);
    if ('status_code' in raw && !('delivery_status' in raw)) {
      // #endpoints: the RU parameter table says status_code; every working client and the
      // verified [chat-steps] vector send delivery_status. The sandbox holds clients to the latter.
      throw bad('delivery_status is required (status_code is the wording of one doc table; send {msgid, delivery_status, error_code?, error?})');
    }
    const body = parseWith(deliveryStatusSchema, raw, '');
    // *assumed*: the body msgid must equal the one in the path ("same id as in URL", #endpoints).
    if (body.msgid !== msgidInPath) throw bad('msgid in the body must equal the message id in the path');
    checkStatusRule(body.delivery_status, body.error_code, body.error, 'body');
    // The path id is the amojo message id (message.message.id of the hook).
    const msg = messageInScope(scope.scope_id, { id: msgidInPath });
    if (!msg) throw new AmojoHttpError(404, 'NOT_FOUND', 'no such message'); // "404 Сообщения не существует" ([chat-api])
    msg.delivery_statuses.push({
      delivery_status: body.delivery_status, at: nowMs(),
      ...(body.error_code !== undefined ? { error_code: body.error_code } : {}), ...(body.error !== undefined ? { error: body.error } : {}),
    });
    log(`amojo delivery_status ${msg.id} → ${body.delivery_status}${body.error_code ? ` (${body.error_code})` : ''}`);
    return { status: 200 }; // "метод не возвращает ответ" ([chat-api])
  }

  function history(req: SbRequest, scope: ScopeView, chatId: string): SbResponse {
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
    const chat = chatInScope(scope.scope_id, chatId);
    if (!chat) return { status: 204 };
    const all = [...st.messages.values()].filter((m) => m.chat_id === chat.id);
    // Newest first, as in the [chat-api] example (descending timestamps). *assumed* for ties: later received first.
    const order = all.map((m, i) => ({ m, i })).sort((a, b) => b.m.msec_timestamp - a.m.msec_timestamp || b.i - a.i).map((x) => x.m);
    const page = order.slice(offset, offset + limit);
    if (page.length === 0) return { status: 204 }; // *assumed*: a page past the end is "no messages"
    return jsonResponse(200, { messages: page.map(historyItem) });
  }

  /** History item ([chat-api] "Параметры ответа"; empty values may be omitted). */
  function historyItem(m: MessageView): Record<string, unknown> {
    const who = (id: string | undefined): Record<string, unknown> | undefined => {
      if (id === undefined) return undefined;
      const p = st.participants.get(id);
      if (!p) return { id };
      return {
        id: p.id, ...(p.client_id !== undefined ? { client_id: p.client_id } : {}), ...(p.avatar ? { avatar: p.avatar } : {}),
        name: p.name ?? '', ...(p.phone ? { phone: p.phone } : {}), ...(p.email ? { email: p.email } : {}),
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

  function typingIn(req: SbRequest, scope: ScopeView): SbResponse {
    const body = parseWith(typingSchema, jsonBody(req), '');
    const chat = chatByConversation(scope.scope_id, body.conversation_id);
    // *assumed*: typing in a conversation amojo does not know is bad data (400).
    if (!chat) throw bad('conversation_id: no such conversation in this scope');
    const senderId = st.participantByClient.get(k2(scope.scope_id, body.sender.id)) ?? body.sender.id;
    st.typing.push({ scope_id: scope.scope_id, chat_id: chat.id, sender_id: senderId, duration_ms: body.duration_ms ?? 5000, at: nowMs() });
    return { status: 204 }; // "204 Событие принято" ([chat-api] typing)
  }

  function react(req: SbRequest, scope: ScopeView): SbResponse {
    const body = parseWith(reactSchema, jsonBody(req), '');
    if (body.conversation_id === undefined && body.conversation_ref_id === undefined) throw bad('conversation_id or conversation_ref_id is required');
    if (body.id === undefined && body.msgid === undefined) throw bad('id or msgid is required');
    if (body.user.id === undefined && body.user.ref_id === undefined) throw bad('user.id or user.ref_id is required');
    // "emoji … Необязательное поле" ([chat-api] react): a react without emoji is accepted and stored as such.
    const chat = body.conversation_ref_id !== undefined ? chatInScope(scope.scope_id, body.conversation_ref_id) : chatByConversation(scope.scope_id, body.conversation_id!);
    const msg = messageInScope(scope.scope_id, body.id !== undefined ? { id: body.id } : { msgid: body.msgid! });
    // "404 Сообщение не существует" ([chat-api] react); a message of another chat counts as missing (*assumed*).
    if (!chat || !msg || msg.chat_id !== chat.id) throw new AmojoHttpError(404, 'NOT_FOUND', 'no such message in this conversation');
    const userId = body.user.ref_id ?? st.participantByClient.get(k2(scope.scope_id, body.user.id!)) ?? body.user.id!;
    msg.reactions.push({ user_id: userId, type: body.type, at: nowMs(), ...(body.emoji !== undefined ? { emoji: body.emoji } : {}) });
    return { status: 200 };
  }

  // ---- dispatch ------------------------------------------------------------------------------

  async function handle(req: SbRequest): Promise<SbResponse> {
    const segs = req.path.slice(PREFIX.length).split('/');
    const method = req.method.toUpperCase();
    const want = (m: string): void => {
      // *assumed*: a known path with another method answers 405 with the same error body.
      if (method !== m) throw new AmojoHttpError(405, 'METHOD_NOT_ALLOWED', `use ${m} for this path`);
    };
    if (segs.some((s) => s === '')) throw new AmojoHttpError(404, 'NOT_FOUND', 'unknown path');

    // /{channel_id}/connect and /{channel_id}/disconnect (#endpoints).
    if (segs.length === 2 && (segs[1] === 'connect' || segs[1] === 'disconnect')) {
      const channel = channels.get(segs[0]!);
      if (!channel) throw new AmojoHttpError(404, 'NOT_FOUND', 'channel does not exist'); // "404 Канал не существует"
      want(segs[1] === 'connect' ? 'POST' : 'DELETE');
      requireSignature(req, channel);
      return segs[1] === 'connect' ? connect(req, channel) : disconnect(req, channel);
    }

    const scopeId = segs[0]!;
    const channel = channelOfScope(scopeId);
    if (!channel) throw new AmojoHttpError(404, 'NOT_FOUND', 'channel does not exist');
    const rest = segs.slice(1);
    const shape = rest.length === 0 ? 'root'
      : rest.length === 1 && rest[0] === 'chats' ? 'chats'
        : rest.length === 1 && rest[0] === 'typing' ? 'typing'
          : rest.length === 1 && rest[0] === 'react' ? 'react'
            : rest.length === 2 && rest[1] === 'delivery_status' ? 'delivery_status'
              : rest.length === 3 && rest[0] === 'chats' && rest[2] === 'history' ? 'history'
                : undefined;
    if (shape === undefined) throw new AmojoHttpError(404, 'NOT_FOUND', 'unknown path');
    want(shape === 'history' ? 'GET' : 'POST');
    // The signature is checked before the scope: it is the channel's secret that signs.
    requireSignature(req, channel);
    const scope = connectedScope(scopeId);
    switch (shape) {
      case 'root': return postToScope(req, scope);
      case 'chats': return createChat(req, scope);
      case 'typing': return typingIn(req, scope);
      case 'react': return react(req, scope);
      case 'delivery_status': return deliveryStatus(req, scope, rest[0]!);
      case 'history': return history(req, scope, rest[1]!);
    }
  }

  const route: SbRoute = async (req) => {
    if (!req.path.startsWith(PREFIX)) return undefined;
    try {
      return await handle(req);
    } catch (e) {
      if (e instanceof AmojoHttpError) {
        if (e.status !== 403) log(`amojo ${req.method} ${req.path} → ${e.status} ${e.type}`);
        return errorResponse(e.status, e.type, e.message);
      }
      throw e;
    }
  };

  // ---- hooks (amojo → channel) ---------------------------------------------------------------

  async function sendHook(kind: HookRecord['kind'], scope: ScopeView, payload: unknown, trailingNewline: boolean): Promise<HookRecord> {
    const channel = channels.get(scope.channel_id);
    if (!channel) throw new Error(`channel ${scope.channel_id} vanished`);
    const url = channel.webhookUrl.split(':scope_id').join(scope.scope_id);
    const json = JSON.stringify(payload); // compact, UTF-8 not escaped (as fixture amojo-01)
    const signature = signCallbackBody(channel.secret, json);
    const body = trailingNewline ? `${json}\n` : json;
    const rec: HookRecord = { id: randomUUID(), kind, scope_id: scope.scope_id, url, at: nowMs(), body, signature, status: null, ok: false, duration_ms: 0 };
    const started = performance.now();
    try {
      // Sent once, never retried ([chat-hooks] "Хук отправляется только один раз"); 5 s at most (#callbacks).
      // *assumed* headers: Content-Type application/json and X-Signature; the docs name no others.
      const res = await fetchFn(url, {
        method: 'POST',
        headers: { 'Content-Type': JSON_CT, 'X-Signature': signature },
        body: Buffer.from(body, 'utf8'),
        redirect: 'manual',
        signal: AbortSignal.timeout(hookTimeoutMs),
      });
      rec.status = res.status;
      const text = await res.text().catch(() => '');
      rec.response_body = text.slice(0, 2048);
      rec.ok = res.status === 200; // "ответить на запрос с http-кодом 200" ([chat-steps])
      if (!rec.ok) rec.error = `HTTP ${res.status}`;
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      rec.error = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${hookTimeoutMs} ms` : `network error: ${e instanceof Error ? e.message : String(e)}`;
    }
    rec.duration_ms = Math.round(performance.now() - started);
    st.hooks.push(rec);
    if (st.hooks.length > MAX_HOOK_RECORDS) st.hooks.splice(0, st.hooks.length - MAX_HOOK_RECORDS);
    log(`amojo ${kind} hook → ${redactHookUrl(url)}: ${rec.ok ? rec.status : rec.error}`);
    return rec;
  }

  function managerOf(scopeId: string, sender?: { id?: string; name?: string }): { id: string; name: string } {
    if (sender?.id) return { id: sender.id, name: sender.name ?? 'Менеджер' };
    let m = st.managers.get(scopeId);
    if (!m) {
      m = { id: randomUUID(), name: 'Менеджер Песочницы' };
      st.managers.set(scopeId, m);
    }
    return sender?.name ? { ...m, name: sender.name } : m;
  }

  function findChatForAdmin(scopeId: string, conversationId?: string, chatId?: string): ChatView {
    const chat = chatId !== undefined ? chatInScope(scopeId, chatId) : conversationId !== undefined ? chatByConversation(scopeId, conversationId) : undefined;
    if (!chat) throw new AdminError(404, 'no such chat in this scope (give conversation_id or chat_id)');
    return chat;
  }

  function adminScope(scopeId: string): ScopeView {
    const scope = st.scopes.get(scopeId);
    if (!scope) throw new AdminError(404, `scope ${scopeId} was never connected`);
    // amojo stops hooks to a disconnected channel ([chat-api] disconnect).
    if (!scope.connected) throw new AdminError(409, `scope ${scopeId} is disconnected: amojo sends it no hooks`);
    return scope;
  }

  async function reply(input: ManagerReplyInput): Promise<{ message: MessageView; hook: HookRecord }> {
    const scope = adminScope(input.scope_id);
    const chat = findChatForAdmin(scope.scope_id, input.conversation_id, input.chat_id);
    const client = st.participants.get(chat.client_user_id);
    const type = input.type ?? 'text';
    if (type === 'text' && !input.text) throw new AdminError(400, 'text is required for a text reply');
    const manager = managerOf(scope.scope_id, input.sender);
    refUser(scope.scope_id, manager.id, manager.name);
    const at = nowMs();
    const message: Record<string, unknown> = {
      type, text: input.text ?? '', media: input.media ?? '', file_name: input.file_name ?? '', file_size: input.file_size ?? 0,
    };
    const msg: MessageView = {
      id: randomUUID(), scope_id: scope.scope_id, chat_id: chat.id, direction: 'outgoing', origin: 'manager',
      timestamp: Math.floor(at / 1000), msec_timestamp: at, sender_id: manager.id, receiver_id: chat.client_user_id, silent: false,
      message, edits: 0, delivery_statuses: [], reactions: [], received_at: at,
    };
    st.messages.set(msg.id, msg);
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
            id: msg.id, type, text: input.text ?? '', markup: null, tag: '', media: input.media ?? '', thumbnail: '',
            file_name: input.file_name ?? '', file_size: input.file_size ?? 0,
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
        type, text: input.text ?? '', markup: null, tag: '', media: input.media ?? '', thumbnail: '',
        file_name: input.file_name ?? '', file_size: input.file_size ?? 0, media_group_id: '',
      };
    }
    const hook = await sendHook('message', scope, hookBody, input.trailing_newline ?? false);
    return { message: msg, hook };
  }

  async function typingHook(input: { scope_id: string; conversation_id?: string; chat_id?: string; user_id?: string }): Promise<HookRecord> {
    const scope = adminScope(input.scope_id);
    const chat = findChatForAdmin(scope.scope_id, input.conversation_id, input.chat_id);
    const userId = input.user_id ?? managerOf(scope.scope_id).id;
    const at = nowSec();
    const conversationClientId = chat.conversation_ids[0];
    // Typing hook (#callbacks, [chat-hooks]): expired_at = start + 5 s.
    return sendHook('typing', scope, {
      account_id: scope.account_id,
      time: at,
      action: { typing: { user: { id: userId }, conversation: { id: chat.id, ...(conversationClientId !== undefined ? { client_id: conversationClientId } : {}) }, expired_at: at + 5 } },
    }, false);
  }

  function snapshot(scopeId?: string): AmojoSnapshot {
    const inScope = <T extends { scope_id: string }>(xs: Iterable<T>): T[] => [...xs].filter((x) => scopeId === undefined || x.scope_id === scopeId);
    return structuredClone({
      channels: [...channels.values()].map((c) => ({ id: c.id, webhook_url: c.webhookUrl, ...(c.title !== undefined ? { title: c.title } : {}) })),
      accounts: [...accounts],
      scopes: inScope(st.scopes.values()),
      chats: inScope(st.chats.values()),
      participants: inScope(st.participants.values()).map(({ scope_id: _s, ...p }) => p),
      messages: inScope(st.messages.values()),
      typing: inScope(st.typing),
      hooks: inScope(st.hooks),
    });
  }

  // ---- admin route ---------------------------------------------------------------------------

  const adminRoute: SbRoute = async (req) => {
    if (req.path !== ADMIN_PREFIX && !req.path.startsWith(`${ADMIN_PREFIX}/`)) return undefined;
    const sub = req.path.slice(ADMIN_PREFIX.length) || '/';
    const method = req.method.toUpperCase();
    try {
      if (method === 'GET' && (sub === '/' || sub === '/state')) {
        return jsonResponse(200, snapshot(req.query.get('scope_id') ?? undefined));
      }
      if (method === 'GET' && sub === '/hooks') return jsonResponse(200, { hooks: snapshot(req.query.get('scope_id') ?? undefined).hooks });
      if (method === 'POST' && sub === '/reset') {
        reset();
        return jsonResponse(200, { ok: true });
      }
      if (method === 'POST' && (sub === '/reply' || sub === '/typing')) {
        let body: unknown;
        try {
          body = JSON.parse(req.body.toString('utf8'));
        } catch {
          throw new AdminError(400, 'body must be JSON');
        }
        if (sub === '/reply') {
          const input = parseAdmin(adminReplySchema, body);
          const r = await reply(input);
          return jsonResponse(200, r);
        }
        const input = parseAdmin(adminTypingSchema, body);
        return jsonResponse(200, { hook: await typingHook(input) });
      }
      return jsonResponse(404, { error: 'unknown sandbox amojo admin path', paths: ['GET /state', 'GET /hooks', 'POST /reply', 'POST /typing', 'POST /reset'] });
    } catch (e) {
      if (e instanceof AdminError) return jsonResponse(e.status, { error: e.message });
      throw e;
    }
  };

  function reset(): void {
    st = emptyState();
  }

  return { route, adminRoute, reset, reply, typing: typingHook, snapshot };
}

class AdminError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'AdminError';
  }
}

const adminReplySchema = z.object({
  scope_id: nonEmpty,
  conversation_id: z.string().optional(),
  chat_id: z.string().optional(),
  text: z.string().optional(),
  type: z.enum(['text', 'picture', 'video', 'file', 'voice', 'audio', 'sticker']).optional(),
  media: z.string().optional(),
  file_name: z.string().optional(),
  file_size: int.nonnegative().optional(),
  sender: z.object({ id: z.string().optional(), name: z.string().optional() }).optional(),
  trailing_newline: z.boolean().optional(),
});
const adminTypingSchema = z.object({
  scope_id: nonEmpty, conversation_id: z.string().optional(), chat_id: z.string().optional(), user_id: z.string().optional(),
});

function parseAdmin<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) throw new AdminError(400, r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
