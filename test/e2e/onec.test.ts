/**
 * The 1C exchange end to end: the local runner (HTTP front, fauxqs, the worker, dynalite), the
 * sandbox as amoCRM and the test 1C server. The sample course over HTTP → 202 → the worker → the
 * status answers the element's id; again → updated; doubles → one; delete → gone. A deal moved
 * to the trigger status → exported once, ids written back; 1C down → retried, then parked, with a
 * note and a task on the lead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestOnec, type TestOnec } from '../../infra/local/onec/server.ts';
import { LOCAL_ONEC, localOnecSection, seedLocalOnec } from '../../infra/local/onec/world.ts';
import { sampleCourseForm, SAMPLE_UID } from '../onec/support.ts';
import { startWorld, useWorlds, waitFor, type World } from './support.ts';

useWorlds();
let onec: TestOnec | undefined;
afterEach(async () => {
  await onec?.close();
  onec = undefined;
});

const KEY = 'e2e-onec-key-0123456789';
const F = LOCAL_ONEC;

async function world(): Promise<World> {
  onec = await startTestOnec({ password: 'pw-1c' });
  const w = await startWorld({
    amocrm: { onec: localOnecSection(onec.baseUrl), extraSecrets: { 'onec/erp-key': KEY, 'onec/1c-password': 'pw-1c' } },
    retry: { baseSeconds: 1, capSeconds: 1 },
  });
  // The test's own REST reads share the integration's 7/s with the gateway: room for both.
  w.sandbox.admin.setLimits({ perIntegrationPerSecond: 100, perAccountPerSecond: 100 });
  seedLocalOnec(w.sandbox.admin);
  return w;
}

async function call(w: World, method: string, path: string, body?: string, type = 'application/x-www-form-urlencoded') {
  const r = await fetch(`${w.runner.url}${path}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

async function done(w: World, accepted: { status: number; json: Record<string, unknown> }) {
  expect(accepted.status).toBe(202);
  const id = String(accepted.json.request_id);
  return waitFor(async () => {
    const s = await call(w, 'GET', `/1c/requests/${id}`);
    return s.json.status === 'done' ? s.json : undefined;
  }, `request ${id} done`);
}

async function leadNotes(w: World): Promise<string[]> {
  const token = w.sandbox.admin.issueLongLivedToken().access_token;
  const r = await fetch(`${w.sandbox.url}/api/v4/leads/8001/notes`, { headers: { authorization: `Bearer ${token}` } });
  if (r.status === 204) return [];
  const j = (await r.json()) as { _embedded: { notes: Array<{ params?: { text?: string } }> } };
  return j._embedded.notes.map((n) => String(n.params?.text ?? ''));
}

describe('the 1C exchange through the local runner', () => {
  it('course upsert → the right price; again → updated; doubles → one; delete → gone; a deal at the trigger status → exported once, ids written back', async () => {
    const w = await world();
    const mgr = await call(w, 'GET', '/1c/managers');
    expect(mgr.status).toBe(200);
    expect((mgr.json as unknown as Array<{ id: number }>).map((u) => u.id)).toEqual([1001, 1002, 1003]);
    const first = await done(w, await call(w, 'POST', '/1c/update_course', sampleCourseForm().toString()));
    const [ids] = first.amo_ids as Array<{ account_id: number; entity_id: number }>;
    expect(ids!.account_id).toBe(w.sandbox.accounts[0]!.id);
    const again = await done(w, await call(w, 'POST', '/1c/course', sampleCourseForm({ 'ItemPrices[2][Price]': '2600' }).toString()));
    expect(again.amo_ids).toEqual(first.amo_ids);
    expect((again.accounts as Array<{ action: string }>)[0]!.action).toBe('updated');

    // The REST view of the element: one, with the price the rule picked.
    const token = w.sandbox.admin.issueLongLivedToken().access_token;
    const rest = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${w.sandbox.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return r.status === 204
        ? undefined
        : ((await r.json()) as {
            _embedded?: {
              elements?: Array<{ id: number; custom_fields_values: Array<{ field_id: number; values: Array<{ value: unknown }> }> }>;
            };
          });
    };
    const list = await rest('GET', `/api/v4/catalogs/${F.catalog}/elements`);
    if (!list?._embedded) throw new Error(JSON.stringify(list));
    expect(list?._embedded?.elements).toHaveLength(1);
    expect(Number(list!._embedded!.elements![0]!.custom_fields_values.find((f) => f.field_id === F.price)?.values[0]?.value)).toBe(2600);

    // Doubles (made by hand in amoCRM) → one left, the oldest.
    const uidCf = [{ field_id: F.uid, values: [{ value: SAMPLE_UID }] }];
    await rest('POST', `/api/v4/catalogs/${F.catalog}/elements`, [
      { name: 'double', custom_fields_values: uidCf },
      { name: 'double 2', custom_fields_values: uidCf },
    ]);
    const doubles = await done(w, await call(w, 'POST', '/1c/delete_doubles', JSON.stringify({ uid: SAMPLE_UID }), 'application/json'));
    expect((doubles.accounts as Array<{ kept: number; deleted: number[] }>)[0]).toMatchObject({
      kept: ids!.entity_id,
      deleted: expect.any(Array),
    });
    expect((await rest('GET', `/api/v4/catalogs/${F.catalog}/elements`))?._embedded?.elements?.map((e) => e.id)).toEqual([ids!.entity_id]);

    // The deal: the course linked to lead 8001, moved to the trigger status → exported once.
    await rest('POST', `/api/v4/leads/8001/link`, [
      { to_entity_id: ids!.entity_id, to_entity_type: 'catalog_elements', metadata: { catalog_id: F.catalog, quantity: 1 } },
    ]);
    await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    const lead = await waitFor(() => {
      const l = w.sandbox.admin.lead(8001) as
        { custom_fields_values?: Array<{ field_id: number; values: Array<{ value: unknown }> }> } | undefined;
      return l?.custom_fields_values?.find((f) => f.field_id === F.lead1c) ? l : undefined;
    }, 'the 1C id on the lead');
    const app = onec!.calls.find((c) => c.method === 'EditApplication');
    expect(String(lead.custom_fields_values!.find((f) => f.field_id === F.lead1c)!.values[0]!.value)).toMatch(/^[0-9a-f-]{36}$/);
    expect(app?.body).toMatchObject({ product_id_1C: SAMPLE_UID, amo_ids: [{ account_id: ids!.account_id, entity_id: 8001 }] });
    await w.sandbox.admin.flushWebhooks();
    await new Promise((r) => setTimeout(r, 1500));
    expect(onec!.calls.map((c) => c.method)).toEqual(['EditStudent', 'EditApplication']);
    expect((await leadNotes(w)).some((t) => t.startsWith('Сделка перенесена в 1С'))).toBe(true);

    // delete → gone.
    await done(w, await call(w, 'POST', '/1c/delete_course', `uid=${SAMPLE_UID}`));
    expect(await rest('GET', `/api/v4/catalogs/${F.catalog}/elements`)).toBeUndefined();
  });

  it('1C down: the export is retried, then parked; the lead has notes and one task for the configured user', async () => {
    const w = await world();
    const first = await done(w, await call(w, 'POST', '/1c/course', sampleCourseForm().toString()));
    const [ids] = first.amo_ids as Array<{ entity_id: number }>;
    const token = w.sandbox.admin.issueLongLivedToken().access_token;
    await fetch(`${w.sandbox.url}/api/v4/leads/8001/link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        { to_entity_id: ids!.entity_id, to_entity_type: 'catalog_elements', metadata: { catalog_id: F.catalog, quantity: 1 } },
      ]),
    });
    onec!.down = true;
    await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    const parked = await waitFor(
      async () => {
        const l = await w.runner.dlqIndex.list({ queue: 'amocrm-hooks' });
        return l.length ? l : undefined;
      },
      'the parked export',
      30_000,
    );
    expect(parked[0]).toMatchObject({ reason: 'out-of-attempts' });
    expect((await leadNotes(w)).filter((t) => t.startsWith('Не удалось перенести сделку в 1С')).length).toBeGreaterThanOrEqual(2);
    const tasks = w.sandbox.admin.entities('tasks').filter((t) => t.entity_id === 8001);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ text: 'Ошибка при переносе в 1С', responsible_user_id: 1001 });
    expect(onec!.calls).toHaveLength(0);
  }, 60_000);
});
