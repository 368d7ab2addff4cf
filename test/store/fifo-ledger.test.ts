/** The FIFO ledger's DynamoDB adapter on DynamoDB Local: counts apart, concurrent adds, forget, expiry, failures typed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FifoLedgerError } from '../../lib/pipeline/fifo-ledger.ts';
import { DynamoFifoLedger } from '../../lib/store/fifo-ledger.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

let table: TestTable;
let clock = Date.UTC(2026, 0, 15);
let ledger: DynamoFifoLedger;
beforeAll(async () => {
  table = await createTestTable('fifo-ledger');
  ledger = new DynamoFifoLedger({ doc: table.doc, tableName: table.tableName, now: () => clock, retentionDays: 1 });
});
afterAll(() => table.client.destroy());

describe('DynamoFifoLedger', () => {
  it('counts retries and deferrals apart, per queue and message; concurrent adds all count', async () => {
    expect(await ledger.get('chat', 'm-1')).toEqual({ attempts: 0, deferrals: 0 });
    expect(await ledger.add('chat', 'm-1', 'deferrals')).toEqual({ attempts: 0, deferrals: 1 });
    await Promise.all(Array.from({ length: 10 }, () => ledger.add('chat', 'm-1', 'deferrals')));
    expect(await ledger.add('chat', 'm-1', 'attempts')).toEqual({ attempts: 1, deferrals: 11 });
    expect(await ledger.get('other', 'm-1')).toEqual({ attempts: 0, deferrals: 0 });
    await ledger.forget('chat', 'm-1');
    expect(await ledger.get('chat', 'm-1')).toEqual({ attempts: 0, deferrals: 0 });
  });

  it('an item past its expiry reads as nothing (the emulators never delete it)', async () => {
    await ledger.add('chat', 'm-2', 'attempts');
    clock += 2 * 86_400_000;
    expect(await ledger.get('chat', 'm-2')).toEqual({ attempts: 0, deferrals: 0 });
  });

  it('a failing table is a FifoLedgerError naming the queue', async () => {
    const broken = new DynamoFifoLedger({ doc: table.doc, tableName: 'no-such-table' });
    await expect(broken.add('chat', 'm-3', 'attempts')).rejects.toThrow(FifoLedgerError);
    await expect(broken.get('chat', 'm-3')).rejects.toThrow(/queue "chat"/);
  });
});
