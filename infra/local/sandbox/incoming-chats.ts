/**
 * What the account does with a client's message that reaches amojo: amoCRM files a chat nobody has
 * sorted yet into Unsorted, category "chats" (amo-docs unsorted-api: «Неразобранное типа чаты …
 * добавляются встроенными средствами (интеграция с чатами …)»), with a new contact and lead, and
 * `GET /api/v4/contacts/chats` then answers that contact for the chat (contacts-api: «Если чат
 * относится к неразобранному, метод вернет id контакта в этом неразобранном»).
 */
import type { IncomingMessageEvent } from './amojo/types.ts';
import type { Core } from './core.ts';
import { adminCtx } from './core.ts';
import type { FieldError } from './errors.ts';
import { validateEntity } from './resources/entities.ts';
import { createUnsorted, unsortedStage } from './resources/unsorted.ts';
import type { Pipeline } from './state.ts';

/**
 * Called by amojo for every accepted incoming message. Nothing happens when the message is for
 * another account, when its chat is linked to a contact already (an open entry included), or when
 * no pipeline has an Unsorted stage. The pipeline is the one of the channel integration's source
 * whose `external_id` the chat was created with, else the main one (sources-api: sources count «если
 * переданы через API чатов, при создании неразобранного»); the rest is *assumed*: the contact is
 * named after the client with the profile's phone (MOB) and email (PRIV), created by user 0 (a robot,
 * leads-api «При передаче значения 0 … роботом»), responsible = the account's first admin.
 */
export function incomingChat(core: Core, ev: IncomingMessageEvent): void {
  const state = core.state;
  if (ev.account_id !== state.account.amojoId) return;
  const open = [...state.unsorted.values()].find((u) => u.status === 'pending' && u.chat_id === ev.chat_id);
  if (open) {
    // The entry shows the client's latest message (unsorted-api chat metadata `last_message_text`, `received_at`).
    open.metadata = { ...open.metadata, last_message_text: ev.text ?? null, received_at: ev.timestamp };
    return;
  }
  if ([...state.chatLinks.values()].some((l) => l.chat_id === ev.chat_id)) return;
  const ctx = adminCtx(core);
  // Sources belong to an integration: the one the channel's settings name.
  const bySource =
    ev.source_external_id !== undefined
      ? [...state.sources.values()].find((s) => s.external_id === ev.source_external_id && s.client_id === ev.channel_client_id)
      : undefined;
  const candidates: Array<Pipeline | undefined> = [
    bySource ? state.pipelines.get(bySource.pipeline_id) : undefined,
    state.mainPipeline(),
    ...state.pipelines.values(),
  ];
  const pipeline = candidates.find((p): p is Pipeline => p !== undefined && unsortedStage(p) !== undefined);
  if (!pipeline) {
    core.log(`incoming chat ${ev.chat_id}: no pipeline has an Unsorted stage, nothing filed`);
    return;
  }
  const name = ev.client.name ?? `Клиент ${ev.client.id.slice(0, 8)}`;
  const cf: unknown[] = [];
  if (ev.client.phone) cf.push({ field_code: 'PHONE', values: [{ value: ev.client.phone, enum_code: 'MOB' }] });
  if (ev.client.email) cf.push({ field_code: 'EMAIL', values: [{ value: ev.client.email, enum_code: 'PRIV' }] });
  const errs: FieldError[] = [];
  const contact =
    validateEntity(ctx, 'contacts', 'add', { name, created_by: 0, ...(cf.length ? { custom_fields_values: cf } : {}) }, 0, errs) ??
    validateEntity(ctx, 'contacts', 'add', { name, created_by: 0 }, 0, []);
  const lead = validateEntity(ctx, 'leads', 'add', { name: `Чат: ${name}`, created_by: 0 }, 0, []);
  if (!contact || !lead) return;
  // unsorted-api "Метаданные неразобранного в категории chat".
  const metadata = {
    from: name,
    to: ev.channel_title,
    received_at: ev.timestamp,
    service: ev.channel_title,
    client: { name, avatar: ev.client.avatar ?? null },
    origin: { chat_id: ev.chat_id, ref: null, visitor_uid: null },
    last_message_text: ev.text ?? null,
    source_name: bySource?.name ?? ev.channel_title,
  };
  const entry = createUnsorted(ctx, {
    category: 'chats',
    sourceUid: null,
    sourceName: bySource?.name ?? ev.channel_title,
    pipeline,
    createdAt: ctx.now,
    metadata,
    lead,
    contact,
    chatId: ev.chat_id,
  });
  if (entry.contact_id !== null) {
    const id = state.nextId('chatLink');
    state.chatLinks.set(id, { id, chat_id: ev.chat_id, contact_id: entry.contact_id });
  }
  core.log(`incoming chat ${ev.chat_id}: Unsorted entry with lead ${entry.lead_id}`);
}
