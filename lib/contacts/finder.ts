/**
 * The contact finder (README.md in this folder): people (normalised phone / e-mail) → the amoCRM
 * contact each one already is, verified. Per `find` call:
 *
 * 1. the index (one table lookup for every key of every person) gives candidate ids;
 * 2. ONE contacts read per ≤ 250 candidates (`filter[id]`, `with=leads`);
 * 3. a candidate counts only if one of its STORED phones / e-mails, normalised the same way,
 *    equals the key it was found under; index entries that fail are removed;
 * 4. people still without a match (the index does not know them, or knew them wrongly) are
 *    searched with amoCRM's `query`: by phone, then by e-mail if nothing verified; hits are
 *    verified the same way and the verified ones go into the index;
 * 5. several real matches → the most recently updated (then the highest id), logged by ids only.
 *
 * The same person twice in one call is looked up once. Phones and e-mails never reach the log.
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Contact } from '../amocrm/entities.ts';
import { mapLimit } from '../common/concurrency.ts';
import type { Log } from '../common/log.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import type { CountryCode } from '../common/phone.ts';
import { METRIC } from '../metrics.ts';
import type { ContactIndexStore, IndexEntry } from './index-store.ts';
import { contactKeys, normalizePerson, personKeys } from './normalize.ts';
import type { ContactFinder, ContactIndexKey, ContactMatch, FindOptions, PersonKey } from './types.ts';

/** amoCRM's list maximum: candidates per contacts read (docs/amocrm-protocol.md#entity-limits). */
export const READ_CHUNK = 250;
/** Hits read per `query` search: one request; a phone or an e-mail that many contacts share is a data problem, not a search. */
const SEARCH_LIMIT = 50;
/** Searches in flight per call (each still waits for the shared rate budget). */
const SEARCH_CONCURRENCY = 4;

export interface ContactFinderDeps {
  /** The account's REST client (lib/aws/amo-client-runtime.ts `clientFor`). */
  clientFor: (account: string) => AmoClientForAccount;
  index: ContactIndexStore;
  log: Log;
  metrics?: MetricsSink;
  /** The country of phones written without a country code (config `forms.defaultCountry`). */
  defaultCountry: CountryCode;
}

const identity = (p: PersonKey) => `${p.phone ?? ''}|${p.email ?? ''}`;

/** The most recently updated, then the highest id (the newer contact when amoCRM stamped both in one second). */
export function newestFirst(a: Contact, b: Contact): number {
  return (b.updated_at ?? 0) - (a.updated_at ?? 0) || b.id - a.id;
}

