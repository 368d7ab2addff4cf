/**
 * Unsorted ("Неразобранное", amo-docs unsorted-api): list and read entries, add form and call
 * entries, accept, decline, link a chat entry to a lead, the summary. The public page:
 * https://www.amocrm.ru/developers/content/crm_platform/unsorted-api
 */
import type { CustomFieldWrite } from '../custom-fields.ts';
import { getOne, listIter, type ListParams, type ResourceContext } from './common.ts';

export type UnsortedCategory = 'sip' | 'forms' | 'chats' | 'mail';

interface Ref {
  id: number;
}

export interface UnsortedEntry {
  uid: string;
  source_uid: string | null;
  source_name: string;
  category: UnsortedCategory;
  pipeline_id: number;
  created_at: number;
  /** Per category: form, call, chat or mail data (unsorted-api "Описание объектов metadata"). */
  metadata: Record<string, unknown>;
  account_id: number;
  _embedded: { contacts: Ref[]; leads: Ref[]; companies: Ref[] };
}

/** The documented form metadata; `form_sent_at` in unix seconds. */
export interface FormMetadata {
  form_id: string | number;
  form_name: string;
  form_page: string;
  form_sent_at: number;
  ip?: string;
  referer?: string;
}

/** The documented call metadata (an incoming call: «передаваемый звонок должен быть входящим»). */
export interface SipMetadata {
  uniq: string;
  phone: string | number;
  called_at: number;
  duration: number;
  service_code: string;
  link?: string;
  from?: string;
  call_responsible?: string | number | null;
  /** Adds an incoming-call event to the card; never read back. */
  is_call_event_needed?: boolean;
}

interface EntityModel {
  name?: string;
  custom_fields_values?: CustomFieldWrite[];
  [key: string]: unknown;
}

export interface UnsortedCreate<M> {
  source_uid: string;
  source_name: string;
  metadata: M;
  pipeline_id?: number;
  created_at?: number;
  request_id?: string;
  /** At most one of each; the models of the plain add methods. */
  _embedded?: { leads?: [EntityModel]; contacts?: [EntityModel]; companies?: [EntityModel] };
}

export interface UnsortedCreated {
  uid: string;
  account_id: number;
  request_id: string;
  _embedded: { contacts: Ref[]; leads: Ref[]; companies: Ref[] };
}

export interface UnsortedSorted {
  uid: string;
  pipeline_id: number;
  category: UnsortedCategory;
  created_at: number;
  _embedded: { leads: Ref[]; contacts: Ref[]; companies?: Ref[] };
}

export interface UnsortedSummary {
  total: number;
  accepted: number;
  declined: number;
  average_sort_time: number;
  categories: Partial<Record<UnsortedCategory, { total: number }>>;
}

function bodyOf<T>(res: { body?: T }, what: string): T {
  if (res.body === undefined || res.body === null) throw new Error(`${what} answered without a body`);
  return res.body;
}

export class UnsortedApi {
  constructor(private readonly ctx: ResourceContext) {}

  /** `filter: {uid, category: [...], pipeline_id}`, `order: {created_at}`. */
  list(params: ListParams = {}): AsyncGenerator<UnsortedEntry, void, undefined> {
    return listIter<UnsortedEntry>(this.ctx, '/api/v4/leads/unsorted', 'unsorted', params);
  }

  get(uid: string): Promise<UnsortedEntry | undefined> {
    return getOne<UnsortedEntry>(this.ctx, `/api/v4/leads/unsorted/${encodeURIComponent(uid)}`);
  }

  /**
   * Add form entries. Not retried after an unclear failure (a POST that creates); amoCRM refuses an
   * entry already in Unsorted, so a caller that repeats one gets a 400, not a duplicate.
   */
  addForms(items: Array<UnsortedCreate<FormMetadata>>): Promise<UnsortedCreated[]> {
    return this.add('forms', items);
  }

  addSip(items: Array<UnsortedCreate<SipMetadata>>): Promise<UnsortedCreated[]> {
    return this.add('sip', items);
  }

  private async add(kind: 'forms' | 'sip', items: unknown[]): Promise<UnsortedCreated[]> {
    const res = await this.ctx.core.request<{ _embedded?: { unsorted?: UnsortedCreated[] } }>(this.ctx.account, {
      method: 'POST',
      path: `/api/v4/leads/unsorted/${kind}`,
      body: items,
    });
    return res.body?._embedded?.unsorted ?? [];
  }

  /** Accept into `status_id` (else the pipeline's first stage); 404 when the entry is not in Unsorted. */
  async accept(uid: string, opts: { user_id?: number; status_id?: number } = {}): Promise<UnsortedSorted> {
    const res = await this.ctx.core.request<UnsortedSorted>(this.ctx.account, {
      method: 'POST',
      path: `/api/v4/leads/unsorted/${encodeURIComponent(uid)}/accept`,
      body: opts,
    });
    return bodyOf(res, 'unsorted accept');
  }

  /** Decline: the entry's lead and contact go to the trash; 404 when the entry is not in Unsorted. */
  async decline(uid: string, opts: { user_id?: number } = {}): Promise<UnsortedSorted> {
    const res = await this.ctx.core.request<UnsortedSorted>(this.ctx.account, {
      method: 'DELETE',
      path: `/api/v4/leads/unsorted/${encodeURIComponent(uid)}/decline`,
      body: opts,
    });
    return bodyOf(res, 'unsorted decline');
  }

  /** Link a chat entry to an existing lead (optionally moving its chat to `contact_id`). Chats only. */
  async link(
    uid: string,
    link: { entity_id: number; entity_type?: 'leads'; contact_id?: number },
    opts: { user_id?: number } = {},
  ): Promise<{ uid: string; _embedded: { leads: Ref[] } }> {
    const body = {
      ...opts,
      link: {
        entity_id: link.entity_id,
        entity_type: link.entity_type ?? 'leads',
        ...(link.contact_id !== undefined ? { metadata: { contact_id: link.contact_id } } : {}),
      },
    };
    const res = await this.ctx.core.request<{ uid: string; _embedded: { leads: Ref[] } }>(this.ctx.account, {
      method: 'POST',
      path: `/api/v4/leads/unsorted/${encodeURIComponent(uid)}/link`,
      body,
    });
    return bodyOf(res, 'unsorted link');
  }

  /** `filter: {uid, created_at: ts | {from, to}, pipeline_id}`. */
  async summary(filter: Record<string, unknown> = {}): Promise<UnsortedSummary> {
    const res = await this.ctx.core.request<UnsortedSummary>(this.ctx.account, {
      method: 'GET',
      path: '/api/v4/leads/unsorted/summary',
      query: Object.keys(filter).length ? { filter } : {},
    });
    return bodyOf(res, 'unsorted summary');
  }
}
