/**
 * What amojo remembers (scopes, chats, participants, messages, typing, hooks sent) and the context
 * every handler works on: the options, the clock and that state, replaced whole by a reset.
 */
import { randomUUID } from 'node:crypto';
import type { SbClock } from '../types.ts';
import { AmojoHttpError } from './http.ts';
import type {
  AmojoChannelConfig,
  AmojoSnapshot,
  ChatView,
  CreateAmojoOptions,
  HookRecord,
  MessageView,
  ParticipantView,
  ScopeView,
} from './types.ts';

export interface Participant extends ParticipantView {
  scope_id: string;
}

export interface State {
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
  /** What the demo messenger (`POST /_sandbox/amojo/messenger`) received: the gateway's relays. */
  messengerInbox: Array<{ at: number; headers: Record<string, string>; body: string }>;
}

export function emptyState(): State {
  return {
    scopes: new Map(),
    chats: new Map(),
    chatByConversation: new Map(),
    participants: new Map(),
    participantByClient: new Map(),
    messages: new Map(),
    messageByClientId: new Map(),
    typing: [],
    hooks: [],
    managers: new Map(),
    messengerInbox: [],
  };
}

export const k2 = (a: string, b: string): string => `${a}\u0000${b}`;

/** The module's wiring, shared by every handler file. `st` is replaced by a reset. */
export interface AmojoCtx {
  opts: CreateAmojoOptions;
  clock: SbClock;
  log: (line: string) => void;
  fetchFn: typeof fetch;
  hookTimeoutMs: number;
  channels: Map<string, AmojoChannelConfig>;
  accounts: Set<string>;
  st: State;
  nowMs(): number;
  nowSec(): number;
}

export function createCtx(opts: CreateAmojoOptions): AmojoCtx {
  const clock = opts.clock;
  return {
    opts,
    clock,
    log: opts.log ?? (() => {}),
    fetchFn: opts.fetch ?? globalThis.fetch,
    hookTimeoutMs: opts.hookTimeoutMs ?? 5000,
    channels: new Map(opts.channels.map((c) => [c.id, c])),
    accounts: new Set(opts.accounts.map((a) => a.amojoId)),
    st: emptyState(),
    nowMs: () => clock.now(),
    nowSec: () => Math.floor(clock.now() / 1000),
  };
}

// ---- lookups -------------------------------------------------------------------------------

/** scope_id is `{channel_id}_{amojo_id}` in every observed example (#ids). */
export function channelOfScope(ctx: AmojoCtx, scopeId: string): AmojoChannelConfig | undefined {
  for (const c of ctx.channels.values()) if (scopeId.startsWith(`${c.id}_`)) return c;
  return undefined;
}

export function connectedScope(ctx: AmojoCtx, scopeId: string): ScopeView {
  const s = ctx.st.scopes.get(scopeId);
  // *assumed*: a scope that was never connected, or was disconnected, answers 404 like an unknown channel.
  if (!s || !s.connected) throw new AmojoHttpError(404, 'NOT_FOUND', `scope ${scopeId} is not connected`);
  return s;
}

export function upsertClient(
  ctx: AmojoCtx,
  scopeId: string,
  p: { id: string; name?: string; avatar?: string; profile?: { phone?: string; email?: string }; profile_link?: string },
): Participant {
  const st = ctx.st;
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
export function refUser(ctx: AmojoCtx, scopeId: string, refId: string, name?: string): Participant {
  const existing = ctx.st.participants.get(refId);
  if (existing) {
    if (name) existing.name = name;
    return existing;
  }
  const p: Participant = { id: refId, kind: 'user', scope_id: scopeId, ...(name ? { name } : {}) };
  ctx.st.participants.set(refId, p);
  return p;
}

export function newChat(
  ctx: AmojoCtx,
  scopeId: string,
  conversationId: string | undefined,
  client: Participant,
  source?: string,
): ChatView {
  const chat: ChatView = {
    id: randomUUID(),
    scope_id: scopeId,
    conversation_ids: conversationId ? [conversationId] : [],
    client_user_id: client.id,
    created_at: ctx.nowMs(),
    ...(source !== undefined ? { source_external_id: source } : {}),
  };
  ctx.st.chats.set(chat.id, chat);
  if (conversationId) ctx.st.chatByConversation.set(k2(scopeId, conversationId), chat.id);
  return chat;
}

export function chatInScope(ctx: AmojoCtx, scopeId: string, chatId: string): ChatView | undefined {
  const c = ctx.st.chats.get(chatId);
  return c && c.scope_id === scopeId ? c : undefined;
}

export function chatByConversation(ctx: AmojoCtx, scopeId: string, conversationId: string): ChatView | undefined {
  const id = ctx.st.chatByConversation.get(k2(scopeId, conversationId));
  return id ? ctx.st.chats.get(id) : undefined;
}

export function messageInScope(ctx: AmojoCtx, scopeId: string, ref: { id?: string; msgid?: string }): MessageView | undefined {
  if (ref.id !== undefined) {
    const m = ctx.st.messages.get(ref.id);
    if (m && m.scope_id === scopeId) return m;
  }
  if (ref.msgid !== undefined) {
    const id = ctx.st.messageByClientId.get(k2(scopeId, ref.msgid));
    if (id) return ctx.st.messages.get(id);
  }
  return undefined;
}
