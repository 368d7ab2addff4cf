/**
 * The one account a sandbox server simulates: its dictionaries (users, pipelines, custom fields,
 * task types, tags) and its entities. Plain maps; resource modules read and write them.
 */
import type { Rng } from './rng.ts';

export type EntityKind = 'leads' | 'contacts' | 'companies';
export const ENTITY_KINDS: readonly EntityKind[] = ['leads', 'contacts', 'companies'];

export interface AccountInfo {
  id: number;
  subdomain: string;
  name: string;
  amojoId: string;
}

export interface User {
  id: number;
  name: string;
  email: string;
  lang: string;
  is_admin: boolean;
  group_id: number;
}

export interface Status {
  id: number;
  name: string;
  sort: number;
  is_editable: boolean;
  color: string;
  /** 1 = "unsorted" stage, 0 = regular (and 142/143). */
  type: 0 | 1;
}

export interface Pipeline {
  id: number;
  name: string;
  sort: number;
  is_main: boolean;
  is_unsorted_on: boolean;
  is_archive: boolean;
  statuses: Status[];
}

export interface EnumDef {
  id: number;
  value: string;
  sort: number;
  code: string | null;
}

export interface FieldDef {
  id: number;
  name: string;
  code: string | null;
  sort: number;
  type: string;
  entity_type: EntityKind | 'catalogs';
  /** Set for catalog fields. */
  catalog_id?: number;
  is_predefined: boolean;
  is_api_only: boolean;
  enums: EnumDef[] | null;
}

export interface StoredValue {
  value: unknown;
  enum_id?: number;
  enum_code?: string | null;
}

export interface StoredField {
  field_id: number;
  values: StoredValue[];
}

export interface Tag {
  id: number;
  name: string;
  color: string | null;
}

interface EntityBase {
  id: number;
  name: string;
  responsible_user_id: number;
  group_id: number;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  custom: StoredField[];
  tags: number[];
}

export interface Lead extends EntityBase {
  price: number;
  status_id: number;
  pipeline_id: number;
  loss_reason_id: number | null;
  closed_at: number | null;
  contacts: Array<{ id: number; is_main: boolean }>;
  company_id: number | null;
  /** `_embedded.source` of a complex add (amo-docs leads-api). */
  source_id?: number;
}

export interface Contact extends EntityBase {
  first_name: string;
  last_name: string;
  company_id: number | null;
}

export type Company = EntityBase;

export type AnyEntity = Lead | Contact | Company;

export interface TaskType {
  id: number;
  name: string;
  code: string | null;
}

export interface Task {
  id: number;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  responsible_user_id: number;
  group_id: number;
  entity_id: number | null;
  entity_type: string | null;
  is_completed: boolean;
  task_type_id: number;
  text: string;
  duration: number;
  complete_till: number;
  result: { text: string } | null;
}

export interface Note {
  id: number;
  entity_type: EntityKind;
  entity_id: number;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  responsible_user_id: number;
  group_id: number;
  note_type: string;
  params: Record<string, unknown>;
}

export interface Catalog {
  id: number;
  name: string;
  type: string;
  sort: number;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  can_add_elements: boolean;
  can_link_multiple: boolean;
}

export interface CatalogElement {
  id: number;
  catalog_id: number;
  name: string;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  custom: StoredField[];
}

export interface WebhookSub {
  id: number;
  destination: string;
  settings: string[];
  sort: number;
  created_at: number;
  updated_at: number;
  created_by: number;
}

export interface ChatLink {
  id: number;
  chat_id: string;
  contact_id: number;
}

/** A catalog element linked to a lead, contact or company (entity-links-api `catalog_elements`). */
export interface ElementLink {
  entity_type: EntityKind;
  entity_id: number;
  element_id: number;
  catalog_id: number;
  quantity: number;
  price_id: number | null;
}

/** A lead loss reason (`GET /api/v4/leads/loss_reasons`). */
export interface LossReason {
  id: number;
  name: string;
  sort: number;
  created_at: number;
  updated_at: number;
}

/** One record of the account's event list (`GET /api/v4/events`, events-and-notes). */
export interface AccountEvent {
  id: string;
  type: string;
  /** Singular, as amoCRM writes it: lead, contact, company. */
  entity_type: string;
  entity_id: number;
  created_by: number;
  created_at: number;
  value_after: unknown[];
  value_before: unknown[];
}

/** One entry of the Unsorted inbox (amo-docs unsorted-api). Its lead sits in the pipeline's type-1 stage. */
export interface UnsortedEntry {
  uid: string;
  source_uid: string | null;
  source_name: string;
  category: 'sip' | 'forms' | 'chats' | 'mail';
  pipeline_id: number;
  created_at: number;
  metadata: Record<string, unknown>;
  lead_id: number;
  contact_id: number | null;
  company_id: number | null;
  /** Chats only: the amojo chat the entry came from. */
  chat_id?: string;
  /** Entities that existed before the entry (complex add by id): never hidden, never dropped by decline. */
  existing?: { contact?: boolean; company?: boolean };
  status: 'pending' | 'accepted' | 'declined' | 'linked';
  sorted_at?: number;
}

