/**
 * DynamoDB adapter of the RDESK push order (the port: lib/flows/rdesk/push-order.ts). One item per
 * (account, amoCRM lead): `pk = RDESK#ORDER#<account>#<leadId>`, `sk = ORDER`, the newest claimed
 * order key per kind (`k_booked`, `k_mc`) and the lease (`owner`, `until`, epoch ms). A claim is
 * one conditional UpdateItem; a refused claim is explained by one consistent read. The item
 * expires 30 days after its last claim (a lead RDESK stopped pushing for).
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClaimResult, OrderKeys, PushOrderStore } from '../flows/rdesk/push-order.ts';
import type { RdeskKind } from '../flows/rdesk/payload.ts';
import { ttlSeconds, isConditionFailed } from './table.ts';

const SK = 'ORDER';
const KEEP_MS = 30 * 24 * 3600 * 1000;
const pkOf = (account: string, leadId: number) => `RDESK#ORDER#${account}#${leadId}`;
const attr = (kind: string) => `k_${kind}`;
const KINDS: readonly RdeskKind[] = ['booked', 'mc'];

function keysOf(item: Record<string, unknown> | undefined): OrderKeys {
  const out: OrderKeys = {};
  for (const kind of KINDS) {
    const v = item?.[attr(kind)];
    if (typeof v === 'string') out[kind] = v;
  }
  return out;
}

export class DynamoPushOrder implements PushOrderStore {
  constructor(private readonly opts: { doc: DynamoDBDocumentClient; tableName: string; now?: () => number }) {}
  private get now() {
    return this.opts.now ?? Date.now;
  }

  async claim(account: string, leadId: number, keys: OrderKeys, owner: string, holdMs: number): Promise<ClaimResult> {
    const t = this.now();
    const names: Record<string, string> = { '#o': 'owner', '#u': 'until', '#e': 'expiresAt' };
    const values: Record<string, unknown> = { ':o': owner, ':u': t + holdMs, ':now': t, ':e': ttlSeconds(t + KEEP_MS) };
    const sets = ['#o = :o', '#u = :u', '#e = :e'];
    const conds = ['(attribute_not_exists(#o) OR #o = :o OR #u < :now)'];
    for (const [kind, key] of Object.entries(keys)) {
      names[`#${kind}`] = attr(kind);
      values[`:${kind}`] = key;
      sets.push(`#${kind} = :${kind}`);
      // Equal keys are the same push (a redelivery after a failed write): allowed.
      conds.push(`(attribute_not_exists(#${kind}) OR #${kind} <= :${kind})`);
    }
    try {
      const r = await this.opts.doc.send(
        new UpdateCommand({
          TableName: this.opts.tableName,
          Key: { pk: pkOf(account, leadId), sk: SK },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      return { ok: true, previous: keysOf(r.Attributes) };
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
    const got = await this.opts.doc.send(
      new GetCommand({ TableName: this.opts.tableName, Key: { pk: pkOf(account, leadId), sk: SK }, ConsistentRead: true }),
    );
    const it = got.Item;
    const held = it && typeof it.owner === 'string' && it.owner !== owner && typeof it.until === 'number' && it.until >= t;
    return { ok: false, claimed: keysOf(it), ...(held ? { heldBy: it.owner as string, until: it.until as number } : {}) };
  }

  async revert(account: string, leadId: number, keys: OrderKeys, previous: OrderKeys, owner: string): Promise<void> {
    const names: Record<string, string> = { '#o': 'owner', '#u': 'until' };
    const values: Record<string, unknown> = { ':o': owner };
    const sets: string[] = [];
    const removes = ['#o', '#u'];
    const conds = ['#o = :o'];
    for (const [kind, key] of Object.entries(keys)) {
      names[`#${kind}`] = attr(kind);
      values[`:${kind}`] = key;
      conds.push(`#${kind} = :${kind}`);
      const prev = previous[kind as RdeskKind];
      if (prev === undefined) removes.push(`#${kind}`);
      else {
        values[`:p_${kind}`] = prev;
        sets.push(`#${kind} = :p_${kind}`);
      }
    }
    try {
      await this.opts.doc.send(
        new UpdateCommand({
          TableName: this.opts.tableName,
          Key: { pk: pkOf(account, leadId), sk: SK },
          UpdateExpression: `${sets.length ? `SET ${sets.join(', ')} ` : ''}REMOVE ${removes.join(', ')}`,
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (e) {
      // A newer claim took the slot meanwhile: it wins, nothing to put back.
      if (!isConditionFailed(e)) throw e;
    }
  }
}
