/**
 * The contact index's port: normalised phone / e-mail key → the contact ids that carried it when we
 * last looked. A hint, never the truth: every id it gives is verified against the contact as
 * amoCRM returns it (finder.ts), and stale ids are removed then. The DynamoDB adapter is
 * lib/store/contact-index.ts (its item layout is documented there and in README.md here).
 */
import type { ContactIndexKey } from './types.ts';

export interface IndexEntry {
  key: ContactIndexKey;
  contactId: number;
}

/** One contact as amoCRM shows it now: its keys and its `updated_at` (unix seconds). */
export interface ContactKeys {
  contactId: number;
  keys: readonly ContactIndexKey[];
  updatedAt?: number;
}

/** Where a build stands (one per account). `nextPage` is the amoCRM page to read next (from 1). */
export interface IndexBuildState {
  status: 'running' | 'done';
  nextPage: number;
  pages: number;
  contacts: number;
  /** Index entries written (key, contact pairs). */
  keys: number;
  /** Epoch ms. */
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
}

export interface ContactIndexStore {
  /** The contact ids under each key (keys without any are absent from the map). Any number of keys. */
  lookup(account: string, keys: readonly ContactIndexKey[]): Promise<Map<ContactIndexKey, number[]>>;
  /** Adds entries (idempotent). */
  add(account: string, entries: readonly IndexEntry[]): Promise<void>;
  /** Removes entries (idempotent; a missing one is no error). */
  remove(account: string, entries: readonly IndexEntry[]): Promise<void>;
  /**
   * Each contact now carries exactly these keys: the ones it no longer has are removed, the new
   * ones added. A state older than the one applied last (`updatedAt` lower) only adds: webhooks
   * may arrive out of order, and a late old state must not drop a newer phone. Returns the
   * entries written (added or confirmed).
   */
  replace(account: string, contacts: readonly ContactKeys[]): Promise<{ written: number; removed: number }>;
  /** The contact is gone (deleted in amoCRM): every entry of it is removed. */
  forget(account: string, contactIds: readonly number[]): Promise<void>;
  getBuild(account: string): Promise<IndexBuildState | undefined>;
  putBuild(account: string, state: IndexBuildState): Promise<void>;
}
