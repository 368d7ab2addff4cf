/**
 * Finding "the same person" in amoCRM (README.md in this folder): the contract the forms flow, the
 * 1C exchange and the chat channel share. amoCRM's `query` search is fuzzy and its phone
 * normalisation undocumented, so a candidate counts only when one of its STORED phones / e-mails,
 * normalised the same way, equals the one we look for; and because a phone stored as
 * "+7 (999) 123-45-67" may not be findable by any query at all, our own index (normalised phone /
 * e-mail → contact ids, in the table) is consulted first and verified on use.
 */
import type { Contact } from '../amocrm/entities.ts';

/** The channels of one person, already normalised: phone E.164 ("+79991234567"), e-mail trimmed and lower-cased. */
export interface PersonKey {
  phone?: string;
  email?: string;
}

/** Index keys of a person: `phone:+79991234567`, `email:a@b.ru`. */
export type ContactIndexKey = `phone:${string}` | `email:${string}`;

export interface ContactMatch {
  contactId: number;
  /** The contact as read just now (verified), with `_embedded.leads`. */
  contact: Contact;
  /** Where the candidate came from. */
  via: 'index' | 'search';
  /** Real matches seen: more than one → the most recently updated was taken (and logged). */
  matches: number;
}

export interface FindOptions {
  /**
   * "Trust the finished index" (opt-in, README.md "Trusting the finished index"): a person (by
   * position in `people`) the index does not know is taken as NEW, without a `query` search —
   * but only when the account's index build has finished. `true` for everyone, or one flag per
   * person; the same person passed twice is searched unless every occurrence trusts.
   */
  trustFinishedIndex?: boolean | readonly boolean[];
}

export interface ContactFinder {
  /**
   * The verified contact of each person (same order; undefined = none in amoCRM). Batched: index
   * lookups in the table, ONE contacts read per ≤ 250 candidates (`filter[id]`, `with=leads`), and a
   * `query` search only for people the index does not know (the search's hits are verified too).
   */
  find(account: string, people: readonly PersonKey[], opts?: FindOptions): Promise<Array<ContactMatch | undefined>>;
  /** Our own write: contact `contactId` now carries these channels (keeps the index fresh without a webhook). */
  remember(account: string, contactId: number, person: PersonKey): Promise<void>;
}
