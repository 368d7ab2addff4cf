/** Lists (catalogs) and their elements (docs/amocrm-protocol.md#catalogs), webhook subscriptions (#subscriptions), chat links (#chat-links). */
import { assignByFingerprint, matchesSent, type AddOptions, type AddTarget } from '../add.ts';
import type { CustomFieldWrite } from '../custom-fields.ts';
import type { CustomFieldValue } from '../../entities.ts';
import { addBatches, getOne, listAll, listIter, patchBatches, type ListParams, type ResourceContext } from './common.ts';

export interface Catalog {
  id: number;
  name: string;
  type: 'regular' | 'invoices' | 'products' | string;
  sort?: number;
  can_add_elements?: boolean;
  can_link_multiple?: boolean;
  created_at?: number;
  updated_at?: number;
}

export interface CatalogElement {
  id: number;
  catalog_id: number;
  name: string;
  created_at?: number;
  updated_at?: number;
  custom_fields_values?: CustomFieldValue[] | null;
}

export interface ElementCreate {
  name: string;
  custom_fields_values?: CustomFieldWrite[];
  request_id?: string;
}

const IGNORE = ['created_at', 'updated_at', 'created_by', 'updated_by'];

export class CatalogsApi {
  constructor(private readonly ctx: ResourceContext) {}

  list(params: ListParams = {}): AsyncGenerator<Catalog, void, undefined> {
    return listIter<Catalog>(this.ctx, '/api/v4/catalogs', 'catalogs', params);
  }

  get(id: number): Promise<Catalog | undefined> {
    return getOne<Catalog>(this.ctx, `/api/v4/catalogs/${id}`);
  }

  /** Create lists (at most 10 per account); re-checked by name and type. */
  add(
    items: Array<{ name: string; type?: string; sort?: number; can_add_elements?: boolean; can_link_multiple?: boolean }>,
    opts: AddOptions = {},
  ): Promise<Catalog[]> {
    const target: AddTarget<(typeof items)[number], Catalog> = {
      path: '/api/v4/catalogs',
      embeddedKey: 'catalogs',
      mark: (item, marker) => ({ ...item, request_id: marker }),
      result: (raw) => raw as unknown as Catalog,
      recheck: async (pending) =>
        assignByFingerprint(
          pending.map((p) => p.item as Record<string, unknown>),
          await listAll(this.list()),
          (sent, c) => matchesSent(sent, c as unknown as Record<string, unknown>, IGNORE),
        ),
    };
    return addBatches(this.ctx, target, items, opts);
  }

  update(
    items: Array<{ id: number; name?: string; sort?: number; can_add_elements?: boolean; can_link_multiple?: boolean }>,
  ): Promise<Catalog[]> {
    return patchBatches(this.ctx, '/api/v4/catalogs', 'catalogs', items);
  }

  elements(catalogId: number): CatalogElementsApi {
    return new CatalogElementsApi(this.ctx, catalogId);
  }
}

export class CatalogElementsApi {
  constructor(
    private readonly ctx: ResourceContext,
    readonly catalogId: number,
  ) {}

  private get path(): string {
    return `/api/v4/catalogs/${this.catalogId}/elements`;
  }

  list(params: ListParams = {}): AsyncGenerator<CatalogElement, void, undefined> {
    return listIter<CatalogElement>(this.ctx, this.path, 'elements', params);
  }

  get(id: number): Promise<CatalogElement | undefined> {
    return getOne<CatalogElement>(this.ctx, `${this.path}/${id}`);
  }

  /** Add elements; re-checked by name (`query`) + created_at + custom field values. */
  add(items: ElementCreate[], opts: AddOptions = {}): Promise<Array<{ id: number; request_id: string }>> {
    const target: AddTarget<ElementCreate, { id: number; request_id: string }> = {
      path: this.path,
      embeddedKey: 'elements',
      mark: (item, marker) => ({ ...item, request_id: marker }),
      result: (raw) => ({ id: Number(raw.id), request_id: String(raw.request_id) }),
      recheck: async (pending, since) => {
        const names = [...new Set(pending.map((p) => p.item.name))];
        const candidates: CatalogElement[] = [];
        for (const n of names)
          candidates.push(...(await listAll(this.list({ query: n }))).filter((e) => e.name === n && (e.created_at ?? since) >= since));
        const found = assignByFingerprint(
          pending.map((p) => p.item as unknown as Record<string, unknown>),
          candidates,
          (sent, c) => matchesSent(sent, c as unknown as Record<string, unknown>, IGNORE),
        );
        return found.map((f, i) =>
          f.kind === 'found' ? { kind: 'found' as const, result: { id: f.result.id, request_id: pending[i]!.marker } } : f,
        );
      },
    };
    return addBatches(this.ctx, target, items, opts);
  }

