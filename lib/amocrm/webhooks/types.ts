/**
 * Typed events parsed from amoCRM account webhooks (and Digital Pipeline webhooks).
 * See README.md next to this file for the kinds, the normalisation rules and the limits.
 */
import type { Company, Contact, EntityTypeName, Lead, Note, NoteType, Task, CustomFieldValue } from '../entities.ts';

/** `account` for webhooks configured in the account settings; `digital-pipeline` for the short DP form. */
export type WebhookFamily = 'account' | 'digital-pipeline';

/** The `account[...]` block. 2016–2018 bodies carry only `subdomain`. */
export interface WebhookAccount {
  id?: number;
  subdomain: string;
  /** `account[_links][self]`, e.g. `https://unirock.amocrm.ru`. */
  self?: string;
}

/**
 * A date/time string as amoCRM sent it (tasks, old notes send `"YYYY-MM-DD HH:MM:SS"` in the
 * account's time zone, which the body does not name), plus what can be read from it without
 * guessing: `unix` only when the string is unix seconds or carries an explicit offset; `local`
 * (ISO 8601 without offset) when it is a valid naive date-time.
 */
export interface WebhookDate {
  given: string;
  unix?: number;
  local?: string;
}

/** Fields a lead webhook adds to the REST shape. */
export interface WebhookLead extends Lead {
  old_status_id?: number;
  /** Only the Digital Pipeline form is known to send it; optional everywhere. */
  old_pipeline_id?: number;
  old_responsible_user_id?: number;
}

export interface WebhookContact extends Contact {
  type: 'contact';
  old_responsible_user_id?: number;
  company_name?: string;
  linked_company_id?: number;
  /** `linked_leads_id[<id>][ID]=<id>` map, as an array of ids in ascending order. */
  linked_leads_id?: number[];
}

export interface WebhookCompany extends Company {
  type: 'company';
  old_responsible_user_id?: number;
  linked_leads_id?: number[];
}

export interface WebhookTask extends Task {
  /** The numeric element type the webhook sent (1 contact, 2 lead, 3 company, 12 customer). */
  element_type?: number;
  /** 0 = open, 1 = completed (also given as `is_completed`). */
  status?: number;
  /** Update only: true when this update closed the task. */
  action_close?: boolean;
  old_text?: string;
  old_responsible_user_id?: number;
  /** Unix deadline the webhook may send next to the `complete_till` string. */
  complete_before?: number;
  result?: { id?: number; text?: string };
  /** The date strings as sent (`date_create`, `last_modified`, `complete_till`). */
  dates: { date_create?: WebhookDate; last_modified?: WebhookDate; complete_till?: WebhookDate };
}

export interface WebhookNote extends Omit<Note, 'id' | 'note_type'> {
  /** Absent in old bodies. */
  id?: number;
  entity_type?: EntityTypeName;
  element_type?: number;
  /** REST name of the note type, when the numeric code is a known one. */
  note_type?: NoteType;
  /** The numeric note type the webhook sent (4 = common, 10/11 = call in/out, …). */
  note_type_id?: number;
  /** `attachement` (sic) in the body. */
  attachment?: string;
  dates: { date_create?: WebhookDate; timestamp_x?: WebhookDate };
}

export interface WebhookUnsorted {
  uid: string;
  category?: string;
  /** delete only: how the unsorted item left the inbox. */
  action?: 'accept' | 'decline';
  source?: string;
  source_uid?: string;
  source_id?: number;
  pipeline_id?: number;
  lead_id?: number;
  user_id?: number;
  account_id?: number;
  created_at?: number;
  date_create?: number;
  /** Decoded as sent (all leaves strings); lists `[0..n]` become arrays. */
  source_data?: Record<string, unknown>;
  /** Decoded as sent (all leaves strings); lists `[0..n]` become arrays. */
  data?: Record<string, unknown>;
  /** `accept_result[leads][0]=…`: ids created or linked by accepting, per entity type. */
  accept_result?: Record<string, number[]>;
  decline_result?: Record<string, number[]>;
}

export interface WebhookCatalogElement {
  id: number;
  catalog_id?: number;
  name?: string;
  /** `catalog` in the bodies seen. */
  type?: string;
  created_by?: number;
  updated_by?: number;
  created_at?: number;
  updated_at?: number;
  account_id?: number;
  custom_fields_values?: CustomFieldValue[];
}

export interface WebhookMessage {
  id: string;
  chat_id?: string;
  talk_id?: number;
  contact_id?: number;
  text?: string;
  created_at?: number;
  /** `incoming` / `outgoing`. */
  type?: string;
  origin?: string;
  entity_id?: number;
  /** `lead`, `contact`, … as sent. */
  entity_type?: string;
  element_id?: number;
  element_type?: number;
  author?: { id?: string; type?: string; name?: string; avatar_url?: string };
  attachment?: { type?: string; link?: string; file_name?: string };
}

export interface WebhookTalk {
  talk_id: number;
  chat_id?: string;
  contact_id?: number;
  entity_id?: number;
  entity_type?: string;
  origin?: string;
  is_read?: boolean;
  is_in_work?: boolean;
  created_at?: number;
  updated_at?: number;
  account_id?: number;
}

