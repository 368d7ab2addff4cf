/**
 * amoCRM → 1C against the sandbox and the test 1C server (real sockets): exported once with the
 * ids written back and a note; a repeated trigger exports nothing; 1C down → a note and one task,
 * retried; 1C refusing → parked; a deal without products → parked with the old note.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestOnec, type TestOnec } from '../../infra/local/onec/server.ts';
import { parseBracketForm } from '../../lib/flows/onec/body.ts';
import { upsertCourse } from '../../lib/flows/onec/catalog.ts';
import { courseSchema } from '../../lib/flows/onec/course.ts';
import { MemoryExportLedger, NOTE_EXPORTED, NOTE_FAILED, NOTE_NO_PRODUCTS, TASK_TEXT } from '../../lib/flows/onec/export.ts';
import { exportNow, registerOnecFlow, statusChangeKey, type OnecFlowDeps } from '../../lib/flows/onec/flow.ts';
import { FlowRegistry } from '../../lib/ingest/flows.ts';
import { PermanentError, RetryableError } from '../../lib/pipeline/outcome.ts';
import type { AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import {
  ADMIN,
  EXPORT_FIELDS,
  MANAGER,
  onecConfig,
  onecWorld,
  PIPELINE,
  RETAIL,
  sampleCourseForm,
  STATUS_NEW,
  STATUS_WON_TRIGGER,
  type OnecWorld,
} from './support.ts';

let w: OnecWorld;
let onec: TestOnec;
let deps: OnecFlowDeps;
let ledger: MemoryExportLedger;
let retail: AmoClientForAccount;

beforeEach(async () => {
  w = await onecWorld();
  onec = await startTestOnec({ password: 'pw-1c' });
  const cfg = onecConfig({ baseUrl: onec.baseUrl });
  ledger = new MemoryExportLedger();
  deps = {
    outbound: { ...cfg.outbound!, timeoutMs: 2000 },
    secrets: { get: async (n) => (n === 'onec/1c-password' ? 'pw-1c' : Promise.reject(new Error(n))) },
    clientFor: w.clientFor,
    ledger,
  };
  retail = w.clientFor('retail');
  await upsertCourse(w, cfg.catalog!, courseSchema.parse(parseBracketForm(sampleCourseForm().toString())), ['retail']);
});
afterEach(async () => {
  await onec.close();
  await w.close();
});

async function deal(opts: { company?: boolean; products?: boolean } = {}): Promise<number> {
  const [contact] = await retail.contacts.add([
    { name: 'Иванова Мария', custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+79161234567', enum_code: 'WORK' }] }] },
  ]);
  const company = opts.company
    ? (
        await retail.companies.add([
          { name: 'ООО Ромашка', custom_fields_values: [{ field_id: EXPORT_FIELDS.inn, values: [{ value: '7701234567' }] }] },
        ])
      )[0]
    : undefined;
  const [lead] = await retail.leads.add([
    {
      name: 'Курс',
      price: 2500,
      pipeline_id: PIPELINE,
      status_id: STATUS_NEW,
      responsible_user_id: MANAGER,
      _embedded: { contacts: [{ id: contact!.id, is_main: true }], ...(company ? { companies: [{ id: company.id }] } : {}) },
    },
  ]);
  if (opts.products !== false) {
    let el = 0;
    for await (const e of retail.catalogs.elements(RETAIL.catalog).list()) el = e.id;
    await retail
      .links('leads')
      .link(lead!.id, [{ to_entity_id: el, to_entity_type: 'catalog_elements', metadata: { catalog_id: RETAIL.catalog, quantity: 1 } }]);
  }
  return lead!.id;
}

const notesOf = async (leadId: number) => {
  const out: string[] = [];
  for await (const n of retail.notes('leads').list(leadId)) out.push(String((n.params as { text?: string } | undefined)?.text ?? ''));
  return out;
};
const tasksOf = async (leadId: number) => {
  const out: Array<{ text?: string; responsible_user_id?: number }> = [];
  for await (const t of retail.tasks.list({ filter: { entity_type: 'leads', entity_id: [leadId] } })) out.push(t);
  return out;
};
const cfOf = (
  e: { custom_fields_values?: Array<{ field_id: number; values: Array<{ value?: unknown }> }> | null } | undefined,
  id: number,
) => e?.custom_fields_values?.find((f) => f.field_id === id)?.values[0]?.value;

describe('deal export to 1C', () => {
  it('exports contact, company and application once; writes the 1C ids back; a note; the same trigger again exports nothing', async () => {
    const leadId = await deal({ company: true });
    const acc = deps.outbound.accounts[0]!;
    const r = await exportNow(deps, acc, leadId, 'k1');
    expect(r.exported).toBe(true);
    expect(onec.calls.map((c) => c.method)).toEqual(['EditStudent', 'EditPartner', 'EditApplication']);
    const app = onec.calls[2]!.body;
    expect(app).toMatchObject({
      amo_ids: [{ account_id: RETAIL.id, entity_id: leadId }],
      product_id_1C: 'df5f07f7-5821-11eb-86f0-82172a65f31e',
      client_id_1C: r.client_id_1C,
      company_id_1C: r.company_id_1C,
      is_corporate: true,
      organization: 'НОЧУ ДПО МЦПО',
      lead_status: 'ВРаботе',
      price: 2500,
      responsible_user: 'Киреева А.',
    });
    expect(onec.calls[0]!.body).toMatchObject({ phone: '+79161234567', name: 'Иванова Мария' });
    expect(onec.calls[1]!.body).toMatchObject({ inn: '7701234567', name: 'ООО Ромашка' });

    const lead = await retail.leads.get(leadId, { with: ['contacts'], cache: false });
    expect(cfOf(lead, EXPORT_FIELDS.lead1c)).toBe(r.lead_id_1C);
    const contact = await retail.contacts.get(lead!._embedded!.contacts![0]!.id, { cache: false });
    expect(cfOf(contact, EXPORT_FIELDS.client1c)).toBe(r.client_id_1C);
    expect(await notesOf(leadId)).toContain(`${NOTE_EXPORTED}: ${r.lead_id_1C}`);

    const again = await exportNow(deps, acc, leadId, 'k1');
    expect(again.exported).toBe(false);
    expect(onec.calls).toHaveLength(3);
  });

  it('the flow fires on the trigger status only, keyed by the status change (a redelivery exports nothing)', async () => {
    const leadId = await deal();
    const registry = registerOnecFlow(new FlowRegistry(), deps);
    const flow = registry.for('lead.status')[0]!;
    const ctx = {
      account: { id: 'retail' },
      requestId: 'r',
      receivedAt: 0,
      stepKey: 's',
      log: console,
      now: Date.now,
    } as unknown as Parameters<(typeof flow)['handle']>[1];
    const ev = (status: number, rid: string) =>
      ({
        kind: 'lead.status',
        data: { id: leadId, status_id: status, pipeline_id: PIPELINE, updated_at: 1700000000 },
        idempotencyKey: rid,
      }) as unknown as Parameters<(typeof flow)['handle']>[0];
    await flow!.handle(ev(STATUS_NEW, 'a'), ctx);
    expect(onec.calls).toHaveLength(0);
    await flow!.handle(ev(STATUS_WON_TRIGGER, 'b'), ctx);
    await flow!.handle(ev(STATUS_WON_TRIGGER, 'c'), ctx); // amoCRM's redelivery, a new request id
    expect(onec.calls.map((c) => c.method)).toEqual(['EditStudent', 'EditApplication']);
    expect(onec.calls[1]!.body).toMatchObject({ is_corporate: false, company_id_1C: onec.calls[1]!.body.client_id_1C });
    expect(ledger.items.has(statusChangeKey('retail', { id: leadId, status_id: STATUS_WON_TRIGGER, updated_at: 1700000000 }))).toBe(true);
  });

  it('1C down: RetryableError, a note each time, ONE task for the configured user; back up → exported once', async () => {
    const leadId = await deal();
    const acc = deps.outbound.accounts[0]!;
    onec.down = true;
    for (let i = 0; i < 3; i++) await expect(exportNow(deps, acc, leadId, 'k2')).rejects.toBeInstanceOf(RetryableError);
    expect((await notesOf(leadId)).filter((n) => n.startsWith(NOTE_FAILED))).toHaveLength(3);
    const tasks = await tasksOf(leadId);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ text: TASK_TEXT, responsible_user_id: ADMIN });
    onec.down = false;
    const r = await exportNow(deps, acc, leadId, 'k2');
    expect(r.exported).toBe(true);
    expect(onec.calls.map((c) => c.method)).toEqual(['EditStudent', 'EditApplication']);
  });

  it('a crash between 1C answering and the write-back: the retry reuses the recorded 1C ids (no second application)', async () => {
    const leadId = await deal();
    const acc = deps.outbound.accounts[0]!;
    const failing: OnecFlowDeps = {
      ...deps,
      clientFor: (a) => ({
        ...w.clientFor(a),
        leads: new Proxy(w.clientFor(a).leads, {
          get: (t, p) =>
            p === 'update'
              ? async () => {
                  throw new Error('amoCRM 502');
                }
              : Reflect.get(t, p, t),
        }),
      }),
    };
    await expect(exportNow(failing, acc, leadId, 'k3')).rejects.toThrow(/502/);
    expect(onec.calls.map((c) => c.method)).toEqual(['EditStudent', 'EditApplication']);
    const r = await exportNow(deps, acc, leadId, 'k3');
    expect(r.exported).toBe(true);
    expect(onec.calls).toHaveLength(2);
    expect(cfOf(await retail.leads.get(leadId, { cache: false }), EXPORT_FIELDS.lead1c)).toBe(r.lead_id_1C);
  });

  it('no products: parked with the old note, nothing sent to 1C; wrong 1C password: retried (ops must fix it)', async () => {
    const bare = await deal({ products: false });
    const acc = deps.outbound.accounts[0]!;
    const e = await exportNow(deps, acc, bare, 'k4').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PermanentError);
    expect((e as PermanentError).reason).toBe('onec-no-products');
    expect(await notesOf(bare)).toContain(NOTE_NO_PRODUCTS);
    expect(onec.calls).toHaveLength(0);
    const wrong = { ...deps, secrets: { get: async () => 'nope' } };
    await expect(exportNow(wrong, acc, await deal(), 'k5')).rejects.toBeInstanceOf(RetryableError);
  });
});
