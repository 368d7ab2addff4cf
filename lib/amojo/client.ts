/**
 * AmojoClient: amoCRM's chat API (docs/amojo-protocol.md) for one channel. One request sender:
 * the body is serialised once, those exact bytes are signed (lib/amojo/signing.ts) and sent, with
 * a fresh `Date` on every try. Answers are mapped to the typed errors of errors.ts; a 403 is told
 * apart as clock skew or a bad secret (AmojoClockSkewError / AmojoSignatureError).
 *
 * Retries inside the client happen only where a second request cannot do harm
 * (docs/architecture.md#writes-are-not-blindly-retried): connect, disconnect and create-chat are
 * idempotent at amojo (the same answer again), a delivery status or typing sent twice says the
 * same thing twice, history only reads. They are retried on a 5xx, a timeout or a network
 * failure. `new_message` and `edit_message` are never retried here: a message whose answer was
 * lost may have landed; the pipeline's retry sends it again and amojo's duplicate-msgid refusal
 * (AmojoDuplicateMessageError) says it had.
 *
 * `fetch` and the clock are injected, so tests need no module mocks and a skewed clock is one option.
 */
import { signRequest, SIGNATURE_WINDOW_MS } from './signing.ts';
import {
  AmojoClockSkewError,
  AmojoDuplicateMessageError,
  AmojoError,
  AmojoNetworkError,
  AmojoNotFoundError,
  AmojoServerError,
  AmojoSignatureError,
  AmojoTimeoutError,
  AmojoUnexpectedResponseError,
  AmojoValidationError,
  type AmojoErrorBody,
  type AmojoErrorInfo,
} from './errors.ts';
import type {
  ChatMessage,
  ChatParticipant,
  ConnectResult,
  CreateChatInput,
  CreatedChat,
  DeliveryStatus,
  EditMessageInput,
  HistoryMessage,
  NewMessageInput,
  SentMessage,
} from './types.ts';

export interface AmojoClientOptions {
  /** e.g. https://amojo.amocrm.ru (lib/amojo/config.ts amojoBaseUrl). */
  baseUrl: string;
  channelId: string;
  /** The channel secret (resolved; never logged, never in an error). */
  secret: string;
  fetch?: typeof fetch;
  /** Epoch ms; the `Date` header comes from it. */
  now?: () => number;
  /** Per request (default 10 000 ms). */
  timeoutMs?: number;
  /** Tries of a safe call (default 3) and the first pause between them (default 250 ms, doubling, full jitter). */
  retry?: { tries?: number; baseDelayMs?: number };
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const PREFIX = '/v2/origin/custom';

/**
 * A 403 whose request Date was this far or further from amojo's clock is read as skew: the window
 * is 15 minutes either way, less a minute for latency and the Date header's one-second grain.
 */
const SKEW_SUSPECT_MS = SIGNATURE_WINDOW_MS - 60_000;

/** amojo's error types that name an expired or not-yet-valid Date (the sandbox's; amojo's own wording is undocumented: *assumed*). */
const SKEW_ERROR_TYPES = new Set(['EXPIRED_SIGNATURE', 'INVALID_DATE']);

interface SendInit {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** May be sent again after a failure that may have landed. */
  safe: boolean;
}

interface Answer {
  status: number;
  text: string;
}

export class AmojoClient {
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly base: string;

  constructor(private readonly opts: AmojoClientOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = opts.random ?? Math.random;
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  get channelId(): string {
    return this.opts.channelId;
  }

  /** Connects the channel to an account (its amojo id); again after every reinstall. Always asks for v2 callbacks. */
  async connect(amojoId: string, title?: string): Promise<ConnectResult> {
    const body = { account_id: amojoId, ...(title !== undefined ? { title } : {}), hook_api_version: 'v2' };
    const a = await this.send({ method: 'POST', path: `${PREFIX}/${this.opts.channelId}/connect`, body, safe: true });
    const j = this.json(a, 'POST', `${PREFIX}/${this.opts.channelId}/connect`);
    const scopeId = str(j.scope_id);
    if (!scopeId) throw this.unreadable('POST', `${PREFIX}/${this.opts.channelId}/connect`, a.status, 'no scope_id in the answer');
    return {
      scopeId,
      amojoId: str(j.account_id) ?? amojoId,
      title: str(j.title) ?? title ?? '',
      hookApiVersion: str(j.hook_api_version) ?? '',
    };
  }

  async disconnect(amojoId: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `${PREFIX}/${this.opts.channelId}/disconnect`, body: { account_id: amojoId }, safe: true });
  }

