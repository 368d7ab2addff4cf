/**
 * The index build: every contact of the account, 250 per request (amoCRM's page maximum,
 * docs/amocrm-protocol.md#entity-limits), ordered by id, each page's contacts written to the index
 * under the keys their stored phones / e-mails normalise to. The cursor (next page) and the counts
 * are saved after every page, so a build that stops (crash, Ctrl-C, a deferral) resumes at the
 * first page it has not finished; `restart` starts over. A finished build records when it ended
 * and is not run again unless restarted.
 *
 * Cost: ⌈contacts / 250⌉ GET requests (+ one 204 when the last page is exactly full), each through
 * the shared rate budget. A page is cursor-by-number: a contact deleted while the build runs
 * shifts the later ones one place back, so one contact at a page boundary may be skipped. Such a
 * contact is still found by `query` when amoCRM normalises phones, and is indexed by its next update
 * webhook or a `restart`ed build (README.md, "Freshness").
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { HalPage } from '../amocrm/client/pagination.ts';
import type { Contact } from '../amocrm/entities.ts';
import type { CountryCode } from '../common/phone.ts';
import type { ContactIndexStore, IndexBuildState } from './index-store.ts';
import { contactKeys } from './normalize.ts';

export const BUILD_PAGE = 250;

export interface BuildOptions {
  account: string;
  client: AmoClientForAccount;
  index: ContactIndexStore;
  defaultCountry: CountryCode;
  /** Forget the saved cursor and start from page 1. */
  restart?: boolean;
  now?: () => number;
  /** After each page is written and its cursor saved (progress lines). A throw stops the build there (resumable). */
  onPage?: (state: IndexBuildState) => void | Promise<void>;
}

export interface BuildResult {
  state: IndexBuildState;
  /** Pages read by this run (0 when the saved build had already finished). */
  pagesRead: number;
  /** True when this run continued a saved cursor. */
  resumed: boolean;
}

export async function buildContactIndex(o: BuildOptions): Promise<BuildResult> {
  const now = o.now ?? Date.now;
  const saved = o.restart ? undefined : await o.index.getBuild(o.account);
  if (saved?.status === 'done') return { state: saved, pagesRead: 0, resumed: false };
  let state: IndexBuildState = saved ?? {
    status: 'running',
    nextPage: 1,
    pages: 0,
    contacts: 0,
    keys: 0,
    startedAt: now(),
    updatedAt: now(),
  };
  if (!saved) await o.index.putBuild(o.account, state);
  let pagesRead = 0;
  for (;;) {
    const res = await o.client.request<HalPage<Contact>>({
      method: 'GET',
      path: '/api/v4/contacts',
      query: { page: state.nextPage, limit: BUILD_PAGE, order: { id: 'asc' } },
    });
    const items = res.status === 204 ? [] : (res.body?._embedded?.contacts ?? []);
    const { written } = await o.index.replace(
      o.account,
      items.map((c) => ({
        contactId: c.id,
        keys: contactKeys(c, o.defaultCountry),
        ...(typeof c.updated_at === 'number' ? { updatedAt: c.updated_at } : {}),
      })),
    );
    // `next` is the documented signal; a full page without `_links` at all is taken as "maybe more".
    const links = res.body?._links;
    const more = items.length > 0 && (links ? links.next !== undefined : items.length >= BUILD_PAGE);
    const t = now();
    state = {
      ...state,
      nextPage: state.nextPage + (items.length > 0 ? 1 : 0),
      pages: state.pages + (items.length > 0 ? 1 : 0),
      contacts: state.contacts + items.length,
      keys: state.keys + written,
      updatedAt: t,
      ...(more ? {} : { status: 'done' as const, finishedAt: t }),
    };
    await o.index.putBuild(o.account, state);
    if (items.length > 0) pagesRead++;
    await o.onPage?.(state);
    if (!more) return { state, pagesRead, resumed: saved !== undefined };
  }
}
