/**
 * `POST /chat/{channel}/messages`: your messenger's side of the channel (lib/amojo/README.md,
 * "Inbound contract"). One JSON event per request — a client's message, or a read receipt of a
 * manager's message the relay delivered. The edge (API key, FIFO keys) has stored it on the
 * `chat-in` FIFO queue grouped by conversation; this processor turns it into amojo calls:
 *
 * 1. the conversation's chat, created once (amojo's create is idempotent per conversation id, and
 *    the chat id is kept in the conversation store so later messages skip the call);
 * 2. the chat linked to a contact — the one the finder verifies by phone / e-mail, else a new one —
 *    through `/api/v4/contacts/chats`, BEFORE the first message: amoCRM files an Unsorted entry with
 *    a contact of its own for a client message on an unlinked chat (docs/amojo-protocol.md#linking-chats-to-contacts);
 * 3. `new_message` with msgid `<channel>:<event id>`: the messenger's id is the idempotency key, and
 *    amojo's duplicate-msgid refusal says a redelivery had already landed (done, not parked).
 *
 * A read receipt becomes `delivery_status` read. An invalid payload is parked `chat-invalid-payload`
 * with what is wrong; an unknown `{channel}` `chat-unknown-channel`.
 */
import { createHash } from 'node:crypto';
import * as z from '../common/zod.ts';
import type { Envelope } from '../envelope.ts';
import type { ProcessorContext, RouteProcessor } from '../pipeline/registry.ts';
import { ok, park, type Outcome } from '../pipeline/outcome.ts';
import type { PersonKey } from '../contacts/types.ts';
import { AmojoDuplicateMessageError } from './errors.ts';
import type { ChatMessage, ChatParticipant } from './types.ts';
import type { ChatChannelDeps, ConversationRecord } from './channel-deps.ts';
import { FIFO_BODY_ID_PATTERN } from '../fifo-keys.ts';

export const CHAT_PARK_REASONS = {
  invalidPayload: 'chat-invalid-payload',
  unknownChannel: 'chat-unknown-channel',
} as const;

const eventId = z.string().check(z.regex(new RegExp(FIFO_BODY_ID_PATTERN), 'an id is 1..64 of A-Z a-z 0-9 _ . : @ + = -'));
/** A string of min..max characters. */
const str = (min: number, max: number) => z.string().check(z.minLength(min), z.maxLength(max));
const upTo = (max: number) => z.string().check(z.maxLength(max));
const count = () => z.number().check(z.int(), z.nonnegative());
const url = z.string().check(z.url(), z.maxLength(2048));
const media = { media: url };
const file = {
  ...media,
  file_name: str(1, 255),
  file_size: count(),
  caption: z.optional(upTo(10_000)),
};

/** The message of an event: every type amojo takes (docs/amojo-protocol.md#messages). */
export const inboundMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: str(1, 10_000) }),
  z.strictObject({ type: z.literal('picture'), ...file }),
  z.strictObject({ type: z.literal('video'), ...file }),
  z.strictObject({ type: z.literal('file'), ...file }),
  z.strictObject({ type: z.literal('voice'), ...media, duration: z.optional(count()) }),
  z.strictObject({ type: z.literal('audio'), ...media, duration: z.optional(count()) }),
  z.strictObject({ type: z.literal('sticker'), ...media }),
  z.strictObject({
    type: z.literal('location'),
    lat: z.number().check(z.gte(-90), z.lte(90)),
    lon: z.number().check(z.gte(-180), z.lte(180)),
    text: z.optional(upTo(1000)),
  }),
  z.strictObject({ type: z.literal('contact'), name: str(1, 255), phone: str(1, 64) }),
]);

