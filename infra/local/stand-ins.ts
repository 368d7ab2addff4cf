/**
 * The AWS stand-ins, in-process: fauxqs (SQS) with every queue of the route table and its DLQ —
 * behind its journaling front (infra/local/sqs-wire.ts) when persisted, so nothing it accepted is
 * lost to a crash — and dynalite (DynamoDB, pure Node) in memory or persisted, with the one table.
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQS_MAX_MESSAGE_BYTES, dlqName, queueName, redriveMaxReceiveCount, type QueueDef, type RouteTable } from '../../lib/routes.ts';
import { createTableInput } from '../../lib/store/table.ts';
import type { SqsJournal } from './journal.ts';
import { restoreQueues, type RestoreResult } from './persist.ts';
import { startSqsWire, type SqsWire } from './sqs-wire.ts';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** SQS's own redrive stays as a last-resort net only (docs/architecture.md#failure-semantics); the worker parks long before. */
export const LAST_RESORT_MAX_RECEIVE_COUNT = 100;

export interface LocalQueue {
  id: string;
  def: QueueDef;
  name: string;
  url: string;
  arn: string;
  dlqName: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface SqsStandIn {
  fauxqs: FauxqsServer;
  /** What SQS clients use: the journaling front when persisted, fauxqs itself in memory. */
  endpoint: string;
  sqs: SQSClient;
  queues: Record<string, LocalQueue>;
  /** Persisted mode: the journal, and what the start re-queued from it. */
  journal: SqsJournal | undefined;
  restore: Omit<RestoreResult, 'journal'> | undefined;
  stop(): Promise<void>;
}

export async function startSqs(
  table: RouteTable,
  opts: { region: string; visibilityTimeoutSeconds?: number; journalDir?: string },
): Promise<SqsStandIn> {
  const fauxqs = await startFauxqs({ port: 0, logger: false, defaultRegion: opts.region });
  // Queue URLs point at sqs.<region>.localhost:<port>; an explicit endpoint makes the SDK ignore them.
  const fauxqsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
  const queues: Record<string, LocalQueue> = {};
  for (const q of table.queues) {
    const common: Record<string, string> = {
      MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
      ...(q.fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {}),
    };
    const dlq = fauxqs.createQueue(dlqName(q), { attributes: { ...common, MessageRetentionPeriod: String(14 * 86_400) } });
    const main = fauxqs.createQueue(queueName(q), {
      attributes: {
        ...common,
        VisibilityTimeout: String(opts.visibilityTimeoutSeconds ?? q.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(q.retentionDays * 86_400),
        // A FIFO queue's figure is the one its worker paces and parks by (lib/routes.ts redriveMaxReceiveCount).
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.queueArn,
          maxReceiveCount: q.fifo ? redriveMaxReceiveCount(q) : LAST_RESORT_MAX_RECEIVE_COUNT,
        }),
      },
    });
    queues[q.id] = {
      id: q.id,
      def: q,
      name: main.queueName,
      url: main.queueUrl,
      arn: main.queueArn,
      dlqName: dlq.queueName,
      dlqUrl: dlq.queueUrl,
      dlqArn: dlq.queueArn,
    };
  }
  let journal: SqsJournal | undefined;
  let wire: SqsWire | undefined;
  let restore: SqsStandIn['restore'];
  if (opts.journalDir) {
    try {
      const r = await restoreQueues(opts.journalDir, fauxqsEndpoint, Object.values(queues));
      journal = r.journal;
      restore = { restored: r.restored, skipped: r.skipped, ...(r.orphanedFile ? { orphanedFile: r.orphanedFile } : {}) };
      wire = await startSqsWire({ upstreamPort: fauxqs.port, journal });
    } catch (e) {
      await journal?.close().catch(() => undefined);
      await fauxqs.stop();
      throw e;
    }
  }
  const endpoint = wire?.endpoint ?? fauxqsEndpoint;
  const sqs = new SQSClient({ endpoint, region: opts.region, credentials: LOCAL_CREDENTIALS });
  return {
    fauxqs,
    endpoint,
    sqs,
    queues,
    journal,
    restore,
    async stop() {
      sqs.destroy();
      await wire?.stop();
      await journal?.close();
      await fauxqs.stop();
    },
  };
}

export interface DynamoStandIn {
  endpoint: string;
  ddb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Where the data lives, or undefined in memory. */
  dir: string | undefined;
  stop(): Promise<void>;
}

export class StandInError extends Error {
  override readonly name = 'StandInError';
}

export async function startDynamo(opts: { region: string; tableName: string; dir?: string }): Promise<DynamoStandIn> {
  if (opts.dir) mkdirSync(opts.dir, { recursive: true });
  const server: Server = dynalite({ ...(opts.dir ? { path: opts.dir } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ddb = new DynamoDBClient({ endpoint, region: opts.region, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  const stop = async () => {
    ddb.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    // A store that cannot be opened makes dynalite hang rather than fail: bound the wait.
    await Promise.race([
      ensureTable(ddb, opts.tableName),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 15 s')), 15_000).unref()),
    ]);
  } catch (cause) {
    await stop().catch(() => undefined);
    const where = opts.dir ? ` in ${opts.dir} (is another runner using it? use --memory or another --data-dir)` : '';
    throw new StandInError(`dynalite could not open its store${where}`, { cause });
  }
  return { endpoint, ddb, doc, tableName: opts.tableName, dir: opts.dir, stop };
}

async function ensureTable(ddb: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await ddb.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
    await ddb.send(new CreateTableCommand(createTableInput(tableName)));
  }
  // dynalite answers "Requested resource not found" to item calls until the table is ACTIVE
  // (even with createTableMs 0 it becomes so a tick later): wait, so the first write at start works.
  for (;;) {
    const d = await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