  update(items: Array<{ id: number; name?: string; custom_fields_values?: CustomFieldWrite[] }>): Promise<Array<{ id: number }>> {
    return patchBatches(this.ctx, this.path, 'elements', items);
  }
}

export interface WebhookSubscription {
  id: number;
  destination: string;
  settings: string[];
  sort?: number;
  disabled?: boolean;
  created_at?: number;
  updated_at?: number;
}

export class WebhooksApi {
  constructor(private readonly ctx: ResourceContext) {}

  async list(destination?: string): Promise<WebhookSubscription[]> {
    const res = await this.ctx.core.request<{ _embedded?: { webhooks?: WebhookSubscription[] } }>(this.ctx.account, {
      method: 'GET',
      path: '/api/v4/webhooks',
      ...(destination ? { query: { filter: { destination } } } : {}),
    });
    return res.body?._embedded?.webhooks ?? [];
  }

  /** Subscribe (or update the subscription of) `destination`. Idempotent: amoCRM updates an existing destination. */
  async subscribe(destination: string, settings: string[], sort?: number): Promise<WebhookSubscription> {
    const res = await this.ctx.core.request<WebhookSubscription>(this.ctx.account, {
      method: 'POST',
      path: '/api/v4/webhooks',
      body: { destination, settings, ...(sort !== undefined ? { sort } : {}) },
      kind: 'idempotent',
    });
    if (!res.body) throw new Error('POST /api/v4/webhooks answered without a body');
    return res.body;
  }

  /** Unsubscribe; true when it existed. */
  async unsubscribe(destination: string): Promise<boolean> {
    try {
      await this.ctx.core.request(this.ctx.account, { method: 'DELETE', path: '/api/v4/webhooks', body: { destination } });
      return true;
    } catch (e) {
      if ((e as { status?: number }).status === 404) return false;
      throw e;
    }
  }
}

export interface ChatLink {
  id?: number;
  chat_id: string;
  contact_id: number;
}

export class ChatsApi {
  constructor(private readonly ctx: ResourceContext) {}

  /**
   * Links of contacts and amojo chats (`GET /api/v4/contacts/chats`), only for chats of channels
   * naming this integration. The method needs a contact id or a chat id; with neither there is
   * nothing to ask, so no request is made.
   */
  async list(q: { contactIds?: number[]; chatIds?: string[] }): Promise<ChatLink[]> {
    if (!q.contactIds?.length && !q.chatIds?.length) return [];
    const res = await this.ctx.core.request<{ _embedded?: { chats?: ChatLink[] } }>(this.ctx.account, {
      method: 'GET',
      path: '/api/v4/contacts/chats',
      query: { ...(q.contactIds?.length ? { contact_id: q.contactIds } : {}), ...(q.chatIds?.length ? { chat_id: q.chatIds } : {}) },
    });
    return res.body?._embedded?.chats ?? [];
  }

  /**
   * Link chats to contacts. Idempotent (linking the same pair again answers the same link). A chat
   * belongs to one contact: linking it to another one is refused (400), and only chats of channels
   * naming this integration can be linked (amo-docs contacts-api).
   */
  async link(links: Array<{ chat_id: string; contact_id: number }>): Promise<ChatLink[]> {
    const res = await this.ctx.core.request<{ _embedded?: { chats?: ChatLink[] } }>(this.ctx.account, {
      method: 'POST',
      path: '/api/v4/contacts/chats',
      body: links,
      kind: 'idempotent',
    });
    return res.body?._embedded?.chats ?? [];
  }
}
