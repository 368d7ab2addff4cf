/**
 * Item schemas: one decoded webhook item (all leaves strings) → the typed `data` of its event.
 * Only the fields listed here are read (and so validated); everything else stays in `raw`.
 * Field names seen in the fixtures and in the docs' examples (test/fixtures/README.md,
 * docs/amocrm-protocol.md#delivery-format); REST v4 names are accepted where the old name is absent.
 */
import * as z from '../../common/zod.ts';
import { ELEMENT_TYPE_TO_ENTITY_TYPE, type NoteType } from '../entities.ts';
import {
  compact,
  customFieldSchema,
  idListsSchema,
  linkedIdsSchema,
  listify,
  listOf,
  optDate,
  optDecimal,
  optFlag,
  optText,
  optUint,
  tagSchema,
  uint,
} from './fields.ts';
import type {
  WebhookAccount,
  WebhookCatalogElement,
  WebhookCompany,
  WebhookContact,
  WebhookLead,
  WebhookMessage,
  WebhookNote,
  WebhookTalk,
  WebhookTask,
  WebhookUnsorted,
} from './types.ts';

/** The `account[...]` block. Subdomains are `[a-z0-9-]` (amoCRM refuses Cyrillic domains). */
export const accountSchema = z.pipe(
  z.looseObject({
    subdomain: z
      .string({ error: 'account[subdomain] is required' })
      .check(z.regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})$/, { error: 'account[subdomain] is not a subdomain' })),
    id: optUint,
    _links: z.optional(z.looseObject({ self: optText })),
  }),
  z.transform((a): WebhookAccount => compact({ id: a.id, subdomain: a.subdomain, self: a._links?.self })),
);

/** Old names first (what webhooks send), REST v4 names as a fallback. */
const auditFields = {
  created_user_id: optUint,
  modified_user_id: optUint,
  created_by: optUint,
  updated_by: optUint,
  date_create: optUint,
  last_modified: optUint,
  created_at: optUint,
  updated_at: optUint,
  account_id: optUint,
  group_id: optUint,
  responsible_user_id: optUint,
  old_responsible_user_id: optUint,
};

type Audit = { [K in keyof typeof auditFields]?: number };

function audit(a: Audit) {
  return {
    responsible_user_id: a.responsible_user_id,
    old_responsible_user_id: a.old_responsible_user_id,
    group_id: a.group_id,
    created_by: a.created_user_id ?? a.created_by,
    updated_by: a.modified_user_id ?? a.updated_by,
    created_at: a.created_at ?? a.date_create,
    updated_at: a.updated_at ?? a.last_modified,
    account_id: a.account_id,
  };
}

const crmFields = {
  ...auditFields,
  id: uint,
  name: optText,
  custom_fields: z.optional(listOf(customFieldSchema)),
  tags: z.optional(listOf(tagSchema)),
};

export const leadSchema = z.pipe(
  z.looseObject({
    ...crmFields,
    status_id: optUint,
    old_status_id: optUint,
    pipeline_id: optUint,
    old_pipeline_id: optUint,
    price: optDecimal,
    loss_reason_id: optUint,
  }),
  z.transform((l): WebhookLead =>
    compact({
      id: l.id,
      name: l.name,
      price: l.price,
      status_id: l.status_id,
      old_status_id: l.old_status_id,
      pipeline_id: l.pipeline_id,
      old_pipeline_id: l.old_pipeline_id,
      loss_reason_id: l.loss_reason_id,
      ...audit(l),
      custom_fields_values: l.custom_fields,
      _embedded: l.tags ? { tags: l.tags } : undefined,
    }),
  ),
);

export const contactSchema = z.pipe(
  z.looseObject({
    ...crmFields,
    first_name: optText,
    last_name: optText,
    company_name: optText,
    linked_company_id: optUint,
    linked_leads_id: z.optional(linkedIdsSchema),
  }),
  z.transform((c): WebhookContact =>
    compact({
      type: 'contact' as const,
      id: c.id,
      name: c.name,
      first_name: c.first_name,
      last_name: c.last_name,
      ...audit(c),
      company_name: c.company_name,
      linked_company_id: c.linked_company_id,
      linked_leads_id: c.linked_leads_id,
      custom_fields_values: c.custom_fields,
      _embedded: c.tags ? { tags: c.tags } : undefined,
    }),
  ),
);

