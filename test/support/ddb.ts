/**
 * A fresh table on the run's DynamoDB emulator (DynamoDB Local, or dynalite without Java: see
 * global-setup.ts) for one test file.
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createTableInput } from '../../lib/store/table.ts';

export interface TestTable {
  endpoint: string;
  tableName: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
}

export function ddbLocalClient(endpoint = inject('ddbLocalEndpoint')): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

/** The emulator this run uses ('dynamodb-local' or 'dynalite'). */
export function ddbEngine(): 'dynamodb-local' | 'dynalite' {
  return inject('ddbEngine');
}

export async function createTestTable(prefix = 't'): Promise<TestTable> {
  const endpoint = inject('ddbLocalEndpoint');
  const client = ddbLocalClient(endpoint);
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  await waitActive(client, tableName);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { endpoint, tableName, client, doc };
}

/**
 * DynamoDB Local answers ACTIVE at once; dynalite (like AWS) says CREATING first and refuses item
 * calls with ResourceNotFoundException until it is ACTIVE.
 */
export async function waitActive(client: DynamoDBClient, tableName: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > until) throw new Error(`table ${tableName} not ACTIVE within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
