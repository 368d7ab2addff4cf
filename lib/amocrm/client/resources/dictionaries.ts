/**
 * The account's dictionaries: pipelines with statuses, custom field definitions, users, task types
 * (all cached for the dictionary TTL without a request), plus tags and the account itself.
 */
import type { Tag } from '../../entities.ts';
import { assignByFingerprint, type AddOptions, type AddTarget } from '../add.ts';
import type { FieldDefinition } from '../custom-fields.ts';
import { addBatches, getOne, listAll, listIter, type ListParams, type MainEntity, type ResourceContext } from './common.ts';

export interface Status {
  id: number;
  name: string;
  sort: number;
  pipeline_id: number;
  is_editable?: boolean;
  color?: string;
  type?: number;
}

export interface Pipeline {
  id: number;
  name: string;
  sort: number;
  is_main: boolean;
  is_archive?: boolean;
  is_unsorted_on?: boolean;
  _embedded: { statuses: Status[] };
}

export interface CustomFieldDef extends FieldDefinition {
  sort?: number;
  entity_type?: string;
  is_api_only?: boolean;
  is_predefined?: boolean;
  catalog_id?: number;
}

export interface User {
  id: number;
  name: string;
  email: string;
  lang?: string;
  rights?: { is_admin?: boolean; is_active?: boolean; group_id?: number | null; [k: string]: unknown };
}

export interface TaskType {
  id: number;
  name: string;
  code?: string | null;
}

export interface Account {
  id: number;
  name: string;
  subdomain: string;
  current_user_id: number;
  country?: string;
  currency?: string;
  amojo_id?: string;
  _embedded?: { task_types?: TaskType[]; users_groups?: Array<{ id: number; name: string }>; [k: string]: unknown };
  [k: string]: unknown;
}

export class PipelinesApi {
  constructor(private readonly ctx: ResourceContext) {}

  /** Every pipeline with its statuses (dictionary: cached for the TTL). */
  list(opts: { refresh?: boolean } = {}): Promise<Pipeline[]> {
    return this.ctx.cache.dictionary(
      `${this.ctx.cachePrefix}:dict:pipelines`,
      async () => {
        const res = await this.ctx.core.request<{ _embedded?: { pipelines?: Pipeline[] } }>(this.ctx.account, {
          method: 'GET',
          path: '/api/v4/leads/pipelines',
        });
        return res.body?._embedded?.pipelines ?? [];
      },
      opts,
    );
  }

  async get(id: number): Promise<Pipeline | undefined> {
    return (await this.list()).find((p) => p.id === id);
  }

  async statuses(pipelineId: number): Promise<Status[]> {
    return (await this.get(pipelineId))?._embedded.statuses ?? [];
  }
}

export class CustomFieldsApi {
  constructor(
    private readonly ctx: ResourceContext,
    /** `leads`, `contacts`, `companies`, or `catalogs/<id>`. */
    readonly scope: MainEntity | `catalogs/${number}`,
  ) {}

  private get path(): string {
    return `/api/v4/${this.scope}/custom_fields`;
  }

  /** Every field definition with its enums (dictionary: cached for the TTL). */
  list(opts: { refresh?: boolean } = {}): Promise<CustomFieldDef[]> {
    return this.ctx.cache.dictionary(
      `${this.ctx.cachePrefix}:dict:fields:${this.scope}`,
      () => listAll(listIter<CustomFieldDef>(this.ctx, this.path, 'custom_fields')),
      opts,
    );
  }

  async get(id: number): Promise<CustomFieldDef | undefined> {
    return (await this.list()).find((f) => f.id === id);
  }

  /** Create fields (admin). Re-checked by name + type after a lost request. */
  async add(
    defs: Array<{
      name: string;
      type: string;
      code?: string;
      sort?: number;
      is_api_only?: boolean;
      enums?: Array<{ value: string; sort?: number }>;
    }>,
    opts: AddOptions = {},
  ): Promise<CustomFieldDef[]> {
    const target: AddTarget<(typeof defs)[number], CustomFieldDef> = {
      path: this.path,
      embeddedKey: 'custom_fields',
      mark: (item, marker) => ({ ...item, request_id: marker }),
      result: (raw) => raw as unknown as CustomFieldDef,
      recheck: async (pending) => {
        const all = await this.list({ refresh: true });
        return assignByFingerprint(
          pending.map((p) => p.item as unknown as Record<string, unknown>),
          all,
          (sent, c) => c.name === sent.name && c.type === sent.type,
        );
      },
    };
    const out = await addBatches(this.ctx, target, defs, opts);
    await this.ctx.cache.invalidate(`${this.ctx.cachePrefix}:dict:fields:${this.scope}`);
    return out;
  }
}

export class UsersApi {
  constructor(private readonly ctx: ResourceContext) {}

  list(opts: { refresh?: boolean } = {}): Promise<User[]> {
    return this.ctx.cache.dictionary(
      `${this.ctx.cachePrefix}:dict:users`,
      () => listAll(listIter<User>(this.ctx, '/api/v4/users', 'users')),
      opts,
    );
  }

  async get(id: number): Promise<User | undefined> {
    return (await this.list()).find((u) => u.id === id) ?? getOne<User>(this.ctx, `/api/v4/users/${id}`);
  }
}

export class AccountApi {
  constructor(private readonly ctx: ResourceContext) {}

  /** `GET /api/v4/account?with=…` (not cached: `amojo_id`, `current_user_id`…). */
  async get(withParts: string[] = []): Promise<Account> {
    const res = await this.ctx.core.request<Account>(this.ctx.account, {
      method: 'GET',
      path: '/api/v4/account',
      ...(withParts.length ? { query: { with: withParts } } : {}),
    });
    if (!res.body) throw new Error('GET /api/v4/account answered without a body');
    return res.body;
  }

  /** Task types (dictionary: cached for the TTL). */
  taskTypes(opts: { refresh?: boolean } = {}): Promise<TaskType[]> {
    return this.ctx.cache.dictionary(
      `${this.ctx.cachePrefix}:dict:task_types`,
      async () => (await this.get(['task_types']))._embedded?.task_types ?? [],
      opts,
    );
  }
}

export class TagsApi {
  constructor(
    private readonly ctx: ResourceContext,
    readonly kind: MainEntity,
  ) {}

  list(params: ListParams = {}): AsyncGenerator<Tag, void, undefined> {
    return listIter<Tag>(this.ctx, `/api/v4/${this.kind}/tags`, 'tags', params);
  }

  /** Create tags; re-checked by name after a lost request. */
  async add(tags: Array<{ name: string; color?: string }>, opts: AddOptions = {}): Promise<Tag[]> {
    const target: AddTarget<{ name: string; color?: string }, Tag> = {
      path: `/api/v4/${this.kind}/tags`,
      embeddedKey: 'tags',
      mark: (item, marker) => ({ ...item, request_id: marker }),
      result: (raw) => ({ id: Number(raw.id), name: String(raw.name), color: (raw.color as string | null | undefined) ?? null }),
      recheck: async (pending) => {
        const out = [];
        for (const p of pending) {
          const hit = (await listAll(this.list({ filter: { name: p.item.name } }))).find((t) => t.name === p.item.name);
          out.push(hit ? { kind: 'found' as const, result: hit } : { kind: 'missing' as const });
        }
        return out;
      },
    };
    return addBatches(this.ctx, target, tags, opts);
  }
}
