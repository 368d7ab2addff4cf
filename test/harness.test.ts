import { describe, expect, it } from 'vitest';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createTestTable } from './support/ddb.ts';

describe('DynamoDB Local harness', () => {
  it('creates a table and honours a conditional put', async () => {
    const t = await createTestTable('smoke');
    await t.doc.send(
      new PutCommand({ TableName: t.tableName, Item: { pk: 'a', sk: 'b', v: 1 }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    await expect(
      t.doc.send(
        new PutCommand({ TableName: t.tableName, Item: { pk: 'a', sk: 'b', v: 2 }, ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    ).rejects.toThrow(/conditional/i);
    const got = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: 'a', sk: 'b' } }));
    expect(got.Item?.v).toBe(1);
  });
});
