/**
 * DynamoDB adapter of the contact index (the port: lib/contacts/index-store.ts), on the one table.
 * Items (pk / sk), `<h>` being the first 22 base64url characters (132 bits) of SHA-256 of the key
 * (`phone:+79991234567`, `email:a@b.ru`), so no phone or e-mail is ever stored or shown in a key:
 *
 * - `CIDX#<account>#K#<h>` / `K`: `ids`, a number set of the contact ids that carry the key.
 *   A lookup of N keys is ⌈N / 100⌉ BatchGetItem calls (100 keys per call is DynamoDB's limit),
 *   each item well under 1 KB: 100 keys cost one round trip and ≤ 50 read units (eventually
 *   consistent). One item per (key, contact) would need a Query per key instead.
 *   Ids are added with `ADD` and removed with `DELETE` (atomic set updates, so two writers never
 *   lose each other's ids); an item whose set became empty is deleted (conditionally, so an id
 *   added meanwhile stays).
 * - `CIDX#<account>#C#<contact id>` / `C`: `keys`, the string set of the key hashes the contact
 *   was last indexed under, and `updatedAt` (amoCRM's unix seconds of that state). It is what
 *   lets a webhook's new state drop the contact's old keys, and a delete drop all of them.
 * - `CIDX#<account>#BUILD` / `BUILD`: the index build's cursor and counts (lib/contacts/build.ts).
 *
 * None expire: an entry lives until a webhook, a build or a failed verification removes it.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { mapLimit } from '../common/concurrency.ts';
import type { ContactIndexKey } from '../contacts/types.ts';
import type { ContactIndexStore, ContactKeys, IndexBuildState, IndexEntry } from '../contacts/index-store.ts';

const KEY_SK = 'K';
const CONTACT_SK = 'C';
const BUILD_SK = 'BUILD';
/** BatchGetItem takes at most 100 keys, BatchWriteItem 25 requests. */
const GET_BATCH = 100;
const WRITE_BATCH = 25;
/** Parallel single-item writes per call (the build writes a page's keys at once). */
const WRITE_CONCURRENCY = 16;
const UNPROCESSED_TRIES = 8;

export const keyHash = (key: ContactIndexKey): string => createHash('sha256').update(key).digest('base64url').slice(0, 22);
const keyPk = (account: string, hash: string) => `CIDX#${account}#K#${hash}`;
const contactPk = (account: string, id: number) => `CIDX#${account}#C#${id}`;
const buildPk = (account: string) => `CIDX#${account}#BUILD`;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function numbersOf(v: unknown): number[] {
  if (v instanceof Set) return [...v].map(Number).filter(Number.isFinite);
  if (Array.isArray(v)) return v.map(Number).filter(Number.isFinite);
  return [];
}

function stringsOf(v: unknown): string[] {
  if (v instanceof Set || Array.isArray(v)) return [...v].map(String);
  return [];
}

export class DynamoContactIndex implements ContactIndexStore {
  constructor(private readonly opts: { doc: DynamoDBDocumentClient; tableName: string }) {}
  private get table() {
    return this.opts.tableName;
  }

