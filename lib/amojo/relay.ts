/**
 * `POST /chat/amojo/{scope_id}`: amojo's callbacks — a manager's reply — relayed to your
 * messenger (lib/amojo/README.md, "Outbound"). In this order:
 *
 * 1. X-Signature (HMAC-SHA1 of the raw body, the channel secret) verified in constant time before
 *    anything else is read; missing / malformed / wrong → parked `amojo-bad-signature` and counted
 *    (ChatCallbackRejected, alarmed), never relayed;
 * 2. stale → parked `amojo-stale-callback` and counted: amojo sends no `Date` with its callbacks
 *    (docs/amojo-protocol.md#callbacks), but the signed body carries `time`; a callback received
 *    more than 15 minutes away from its own `time` is a replay (the window amojo gives its own
 *    requests' signatures, docs/amojo-protocol.md#date-window);
 * 3. the reply POSTed to the messenger's webhook, signed by us (relaySignature below);
 * 4. `delivery_status` back to amojo: delivered on a 2xx; on failure the pipeline retries with
 *    backoff (amojo never retries its callbacks, ours do), and the last try sends error 905 with
 *    the reason, so the manager sees it, then parks `chat-relay-failed`. A messenger's 4xx (bar
 *    408 / 429) is final at once (410 Gone: 901, "the user deleted the conversation").
 *
 * A typing callback is acknowledged and not relayed (the contract has no typing event yet).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Envelope } from '../envelope.ts';
import { METRIC } from '../metrics.ts';
import { ok, park, RetryableError, type Outcome } from '../pipeline/outcome.ts';
import type { ProcessorContext, RouteProcessor } from '../pipeline/registry.ts';
import type { ChatChannelDeps } from './channel-deps.ts';
import { splitConversationId } from './inbound.ts';
import { SIGNATURE_WINDOW_MS, verifyCallbackSignature } from './signing.ts';

export const RELAY_PARK_REASONS = {
  badSignature: 'amojo-bad-signature',
  staleCallback: 'amojo-stale-callback',
  invalidCallback: 'amojo-invalid-callback',
  unknownScope: 'amojo-unknown-scope',
  unknownConversation: 'chat-unknown-conversation',
  relayFailed: 'chat-relay-failed',
} as const;

/** The relay's headers (lib/amojo/README.md, "Relay signing"). */
export const RELAY_TIMESTAMP_HEADER = 'x-amo-gateway-timestamp';
export const RELAY_SIGNATURE_HEADER = 'x-amo-gateway-signature';