  /** Creates the chat of a conversation, or returns the existing one (idempotent per conversation id). */
  async createChat(scopeId: string, input: CreateChatInput): Promise<CreatedChat> {
    const path = `${PREFIX}/${scopeId}/chats`;
    const body = {
      conversation_id: input.conversationId,
      ...(input.sourceExternalId !== undefined ? { source: { external_id: input.sourceExternalId } } : {}),
      user: participant(input.user),
    };
    const a = await this.send({ method: 'POST', path, body, safe: true });
    const j = this.json(a, 'POST', path);
    const user = obj(j.user);
    const chatId = str(j.id);
    if (!chatId) throw this.unreadable('POST', path, a.status, 'no chat id in the answer');
    return { chatId, amojoUserId: str(user?.id) ?? '' };
  }

  /** `new_message`: a client's message (sender only) or a manager's / bot's (sender with refId, receiver = the client). */
  async sendMessage(scopeId: string, input: NewMessageInput): Promise<SentMessage> {
    const body = {
      event_type: 'new_message',
      payload: {
        timestamp: Math.floor(input.at / 1000),
        msec_timestamp: Math.floor(input.at),
        msgid: input.msgid,
        conversation_id: input.conversationId,
        ...(input.conversationRefId !== undefined ? { conversation_ref_id: input.conversationRefId } : {}),
        ...(input.silent !== undefined ? { silent: input.silent } : {}),
        ...(input.sourceExternalId !== undefined ? { source: { external_id: input.sourceExternalId } } : {}),
        sender: participant(input.sender),
        ...(input.receiver ? { receiver: participant(input.receiver) } : {}),
        message: wireMessage(input.message),
      },
    };
    return this.postEvent(scopeId, body);
  }

  /** `edit_message`: replaces a message's content, found by our msgid or amojo's id. */
  async editMessage(scopeId: string, input: EditMessageInput): Promise<SentMessage> {
    if (input.msgid === undefined && input.amojoMsgid === undefined) throw new TypeError('editMessage: msgid or amojoMsgid is required');
    const at = input.at ?? this.now();
    const body = {
      event_type: 'edit_message',
      payload: {
        timestamp: Math.floor(at / 1000),
        msec_timestamp: Math.floor(at),
        conversation_id: input.conversationId,
        ...(input.msgid !== undefined ? { msgid: input.msgid } : {}),
        ...(input.amojoMsgid !== undefined ? { id: input.amojoMsgid } : {}),
        message: wireMessage(input.message),
      },
    };
    return this.postEvent(scopeId, body);
  }

  /** The delivery status of a manager's message (its amojo id from the callback). */
  async deliveryStatus(scopeId: string, amojoMsgid: string, s: DeliveryStatus): Promise<void> {
    const body =
      s.status === 'error'
        ? { msgid: amojoMsgid, delivery_status: -1, error_code: s.code, ...(s.text !== undefined ? { error: s.text } : {}) }
        : { msgid: amojoMsgid, delivery_status: s.status === 'delivered' ? 1 : 2 };
    await this.send({ method: 'POST', path: `${PREFIX}/${scopeId}/${encodeURIComponent(amojoMsgid)}/delivery_status`, body, safe: true });
  }

  /** "The client is typing" in a conversation. */
  async typing(scopeId: string, conversationId: string, senderId: string, durationMs?: number): Promise<void> {
    const body = {
      conversation_id: conversationId,
      sender: { id: senderId },
      ...(durationMs !== undefined ? { duration_ms: durationMs } : {}),
    };
    await this.send({ method: 'POST', path: `${PREFIX}/${scopeId}/typing`, body, safe: true });
  }

