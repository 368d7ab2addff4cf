/**
 * Ordering across containers: two independent processor instances (own client, own writer, own
 * lead cache) over the same DynamoDB table and sandbox receive an older and a newer push for one
 * lead; whatever the order and interleaving, the lead ends at the newer push. A PATCH is held at
 * the network (the container's fetch) to force the interleavings.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AmoClient } from '../../../lib/amocrm/client/client.ts';
import type { FetchLike } from '../../../lib/amocrm/client/types.ts';
import { DynamoPushOrder } from '../../../lib/store/rdesk-push-order.ts';
import { fastClient } from '../../client/support.ts';
import { createTestTable, type TestTable } from '../../support/ddb.ts';
import { processors, rdeskConfig, rdeskEnvelope, runBatch, sample, world, type World } from './support.ts';

let w: World | undefined;
let table: TestTable;
// A table per test: every test's sandbox numbers its lead from the same start.
beforeEach(async () => {
  table = await createTestTable('rdesk-order');
});
afterEach(async () => {
  table.client.destroy();
  await w?.sb.close();
  w = undefined;
});

/** A fetch that holds PATCH /api/v4/leads while the gate is shut; `reached` resolves when one waits. */
function gatedFetch() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  let reached!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  let patches = 0;
  const f: FetchLike = async (input, init) => {
    if (init?.method === 'PATCH' && String(input).includes('/api/v4/leads')) {
      patches++;
      reached();
      await opened;
    }
    return fetch(input, init);
  };
  return { fetch: f, open, atGate, patches: () => patches };
}

interface Container {
  procs: ReturnType<typeof processors>;
  client: AmoClient;
  gate: ReturnType<typeof gatedFetch>;
}

function container(over: { orderHoldMs?: number; orderWaitMs?: number } = {}): Container {
  const gate = gatedFetch();
  const { client } = fastClient(w!.sb, { fetch: gate.fetch });
  const procs = processors(w!, rdeskConfig(), {
    clientFor: () => client.forAccount({ clientId: 'client-test', accountKey: 'acc1' }),
    order: new DynamoPushOrder({ doc: table.doc, tableName: table.tableName }),
    orderHoldMs: over.orderHoldMs ?? 800,
    orderWaitMs: over.orderWaitMs ?? 5_000,
  });
  return { procs, client, gate };
}

const OLDER = { bookedAt: '2026-08-01T10:00:00Z', money: { total: 1000, paid: 100 } };
const NEWER = { bookedAt: '2026-08-01T11:00:00Z', money: { total: 2000, paid: 200 } };

async function lead(): Promise<number> {
  w = await world([], [{ name: 'L' }]);
  return w.sb.admin.entities('leads').find((l) => l.name === 'L')!.id as number;
}
const push = (id: number, p: typeof OLDER) => rdeskEnvelope('zdrav-booked', sample('booked', { lead_id: String(id), ...p }));
function paidOf(id: number): unknown {
  const l = w!.sb.admin.entities('leads').find((x) => x.id === id)!;
  const f = (l.custom_fields_values as Array<{ field_id: number; values: Array<{ value: unknown }> }> | null)?.find(
    (x) => x.field_id === w!.fieldId('Оплачено'),
  );
  return { price: l.price, paid: f ? Number(f.values[0]?.value) : undefined };
}
const AT_NEWER = { price: 2000, paid: 200 };
const kinds = (rs: Awaited<ReturnType<typeof runBatch>>) => rs.map((r) => r.action.kind);

