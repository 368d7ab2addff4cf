/**
 * Entity links (amoCRM entity-links-api): a lead's contacts and company, a contact's company, the
 * catalog elements of any main entity. A lead PATCH cannot carry `_embedded.contacts` (amoCRM takes
 * only tags there on edit): links are made here.
 */
import type { MainEntity, ResourceContext } from './common.ts';

export type LinkTarget = 'leads' | 'contacts' | 'companies' | 'customers' | 'catalog_elements';

/** What to link: `metadata.is_main` for a lead's contact, `catalog_id` (+ `quantity`, `price_id`) for an element. */
export interface LinkInput {
  to_entity_id: number;
  to_entity_type: LinkTarget;
  metadata?: { is_main?: boolean; catalog_id?: number; quantity?: number; price_id?: number | null; updated_by?: number } | null;
}

export interface EntityLink {
  entity_id?: number;
  entity_type?: MainEntity;
  to_entity_id: number;
  to_entity_type: LinkTarget;
  /** `main_contact` for contacts; `quantity`, `catalog_id`, `price_id` for elements; null for companies. */
  metadata: { main_contact?: boolean; quantity?: number; catalog_id?: number; price_id?: number | null } | null;
}

export interface LinksFilter {
  /** Given together (the API refuses one without the other). */
  to?: { id: number; type: LinkTarget };
  toCatalogId?: number;
}

type LinksBody = { _embedded?: { links?: EntityLink[] } };

function filterQuery(f: LinksFilter = {}): Record<string, unknown> {
  const q: Record<string, unknown> = {};
  if (f.to) {
    q.to_entity_id = f.to.id;
    q.to_entity_type = f.to.type;
  }
  if (f.toCatalogId !== undefined) q.to_catalog_id = f.toCatalogId;
  return q;
}

export class LinksApi {
  constructor(
    private readonly ctx: ResourceContext,
    readonly kind: MainEntity,
  ) {}

  /** Links of one entity (`GET /api/v4/{kind}/{id}/links`); [] when it has none (204). */
  async list(entityId: number, filter?: LinksFilter): Promise<EntityLink[]> {
    const f = filterQuery(filter);
    const res = await this.ctx.core.request<LinksBody>(this.ctx.account, {
      method: 'GET',
      path: `/api/v4/${this.kind}/${entityId}/links`,
      ...(Object.keys(f).length ? { query: { filter: f } } : {}),
    });
    return res.body?._embedded?.links ?? [];
  }

  /** Links of several entities (`GET /api/v4/{kind}/links?filter[entity_id][]=…`), each row with its `entity_id`. */
  async listMany(entityIds: number[], filter?: LinksFilter): Promise<EntityLink[]> {
    if (entityIds.length === 0) return [];
    const res = await this.ctx.core.request<LinksBody>(this.ctx.account, {
      method: 'GET',
      path: `/api/v4/${this.kind}/links`,
      query: { filter: { entity_id: entityIds, ...filterQuery(filter) } },
    });
    return res.body?._embedded?.links ?? [];
  }

  /** Link to one entity. Idempotent: linking what is linked changes nothing (metadata is updated). */
  async link(entityId: number, links: LinkInput[]): Promise<EntityLink[]> {
    const res = await this.ctx.core.request<LinksBody>(this.ctx.account, {
      method: 'POST',
      path: `/api/v4/${this.kind}/${entityId}/link`,
      body: links,
      kind: 'idempotent',
    });
    return res.body?._embedded?.links ?? [];
  }

  /** Unlink from one entity (204). Idempotent. */
  async unlink(
    entityId: number,
    links: Array<Pick<LinkInput, 'to_entity_id' | 'to_entity_type'> & { metadata?: { catalog_id?: number; updated_by?: number } | null }>,
  ): Promise<void> {
    await this.ctx.core.request(this.ctx.account, {
      method: 'POST',
      path: `/api/v4/${this.kind}/${entityId}/unlink`,
      body: links,
      kind: 'idempotent',
    });
  }

  /** Batch link: each item names its `entity_id`. */
  async linkMany(links: Array<LinkInput & { entity_id: number }>): Promise<EntityLink[]> {
    const res = await this.ctx.core.request<LinksBody>(this.ctx.account, {
      method: 'POST',
      path: `/api/v4/${this.kind}/link`,
      body: links,
      kind: 'idempotent',
    });
    return res.body?._embedded?.links ?? [];
  }

  /** Batch unlink (204). */
  async unlinkMany(links: Array<Pick<LinkInput, 'to_entity_id' | 'to_entity_type' | 'metadata'> & { entity_id: number }>): Promise<void> {
    await this.ctx.core.request(this.ctx.account, { method: 'POST', path: `/api/v4/${this.kind}/unlink`, body: links, kind: 'idempotent' });
  }
}
