/**
 * The amojo module's public shapes: its options, the views the admin API and snapshots show, and
 * the `AmojoSandbox` handle the sandbox core mounts.
 */
import type { SbClock, SbRoute } from '../types.ts';

export interface AmojoChannelConfig {
  /** Channel UUID issued at registration (#ids). */
  id: string;
  /** Channel secret: signs requests and hooks (#the-signed-string, #callbacks). */
  secret: string;
  /** Default connect title ("По умолчанию – имя канала", [chat-api] connect). */
  title?: string;
  /** Registered hook URL with the `:scope_id` placeholder amojo fills in (#endpoints, [chat-start]). */
  webhookUrl: string;
  /**
   * The integration (client id) named in the channel's settings: only it may link and read this
   * channel's chats through `/api/v4/contacts/chats` (amo-docs contacts-api «В настройках канала
   * должен быть указан uuid интеграции, которая запрашивает метод»). None named: no integration may.
   */
  clientId?: string;
}

/** Who may see a chat: its channel, that channel's integration and the account it is connected for. */
export interface ChatAccess {
  chat_id: string;
  channel_id: string;
  channel_client_id?: string;
  /** The account's amojo id. */
  account_id: string;
  /** The channel is still connected for that account. */
  connected: boolean;
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
  /**
   * Told of every accepted incoming message (a client writing through the channel), so the account
   * side can do what amoCRM does with it (incoming-chats.ts: an Unsorted "chats" entry).
   */
  onIncoming?: (ev: IncomingMessageEvent) => void;
}

/** An incoming message as the account side sees it (no secrets). */
export interface IncomingMessageEvent {
  scope_id: string;
  channel_id: string;
  /** The account's amojo id. */
  account_id: string;
  channel_title: string;
  /** The integration the channel's settings name, if any. */
  channel_client_id?: string;
  chat_id: string;
  conversation_id: string;
  source_external_id?: string;
  client: { id: string; client_id?: string; name?: string; avatar?: string; phone?: string; email?: string };
  message_type: string;
  text?: string;
  /** Unix seconds. */
  timestamp: number;
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
  /** The chat's channel and account, for the REST side's access rules; undefined for an unknown chat. */
  chatAccess(chatId: string): ChatAccess | undefined;
  /** amoCRM support registers a channel (id, secret, hook URL): what `npm start` does once it knows its own URL. */
  addChannel(channel: AmojoChannelConfig): void;
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