describe('RDESK ordering across containers (sandbox + DynamoDB)', () => {
  it('newer applied by one container, then the older by another: skipped as ok, no PATCH, the lead stays at the newer', async () => {
    const id = await lead();
    const [a, b] = [container(), container()];
    a.gate.open();
    b.gate.open();
    expect(kinds(await runBatch(b.procs, [push(id, NEWER)]))).toEqual(['delete']);
    expect(kinds(await runBatch(a.procs, [push(id, OLDER)]))).toEqual(['delete']);
    expect(a.gate.patches()).toBe(0);
    expect(paidOf(id)).toEqual(AT_NEWER);
  });

  it("older container's PATCH held while the newer arrives: the newer waits for the older's lease, then lands last", async () => {
    const id = await lead();
    const [a, b] = [container(), container()];
    b.gate.open();
    const older = runBatch(a.procs, [push(id, OLDER)]);
    await a.gate.atGate; // the older claimed its slot and its PATCH is in flight
    const newer = runBatch(b.procs, [push(id, NEWER)]);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.gate.patches()).toBe(0); // the newer did not write under the older's in-flight PATCH
    a.gate.open();
    expect(kinds(await older)).toEqual(['delete']);
    expect(kinds(await newer)).toEqual(['delete']);
    expect(b.gate.patches()).toBe(1);
    expect(paidOf(id)).toEqual(AT_NEWER);
  });

  it("older container's PATCH held and the lease outlives the wait: the newer is deferred, and its redelivery lands", async () => {
    const id = await lead();
    const a = container({ orderHoldMs: 1_500 });
    const b = container({ orderWaitMs: 0 });
    b.gate.open();
    const older = runBatch(a.procs, [push(id, OLDER)]);
    await a.gate.atGate;
    const env = push(id, NEWER);
    const deferred = (await runBatch(b.procs, [env]))[0]!;
    expect(deferred.action).toMatchObject({ kind: 'resend', cause: 'defer' });
    expect(deferred.outcome).toBe('defer');
    expect(JSON.stringify(deferred.action)).toContain('rdesk-order-busy');
    a.gate.open();
    expect(kinds(await older)).toEqual(['delete']);
    await new Promise((r) => setTimeout(r, 1_600)); // the older's lease ends (SQS brings the message back)
    expect(kinds(await runBatch(b.procs, [env]))).toEqual(['delete']);
    expect(paidOf(id)).toEqual(AT_NEWER);
  });

  it("newer container's PATCH held while the older arrives: the older is skipped at once, without a PATCH", async () => {
    const id = await lead();
    const [a, b] = [container(), container()];
    a.gate.open();
    const newer = runBatch(b.procs, [push(id, NEWER)]);
    await b.gate.atGate;
    expect(kinds(await runBatch(a.procs, [push(id, OLDER)]))).toEqual(['delete']);
    expect(a.gate.patches()).toBe(0);
    b.gate.open();
    expect(kinds(await newer)).toEqual(['delete']);
    expect(paidOf(id)).toEqual(AT_NEWER);
  });

  it('both at once, either container first, five rounds: the lead always ends at the newer push', async () => {
    const id = await lead();
    for (let round = 0; round < 5; round++) {
      const [a, b] = [container(), container()];
      a.gate.open();
      b.gate.open();
      // Each round's pair is newer than the last round's (the slot only moves forward).
      const hour = (h: number) => `2026-08-0${round + 1}T${String(h).padStart(2, '0')}:00:00Z`;
      const older = { bookedAt: hour(10), money: { total: 1000 + round, paid: 100 + round } };
      const newerP = { bookedAt: hour(11), money: { total: 2000 + round, paid: 200 + round } };
      const jobs = [() => runBatch(a.procs, [push(id, older)]), () => runBatch(b.procs, [push(id, newerP)])];
      const rs = await Promise.all(round % 2 ? jobs.reverse().map((j) => j()) : jobs.map((j) => j()));
      expect(rs.map(kinds).flat()).toEqual(['delete', 'delete']);
      expect(paidOf(id)).toEqual({ price: 2000 + round, paid: 200 + round });
    }
  });

  it('a failed write does not block later pushes: the slot is given back, an older push then applies at once, and the failed push on redelivery', async () => {
    const id = await lead();
    const a = container({ orderHoldMs: 60_000 });
    const b = container({ orderWaitMs: 0 });
    a.gate.open();
    b.gate.open();
    w!.sb.admin.setFaults([{ path: '/api/v4/leads', method: 'PATCH', errorRate: 1, errorStatus: 500 }]);
    const failed = push(id, NEWER);
    const r1 = await runBatch(a.procs, [failed]);
    expect(r1[0]!.action.kind).toBe('resend');
    w!.sb.admin.setFaults([]);
    // Another container, no waiting: the failed claim's lease (60 s) was given back, and its key too.
    expect(kinds(await runBatch(b.procs, [push(id, OLDER)]))).toEqual(['delete']);
    expect(paidOf(id)).toEqual({ price: 1000, paid: 100 });
    // The failed push's redelivery (to either container) still applies.
    expect(kinds(await runBatch(b.procs, [failed]))).toEqual(['delete']);
    expect(paidOf(id)).toEqual(AT_NEWER);
  });

  it('a newer push whose PATCH landed but failed at the client: its redelivery finds the lead unchanged and still claims the order, so an older push after it is stale', async () => {
    // Found by the --full fault suite (one deal left on its older push): the failed PATCH gave its
    // slot back, the redelivery of the newer push had nothing to write and claimed nothing, and
    // the older push, replayed later, claimed the empty slot and overwrote the newer values.
    const id = await lead();
    const [a, b, c] = [container(), container({ orderWaitMs: 0 }), container({ orderWaitMs: 0 })];
    for (const x of [a, b, c]) x.gate.open();
    w!.sb.admin.setFaults([{ path: '/api/v4/leads', method: 'PATCH', lostAnswerRate: 1, lostAnswer: 'drop', times: 20 }]);
    const newer = push(id, NEWER);
    expect((await runBatch(a.procs, [newer]))[0]!.action.kind).toBe('resend');
    w!.sb.admin.setFaults([]);
    expect(paidOf(id)).toEqual(AT_NEWER); // applied, though the client never saw an answer
    expect(kinds(await runBatch(b.procs, [newer]))).toEqual(['delete']);
    expect(b.gate.patches()).toBe(0); // nothing to write
    expect(kinds(await runBatch(c.procs, [push(id, OLDER)]))).toEqual(['delete']);
    expect(c.gate.patches()).toBe(0);
    expect(paidOf(id)).toEqual(AT_NEWER);
  });

  it('a redelivery of the applied push (same key) is written again, not skipped', async () => {
    const id = await lead();
    const [a, b] = [container(), container()];
    a.gate.open();
    b.gate.open();
    const env = push(id, NEWER);
    expect(kinds(await runBatch(a.procs, [env]))).toEqual(['delete']);
    // Someone edits the lead by hand; the redelivery (equal key) is not refused as stale.
    await w!.client.forAccount({ clientId: 'client-test', accountKey: 'acc1' }).leads.update([{ id, price: 5 }]);
    await new Promise((r) => setTimeout(r, 900)); // a's lease ends
    expect(kinds(await runBatch(b.procs, [env]))).toEqual(['delete']);
    expect(paidOf(id)).toEqual(AT_NEWER);
  });
});
