/**
 * Request schemas ([chat-api] tables; "API чатов имеет строгую типизацию", [chat-start] — ints as ints)
 * and the message rules zod cannot say on its own.
 */
import * as z from 'zod';
import { bad } from './http.ts';

export const nonEmpty = z.string().min(1);
export const int = z.number().int();
export const profileSchema = z.object({ phone: z.string().optional(), email: z.string().optional() });
/** ≤ 40 printable ASCII characters and space ([chat-api] create chat, `source[external_id]`). */
export const sourceSchema = z.object({
  external_id: z
    .string()
    .max(40)
    .regex(/^[\x20-\x7e]*$/, 'printable ASCII only'),
});

export const participantSchema = z.object({
  id: nonEmpty,
  ref_id: z.string().optional(),
  name: z.string(),
  avatar: z.string().optional(),
  profile: profileSchema.optional(),
  profile_link: z.string().optional(),
});

const MESSAGE_TYPES = ['text', 'contact', 'file', 'video', 'picture', 'voice', 'audio', 'sticker', 'location'] as const;

export const deliveryStatusValue = z.union([z.literal(1), z.literal(2), z.literal(-1)]);
export const errorCode = z.union([z.literal(901), z.literal(902), z.literal(903), z.literal(904), z.literal(905)]);

export const messageSchema = z.object({
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
  shared_post: z
    .object({
      url: nonEmpty,
      type: z.literal('post'),
      preview_link: z.string().optional(),
      preview_permalink: z.string().optional(),
      site_name: z.string().optional(),
    })
    .optional(),
  post: z
    .object({
      id: nonEmpty,
      url: nonEmpty,
      preview_url: z.string().optional(),
      preview_permalink: z.string().optional(),
      username: z.string().optional(),
      caption: z.string().optional(),
    })
    .optional(),
  // Edit only ([chat-api] "Описание объекта delivery_status"): {status_code, error_code, error}.
  delivery_status: z
    .object({ status_code: deliveryStatusValue, error_code: errorCode.optional(), error: z.string().optional() })
    .optional(),
});
export type MessageIn = z.infer<typeof messageSchema>;

export const embeddedMessageSchema = z
  .object({
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
  })
  .superRefine((m, ctx) => {
    // [chat-api] embedded_message: without an id, type/timestamp/msec_timestamp/sender are required.
    if (m.id === undefined && m.msgid === undefined) {
      for (const k of ['type', 'timestamp', 'msec_timestamp', 'sender'] as const) {
        if (m[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'required when neither id nor msgid is given' });
      }
    }
  });

export const newMessagePayloadSchema = z.object({
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
  forwards: z
    .object({
      messages: z.array(embeddedMessageSchema).min(1).max(1),
      conversation_id: z.string().optional(),
      conversation_ref_id: z.string().optional(),
    })
    .optional(),
});

export const editMessagePayloadSchema = z
  .object({
    timestamp: int.nonnegative().optional(),
    msec_timestamp: int.nonnegative().optional(),
    msgid: z.string().optional(),
    id: z.string().optional(),
    conversation_id: nonEmpty,
    message: messageSchema,
  })
  .refine((p) => p.msgid !== undefined || p.id !== undefined, { message: 'msgid or id is required', path: ['msgid'] });

export const connectSchema = z.object({
  account_id: nonEmpty,
  hook_api_version: z.enum(['v1', 'v2']).optional(),
  title: z.string().optional(),
  is_time_window_disabled: z.boolean().optional(),
});
export const disconnectSchema = z.object({ account_id: nonEmpty });

export const createChatSchema = z.object({
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

export const deliveryStatusSchema = z.object({
  msgid: nonEmpty,
  delivery_status: deliveryStatusValue,
  error_code: errorCode.optional(),
  error: z.string().optional(),
});

export const typingSchema = z.object({
  conversation_id: nonEmpty,
  sender: z.object({ id: nonEmpty }),
  duration_ms: int.positive().optional(),
});

export const reactSchema = z.object({
  conversation_id: z.string().optional(),
  conversation_ref_id: z.string().optional(),
  id: z.string().optional(),
  msgid: z.string().optional(),
  user: z.object({ id: z.string().optional(), ref_id: z.string().optional() }),
  type: z.enum(['react', 'unreact']),
  emoji: z.string().optional(),
});

/** Type-specific required fields (#messages; [chat-api] "Описание объекта message"). */
export function checkMessageFields(m: MessageIn, edit: boolean): void {
  const need = (cond: boolean, what: string): void => {
    if (!cond) throw bad(`payload.message: ${what} (type "${m.type}")`);
  };
  switch (m.type) {
    case 'text':
      need(typeof m.text === 'string' && m.text.length > 0, 'text is required');
      break;
    case 'picture':
    case 'video':
    case 'file':
      // "Необязательное поле, если при редактировании сообщения файл не меняется."
      if (!edit) need(!!m.media && !!m.file_name && m.file_size !== undefined, 'media, file_name and file_size are required');
      break;
    case 'voice':
    case 'audio':
    case 'sticker':
      if (!edit) need(!!m.media, 'media is required');
      break;
    case 'location':
      need(m.location !== undefined, 'location {lon, lat} is required');
      break;
    case 'contact':
      need(m.contact !== undefined, 'contact {name, phone} is required');
      break;
  }
  if (!edit && m.delivery_status !== undefined)
    throw bad('payload.message.delivery_status may be sent only with edit_message ([chat-api])');
  if (m.delivery_status)
    checkStatusRule(
      m.delivery_status.status_code,
      m.delivery_status.error_code,
      m.delivery_status.error,
      'payload.message.delivery_status',
    );
}

/**
 * #delivery-status: `error_code`/`error` only with status -1 ("Обязателен только при status_code = -1";
 * [kommo-delivery] "Don't send in case of status not error"); -1 needs a code; 905 needs the `error` text.
 */
export function checkStatusRule(status: number, code: number | undefined, error: string | undefined, where: string): void {
  if (status !== -1) {
    if (code !== undefined || error !== undefined) throw bad(`${where}: error_code and error are sent only with status -1`);
    return;
  }
  if (code === undefined) throw bad(`${where}: error_code (901–905) is required with status -1`);
  if (code === 905 && (error === undefined || error.trim() === '')) throw bad(`${where}: error text is required with error_code 905`);
}
