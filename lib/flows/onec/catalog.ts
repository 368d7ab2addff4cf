/**
 * The catalog side of the 1C exchange: upsert a course as a catalog element in every configured
 * account, delete a uid's elements, delete its doubles. Each works per account and answers the
 * amoCRM ids (`amo_ids`, the shape the old MZPO API answered and 1C stores).
 *
 * Lookup order of an upsert (as MZPO's update_course): the element 1C names in `amo_ids` for that
 * account, when it still exists in the list; then the element whose uid field equals the uid
 * (searched with `query`, then compared exactly: `query` is a substring search); else a new one.
 * A retried message therefore updates what its first try created, it never adds a second element.
 *
 * Deletion: amoCRM's v4 API documents no way to delete a list element (the lists page,
 * https://www.amocrm.ru/developers/content/crm_platform/catalogs-api, has get / add / edit only;
 * https://github.com/amocrm/amocrm-api-php/issues/494); the legacy v2 API does, with
 * `POST /api/v2/catalog_elements {"delete": [ids]}` (https://www.amocrm.ru/developers/content/catalogs/elements;
 * also https://github.com/zero-archive/amocrm-php/pull/56), which is what the old systems used
 * and what we send (docs/amocrm-protocol.md#catalogs).
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { CatalogElement } from '../../amocrm/client/resources/catalogs-webhooks-chats.ts';
import type { OnecCatalogAccount, OnecCatalogConfig } from './config.ts';
import { choosePrice, elementFields, elementName, type Course } from './course.ts';

export interface AmoIdEntry {
  account_id: number;
  entity_id: number;
}

/** The per-account result the status endpoint answers. */
export interface AccountResult {
  /** The gateway's account id (config `accounts[].id`). */
  account: string;
  /** amoCRM's numeric account id. */
  account_id: number;
  /** upsert: the element; delete / doubles: what was deleted and what was kept. */
  entity_id?: number;
  action?: 'created' | 'updated';
  deleted?: number[];
  kept?: number;
}

export interface CatalogDeps {
  clientFor: (accountId: string) => AmoClientForAccount;
}

/** At most this many elements per v2 delete request (amoCRM's recommended batch). */
const DELETE_BATCH = 50;
/** A delete loop stops after this many rounds (elements keep appearing = something else is adding them). */
const MAX_DELETE_ROUNDS = 20;

/** amoCRM's numeric id of an account (the `account_id` 1C uses in `amo_ids`). */
export async function amoAccountId(client: AmoClientForAccount): Promise<number> {
  return (await client.account.get()).id;
}

/** Elements of the list whose uid field equals `uid` exactly, oldest (lowest id) first. */
export async function elementsByUid(client: AmoClientForAccount, acc: OnecCatalogAccount, uid: string): Promise<CatalogElement[]> {
  const out: CatalogElement[] = [];
  for await (const e of client.catalogs.elements(acc.catalogId).list({ query: uid })) {
    const f = e.custom_fields_values?.find((v) => v.field_id === acc.uidField);
    if (f?.values.some((v) => String(v.value ?? '').trim() === uid)) out.push(e);
  }
  return out.sort((a, b) => a.id - b.id);
}

function accountsOf(cfg: OnecCatalogConfig, only: readonly string[] | undefined): OnecCatalogAccount[] {
  return only && only.length ? cfg.accounts.filter((a) => only.includes(a.account)) : cfg.accounts;
}

/** Upsert in every configured account (or only `only`), in config order. */
export async function upsertCourse(
  deps: CatalogDeps,
  cfg: OnecCatalogConfig,
  course: Course,
  only?: readonly string[],
): Promise<AccountResult[]> {
  const name = elementName(course, cfg.naming);
  const price = choosePrice(course, cfg.price)?.price;
  const results: AccountResult[] = [];
  for (const acc of accountsOf(cfg, only)) {
    const client = deps.clientFor(acc.account);
    const account_id = await amoAccountId(client);
    const els = client.catalogs.elements(acc.catalogId);
    const fields = elementFields(course, acc, price);
    let target: number | undefined;
    const named = course.amo_ids.find((x) => x.account_id === account_id)?.entity_id;
    if (named !== undefined) {
      const e = await els.get(named);
      if (e && e.catalog_id === acc.catalogId) target = e.id;
    }
    if (target === undefined) target = (await elementsByUid(client, acc, course.product_id_1C))[0]?.id;
    if (target !== undefined) {
      await els.update([{ id: target, name, custom_fields_values: fields }]);
      results.push({ account: acc.account, account_id, entity_id: target, action: 'updated' });
    } else {
      const [created] = await els.add([{ name, custom_fields_values: fields }]);
      if (!created) throw new Error(`catalog ${acc.catalogId}: the add answered no element`);
      results.push({ account: acc.account, account_id, entity_id: created.id, action: 'created' });
    }
  }
  return results;
}

async function v2Delete(client: AmoClientForAccount, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += DELETE_BATCH) {
    await client.request({
      method: 'POST',
      path: '/api/v2/catalog_elements',
      body: { delete: ids.slice(i, i + DELETE_BATCH) },
      kind: 'idempotent',
    });
  }
}

/** Deletes every element of `uid` (`keep: 1` keeps the oldest: delete doubles). */
export async function deleteByUid(
  deps: CatalogDeps,
  cfg: OnecCatalogConfig,
  uid: string,
  opts: { keepOne?: boolean; only?: readonly string[] } = {},
): Promise<AccountResult[]> {
  const results: AccountResult[] = [];
  for (const acc of accountsOf(cfg, opts.only)) {
    const client = deps.clientFor(acc.account);
    const account_id = await amoAccountId(client);
    const deleted: number[] = [];
    let kept: number | undefined;
    for (let round = 0; ; round++) {
      const found = await elementsByUid(client, acc, uid);
      if (opts.keepOne && found.length) kept = found[0]?.id;
      const doomed = found.filter((e) => e.id !== kept).map((e) => e.id);
      if (doomed.length === 0) break;
      if (round >= MAX_DELETE_ROUNDS)
        throw new Error(`catalog ${acc.catalogId}: elements of the uid keep appearing after ${round} delete rounds`);
      await v2Delete(client, doomed);
      deleted.push(...doomed);
    }
    results.push({ account: acc.account, account_id, deleted, ...(kept !== undefined ? { kept } : {}) });
  }
  return results;
}
