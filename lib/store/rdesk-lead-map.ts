/**
 * DynamoDB adapter of the stand-in lead map (the port: lib/flows/rdesk/lead-map.ts). One item per
 * (account, RDESK lead_id): `pk = RDESK#LEAD#<account>#<id>`, `sk = MAP`. A claim is a conditional
 * put that succeeds only when no mapping exists and no live claim is held; the mapping has no
 * expiry (a stand-in lead is kept as long as the test account is).
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LeadMapStore } from '../flows/rdesk/lead-map.ts';
import { isConditionFailed } from './table.ts';

const SK = 'MAP';
const pkOf = (account: string, id: number) => `RDESK#LEAD#${account}#${id}`;

export class DynamoLeadMap implements LeadMapStore {
  constructor(private readonly opts: { doc: DynamoDBDocumentClient; tableName: string; now?: () => number }) {}
  private get now() {
    return this.opts.now ?? Date.now;
  }

  async get(account: string, id: number): Promise<number | undefined> {
    const r = await this.opts.doc.send(
      new GetCommand({ TableName: this.opts.tableName, Key: { pk: pkOf(account, id), sk: SK }, ConsistentRead: true }),
    );
    const v = r.Item?.leadId;
    return typeof v === 'number' ? v : undefined;
  }

  async claim(account: string, id: number, owner: string, holdMs: number): Promise<boolean> {
    const t = this.now();
    try {
      await this.opts.doc.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: { pk: pkOf(account, id), sk: SK, owner, claimUntil: t + holdMs },
          ConditionExpression: 'attribute_not_exists(pk) OR (attribute_not_exists(leadId) AND claimUntil < :now)',
          ExpressionAttributeValues: { ':now': t },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async put(account: string, id: number, leadId: number): Promise<void> {
    await this.opts.doc.send(new PutCommand({ TableName: this.opts.tableName, Item: { pk: pkOf(account, id), sk: SK, leadId } }));
  }

  async release(account: string, id: number, owner: string): Promise<void> {
    try {
      await this.opts.doc.send(
        new DeleteCommand({
          TableName: this.opts.tableName,
          Key: { pk: pkOf(account, id), sk: SK },
          ConditionExpression: 'attribute_not_exists(leadId) AND #o = :o',
          ExpressionAttributeNames: { '#o': 'owner' },
          ExpressionAttributeValues: { ':o': owner },
        }),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
  }
}
