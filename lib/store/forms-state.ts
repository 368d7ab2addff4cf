/**
 * DynamoDB adapter of the forms flow's state (the port: lib/flows/forms/state.ts).
 *
 * - `pk = FORMS#PERSON#<account>#<key>`, `sk = PERSON`: the person's last lead (`leadId`,
 *   `contactId`, `at`) and the lease (`owner`, `until`, epoch ms). A claim is one conditional
 *   UpdateItem per key (free, ours, or past its lease) returning the old item; a refused key
 *   gives back the keys already taken. Kept 30 days after the last submission (the window is
 *   at most a day; the record only saves a lookup after that).
 * - `pk = FORMS#RR#<account>#<form>`, `sk = RR`: the round-robin counter (one ADD per run).
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ContactIndexKey } from '../contacts/types.ts';
import type { FormsStateStore, PersonClaim, PersonRecord } from '../flows/forms/state.ts';
import { ttlSeconds, isConditionFailed } from './table.ts';

const KEEP_MS = 30 * 24 * 3600 * 1000;
const personPk = (account: string, key: string) => `FORMS#PERSON#${account}#${key}`;

function recordOf(item: Record<string, unknown> | undefined): PersonRecord | undefined {
  if (!item || typeof item.leadId !== 'number' || typeof item.at !== 'number') return undefined;
  return { leadId: item.leadId, at: item.at, ...(typeof item.contactId === 'number' ? { contactId: item.contactId } : {}) };
}

export class DynamoFormsState implements FormsStateStore {
  constructor(private readonly opts: { doc: DynamoDBDocumentClient; tableName: string; now?: () => number }) {}
  private get now() {
    return this.opts.now ?? Date.now;
  }

  async claim(account: string, keys: readonly ContactIndexKey[], owner: string, holdMs: number): Promise<PersonClaim> {
    const t = this.now();
    const sorted = [...new Set(keys)].sort();
    const got = new Map<string, PersonRecord | undefined>();
    const taken: ContactIndexKey[] = [];
    for (const key of sorted) {
      try {
        const r = await this.opts.doc.send(
          new UpdateCommand({
            TableName: this.opts.tableName,
            Key: { pk: personPk(account, key), sk: 'PERSON' },
            UpdateExpression: 'SET #o = :o, #u = :u, #e = :e',
            ConditionExpression: 'attribute_not_exists(#o) OR #o = :o OR #u < :now',
            ExpressionAttributeNames: { '#o': 'owner', '#u': 'until', '#e': 'expiresAt' },
            ExpressionAttributeValues: { ':o': owner, ':u': t + holdMs, ':now': t, ':e': ttlSeconds(t + KEEP_MS) },
            ReturnValues: 'ALL_OLD',
          }),
        );
        taken.push(key);
        got.set(key, recordOf(r.Attributes));
      } catch (e) {
        if (!isConditionFailed(e)) {
          await this.release(account, taken, owner);
          throw e;
        }
        await this.release(account, taken, owner);
        const cur = await this.opts.doc.send(
          new GetCommand({ TableName: this.opts.tableName, Key: { pk: personPk(account, key), sk: 'PERSON' }, ConsistentRead: true }),
        );
        const until = typeof cur.Item?.until === 'number' ? (cur.Item.until as number) : t;
        return { ok: false, until };
      }
    }
    return { ok: true, records: keys.map((k) => got.get(k)) };
  }

  async release(account: string, keys: readonly ContactIndexKey[], owner: string, record?: PersonRecord): Promise<void> {
    const t = this.now();
    await Promise.all(
      [...new Set(keys)].map(async (key) => {
        const names: Record<string, string> = { '#o': 'owner', '#u': 'until' };
        const values: Record<string, unknown> = { ':o': owner };
        let set = '';
        if (record) {
          Object.assign(names, { '#l': 'leadId', '#a': 'at', '#e': 'expiresAt', '#c': 'contactId' });
          Object.assign(values, { ':l': record.leadId, ':a': record.at, ':e': ttlSeconds(Math.max(t, record.at) + KEEP_MS) });
          set = 'SET #l = :l, #a = :a, #e = :e';
          if (record.contactId !== undefined) {
            values[':c'] = record.contactId;
            set += ', #c = :c';
          }
        }
        try {
          await this.opts.doc.send(
            new UpdateCommand({
              TableName: this.opts.tableName,
              Key: { pk: personPk(account, key), sk: 'PERSON' },
              UpdateExpression: `${set} REMOVE #o, #u${record && record.contactId === undefined ? ', #c' : ''}`.trim(),
              ConditionExpression: '#o = :o',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          );
        } catch (e) {
          // The lease ran out and another writer took the key: its record wins.
          if (!isConditionFailed(e)) throw e;
        }
      }),
    );
  }

  async turns(account: string, form: string, n: number): Promise<number> {
    const r = await this.opts.doc.send(
      new UpdateCommand({
        TableName: this.opts.tableName,
        Key: { pk: `FORMS#RR#${account}#${form}`, sk: 'RR' },
        UpdateExpression: 'ADD #n :n',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':n': n },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(r.Attributes?.n ?? n) - n;
  }
}
