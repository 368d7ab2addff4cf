/**
 * A tiny route table for the REST API: templates like `/api/v4/leads/{id}` become regexps; `{…id}`
 * params match digits only and `{entity}` matches leads|contacts|companies, so `/api/v4/leads/pipelines`
 * never reaches `/api/v4/leads/{id}`. The template doubles as the counters' label.
 */
import type { AccountState } from './state.ts';
import type { SbRequest, SbResponse } from './types.ts';
import type { WebhookHub } from './events.ts';
import type { AmojoSandbox } from './amojo.ts';

/**
 * How `query` finds leads/contacts/companies (amoCRM documents only "поиск по заполненным полям"):
 * `normalising` = substring, and a phone-like query also by its last 10 digits; `literal` = plain
 * case-insensitive substring of the stored text; `noisy` = literal plus one unrelated extra hit.
 */
export type SearchMode = 'normalising' | 'literal' | 'noisy';

export interface RestCtx {
  req: SbRequest;
  params: Record<string, string>;
  query: Record<string, unknown>;
  state: AccountState;
  /** The account's base URL, e.g. `http://127.0.0.1:PORT`, for `_links`. */
  base: string;
  /** Unix seconds. */
  now: number;
  /** The user the token acts as. */
  userId: number;
  clientId: string;
  hooks: WebhookHub;
  maxEntities: number;
  /** `query` search mode (default `literal`). */
  search?: SearchMode;
  /** amojo, for the chat access rules of `/api/v4/contacts/chats`. */
  amojo: AmojoSandbox;
}

export type RestHandler = (ctx: RestCtx) => SbResponse | Promise<SbResponse>;

export interface RestRoute {
  method: string;
  template: string;
  handler: RestHandler;
}

interface Compiled extends RestRoute {
  re: RegExp;
  names: string[];
}

export type RouteMatch =
  { kind: 'ok'; route: RestRoute; params: Record<string, string> } | { kind: 'method'; template: string } | { kind: 'none' };

export class Router {
  private routes: Compiled[] = [];

  add(routes: RestRoute[]): this {
    for (const r of routes) {
      const names: string[] = [];
      const src = r.template.replace(/[.+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        if (name === 'entity') return '(leads|contacts|companies)';
        if (/id$/i.test(name)) return '(\\d+)';
        return '([^/]+)';
      });
      this.routes.push({ ...r, re: new RegExp(`^${src}/?$`), names });
    }
    return this;
  }

  match(method: string, path: string): RouteMatch {
    let template: string | undefined;
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method !== method) {
        template ??= r.template;
        continue;
      }
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        params[n] = m[i + 1] ?? '';
      });
      return { kind: 'ok', route: r, params };
    }
    return template ? { kind: 'method', template } : { kind: 'none' };
  }
}
