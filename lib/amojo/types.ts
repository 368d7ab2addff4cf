/**
 * What the amojo client sends and gets back, in our own camelCase names; the client maps them to
 * amojo's wire fields (docs/amojo-protocol.md#endpoints, #messages). Our ids and amojo's are kept
 * apart by name: `conversationId`, `msgid`, `userId` are ours; `chatId`, `amojoMsgid`,
 * `amojoUserId` are amojo's (docs/amojo-protocol.md#ids).
 */

/** A person in a chat: the client (our id) or an amoCRM user / bot (their amojo id as `refId`). */
export interface ChatParticipant {
  /** Our id of the person (the messenger's user id). */
  id: string;
  /** The amojo id of an amoCRM user or bot (outgoing messages). */
  refId?: string;
  name: string;
  /** A URL amoCRM can download. */
  avatar?: string;
  phone?: string;
  email?: string;
  /** A link to the person's profile in the messenger. */
  profileLink?: string;
}

/** Every message type of the protocol (docs/amojo-protocol.md#messages). Media URLs must be downloadable by amoCRM. */
export type ChatMessage =
  | { type: 'text'; text: string }
  | { type: 'picture' | 'video' | 'file'; media: string; fileName: string; fileSize: number; text?: string }
  | { type: 'voice' | 'audio'; media: string; durationSeconds?: number }
  | { type: 'sticker'; media: string }
  | { type: 'location'; lon: number; lat: number; text?: string }
  | { type: 'contact'; name: string; phone: string };

export type ChatMessageType = ChatMessage['type'];
export const CHAT_MESSAGE_TYPES: readonly ChatMessageType[] = [
  'text',
  'picture',
  'video',
  'file',
  'voice',
  'audio',
  'sticker',
  'location',
  'contact',
];

export interface ConnectResult {
  scopeId: string;
  /** The account's amojo id, as amojo echoed it. */
  amojoId: string;
  title: string;
  hookApiVersion: string;
}

export interface CreateChatInput {
  /** Our conversation id (the same one again returns the existing chat). */
  conversationId: string;
  user: ChatParticipant;
  /** An amoCRM "source" (≤ 40 printable ASCII characters). */
  sourceExternalId?: string;
}

export interface CreatedChat {
  /** amojo's chat id. */
  chatId: string;
  /** amojo's id of the client. */
  amojoUserId: string;
}

export interface NewMessageInput {
  /** Our message id: the idempotency key (amojo refuses a msgid it has accepted before). */
  msgid: string;
  conversationId: string;
  /** amojo's chat id, to write into a chat a manager opened first. */
  conversationRefId?: string;
  /** When the message was written (epoch ms). */
  at: number;
  /** The client for an incoming message; the amoCRM user/bot (with `refId`) for an outgoing one. */
  sender: ChatParticipant;
  /** The client, for an outgoing message only. */
  receiver?: ChatParticipant;
  message: ChatMessage;
  /** No incoming lead and no notification. */
  silent?: boolean;
  sourceExternalId?: string;
}

export interface SentMessage {
  /** amojo's chat id. */
  chatId: string;
  /** amojo's message id (the one delivery statuses name). */
  amojoMsgid: string;
  /** Our msgid, as amojo echoed it. */
  msgid: string | undefined;
  amojoSenderId: string;
  amojoReceiverId: string | undefined;
}

export interface EditMessageInput {
  conversationId: string;
  /** Our msgid of the message, or amojo's id (`amojoMsgid`): one is needed. */
  msgid?: string;
  amojoMsgid?: string;
  at?: number;
  message: ChatMessage;
}

/** docs/amojo-protocol.md#delivery-status: delivered, read, or an error with its code (905 needs a text). */
export type DeliveryStatus =
  | { status: 'delivered' }
  | { status: 'read' }
  | { status: 'error'; code: 901 | 902 | 903 | 904; text?: string }
  | { status: 'error'; code: 905; text: string };

export interface HistoryMessage {
  timestamp: number;
  msecTimestamp: number;
  senderId: string | undefined;
  /** Our id of the sender, when it is the client. */
  senderClientId: string | undefined;
  receiverId: string | undefined;
  amojoMsgid: string;
  /** Our msgid, when the message came through us. */
  msgid: string | undefined;
  type: string;
  text: string;
  media: string;
}