/** What every event carries. */
export interface WebhookEventBase<K extends string, E extends string, A extends string, D, Id> {
  kind: K;
  /** Singular entity name (`lead`, `contact`, `company`, …); the body key for `raw` events. */
  entity: E;
  action: A;
  family: WebhookFamily;
  account: WebhookAccount;
  entityId?: Id;
  data: D;
  /** The item exactly as decoded (all leaves strings; lists are `{"0": …}` objects). */
  raw: unknown;
  /** Position of the event in the body, from 0, in body order. */
  index: number;
  /** Where the item sat in the body, e.g. `leads[status][0]`. */
  path: string;
  /** `<sha256:body-hash | rid:request-id>:<entity>:<entityId>:<action>:<index>`: the hash when the item names its change time (docs/architecture.md#idempotency-keys). */
  idempotencyKey: string;
}

export type LeadAction = 'add' | 'update' | 'delete' | 'restore' | 'status' | 'responsible';
export type ContactAction = 'add' | 'update' | 'delete' | 'restore' | 'responsible';
export type TaskAction = 'add' | 'update' | 'delete' | 'responsible';
export type UnsortedAction = 'add' | 'update' | 'delete';
export type CatalogAction = 'add' | 'update' | 'delete';
export type TalkAction = 'add' | 'update';

export type LeadEvent = { [A in LeadAction]: WebhookEventBase<`lead.${A}`, 'lead', A, WebhookLead, number> }[LeadAction];
export type LeadNoteEvent = WebhookEventBase<'lead.note', 'lead', 'note', WebhookNote, number>;
export type ContactEvent = { [A in ContactAction]: WebhookEventBase<`contact.${A}`, 'contact', A, WebhookContact, number> }[ContactAction];
export type ContactNoteEvent = WebhookEventBase<'contact.note', 'contact', 'note', WebhookNote, number>;
export type CompanyEvent = { [A in ContactAction]: WebhookEventBase<`company.${A}`, 'company', A, WebhookCompany, number> }[ContactAction];
export type CompanyNoteEvent = WebhookEventBase<'company.note', 'company', 'note', WebhookNote, number>;
export type TaskEvent = { [A in TaskAction]: WebhookEventBase<`task.${A}`, 'task', A, WebhookTask, number> }[TaskAction];
export type UnsortedEvent = {
  [A in UnsortedAction]: WebhookEventBase<`unsorted.${A}`, 'unsorted', A, WebhookUnsorted, string>;
}[UnsortedAction];
export type CatalogEvent = {
  [A in CatalogAction]: WebhookEventBase<`catalog.${A}`, 'catalog', A, WebhookCatalogElement, number>;
}[CatalogAction];
export type MessageEvent = WebhookEventBase<'message.add', 'message', 'add', WebhookMessage, string>;
export type TalkEvent = { [A in TalkAction]: WebhookEventBase<`talk.${A}`, 'talk', A, WebhookTalk, number> }[TalkAction];
/**
 * Anything the parser does not type (customers, outgoing messages, unknown keys, contacts items
 * without `type`, …): kept whole in `raw`, never dropped. `reason` says why it is raw.
 */
export type RawEvent = WebhookEventBase<'raw', string, string, null, string> & { reason: string };

export type WebhookEvent =
  | LeadEvent
  | LeadNoteEvent
  | ContactEvent
  | ContactNoteEvent
  | CompanyEvent
  | CompanyNoteEvent
  | TaskEvent
  | UnsortedEvent
  | CatalogEvent
  | MessageEvent
  | TalkEvent
  | RawEvent;

export type WebhookEventKind = WebhookEvent['kind'];

export type ParseErrorCode =
  /** zero bytes, or only whitespace */
  | 'empty-body'
  /** content-type is not form-urlencoded, the body looks like JSON, or has no `name=value` pair */
  | 'not-form'
  /** bytes are not UTF-8, or a `%XX` escape is malformed / decodes to invalid UTF-8 */
  | 'invalid-encoding'
  /** more parameters, deeper keys or longer `[]` lists than the limits (see WEBHOOK_QS_OPTIONS) */
  | 'limits-exceeded'
  /** the form holds no `entity[action]` items */
  | 'no-events'
  /** `account[subdomain]` missing or malformed, or `account[id]` not an integer */
  | 'invalid-account'
  /** an item of a known kind does not have the shape its kind requires (path in the message) */
  | 'invalid-item'
  /** a bug in the parser; the body is kept by the caller (never thrown) */
  | 'internal';

export interface ParseError {
  code: ParseErrorCode;
  /** Explains the rejection; names paths, never values (they may hold phones or e-mails). */
  message: string;
  /** Body path of the offending item or field, e.g. `leads[status][0][id]`. */
  path?: string;
}

export type ParseResult =
  | {
      ok: true;
      account: WebhookAccount;
      events: WebhookEvent[];
      /** `x-amocrm-requestid` when the delivery had one. */
      requestId?: string;
      /** Hex sha256 of the body bytes. */
      bodySha256: string;
      /** Top-level pairs that are neither `account` nor `entity[action]` (kept, not dropped). */
      extras?: Record<string, unknown>;
    }
  | { ok: false; error: ParseError };

/** Header values as the envelope (lower-cased) or Node (`string[]` for repeats) give them. */
export type WebhookHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;
