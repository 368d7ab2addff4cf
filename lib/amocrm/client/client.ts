/**
 * The front door: `new AmoClient({tokens, budget, breaker, cache, …}).forAccount(ref)` gives the
 * typed resources of one account. Everything goes through the one sender in core.ts.
 */
import type { CacheStore } from './cache-store.ts';
import { DEFAULT_ADD_POLICY, type AddPolicy } from './add.ts';
import { ClientCache, DEFAULT_CACHE_POLICY, type CachePolicy } from './cache.ts';
import { AmoCore, type AmoRequest, type ClientOptions } from './core.ts';
import { CatalogsApi, ChatsApi, WebhooksApi } from './resources/catalogs-webhooks-chats.ts';
import type { MainEntity, ResourceContext } from './resources/common.ts';
import { AccountApi, CustomFieldsApi, PipelinesApi, TagsApi, UsersApi } from './resources/dictionaries.ts';
import { CompaniesApi, ContactsApi, LeadsApi } from './resources/entities.ts';
import { LinksApi } from './resources/links.ts';
import { NotesApi, TasksApi } from './resources/tasks-notes.ts';
import { UnsortedApi } from './resources/unsorted.ts';
import type { AmoResponse } from './transport.ts';
import type { AccountRef } from './types.ts';

export interface AmoClientOptions extends ClientOptions {
  /** Where dictionaries and entities are cached (e.g. LayeredCacheStore(memory, DynamoCacheStore)). */
  cache: CacheStore;
  cachePolicy?: Partial<CachePolicy>;
  addPolicy?: Partial<AddPolicy>;
  /** Text custom fields that carry add markers, per account (see add.ts). */
  markerFields?: (account: AccountRef) => Partial<Record<MainEntity, number>>;
}

export interface AmoClientForAccount {
  readonly account: AccountApi;
  readonly leads: LeadsApi;
  readonly contacts: ContactsApi;
  readonly companies: CompaniesApi;
  readonly tasks: TasksApi;
  notes(kind: MainEntity): NotesApi;
  readonly pipelines: PipelinesApi;
  customFields(scope: MainEntity | `catalogs/${number}`): CustomFieldsApi;
  readonly users: UsersApi;
  tags(kind: MainEntity): TagsApi;
  readonly catalogs: CatalogsApi;
  readonly webhooks: WebhooksApi;
  readonly chats: ChatsApi;
  /** Entity links (contacts, companies, catalog elements) of leads, contacts or companies. */
  links(kind: MainEntity): LinksApi;
  readonly unsorted: UnsortedApi;
  /** Any other call, through the same budget, breaker and retries. */
  request<T = unknown>(req: AmoRequest): Promise<AmoResponse<T>>;
}

export class AmoClient {
  readonly core: AmoCore;
  readonly cache: ClientCache;
  private readonly addPolicy: AddPolicy;
  private readonly opts: AmoClientOptions;

  constructor(opts: AmoClientOptions) {
    this.opts = opts;
    this.core = new AmoCore(opts);
    this.cache = new ClientCache(opts.cache, this.core.clock, this.core.observer, { ...DEFAULT_CACHE_POLICY, ...opts.cachePolicy });
    this.addPolicy = { ...DEFAULT_ADD_POLICY, ...opts.addPolicy };
  }

  request<T = unknown>(account: AccountRef, req: AmoRequest): Promise<AmoResponse<T>> {
    return this.core.request<T>(account, req);
  }

  forAccount(account: AccountRef): AmoClientForAccount {
    const ctx: ResourceContext = {
      core: this.core,
      account,
      cache: this.cache,
      addPolicy: this.addPolicy,
      markerFields: this.opts.markerFields?.(account) ?? {},
      cachePrefix: `${account.clientId}/${account.accountKey}`,
    };
    return {
      account: new AccountApi(ctx),
      leads: new LeadsApi(ctx),
      contacts: new ContactsApi(ctx),
      companies: new CompaniesApi(ctx),
      tasks: new TasksApi(ctx),
      notes: (kind) => new NotesApi(ctx, kind),
      pipelines: new PipelinesApi(ctx),
      customFields: (scope) => new CustomFieldsApi(ctx, scope),
      users: new UsersApi(ctx),
      tags: (kind) => new TagsApi(ctx, kind),
      catalogs: new CatalogsApi(ctx),
      webhooks: new WebhooksApi(ctx),
      chats: new ChatsApi(ctx),
      links: (kind) => new LinksApi(ctx, kind),
      unsorted: new UnsortedApi(ctx),
      request: (req) => this.core.request(account, req),
    };
  }
}