/** An integration's lead source (amo-docs sources-api); each integration sees only its own. */
export interface Source {
  id: number;
  client_id: string;
  name: string;
  external_id: string;
  pipeline_id: number;
  default: boolean;
  origin_code: string | null;
}

export type IdKind =
  | 'user'
  | 'pipeline'
  | 'status'
  | 'field'
  | 'enum'
  | 'tag'
  | 'lead'
  | 'contact'
  | 'company'
  | 'task'
  | 'taskType'
  | 'note'
  | 'catalog'
  | 'element'
  | 'webhook'
  | 'chatLink'
  | 'lossReason'
  | 'event'
  | 'unsorted'
  | 'source';

/** Id ranges per kind; a seed-derived offset is added so different seeds give different ids. */
const ID_BASE: Record<IdKind, number> = {
  user: 8_000_000,
  pipeline: 7_000_000,
  status: 60_000_000,
  field: 900_000,
  enum: 1_900_000,
  tag: 300_000,
  lead: 30_000_000,
  contact: 40_000_000,
  company: 50_000_000,
  task: 20_000_000,
  taskType: 3_000,
  note: 100_000_000,
  catalog: 10_000,
  element: 700_000,
  webhook: 1_000_000,
  chatLink: 26_000,
  lossReason: 4_200_000,
  event: 0,
  unsorted: 1,
  source: 9_000,
};

export class AccountState {
  users = new Map<number, User>();
  pipelines = new Map<number, Pipeline>();
  fields = new Map<number, FieldDef>();
  tags: Record<EntityKind, Map<number, Tag>> = { leads: new Map(), contacts: new Map(), companies: new Map() };
  taskTypes = new Map<number, TaskType>();
  leads = new Map<number, Lead>();
  /** Leads deleted (admin `deleteLead`), still "в корзине": listed only by `with=only_deleted`. */
  deletedLeads = new Map<number, Lead>();
  contacts = new Map<number, Contact>();
  companies = new Map<number, Company>();
  tasks = new Map<number, Task>();
  notes = new Map<number, Note>();
  catalogs = new Map<number, Catalog>();
  elements = new Map<number, CatalogElement>();
  webhooks = new Map<number, WebhookSub>();
  chatLinks = new Map<number, ChatLink>();
  elementLinks: ElementLink[] = [];
  lossReasons = new Map<number, LossReason>();
  events: AccountEvent[] = [];
  /** By uid, sorted (accepted/declined/linked) entries kept for the summary. */
  unsorted = new Map<string, UnsortedEntry>();
  sources = new Map<number, Source>();
  private seq: Record<IdKind, number>;

  constructor(
    readonly account: AccountInfo,
    rng: Rng,
  ) {
    const offset = rng.int(0, 999) * 10;
    this.seq = Object.fromEntries(Object.entries(ID_BASE).map(([k, v]) => [k, v + offset])) as Record<IdKind, number>;
  }

  nextId(kind: IdKind): number {
    this.seq[kind] += 1;
    return this.seq[kind];
  }

  /** A caller-chosen id (seeds): keep the sequence ahead of it. */
  claimId(kind: IdKind, id: number | undefined): number {
    if (id === undefined) return this.nextId(kind);
    if (id > this.seq[kind]) this.seq[kind] = id;
    return id;
  }

  /** Runs `fn` so that the next id of `kind` is exactly `id` (seeds with explicit ids). */
  withId<T>(kind: IdKind, id: number, fn: () => T): T {
    const saved = this.seq[kind];
    this.seq[kind] = id - 1;
    try {
      return fn();
    } finally {
      this.seq[kind] = Math.max(saved, id);
    }
  }

  entityMap(kind: EntityKind): Map<number, AnyEntity> {
    return this[kind] as Map<number, AnyEntity>;
  }

  mainPipeline(): Pipeline | undefined {
    return [...this.pipelines.values()].find((p) => p.is_main) ?? [...this.pipelines.values()][0];
  }

  fieldsOf(kind: EntityKind | 'catalogs', catalogId?: number): FieldDef[] {
    return [...this.fields.values()]
      .filter((f) => f.entity_type === kind && (kind !== 'catalogs' || f.catalog_id === catalogId))
      .sort((a, b) => a.sort - b.sort || a.id - b.id);
  }

  /**
   * A contact or company of an entry still in Unsorted: «До принятия неразобранной сделки, контакты
   * и компании недоступны в соответствующих разделах» (amo-docs unsorted-api).
   */
  inUnsorted(kind: 'contacts' | 'companies', id: number): boolean {
    for (const u of this.unsorted.values()) {
      if (u.status !== 'pending') continue;
      if (kind === 'contacts' ? u.contact_id === id && !u.existing?.contact : u.company_id === id && !u.existing?.company) return true;
    }
    return false;
  }

  /** The first admin user acts as "the current user" for codes and tokens. */
  currentUserId(): number {
    const admin = [...this.users.values()].find((u) => u.is_admin) ?? [...this.users.values()][0];
    if (!admin) throw new Error('sandbox account has no users');
    return admin.id;
  }
}
