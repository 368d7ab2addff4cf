/**
 * The 1C API: the front door (auth by header or the old body `secret_key`, 400 naming fields, 401,
 * 202 + request id), the worker's processor over the sandbox's two accounts, and the status read
 * answering the amoCRM ids — records and the contact index on a real DynamoDB table.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../lib/common/log.ts';
import { createContactFinder } from '../../lib/contacts/index.ts';
import type { Envelope } from '../../lib/envelope.ts';
import { managers } from '../../lib/flows/onec/corp.ts';
import { handleOnec, type OnecIngressDeps, type OnecRoute } from '../../lib/flows/onec/ingress.ts';
import type { OnecJob } from '../../lib/flows/onec/job.ts';
import { createOnecProcessor } from '../../lib/flows/onec/processor.ts';
import type { ProcessorContext } from '../../lib/pipeline/registry.ts';
import { DynamoContactIndex } from '../../lib/store/contact-index.ts';
import { DynamoOnecRequests } from '../../lib/store/onec.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { CORP, EXPORT_FIELDS, MANAGER, onecConfig, onecWorld, RETAIL, SAMPLE_UID, sampleCourseForm, type OnecWorld } from './support.ts';

const KEY = 'k-erp-0123456789';
let table: TestTable;
let w: OnecWorld;
let queued: OnecJob[];
let deps: OnecIngressDeps;
let run: (job: OnecJob) => Promise<string>;

beforeAll(async () => {
  table = await createTestTable('onec');
});
afterAll(() => table.client.destroy());
beforeEach(async () => {
  w = await onecWorld();
  queued = [];
  const config = onecConfig();
  const requests = new DynamoOnecRequests({ doc: table.doc, tableName: table.tableName });
  deps = {
    config,
    secrets: { get: async (n) => (n === 'onec/erp-key' ? KEY : Promise.reject(new Error(`no secret ${n}`))) },
    requests,
    enqueue: async (job) => {
      queued.push(job);
    },
    managers: () => managers(w.clientFor('corp'), config.corp!),
  };
  const finder = createContactFinder({
    clientFor: w.clientFor,
    index: new DynamoContactIndex({ doc: table.doc, tableName: table.tableName }),
    log: silentLog,
    defaultCountry: 'RU',
  });
  const processor = createOnecProcessor({ config, clientFor: w.clientFor, requests, finder, defaultCountry: 'RU' });
  run = async (job) => {
    const ctx = { body: Buffer.from(JSON.stringify(job)), log: silentLog, now: Date.now } as unknown as ProcessorContext;
    return (await processor({} as Envelope, ctx)).kind;
  };
});
afterEach(async () => {
  await w.close();
});

const post = (op: string, body: string, headers: Record<string, string> = {}) =>
  handleOnec({ kind: 'operation', op }, { headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body }, deps);
const get = (route: OnecRoute, key = KEY) => handleOnec(route, { headers: { 'x-api-key': key }, body: '' }, deps);

describe('the 1C API', () => {
  it('update_course with the old body secret_key: 202 → the worker upserts in both accounts → the status answers the amo_ids', async () => {
    const body = sampleCourseForm({ secret_key: KEY }).toString();
    const a = await post('update_course', body);
    expect(a.status).toBe(202);
    const id = (a.body as { request_id: string }).request_id;
    expect(queued).toHaveLength(1);
    expect(queued[0]!.payload).not.toHaveProperty('secret_key');
    expect((await get({ kind: 'status', id })).body).toMatchObject({ status: 'queued', operation: 'course' });

    expect(await run(queued[0]!)).toBe('ok');
    const s = await get({ kind: 'status', id });
    expect(s.status).toBe(200);
    const amoIds = (s.body as { amo_ids: Array<{ account_id: number; entity_id: number }> }).amo_ids;
    expect(amoIds.map((x) => x.account_id)).toEqual([CORP.id, RETAIL.id]);

    // The same course again (1C sends back the ids we gave): updated, not duplicated.
    const again = sampleCourseForm();
    amoIds.forEach((x, i) => {
      again.set(`amo_ids[${i}][account_id]`, String(x.account_id));
      again.set(`amo_ids[${i}][entity_id]`, String(x.entity_id));
    });
    const b = await post('course', again.toString(), { 'x-api-key': KEY });
    expect(b.status).toBe(202);
    expect(await run(queued[1]!)).toBe('ok');
    const s2 = await get({ kind: 'status', id: (b.body as { request_id: string }).request_id });
    expect((s2.body as { amo_ids: unknown }).amo_ids).toEqual(amoIds);
    expect((s2.body as { accounts: Array<{ action: string }> }).accounts.map((x) => x.action)).toEqual(['updated', 'updated']);

    // delete by uid (JSON): gone from both accounts.
    const d = await handleOnec(
      { kind: 'operation', op: 'delete_course' },
      { headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ uid: SAMPLE_UID }) },
      deps,
    );
    expect(d.status).toBe(202);
    expect(await run(queued[2]!)).toBe('ok');
    const s3 = await get({ kind: 'status', id: (d.body as { request_id: string }).request_id });
    expect((s3.body as { accounts: Array<{ deleted: number[] }> }).accounts.map((x) => x.deleted.length)).toEqual([1, 1]);
  });

  it('401 without a key or with a wrong one (header or body); 400 names the fields; 404 for an unknown operation; another caller cannot read a status', async () => {
    expect((await post('course', sampleCourseForm().toString())).status).toBe(401);
    expect((await post('course', sampleCourseForm({ secret_key: 'nope' }).toString())).status).toBe(401);
    expect((await post('course', sampleCourseForm().toString(), { 'x-api-key': `${KEY}x` })).status).toBe(401);
    const bad = await post('course', 'name=&secret_key=' + KEY);
    expect(bad.status).toBe(400);
    expect((bad.body as { fields: Record<string, string> }).fields).toMatchObject({ product_id_1C: expect.any(String), name: 'required' });
    const json = await handleOnec(
      { kind: 'operation', op: 'course' },
      { headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: '{' },
      deps,
    );
    expect(json.status).toBe(400);
    expect((await post('nothing', `secret_key=${KEY}`)).status).toBe(404);
    expect(queued).toHaveLength(0);
    expect((await get({ kind: 'status', id: '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
    expect((await get({ kind: 'managers' }, 'wrong')).status).toBe(401);
  });

  it('corp lead: company by INN exactly, contact by verified phone, position, responsible; again → the same company and contact, a new lead', async () => {
    const body = {
      inn: '7701234567',
      company: 'ООО Ромашка',
      name: 'Петров Пётр',
      phone: '8 (916) 765-43-21',
      post: 'Директор',
      manager_id: MANAGER,
    };
    const send = async () => {
      const a = await handleOnec(
        { kind: 'operation', op: 'corpLead' },
        { headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify(body) },
        deps,
      );
      expect(a.status).toBe(202);
      expect(await run(queued[queued.length - 1]!)).toBe('ok');
      return (await get({ kind: 'status', id: (a.body as { request_id: string }).request_id })).body as Record<string, number>;
    };
    // A company whose INN merely contains the one sent is not it.
    await w
      .clientFor('corp')
      .companies.add([{ name: 'Другая', custom_fields_values: [{ field_id: EXPORT_FIELDS.inn, values: [{ value: '77012345670' }] }] }]);
    const first = await send();
    const second = await send();
    expect(second.company_id).toBe(first.company_id);
    expect(second.contact_id).toBe(first.contact_id);
    expect(second.lead_id).not.toBe(first.lead_id);
    const corp = w.clientFor('corp');
    const lead = await corp.leads.get(first.lead_id!, { with: ['contacts'], cache: false });
    expect(lead).toMatchObject({ responsible_user_id: MANAGER });
    const contact = await corp.contacts.get(first.contact_id!, { cache: false });
    expect(contact?.custom_fields_values?.find((f) => f.field_code === 'PHONE')?.values[0]?.value).toBe('+79167654321');
    expect(contact?.custom_fields_values?.find((f) => f.field_code === 'POSITION')?.values[0]?.value).toBe('Директор');

    const bad = await handleOnec(
      { kind: 'operation', op: 'corp-lead' },
      { headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ inn: '12', company: '', name: 'x' }) },
      deps,
    );
    expect((bad.body as { fields: Record<string, string> }).fields).toMatchObject({
      inn: expect.any(String),
      company: 'required',
      phone: expect.any(String),
    });
  });

  it('corp lead: a try that dies after the lead was added → the retry reuses it (no second lead)', async () => {
    const config = onecConfig();
    const store = new DynamoOnecRequests({ doc: table.doc, tableName: table.tableName });
    let failDone = true;
    const flaky = {
      get: (id: string) => store.get(id),
      put: async (rec: Parameters<typeof store.put>[0]) => {
        if (rec.state === 'done' && failDone) {
          failDone = false;
          throw new Error('the table is gone for a moment');
        }
        await store.put(rec);
      },
    };
    const finder = createContactFinder({
      clientFor: w.clientFor,
      index: new DynamoContactIndex({ doc: table.doc, tableName: table.tableName }),
      log: silentLog,
      defaultCountry: 'RU',
    });
    const processor = createOnecProcessor({ config, clientFor: w.clientFor, requests: flaky, finder, defaultCountry: 'RU' });
    const job = {
      v: 1 as const,
      id: '0b0c7a52-3f61-4e8e-9d3c-0a1b2c3d4e5f',
      caller: 'erp',
      op: 'corp-lead' as const,
      receivedAt: Date.now(),
      payload: { inn: '7709876543', company: 'ООО Лютик', name: 'Сидоров', email: 'sid@example.test' },
    };
    const ctx = { body: Buffer.from(JSON.stringify(job)), log: silentLog, now: Date.now } as unknown as ProcessorContext;
    expect((await processor({} as Envelope, ctx)).kind).toBe('retry');
    expect((await processor({} as Envelope, ctx)).kind).toBe('ok');
    const rec = await store.get(job.id);
    expect(rec?.state).toBe('done');
    const leads: number[] = [];
    for await (const l of w.clientFor('corp').leads.list({ query: 'ООО Лютик' })) leads.push(l.id);
    expect(leads).toEqual([rec!.result!.lead_id]);
  });

  it('managers: the configured users of the corp account', async () => {
    const m = await get({ kind: 'managers' });
    expect(m).toEqual({ status: 200, body: [{ id: MANAGER, name: 'Киреева А.', email: expect.any(String) }] });
  });
});