/** The inbound contract (lib/amojo/README.md). `id` and `conversation_id` are also the FIFO keys the edge reads. */
export const inboundEventSchema = z
  .strictObject({
    /** The messenger's own id of this event (its message id): the idempotency key. */
    id: eventId,
    conversation_id: eventId,
    /** When the client wrote it (epoch ms; default: when we received it). */
    sent_at: z.optional(z.number().check(z.int(), z.positive())),
    sender: z.optional(
      z.strictObject({
        id: str(1, 128),
        name: str(1, 255),
        avatar: z.optional(url),
        phone: z.optional(str(3, 64)),
        email: z.optional(z.string().check(z.email(), z.maxLength(254))),
        profile_link: z.optional(url),
      }),
    ),
    message: z.optional(inboundMessageSchema),
    /** A read receipt: `message_id` is the id the relay gave the messenger. */
    status: z.optional(z.strictObject({ message_id: str(1, 128), status: z.literal('read') })),
  })
  .check(
    z.superRefine((e, ctx) => {
      if (e.status && (e.message || e.sender))
        ctx.addIssue({ code: 'custom', message: 'a read receipt (status) carries no message or sender' });
      if (!e.status && !(e.message && e.sender))
        ctx.addIssue({ code: 'custom', message: 'a message event needs sender and message (or send a status)' });
    }),
  );
export type InboundEvent = z.infer<typeof inboundEventSchema>;

/** Our conversation id at amojo: the messenger's, under its channel (callbacks name it back; the relay reads the channel from it). */
export const amojoConversationId = (channel: string, conversationId: string): string => `${channel}:${conversationId}`;
/** The reverse: `{channel, conversationId}` of an amojo conversation id of ours, or undefined. */
export function splitConversationId(id: string): { channel: string; conversationId: string } | undefined {
  const i = id.indexOf(':');
  if (i <= 0 || i === id.length - 1) return undefined;
  return { channel: id.slice(0, i), conversationId: id.slice(i + 1) };
}

export function toChatMessage(m: z.infer<typeof inboundMessageSchema>): ChatMessage {
  switch (m.type) {
    case 'text':
      return { type: 'text', text: m.text };
    case 'picture':
    case 'video':
    case 'file':
      return {
        type: m.type,
        media: m.media,
        fileName: m.file_name,
        fileSize: m.file_size,
        ...(m.caption !== undefined ? { text: m.caption } : {}),
      };
    case 'voice':
    case 'audio':
      return { type: m.type, media: m.media, ...(m.duration !== undefined ? { durationSeconds: m.duration } : {}) };
    case 'sticker':
      return { type: 'sticker', media: m.media };
    case 'location':
      return { type: 'location', lat: m.lat, lon: m.lon, ...(m.text !== undefined ? { text: m.text } : {}) };
    case 'contact':
      return { type: 'contact', name: m.name, phone: m.phone };
  }
}