/** `v1=` + lowercase hex HMAC-SHA256(secret, `<timestamp>.<body>`): what the relay sends and the messenger checks. */
export function relaySignature(secret: string, timestamp: string, body: Uint8Array | string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/** The messenger's check (the README's snippet does the same): signature, then a 5-minute window. */
export function verifyRelay(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  body: Uint8Array | string,
  nowMs = Date.now(),
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const want = Buffer.from(relaySignature(secret, timestamp, body));
  const got = Buffer.from(signature);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return false;
  return Math.abs(nowMs - Number(timestamp) * 1000) <= 5 * 60_000;
}

interface ManagerReply {
  time: number;
  amojoMsgid: string;
  conversationId: string;
  chatId: string;
  sender: { id: string; name: string };
  message: { type: string; text: string; media: string; file_name: string; file_size: number };
  sentAtMs: number;
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A v2 callback (docs/amojo-protocol.md#callbacks): a reply, a typing action, or undefined when unreadable. */
function readCallback(json: unknown): { kind: 'reply'; time: number; reply: ManagerReply } | { kind: 'typing'; time: number } | undefined {
  const o = obj(json);
  if (!o) return undefined;
  const time = num(o.time);
  if (obj(o.action)) return { kind: 'typing', time };
  const m = obj(o.message);
  const inner = obj(m?.message);
  const conv = obj(m?.conversation);
  if (!m || !inner || !conv || !str(inner.id)) return undefined;
  const sender = obj(m.sender);
  return {
    kind: 'reply',
    time,
    reply: {
      time,
      amojoMsgid: str(inner.id),
      conversationId: str(conv.client_id),
      chatId: str(conv.id),
      sender: { id: str(sender?.id), name: str(sender?.name) },
      message: {
        type: str(inner.type) || 'text',
        text: str(inner.text),
        media: str(inner.media),
        file_name: str(inner.file_name),
        file_size: num(inner.file_size),
      },
      sentAtMs: num(m.msec_timestamp) || num(m.timestamp) * 1000,
    },
  };
}

export function createRelayProcessor(deps: ChatChannelDeps): RouteProcessor {
  const rejected = (reason: string, error: string): Outcome => {
    deps.metrics.count(METRIC.chatCallbackRejected, { reason });
    return park(reason, error);
  };
  return async (env: Envelope, ctx: ProcessorContext): Promise<Outcome> => {
    // 1. The signature, before anything else is read.
    const v = verifyCallbackSignature(await deps.channelSecret(), ctx.body, env.headers['x-signature']);
    if (!v.ok) return rejected(RELAY_PARK_REASONS.badSignature, `${v.reason}: ${v.detail}`);
    let json: unknown;
    try {
      json = JSON.parse(ctx.body.toString('utf8'));
    } catch {
      return park(RELAY_PARK_REASONS.invalidCallback, 'the callback is not JSON');
    }
    const cb = readCallback(json);
    if (!cb) return park(RELAY_PARK_REASONS.invalidCallback, 'not a v2 message or typing callback');
    // 2. Stale: its own signed time against when we received it (not now: the queue may hold it).
    if (!cb.time || Math.abs(env.receivedAt - cb.time * 1000) > SIGNATURE_WINDOW_MS)
      return rejected(RELAY_PARK_REASONS.staleCallback, `callback time ${cb.time} is more than 15 minutes from its receipt`);
    if (cb.kind === 'typing') return ok();
    const reply = cb.reply;

    const scope = await deps.scopes.byScopeId(env.params.scope_id ?? '');
    if (!scope) return park(RELAY_PARK_REASONS.unknownScope, 'no account is connected under this scope');
    const account = scope.account;
    const split = splitConversationId(reply.conversationId);
    const messenger = split ? deps.config.messengers.find((m) => m.id === split.channel && m.account === account) : undefined;
    const fail = async (code: 901 | 905, text: string, reason: string): Promise<Outcome> => {
      await deps.channel.withScope(account, (s) =>
        deps.client.deliveryStatus(
          s,
          reply.amojoMsgid,
          code === 905 ? { status: 'error', code: 905, text } : { status: 'error', code: 901, text },
        ),
      );
      deps.metrics.count(METRIC.chatRelayFailed, { reason });
      return park(reason, text);
    };
    if (!messenger || !split)
      return fail(905, 'This chat belongs to no messenger the gateway knows.', RELAY_PARK_REASONS.unknownConversation);

    // 3. The relay.
    const body = Buffer.from(
      JSON.stringify({
        id: reply.amojoMsgid,
        conversation_id: split.conversationId,
        sent_at: reply.sentAtMs,
        sender: reply.sender,
        message: reply.message,
      }),
      'utf8',
    );
    const ts = String(Math.floor(deps.now() / 1000));
    const last = (env.attempt ?? 0) + 1 >= deps.relayMaxAttempts;
    let status: number | undefined;
    let error: string;
    try {
      const res = await deps.fetch(messenger.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [RELAY_TIMESTAMP_HEADER]: ts,
          [RELAY_SIGNATURE_HEADER]: relaySignature(await deps.messengerSecret(messenger.id), ts, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(messenger.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      status = res.status;
      error = `the messenger answered HTTP ${res.status}`;
    } catch (e) {
      error =
        e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')
          ? `no answer within ${messenger.timeoutMs} ms`
          : 'the messenger could not be reached';
    }
    if (status !== undefined && status >= 200 && status < 300) {
      // 4. Delivered. A failure here retries the whole message: the messenger gets it again with the same id.
      await deps.channel.withScope(account, (s) => deps.client.deliveryStatus(s, reply.amojoMsgid, { status: 'delivered' }));
      return ok();
    }
    const final = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    if (final || last) {
      const text = final
        ? `The messenger refused the message (${error}).`
        : `The messenger did not take the message after ${deps.relayMaxAttempts} tries (${error}).`;
      return fail(status === 410 ? 901 : 905, text, RELAY_PARK_REASONS.relayFailed);
    }
    throw new RetryableError(error);
  };
}