  /** Every item of `keys` (pk/sk pairs), ≤ 100 per call, unprocessed keys re-asked with a short backoff. */
  private async batchGet(keys: Array<{ pk: string; sk: string }>): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (const part of chunks(keys, GET_BATCH)) {
      let pending: Array<Record<string, unknown>> = part;
      for (let t = 0; pending.length > 0; t++) {
        if (t >= UNPROCESSED_TRIES) throw new Error(`contact index: ${pending.length} keys still unprocessed after ${t} tries`);
        if (t > 0) await sleep(Math.min(1000, 25 * 2 ** t));
        const r = await this.opts.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending } } }));
        out.push(...(r.Responses?.[this.table] ?? []));
        pending = r.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    }
    return out;
  }

  private async batchWrite(requests: Array<Record<string, unknown>>): Promise<void> {
    for (const part of chunks(requests, WRITE_BATCH)) {
      let pending = part;
      for (let t = 0; pending.length > 0; t++) {
        if (t >= UNPROCESSED_TRIES) throw new Error(`contact index: ${pending.length} writes still unprocessed after ${t} tries`);
        if (t > 0) await sleep(Math.min(1000, 25 * 2 ** t));
        const r = await this.opts.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
        pending = (r.UnprocessedItems?.[this.table] ?? []) as Array<Record<string, unknown>>;
      }
    }
  }

  async lookup(account: string, keys: readonly ContactIndexKey[]): Promise<Map<ContactIndexKey, number[]>> {
    const byHash = new Map<string, ContactIndexKey>();
    for (const k of keys) byHash.set(keyHash(k), k);
    const items = await this.batchGet([...byHash.keys()].map((h) => ({ pk: keyPk(account, h), sk: KEY_SK })));
    const out = new Map<ContactIndexKey, number[]>();
    const prefix = keyPk(account, '');
    for (const it of items) {
      const key = byHash.get(String(it.pk).slice(prefix.length));
      const ids = numbersOf(it.ids);
      if (key && ids.length)
        out.set(
          key,
          ids.sort((a, b) => a - b),
        );
    }
    return out;
  }

  /** ADD ids to each key item (one write per key), then the hashes to each contact item. */
  private async addIds(account: string, byKey: Map<string, Set<number>>, byContact: Map<number, Set<string>>): Promise<void> {
    await mapLimit([...byKey], WRITE_CONCURRENCY, ([h, ids]) =>
      this.opts.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: keyPk(account, h), sk: KEY_SK },
          UpdateExpression: 'ADD ids :ids',
          ExpressionAttributeValues: { ':ids': ids },
        }),
      ),
    );
    await mapLimit([...byContact], WRITE_CONCURRENCY, ([id, hashes]) =>
      this.opts.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: contactPk(account, id), sk: CONTACT_SK },
          UpdateExpression: 'ADD #k :k',
          ExpressionAttributeNames: { '#k': 'keys' },
          ExpressionAttributeValues: { ':k': hashes },
        }),
      ),
    );
  }

  /** DELETE ids from each key item; an emptied item is deleted unless an id came back meanwhile. */
  private async removeIds(account: string, byKey: Map<string, Set<number>>): Promise<void> {
    await mapLimit([...byKey], WRITE_CONCURRENCY, async ([h, ids]) => {
      const Key = { pk: keyPk(account, h), sk: KEY_SK };
      const r = await this.opts.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key,
          UpdateExpression: 'DELETE ids :ids',
          ExpressionAttributeValues: { ':ids': ids },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (numbersOf(r.Attributes?.ids).length > 0) return;
      try {
        await this.opts.doc.send(new DeleteCommand({ TableName: this.table, Key, ConditionExpression: 'attribute_not_exists(ids)' }));
      } catch (e) {
        if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      }
    });
  }

  async add(account: string, entries: readonly IndexEntry[]): Promise<void> {
    const { byKey, byContact } = groupEntries(entries);
    await this.addIds(account, byKey, byContact);
  }

  async remove(account: string, entries: readonly IndexEntry[]): Promise<void> {
    const { byKey, byContact } = groupEntries(entries);
    await this.removeIds(account, byKey);
    await mapLimit([...byContact], WRITE_CONCURRENCY, ([id, hashes]) =>
      this.opts.doc
        .send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: contactPk(account, id), sk: CONTACT_SK },
            UpdateExpression: 'DELETE #k :k',
            ExpressionAttributeNames: { '#k': 'keys' },
            ExpressionAttributeValues: { ':k': hashes },
            // Never creates a contact item just to remove from it.
            ConditionExpression: 'attribute_exists(pk)',
          }),
        )
        .catch((e: unknown) => {
          if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
        }),
    );
  }

  private async contactItems(account: string, ids: readonly number[]): Promise<Map<number, { keys: string[]; updatedAt?: number }>> {
    const items = await this.batchGet([...new Set(ids)].map((id) => ({ pk: contactPk(account, id), sk: CONTACT_SK })));
    const prefix = contactPk(account, 0).slice(0, -1);
    const out = new Map<number, { keys: string[]; updatedAt?: number }>();
    for (const it of items) {
      const id = Number(String(it.pk).slice(prefix.length));
      out.set(id, { keys: stringsOf(it.keys), ...(typeof it.updatedAt === 'number' ? { updatedAt: it.updatedAt } : {}) });
    }
    return out;
  }

  async replace(account: string, contacts: readonly ContactKeys[]): Promise<{ written: number; removed: number }> {
    if (contacts.length === 0) return { written: 0, removed: 0 };
    const stored = await this.contactItems(
      account,
      contacts.map((c) => c.contactId),
    );
    const toAdd = new Map<string, Set<number>>();
    const toRemove = new Map<string, Set<number>>();
    const puts: Array<Record<string, unknown>> = [];
    let written = 0;
    let removed = 0;
    for (const c of contacts) {
      const now = new Set(c.keys.map(keyHash));
      const was = stored.get(c.contactId);
      const old = new Set(was?.keys ?? []);
      // An older state than the one applied last only adds (webhooks may come out of order).
      const older = was?.updatedAt !== undefined && c.updatedAt !== undefined && c.updatedAt < was.updatedAt;
      for (const h of now) if (!old.has(h)) (toAdd.get(h) ?? toAdd.set(h, new Set()).get(h)!).add(c.contactId);
      const keep = new Set(now);
      if (older) for (const h of old) keep.add(h);
      else
        for (const h of old)
          if (!now.has(h)) {
            (toRemove.get(h) ?? toRemove.set(h, new Set()).get(h)!).add(c.contactId);
            removed++;
          }
      written += now.size;
      const updatedAt = older ? was?.updatedAt : (c.updatedAt ?? was?.updatedAt);
      puts.push({
        PutRequest: {
          Item: {
            pk: contactPk(account, c.contactId),
            sk: CONTACT_SK,
            ...(keep.size ? { keys: keep } : {}),
            ...(updatedAt !== undefined ? { updatedAt } : {}),
          },
        },
      });
    }
    // Key items first, the contact item last: a crash in between leaves the contact item without
    // the new keys, so the next replace adds them again (never the other way round).
    await this.addIds(account, toAdd, new Map());
    await this.removeIds(account, toRemove);
    await this.batchWrite(puts);
    return { written, removed };
  }

  async forget(account: string, contactIds: readonly number[]): Promise<void> {
    if (contactIds.length === 0) return;
    const stored = await this.contactItems(account, contactIds);
    const toRemove = new Map<string, Set<number>>();
    for (const [id, s] of stored) for (const h of s.keys) (toRemove.get(h) ?? toRemove.set(h, new Set()).get(h)!).add(id);
    await this.removeIds(account, toRemove);
    await this.batchWrite(
      [...new Set(contactIds)].map((id) => ({ DeleteRequest: { Key: { pk: contactPk(account, id), sk: CONTACT_SK } } })),
    );
  }

  async getBuild(account: string): Promise<IndexBuildState | undefined> {
    const r = await this.opts.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: buildPk(account), sk: BUILD_SK }, ConsistentRead: true }),
    );
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, ...state } = r.Item;
    return state as IndexBuildState;
  }

  async putBuild(account: string, state: IndexBuildState): Promise<void> {
    await this.opts.doc.send(new PutCommand({ TableName: this.table, Item: { pk: buildPk(account), sk: BUILD_SK, ...state } }));
  }
}

/** Entries → contact ids per key hash, and key hashes per contact (the two item kinds the index keeps). */
function groupEntries(entries: readonly IndexEntry[]): { byKey: Map<string, Set<number>>; byContact: Map<number, Set<string>> } {
  const byKey = new Map<string, Set<number>>();
  const byContact = new Map<number, Set<string>>();
  for (const e of entries) {
    const h = keyHash(e.key);
    (byKey.get(h) ?? byKey.set(h, new Set()).get(h)!).add(e.contactId);
    (byContact.get(e.contactId) ?? byContact.set(e.contactId, new Set()).get(e.contactId)!).add(h);
  }
  return { byKey, byContact };
}
