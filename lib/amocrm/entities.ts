/**
 * amoCRM / Kommo REST API v4 entity shapes, snake_case exactly as the API sends them.
 *
 * Shared by the webhook parser (lib/amocrm/webhooks), which normalises form-encoded webhook items
 * into these shapes, and by the REST client, which reads and writes them. Only the fields this
 * gateway has a use for, or that a webhook can carry, are listed; the client may extend these
 * interfaces (`interface LeadWithX extends Lead { … }`). Everything is optional except `id`,
 * because `with=`, partial PATCH bodies and webhooks all carry subsets.
 *
 * Sources: developers.kommo.com/reference (leads, contacts, companies, tasks, notes, custom fields)
 * and amocrm-api-php's models (see docs/amocrm-protocol.md).
 */

/** The entity type names REST v4 uses in paths and in `entity_type` fields. */
export type EntityTypeName = 'leads' | 'contacts' | 'companies' | 'customers' | 'tasks' | 'catalog_elements';

/**
 * The numeric `element_type` codes of the older API, which webhooks still send (tasks, notes,
 * chat messages). Source: amoCRM API v2 docs (1 contact, 2 lead, 3 company, 4 task, 12 customer).
 */
export const ELEMENT_TYPE_TO_ENTITY_TYPE: Readonly<Record<number, EntityTypeName>> = {
  1: 'contacts',
  2: 'leads',
  3: 'companies',
  4: 'tasks',
  12: 'customers',
};

/**
 * A structured custom-field value: catalog "items" fields and linked-entity fields carry an
 * object (`{unit_price, quantity, product_id, …}` or `{entity_id, entity_type, …}`) in `value`.
 */
export type CustomFieldObjectValue = { [key: string]: unknown };

/** One entry of `custom_fields_values[i].values`. */
export interface CustomFieldValueItem {
  value?: string | number | boolean | CustomFieldObjectValue;
  enum_id?: number;
  enum_code?: string;
  /** Address-like fields (e.g. legal entity) name the part of the value. */
  subtype?: string;
}

/** One element of `custom_fields_values` (REST v4). */
export interface CustomFieldValue {
  field_id: number;
  field_name?: string;
  /** System fields only: PHONE, EMAIL, IM, POSITION, UTM_*; null/absent for user fields. */
  field_code?: string | null;
  /** text, numeric, checkbox, select, multiselect, date, url, textarea, … (not sent by webhooks). */
  field_type?: string;
  values: CustomFieldValueItem[];
}

export interface Tag {
  id?: number;
  name: string;
  color?: string | null;
}

export interface Link {
  href: string;
}

export interface Links {
  self?: Link;
  next?: Link;
  prev?: Link;
  first?: Link;
}

/** A reference to another entity inside `_embedded`. */
export interface EntityRef {
  id: number;
  is_main?: boolean;
  _links?: Links;
}

export interface Lead {
  id: number;
  name?: string;
  price?: number;
  responsible_user_id?: number;
  group_id?: number;
  status_id?: number;
  pipeline_id?: number;
  loss_reason_id?: number | null;
  source_id?: number | null;
  created_by?: number;
  updated_by?: number;
  created_at?: number;
  updated_at?: number;
  closed_at?: number | null;
  closest_task_at?: number | null;
  is_deleted?: boolean;
  custom_fields_values?: CustomFieldValue[] | null;
  score?: number | null;
  account_id?: number;
  labor_cost?: number | null;
  is_price_modified_by_robot?: boolean;
  _links?: Links;
  _embedded?: {
    tags?: Tag[];
    contacts?: EntityRef[];
    companies?: EntityRef[];
    catalog_elements?: Array<{ id: number; metadata?: Record<string, unknown>; quantity?: number }>;
    loss_reason?: Array<{ id: number; name: string }>;
    source?: { id: number; name?: string; external_id?: string };
  };
}

export interface Contact {
  id: number;
  name?: string;
  first_name?: string;
  last_name?: string;
  responsible_user_id?: number;
  group_id?: number;
  created_by?: number;
  updated_by?: number;
  created_at?: number;
  updated_at?: number;
  closest_task_at?: number | null;
  is_deleted?: boolean;
  is_unsorted?: boolean;
  custom_fields_values?: CustomFieldValue[] | null;
  account_id?: number;
  _links?: Links;
  _embedded?: {
    tags?: Tag[];
    companies?: EntityRef[];
    leads?: EntityRef[];
    customers?: EntityRef[];
    catalog_elements?: Array<{ id: number; metadata?: Record<string, unknown>; quantity?: number }>;
  };
}

export interface Company {
  id: number;
  name?: string;
  responsible_user_id?: number;
  group_id?: number;
  created_by?: number;
  updated_by?: number;
  created_at?: number;
  updated_at?: number;
  closest_task_at?: number | null;
  is_deleted?: boolean;
  custom_fields_values?: CustomFieldValue[] | null;
  account_id?: number;
  _links?: Links;
  _embedded?: {
    tags?: Tag[];
    contacts?: EntityRef[];
    leads?: EntityRef[];
    customers?: EntityRef[];
    catalog_elements?: Array<{ id: number; metadata?: Record<string, unknown>; quantity?: number }>;
  };
}

export interface Task {
  id: number;
  created_by?: number;
  updated_by?: number;
  created_at?: number;
  updated_at?: number;
  responsible_user_id?: number;
  group_id?: number;
  entity_id?: number;
  entity_type?: EntityTypeName;
  is_completed?: boolean;
  /** 1 = call / follow-up, 2 = meeting; others are account task types. */
  task_type_id?: number;
  text?: string;
  /** Seconds. */
  duration?: number;
  /** Unix seconds. */
  complete_till?: number;
  result?: { text?: string };
  account_id?: number;
  _links?: Links;
}

/** REST v4 note types (string names; webhooks send the older numeric code, see the parser). */
export type NoteType =
  | 'common'
  | 'call_in'
  | 'call_out'
  | 'service_message'
  | 'message_cashier'
  | 'geolocation'
  | 'sms_in'
  | 'sms_out'
  | 'extended_service_message'
  | 'attachment';

export interface Note {
  id: number;
  entity_id?: number;
  created_by?: number;
  updated_by?: number;
  created_at?: number;
  updated_at?: number;
  responsible_user_id?: number;
  group_id?: number;
  note_type?: NoteType;
  /** Type-specific: `{text}` for common notes, `{uniq, duration, source, link, phone}` for calls, … */
  params?: { text?: string; [key: string]: unknown };
  account_id?: number;
  _links?: Links;
}