export const companySchema = z.pipe(
  z.looseObject({ ...crmFields, linked_leads_id: z.optional(linkedIdsSchema) }),
  z.transform((c): WebhookCompany =>
    compact({
      type: 'company' as const,
      id: c.id,
      name: c.name,
      ...audit(c),
      linked_leads_id: c.linked_leads_id,
      custom_fields_values: c.custom_fields,
      _embedded: c.tags ? { tags: c.tags } : undefined,
    }),
  ),
);

/** Task bodies send `date_create`/`last_modified`/`complete_till` as date strings (K-WH, doc). */
export const taskSchema = z.pipe(
  z.looseObject({
    id: uint,
    element_id: optUint,
    element_type: optUint,
    task_type: optUint,
    task_type_id: optUint,
    text: optText,
    old_text: optText,
    status: optUint,
    action_close: optFlag,
    responsible_user_id: optUint,
    old_responsible_user_id: optUint,
    created_user_id: optUint,
    modified_user_id: optUint,
    group_id: optUint,
    account_id: optUint,
    duration: optUint,
    date_create: optDate,
    last_modified: optDate,
    complete_till: optDate,
    complete_before: optUint,
    created_at: optUint,
    updated_at: optUint,
    result: z.optional(z.looseObject({ id: optUint, text: optText })),
  }),
  z.transform((t): WebhookTask =>
    compact({
      id: t.id,
      entity_id: t.element_id,
      entity_type: t.element_type === undefined ? undefined : ELEMENT_TYPE_TO_ENTITY_TYPE[t.element_type],
      element_type: t.element_type,
      task_type_id: t.task_type ?? t.task_type_id,
      text: t.text,
      old_text: t.old_text,
      status: t.status,
      is_completed: t.status === undefined ? undefined : t.status === 1,
      action_close: t.action_close,
      responsible_user_id: t.responsible_user_id,
      old_responsible_user_id: t.old_responsible_user_id,
      group_id: t.group_id,
      created_by: t.created_user_id,
      updated_by: t.modified_user_id,
      created_at: t.created_at ?? t.date_create?.unix,
      updated_at: t.updated_at ?? t.last_modified?.unix,
      complete_till: t.complete_till?.unix ?? t.complete_before,
      complete_before: t.complete_before,
      duration: t.duration,
      account_id: t.account_id,
      result: t.result ? compact({ id: t.result.id, text: t.result.text }) : undefined,
      dates: compact({ date_create: t.date_create, last_modified: t.last_modified, complete_till: t.complete_till }),
    }),
  ),
);

/** Numeric note codes of the older API → REST v4 names (amoCRM v2 constants; others stay numeric only). */
const NOTE_TYPES: Readonly<Record<number, NoteType>> = {
  4: 'common',
  10: 'call_in',
  11: 'call_out',
  102: 'sms_in',
  103: 'sms_out',
};

const noteInner = z.pipe(
  z.looseObject({
    id: optUint,
    text: optText,
    attachement: optText,
    note_type: optUint,
    element_type: optUint,
    element_id: optUint,
    group_id: optUint,
    account_id: optUint,
    created_by: optUint,
    modified_by: optUint,
    main_user_id: optUint,
    date_create: optDate,
    timestamp_x: optDate,
    created_at: optUint,
    updated_at: optUint,
  }),
  z.transform((n): WebhookNote =>
    compact({
      id: n.id,
      entity_id: n.element_id,
      entity_type: n.element_type === undefined ? undefined : ELEMENT_TYPE_TO_ENTITY_TYPE[n.element_type],
      element_type: n.element_type,
      note_type: n.note_type === undefined ? undefined : NOTE_TYPES[n.note_type],
      note_type_id: n.note_type,
      params: n.text === undefined ? undefined : { text: n.text },
      attachment: n.attachement,
      created_by: n.created_by,
      updated_by: n.modified_by,
      responsible_user_id: n.main_user_id,
      group_id: n.group_id,
      account_id: n.account_id,
      created_at: n.created_at ?? n.date_create?.unix,
      updated_at: n.updated_at ?? n.timestamp_x?.unix,
      dates: compact({ date_create: n.date_create, timestamp_x: n.timestamp_x }),
    }),
  ),
);

/** `<entity>[note][i]` = `{note: {...}, type?}`: the note sits one level down. */
export const noteItemSchema = z.pipe(
  z.looseObject({ note: noteInner }),
  z.transform((i) => i.note),
);