export function createContactFinder(deps: ContactFinderDeps): ContactFinder {
  const metrics = deps.metrics ?? noMetrics;
  const dc = deps.defaultCountry;
  const keysOf = new WeakMap<Contact, Set<ContactIndexKey>>();
  const keysOfContact = (c: Contact): Set<ContactIndexKey> => {
    let k = keysOf.get(c);
    if (!k) keysOf.set(c, (k = new Set(contactKeys(c, dc))));
    return k;
  };

  /** The contacts with these ids, ≤ 250 per request, with their leads. Ids amoCRM does not return are absent. */
  async function read(client: AmoClientForAccount, ids: readonly number[]): Promise<Map<number, Contact>> {
    const out = new Map<number, Contact>();
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const part = ids.slice(i, i + READ_CHUNK);
      for await (const c of client.contacts.list({ filter: { id: part }, with: ['leads'], limit: READ_CHUNK, maxPages: 1 })) {
        out.set(c.id, c);
      }
    }
    return out;
  }

  async function search(client: AmoClientForAccount, query: string): Promise<Contact[]> {
    const out: Contact[] = [];
    for await (const c of client.contacts.search(query, { with: ['leads'], limit: SEARCH_LIMIT, maxPages: 1 })) out.push(c);
    return out;
  }

  return {
    async find(account, people, opts?: FindOptions) {
      const client = deps.clientFor(account);
      const persons = new Map<string, PersonKey>();
      /** Identities some occurrence of which does not trust the index (those are searched as always). */
      const distrusted = new Set<string>();
      const trusts = (i: number) => {
        const t = opts?.trustFinishedIndex;
        return Array.isArray(t) ? t[i] === true : t === true;
      };
      const idOf = people.map((p, i) => {
        const n = normalizePerson(p, dc);
        const id = identity(n);
        if (!persons.has(id)) persons.set(id, n);
        if (!trusts(i)) distrusted.add(id);
        return id;
      });
      const matches = new Map<string, { contacts: Contact[]; via: ContactMatch['via'] }>();
      const keys = [...new Set([...persons.values()].flatMap(personKeys))];

      // 1–3: the index, one read of every candidate, verification.
      const hits = keys.length ? await deps.index.lookup(account, keys) : new Map<ContactIndexKey, number[]>();
      const candidates = [...new Set([...hits.values()].flat())];
      const candidatesRead = candidates.length ? await read(client, candidates) : new Map<number, Contact>();
      const verified = new Map<ContactIndexKey, Contact[]>();
      const stale: IndexEntry[] = [];
      for (const [key, ids] of hits) {
        for (const id of ids) {
          const c = candidatesRead.get(id);
          if (c && keysOfContact(c).has(key)) (verified.get(key) ?? verified.set(key, []).get(key)!).push(c);
          else stale.push({ key, contactId: id });
        }
      }
      if (stale.length) {
        await deps.index.remove(account, stale);
        metrics.count(METRIC.contactIndexStale, { account }, stale.length);
        deps.log.info('contacts: stale index entries removed', { account, entries: stale.length });
      }
      for (const [id, p] of persons) {
        const found = uniqueContacts(personKeys(p).flatMap((k) => verified.get(k) ?? []));
        if (found.length) matches.set(id, { contacts: found, via: 'index' });
      }

      // 4: `query` for the rest: phone first, then e-mail; hits verified, verified ones indexed.
      let unknown = [...persons].filter(([id, p]) => !matches.has(id) && (p.phone || p.email));
      // Trusting the finished index: an unknown person whose every occurrence trusts it is new (no
      // search) — only once the account's build has finished (README.md "Trusting the finished index").
      if (unknown.some(([id]) => !distrusted.has(id)) && (await deps.index.getBuild(account))?.status === 'done') {
        const skipped = unknown.filter(([id]) => !distrusted.has(id)).length;
        unknown = unknown.filter(([id]) => distrusted.has(id));
        deps.log.debug('contacts: people the finished index does not know are taken as new, without a search', {
          account,
          people: skipped,
        });
      }
      if (unknown.length) {
        const cache = new Map<string, Promise<Contact[]>>();
        const searchOnce = (q: string) => {
          let hit = cache.get(q);
          if (!hit) {
            metrics.count(METRIC.contactSearches, { account });
            cache.set(q, (hit = search(client, q)));
          }
          return hit;
        };
        const learned: IndexEntry[] = [];
        await mapLimit(unknown, SEARCH_CONCURRENCY, async ([id, p]) => {
          const mine = new Set(personKeys(p));
          const real = (cs: Contact[]) => cs.filter((c) => [...keysOfContact(c)].some((k) => mine.has(k)));
          let found = p.phone ? real(await searchOnce(p.phone)) : [];
          if (!found.length && p.email) found = real(await searchOnce(p.email));
          found = uniqueContacts(found);
          if (!found.length) return;
          matches.set(id, { contacts: found, via: 'search' });
          for (const c of found) for (const k of keysOfContact(c)) learned.push({ key: k, contactId: c.id });
        });
        if (learned.length) await deps.index.add(account, learned);
      }

      // 5: one contact per person.
      const result = new Map<string, ContactMatch | undefined>();
      for (const id of persons.keys()) {
        const m = matches.get(id);
        if (!m) {
          result.set(id, undefined);
          continue;
        }
        const sorted = [...m.contacts].sort(newestFirst);
        const chosen = sorted[0] as Contact;
        if (sorted.length > 1) {
          metrics.count(METRIC.contactAmbiguous, { account });
          deps.log.warn('contacts: several contacts really carry this phone / e-mail; the most recently updated is taken', {
            account,
            chosen: chosen.id,
            contactIds: sorted.map((c) => c.id),
          });
        }
        metrics.count(METRIC.contactsFound, { account, via: m.via });
        result.set(id, { contactId: chosen.id, contact: chosen, via: m.via, matches: sorted.length });
      }
      return idOf.map((id) => result.get(id));
    },

    async remember(account, contactId, person) {
      const keys = personKeys(normalizePerson(person, dc));
      if (keys.length)
        await deps.index.add(
          account,
          keys.map((key) => ({ key, contactId })),
        );
    },
  };
}

function uniqueContacts(cs: readonly Contact[]): Contact[] {
  const seen = new Map<number, Contact>();
  for (const c of cs) if (!seen.has(c.id)) seen.set(c.id, c);
  return [...seen.values()];
}
