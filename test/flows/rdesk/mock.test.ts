/**
 * mock-lead-id mode: each RDESK lead_id N is the lead named exactly `ID_N`, created in the mock
 * pipeline/status when missing; the map lives in the DynamoDB table (a conditional claim), so
 * concurrent deliveries in two "containers" create each stand-in once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoIdempotency } from '../../../lib/store/idempotency.ts';
import { DynamoLeadMap } from '../../../lib/store/rdesk-lead-map.ts';
import { createTestTable, type TestTable } from '../../support/ddb.ts';
import { processors, rdeskConfig, rdeskEnvelope, runBatch, sample, world, type World } from './support.ts';

let w: World | undefined;
let table: TestTable;
beforeAll(async () => {
  table = await createTestTable('rdesk');
});
afterAll(() => table.client.destroy());
afterEach(async () => {
  await w?.sb.close();
  w = undefined;
});

describe('mock-lead-id mode (sandbox + DynamoDB)', () => {
  it('100 pushes for 20 unknown lead ids, each delivered twice to two containers at once → exactly 20 stand-in leads (exact names; a look-alike ignored)', async () => {
    // A look-alike the old gateway's "first search hit" would have taken for ID_7001.
    w = await world([], [{ name: 'ID_70010' }]);
    const pipeline = (w.sb.admin.state() as { pipelines: Array<{ id: number; statuses: Array<{ id: number }> }> }).pipelines[0]!;
    const cfg = rdeskConfig({ mockLeadId: { pipelineId: pipeline.id, statusId: pipeline.statuses[1]!.id } });
    const containers = [0, 1].map(() =>
      processors(w!, cfg, {
        leadMap: new DynamoLeadMap({ doc: table.doc, tableName: table.tableName }),
        guard: createDynamoIdempotency({ client: table.client, tableName: table.tableName }),
      }),
    );
    const ids = Array.from({ length: 20 }, (_, i) => 7001 + i);
    const envs = Array.from({ length: 100 }, (_, i) =>
      rdeskEnvelope('zdrav-booked', sample('booked', { lead_id: String(ids[i % 20]), money: { total: 1000, paid: i } })),
    );
    // Every message delivered to both containers concurrently (SQS at-least-once), then redelivered until done.
    let pending = envs;
    for (let round = 0; pending.length && round < 10; round++) {
      const [a, b] = await Promise.all(containers.map((c) => runBatch(c, pending)));
      pending = pending.filter((_, i) => a![i]!.action.kind !== 'delete' && b![i]!.action.kind !== 'delete');
      for (const r of [...a!, ...b!]) expect(r.action.kind === 'park' ? r.action : 'not parked').toBe('not parked');
    }
    expect(pending).toHaveLength(0);
    const standIns = w.sb.admin.entities('leads').filter((l) => String(l.name).startsWith('ID_'));
    expect(standIns.map((l) => l.name).sort()).toEqual([...ids.map((id) => `ID_${id}`), 'ID_70010'].sort());
    for (const id of ids) {
      const made = standIns.filter((l) => l.name === `ID_${id}`);
      expect(made).toHaveLength(1);
      expect(made[0]).toMatchObject({ pipeline_id: pipeline.id, status_id: pipeline.statuses[1]!.id });
      // One of its own pushes (paid k, 20 + k, …). Which one: two containers wrote the same leads at once, and
      // this test wires no push order store (order.test.ts covers ordering across containers).
      const paid = (made[0]!.custom_fields_values as Array<{ field_id: number; values: Array<{ value: unknown }> }>).find(
        (f) => f.field_id === w!.fieldId('Оплачено'),
      )?.values[0]?.value;
      expect(Number(paid) % 20).toBe(id - 7001);
    }
    // The look-alike was left alone.
    expect(w.sb.admin.entities('leads').find((l) => l.name === 'ID_70010')?.price ?? 0).toBe(0);
  });

  it('an existing ID_<lead_id> lead (exact name) is used, not duplicated, and the mapping is stored once', async () => {
    w = await world([], [{ name: 'ID_9001' }, { name: 'ID_90011' }]);
    const existing = w.sb.admin.entities('leads').find((l) => l.name === 'ID_9001')!;
    const map = new DynamoLeadMap({ doc: table.doc, tableName: table.tableName });
    const procs = processors(w, rdeskConfig({ mockLeadId: {} }), { leadMap: map });
    const r = await runBatch(procs, [rdeskEnvelope('zdrav-booked', sample('booked', { lead_id: 9001 }))]);
    expect(r.map((x) => x.outcome)).toEqual(['ok']);
    expect(await map.get('acc1', 9001)).toBe(existing.id);
    expect(w.sb.admin.entities('leads').filter((l) => l.name === 'ID_9001')).toHaveLength(1);
    expect(w.sb.admin.lead(existing.id as number)).toMatchObject({ price: 153887 });
  });

  it('replay after lead-not-found re-runs only the failed element: the done sibling is skipped (per-element idempotency records)', async () => {
    w = await world([], [{ id: 6001, name: 'A' }]);
    const guard = createDynamoIdempotency({ client: table.client, tableName: table.tableName });
    const procs = processors(w, rdeskConfig(), { guard });
    const a = JSON.parse(sample('booked', { lead_id: 6001 }))[0];
    const b = JSON.parse(sample('booked', { lead_id: 6002, money: { total: 777, paid: 7 } }))[0];
    const env = rdeskEnvelope('zdrav-booked', JSON.stringify([a, b]));
    const [first] = await runBatch(procs, [env]);
    expect(first!.action).toMatchObject({ kind: 'park', reason: 'lead-not-found' });
    expect(w.sb.admin.lead(6001)).toMatchObject({ price: 153887 });
    // Someone edits lead A by hand; lead B is created; the parked message is replayed as it was.
    const api = w.client.forAccount({ clientId: 'client-test', accountKey: 'acc1' });
    await api.leads.update([{ id: 6001, price: 5 }]);
    w.sb.admin.seed({ leads: [{ id: 6002, name: 'B' }] });
    // Replayed into another container (nothing cached): only the idempotency records can skip element 0.
    const other = processors(w, rdeskConfig(), { guard: createDynamoIdempotency({ client: table.client, tableName: table.tableName }) });
    const [again] = await runBatch(other, [env]);
    expect(again!.outcome).toBe('ok');
    expect(w.sb.admin.lead(6002)).toMatchObject({ price: 777 });
    expect(w.sb.admin.lead(6001)).toMatchObject({ price: 5 }); // element 0 was done: not re-applied
  });
});