  /** A page of a chat's history, newest first (`limit` ≤ 50); empty when the chat is unknown or has no messages (204). */
  async history(scopeId: string, chatId: string, page: { offset?: number; limit?: number } = {}): Promise<HistoryMessage[]> {
    const limit = page.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw new RangeError('history: limit is 1..50');
    const path = `${PREFIX}/${scopeId}/chats/${encodeURIComponent(chatId)}/history`;
    const a = await this.send({ method: 'GET', path, query: { offset: String(page.offset ?? 0), limit: String(limit) }, safe: true });
    if (a.status === 204 || a.text === '') return [];
    const j = this.json(a, 'GET', path);
    const list = Array.isArray(j.messages) ? j.messages : [];
    return list.map((raw): HistoryMessage => {
      const m = obj(raw) ?? {};
      const sender = obj(m.sender);
      const receiver = obj(m.receiver);
      const msg = obj(m.message) ?? {};
      return {
        timestamp: num(m.timestamp),
        msecTimestamp: num(m.msec_timestamp),
        senderId: str(sender?.id),
        senderClientId: str(sender?.client_id),
        receiverId: str(receiver?.id),
        amojoMsgid: str(msg.id) ?? '',
        msgid: str(msg.client_id),
        type: str(msg.type) ?? '',
        text: str(msg.text) ?? '',
        media: str(msg.media) ?? '',
      };
    });
  }

  // -------------------------------------------------------------------------------------------

  private async postEvent(scopeId: string, body: unknown): Promise<SentMessage> {
    const path = `${PREFIX}/${scopeId}`;
    const a = await this.send({ method: 'POST', path, body, safe: false });
    const j = obj(this.json(a, 'POST', path).new_message);
    const amojoMsgid = str(j?.msgid);
    if (!j || !amojoMsgid) throw this.unreadable('POST', path, a.status, 'no new_message.msgid in the answer');
    return {
      chatId: str(j.conversation_id) ?? '',
      amojoMsgid,
      msgid: str(j.ref_id),
      amojoSenderId: str(j.sender_id) ?? '',
      amojoReceiverId: str(j.receiver_id),
    };
  }

  /** One call: tries (safe calls only) of one signed request each, with a fresh Date. */
  private async send(init: SendInit): Promise<Answer> {
    const tries = init.safe ? Math.max(1, this.opts.retry?.tries ?? 3) : 1;
    const base = this.opts.retry?.baseDelayMs ?? 250;
    for (let i = 1; ; i++) {
      try {
        return await this.once(init);
      } catch (e) {
        const again =
          e instanceof AmojoError &&
          e.outcome === 'retry' &&
          (e instanceof AmojoNetworkError ? true : e.status === undefined || e.status >= 500);
        if (!again || i >= tries) throw e;
        await this.sleep(Math.floor(this.random() * base * 2 ** (i - 1)));
      }
    }
  }