const freeForm = z.pipe(
  z.record(z.string(), z.unknown()),
  z.transform((o) => listify(o) as Record<string, unknown>),
);

export const unsortedSchema = z.pipe(
  z.looseObject({
    uid: z.string({ error: 'uid is required' }).check(z.minLength(1, { error: 'uid is required' })),
    category: optText,
    action: z.optional(z.enum(['accept', 'decline'], { error: 'expected accept or decline' })),
    source: optText,
    source_uid: optText,
    source_id: optUint,
    pipeline_id: optUint,
    lead_id: optUint,
    user_id: optUint,
    account_id: optUint,
    created_at: optUint,
    date_create: optUint,
    source_data: z.optional(freeForm),
    data: z.optional(freeForm),
    accept_result: z.optional(idListsSchema),
    decline_result: z.optional(idListsSchema),
  }),
  z.transform((u): WebhookUnsorted => compact(pick(u))),
);

/** Keep only the declared keys of a looseObject's output (it passes unknown keys through). */
function pick(u: Record<string, unknown>): WebhookUnsorted {
  const keys = [
    'uid',
    'category',
    'action',
    'source',
    'source_uid',
    'source_id',
    'pipeline_id',
    'lead_id',
    'user_id',
    'account_id',
    'created_at',
    'date_create',
    'source_data',
    'data',
    'accept_result',
    'decline_result',
  ] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = u[k];
  return out as unknown as WebhookUnsorted;
}

export const catalogSchema = z.pipe(
  z.looseObject({
    ...auditFields,
    id: uint,
    catalog_id: optUint,
    name: optText,
    type: optText,
    custom_fields: z.optional(listOf(customFieldSchema)),
  }),
  z.transform((c): WebhookCatalogElement =>
    compact({
      id: c.id,
      catalog_id: c.catalog_id,
      name: c.name,
      type: c.type,
      created_by: c.created_user_id ?? c.created_by,
      updated_by: c.modified_user_id ?? c.updated_by,
      created_at: c.created_at ?? c.date_create,
      updated_at: c.updated_at ?? c.last_modified,
      account_id: c.account_id,
      custom_fields_values: c.custom_fields,
    }),
  ),
);

export const messageSchema = z.pipe(
  z.looseObject({
    id: z.string({ error: 'id is required' }).check(z.minLength(1, { error: 'id is required' })),
    chat_id: optText,
    talk_id: optUint,
    contact_id: optUint,
    text: optText,
    created_at: optUint,
    type: optText,
    origin: optText,
    entity_id: optUint,
    entity_type: optText,
    element_id: optUint,
    element_type: optUint,
    author: z.optional(z.looseObject({ id: optText, type: optText, name: optText, avatar_url: optText })),
    attachment: z.optional(z.looseObject({ type: optText, link: optText, file_name: optText })),
  }),
  z.transform((m): WebhookMessage =>
    compact({
      id: m.id,
      chat_id: m.chat_id,
      talk_id: m.talk_id,
      contact_id: m.contact_id,
      text: m.text,
      created_at: m.created_at,
      type: m.type,
      origin: m.origin,
      entity_id: m.entity_id,
      entity_type: m.entity_type,
      element_id: m.element_id,
      element_type: m.element_type,
      author: m.author
        ? compact({ id: m.author.id, type: m.author.type, name: m.author.name, avatar_url: m.author.avatar_url })
        : undefined,
      attachment: m.attachment
        ? compact({ type: m.attachment.type, link: m.attachment.link, file_name: m.attachment.file_name })
        : undefined,
    }),
  ),
);

export const talkSchema = z.pipe(
  z.looseObject({
    talk_id: uint,
    chat_id: optText,
    contact_id: optUint,
    entity_id: optUint,
    entity_type: optText,
    origin: optText,
    is_read: optFlag,
    is_in_work: optFlag,
    created_at: optUint,
    updated_at: optUint,
    account_id: optUint,
  }),
  z.transform((t): WebhookTalk =>
    compact({
      talk_id: t.talk_id,
      chat_id: t.chat_id,
      contact_id: t.contact_id,
      entity_id: t.entity_id,
      entity_type: t.entity_type,
      origin: t.origin,
      is_read: t.is_read,
      is_in_work: t.is_in_work,
      created_at: t.created_at,
      updated_at: t.updated_at,
      account_id: t.account_id,
    }),
  ),
);
