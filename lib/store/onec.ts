/**
 * DynamoDB adapters of the 1C exchange's two records (ports in lib/flows/onec):
 * - a request's record, `pk = ONEC#REQ#<id>`, `sk = REQ`, kept 30 days (the status endpoint);
 * - an export's progress, `pk = ONEC#EXPORT#<key>`, `sk = EXPORT`, kept 90 days (so a late redelivery
 *   of the same status change still finds it and exports nothing).
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ExportLedger, ExportProgress } from '../flows/onec/export.ts';
import type { OnecRequestRecord, OnecRequestStore } from '../flows/onec/job.ts';
import { isExpired, ttlSeconds } from './table.ts';

const DAY_MS = 86_400_000;
export const ONEC_REQUEST_TTL_DAYS = 30;
export const ONEC_EXPORT_TTL_DAYS = 90;

interface Opts {
  doc: DynamoDBDocumentClient;
  tableName: string;
  now?: () => number;
}

export class DynamoOnecRequests implements OnecRequestStore {
  constructor(private readonly o: Opts) {}
  private now() {
    return (this.o.now ?? Date.now)();
  }
  async put(rec: OnecRequestRecord): Promise<void> {
    await this.o.doc.send(
      new PutCommand({
        TableName: this.o.tableName,
        Item: { pk: `ONEC#REQ#${rec.id}`, sk: 'REQ', rec, expiresAt: ttlSeconds(this.now() + ONEC_REQUEST_TTL_DAYS * DAY_MS) },
      }),
    );
  }
  async get(id: string): Promise<OnecRequestRecord | undefined> {
    const r = await this.o.doc.send(
      new GetCommand({ TableName: this.o.tableName, Key: { pk: `ONEC#REQ#${id}`, sk: 'REQ' }, ConsistentRead: true }),
    );
    if (!r.Item || isExpired(r.Item.expiresAt as number | undefined, this.now())) return undefined;
    return r.Item.rec as OnecRequestRecord;
  }
}

export class DynamoExportLedger implements ExportLedger {
  constructor(private readonly o: Opts) {}
  private now() {
    return (this.o.now ?? Date.now)();
  }
  async get(key: string): Promise<ExportProgress | undefined> {
    const r = await this.o.doc.send(
      new GetCommand({ TableName: this.o.tableName, Key: { pk: `ONEC#EXPORT#${key}`, sk: 'EXPORT' }, ConsistentRead: true }),
    );
    if (!r.Item || isExpired(r.Item.expiresAt as number | undefined, this.now())) return undefined;
    return r.Item.progress as ExportProgress;
  }
  async put(key: string, progress: ExportProgress): Promise<void> {
    await this.o.doc.send(
      new PutCommand({
        TableName: this.o.tableName,
        Item: { pk: `ONEC#EXPORT#${key}`, sk: 'EXPORT', progress, expiresAt: ttlSeconds(this.now() + ONEC_EXPORT_TTL_DAYS * DAY_MS) },
      }),
    );
  }
}