  private async once(init: SendInit): Promise<Answer> {
    // Serialised once: these bytes are hashed, signed and sent (docs/amojo-protocol.md#signing-pitfalls).
    const bytes = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body), 'utf8');
    const sentAt = this.now();
    const headers = signRequest(this.opts.secret, {
      method: init.method,
      path: init.path,
      ...(bytes ? { body: bytes } : {}),
      date: sentAt,
    });
    const qs = init.query ? `?${new URLSearchParams(init.query).toString()}` : '';
    const info: AmojoErrorInfo = { method: init.method, path: init.path };
    const ctl = new AbortController();
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(`${this.base}${init.path}${qs}`, {
        method: init.method,
        headers: { ...headers, accept: 'application/json' },
        ...(bytes ? { body: bytes } : {}),
        signal: ctl.signal,
      });
      text = await res.text();
    } catch (cause) {
      if (ctl.signal.aborted) throw new AmojoTimeoutError({ ...info, cause }, `timed out after ${timeoutMs} ms`);
      throw new AmojoNetworkError({ ...info, cause }, !isNotSent(cause));
    } finally {
      clearTimeout(timer);
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, text };
    const body = errorBody(text);
    const failed: AmojoErrorInfo = { ...info, status: res.status, ...(body ? { body } : {}) };
    if (res.status === 403) {
      const theirs = Date.parse(res.headers.get('date') ?? '');
      const skewMs = Number.isNaN(theirs) ? undefined : sentAt - theirs;
      if (SKEW_ERROR_TYPES.has(body?.error_type ?? '') || (skewMs !== undefined && Math.abs(skewMs) >= SKEW_SUSPECT_MS)) {
        throw new AmojoClockSkewError(failed, skewMs);
      }
      throw new AmojoSignatureError(failed, 'the signature was refused (is the channel secret right?)');
    }
    if (res.status === 400) {
      if (body?.error_type === 'DUPLICATE_MSGID') throw new AmojoDuplicateMessageError(failed);
      throw new AmojoValidationError(failed);
    }
    if (res.status === 404) throw new AmojoNotFoundError(failed);
    if (res.status >= 500) throw new AmojoServerError(failed);
    throw new AmojoUnexpectedResponseError(failed);
  }

  private json(a: Answer, method: string, path: string): Record<string, unknown> {
    try {
      const v: unknown = JSON.parse(a.text);
      const o = obj(v);
      if (o) return o;
    } catch {
      /* below */
    }
    throw this.unreadable(method, path, a.status, 'the answer is not a JSON object');
  }

  private unreadable(method: string, path: string, status: number, what: string): AmojoUnexpectedResponseError {
    return new AmojoUnexpectedResponseError({ method, path, status }, what);
  }
}

function participant(p: ChatParticipant): Record<string, unknown> {
  const profile = { ...(p.phone !== undefined ? { phone: p.phone } : {}), ...(p.email !== undefined ? { email: p.email } : {}) };
  return {
    id: p.id,
    ...(p.refId !== undefined ? { ref_id: p.refId } : {}),
    name: p.name,
    ...(p.avatar !== undefined ? { avatar: p.avatar } : {}),
    // Phone and email go under `profile` in requests (docs/amojo-protocol.md#endpoints).
    ...(Object.keys(profile).length ? { profile } : {}),
    ...(p.profileLink !== undefined ? { profile_link: p.profileLink } : {}),
  };
}

/** Our message → amojo's `message` object (docs/amojo-protocol.md#messages). */
export function wireMessage(m: ChatMessage): Record<string, unknown> {
  switch (m.type) {
    case 'text':
      return { type: 'text', text: m.text };
    case 'picture':
    case 'video':
    case 'file':
      return {
        type: m.type,
        media: m.media,
        file_name: m.fileName,
        file_size: m.fileSize,
        ...(m.text !== undefined ? { text: m.text } : {}),
      };
    case 'voice':
    case 'audio':
      return { type: m.type, media: m.media, ...(m.durationSeconds !== undefined ? { media_duration: m.durationSeconds } : {}) };
    case 'sticker':
      return { type: 'sticker', media: m.media };
    case 'location':
      return { type: 'location', location: { lon: m.lon, lat: m.lat }, ...(m.text !== undefined ? { text: m.text } : {}) };
    case 'contact':
      return { type: 'contact', contact: { name: m.name, phone: m.phone } };
  }
}

function errorBody(text: string): AmojoErrorBody | undefined {
  try {
    const o = obj(JSON.parse(text) as unknown);
    if (!o) return undefined;
    const out: AmojoErrorBody = {};
    if (typeof o.error_code === 'number') out.error_code = o.error_code;
    if (typeof o.error_type === 'string') out.error_type = o.error_type;
    if (typeof o.error_description === 'string') out.error_description = o.error_description;
    return out;
  } catch {
    return undefined;
  }
}

/** Connection refused or the name did not resolve: nothing reached amojo. */
function isNotSent(e: unknown): boolean {
  const code = (e as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