export function createInboundProcessor(deps: ChatChannelDeps): RouteProcessor {
  return async (env: Envelope, ctx: ProcessorContext): Promise<Outcome> => {
    let json: unknown;
    try {
      json = JSON.parse(ctx.body.toString('utf8'));
    } catch {
      return park(CHAT_PARK_REASONS.invalidPayload, 'the body is not JSON');
    }
    const parsed = inboundEventSchema.safeParse(json);
    if (!parsed.success) {
      // Paths and messages only: never the values (they hold phones, e-mails, texts).
      const what = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      return park(CHAT_PARK_REASONS.invalidPayload, what.slice(0, 500));
    }
    const e = parsed.data;
    const channel = env.params.channel ?? '';
    const messenger = deps.config.messengers.find((m) => m.id === channel);
    if (!messenger) return park(CHAT_PARK_REASONS.unknownChannel, `no messenger "${channel.slice(0, 60)}" in chat.messengers`);
    const account = messenger.account;

    if (e.status) {
      const amojoMsgid = e.status.message_id;
      await deps.channel.withScope(account, (scope) => deps.client.deliveryStatus(scope, amojoMsgid, { status: 'read' }));
      return ok();
    }
    const sender = e.sender!;
    const message = e.message!;
    const conversationId = amojoConversationId(channel, e.conversation_id);
    const user: ChatParticipant = {
      id: `${channel}:${sender.id}`,
      name: sender.name,
      ...(sender.avatar !== undefined ? { avatar: sender.avatar } : {}),
      ...(sender.phone !== undefined ? { phone: sender.phone } : {}),
      ...(sender.email !== undefined ? { email: sender.email } : {}),
      ...(sender.profile_link !== undefined ? { profileLink: sender.profile_link } : {}),
    };

    let conv: ConversationRecord = (await deps.conversations.get(account, conversationId)) ?? { account, conversationId };
    if (conv.chatId === undefined) {
      const created = await deps.channel.withScope(account, (scope) =>
        deps.client.createChat(scope, {
          conversationId,
          user,
          ...(messenger.sourceExternalId !== undefined ? { sourceExternalId: messenger.sourceExternalId } : {}),
        }),
      );
      conv = { ...conv, chatId: created.chatId };
      await deps.conversations.put(conv);
      deps.onChatCreated?.(account);
    }
    if (conv.contactId === undefined) {
      const contactId = await linkContact(deps, account, conv.chatId!, sender, ctx.mayHaveRun);
      conv = { ...conv, contactId };
      await deps.conversations.put(conv);
    }

    try {
      await deps.channel.withScope(account, (scope) =>
        deps.client.sendMessage(scope, {
          msgid: `${channel}:${e.id}`,
          conversationId,
          at: e.sent_at ?? env.receivedAt,
          sender: user,
          message: toChatMessage(message),
          ...(messenger.sourceExternalId !== undefined ? { sourceExternalId: messenger.sourceExternalId } : {}),
        }),
      );
    } catch (err) {
      // The messenger's id was accepted before: the message is there (a redelivery, or a lost answer).
      if (err instanceof AmojoDuplicateMessageError) return ok();
      throw err;
    }
    return ok();
  };
}

/**
 * The contact of a new chat: the one already linked (a crash after the link), else the verified
 * match by phone / e-mail, else a new contact; then the link. amoCRM refuses to move a linked chat
 * (400), so the read comes first.
 */
async function linkContact(
  deps: ChatChannelDeps,
  account: string,
  chatId: string,
  sender: NonNullable<InboundEvent['sender']>,
  mayHaveRun: boolean,
): Promise<number> {
  const amo = deps.clientFor(account);
  const linked = await amo.chats.list({ chatIds: [chatId] });
  const already = linked.find((l) => l.chat_id === chatId);
  if (already) return already.contact_id;
  const person: PersonKey = {
    ...(sender.phone !== undefined ? { phone: sender.phone } : {}),
    ...(sender.email !== undefined ? { email: sender.email } : {}),
  };
  let contactId: number | undefined;
  if (person.phone !== undefined || person.email !== undefined) {
    const [match] = await deps.finder.find(account, [deps.normalize(person)]);
    contactId = match?.contactId;
  }
  if (contactId === undefined) {
    const cfs: Array<{ field_code: string; values: Array<{ value: string; enum_code: string }> }> = [];
    if (sender.phone !== undefined) cfs.push({ field_code: 'PHONE', values: [{ value: sender.phone, enum_code: 'MOB' }] });
    if (sender.email !== undefined) cfs.push({ field_code: 'EMAIL', values: [{ value: sender.email, enum_code: 'PRIV' }] });
    // A delivery that may have run before checks first (ProcessorContext.mayHaveRun: on this FIFO
    // queue the envelope carries no attempt count, but a re-receive or the journal's mark says so),
    // so a create whose answer was lost, or whose worker died, is not made twice.
    const [added] = await amo.contacts.add([{ name: sender.name, ...(cfs.length ? { custom_fields_values: cfs } : {}) }], {
      markers: [`chat-${createHash('sha256').update(chatId).digest('hex').slice(0, 24)}`],
      ...(mayHaveRun ? { checkFirst: true } : {}),
    });
    if (!added) throw new Error('amoCRM added no contact');
    contactId = added.id;
    if (person.phone !== undefined || person.email !== undefined) await deps.finder.remember(account, contactId, deps.normalize(person));
  }
  await amo.chats.link([{ chat_id: chatId, contact_id: contactId }]);
  return contactId;
}
