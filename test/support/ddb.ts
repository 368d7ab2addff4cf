/** A fresh table on the run's DynamoDB Local (see global-setup.ts) for one test file. */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
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

export async function createTestTable(prefix = 't'): Promise<TestTable> {
  const endpoint = inject('ddbLocalEndpoint');
  const client = ddbLocalClient(endpoint);
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { endpoint, tableName, client, doc };
}
