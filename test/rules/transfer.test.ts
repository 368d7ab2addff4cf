/**
 * Transfer and sync back through the rule flow: two accounts ("retail", "corp") on one sandbox,
 * the state on DynamoDB Local. A retail lead reaching the transfer stage → one corp contact (the
 * existing one, whose phone is stored in another spelling) and one corp lead with the mapped
 * fields and back-links, the retail lead moved on; corp won → retail won with the corp price; corp
 * lost → retail lost; the same step run three times with a lost answer on the create → one lead.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AmoClient } from '../../lib/amocrm/client/client.ts';
import { MemoryBreakerStore } from '../../lib/amocrm/client/breaker-store.ts';
import { MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { MemoryRateBudget } from '../../lib/amocrm/client/rate-budget.ts';
import { AccountSchema, pullSchema } from '../../lib/amocrm/client/schema.ts';
import type { AccountRef } from '../../lib/amocrm/client/types.ts';
import type { WebhookEvent } from '../../lib/amocrm/webhooks/types.ts';
import { parseConfig } from '../../lib/config/index.ts';
import type { FlowContext } from '../../lib/ingest/flows.ts';
import { rulesSchema, type RulesConfigInput } from '../../lib/rules/config.ts';
import { runRule, type RulesFlowDeps } from '../../lib/rules/flow.ts';
import { resolveRules } from '../../lib/rules/resolve.ts';
import { BatchWriter } from '../../lib/rules/writer.ts';
import { DynamoRulesState } from '../../lib/store/rules-state.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { captureLog } from '../ingest/support.ts';
import { CLIENT_ID, sandbox, type TestSandbox } from '../client/support.ts';

let sb: TestSandbox;
let table: TestTable;
const ids = { retailPipeline: 0, toCorp: 0, sentToCorp: 0, retailNew: 0, corpPipeline: 0, corpNew: 0 };
let retailLead = 0;
let retailLead2 = 0;
let corpContact = 0;

beforeEach(async () => {
  sb = await sandbox({ fast: true, account: { subdomain: 'retail' }, extraAccounts: [{ subdomain: 'corp' }] });
  const r = sb.admin.seed({
    pipelines: [
      { name: 'Розница', is_main: true, statuses: [{ name: 'Новая' }, { name: 'Передать в корпорат' }, { name: 'Передано в корпорат' }] },
    ],
    customFields: {
      leads: [
        { name: 'Сайт', type: 'text' },
        { name: 'ID сделки корпората', type: 'numeric' },
      ],
    },
    contacts: [
      {
        id: 9101,
        name: 'Иван Розничный',
        custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+7 999 123-45-67', enum_code: 'MOB' }] }],
      },
      {
        id: 9102,
        name: 'Пётр Новый',
        custom_fields_values: [{ field_code: 'EMAIL', values: [{ value: 'Petr@Example.test', enum_code: 'WORK' }] }],
      },
    ],
  });
  const rp = r.pipelines[0]!;
  ids.retailPipeline = rp.id;
  ids.retailNew = rp.statuses.find((s) => s.name === 'Новая')!.id;
  ids.toCorp = rp.statuses.find((s) => s.name === 'Передать в корпорат')!.id;
  ids.sentToCorp = rp.statuses.find((s) => s.name === 'Передано в корпорат')!.id;
  const site = r.customFields.leads![0]!.id;
  const leads = sb.admin.seed({
    leads: [
      {
        name: 'Обучение для компании',
        price: 1000,
        pipeline_id: rp.id,
        status_id: ids.toCorp,
        custom_fields_values: [{ field_id: site, values: [{ value: 'mzpo.example' }] }],
        _embedded: { contacts: [{ id: 9101 }] },
      },
      { name: 'Второй', pipeline_id: rp.id, status_id: ids.toCorp, _embedded: { contacts: [{ id: 9102 }] } },
    ],
  });
  retailLead = leads.leads[0]!;
  retailLead2 = leads.leads[1]!;
  const corp = sb.account('corp');
  const c = corp.admin.seed({
    pipelines: [{ name: 'Корпорат', is_main: true, statuses: [{ name: 'Новая заявка' }, { name: 'В работе' }] }],
    customFields: {
      leads: [
        { name: 'Сайт', type: 'text' },
        { name: 'ID розничной сделки', type: 'text' },
      ],
    },
    // The same person, the phone stored in another spelling.
    contacts: [
      { name: 'Иван (корпорат)', custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '89991234567', enum_code: 'WORK' }] }] },
    ],
  });
  ids.corpPipeline = c.pipelines[0]!.id;
  ids.corpNew = c.pipelines[0]!.statuses.find((s) => s.name === 'Новая заявка')!.id;
  corpContact = c.contacts[0]!;
  table = await createTestTable('rules');
});
afterEach(async () => {
  await sb.close();
});

const config = parseConfig({
  integrations: [{ id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 's' }, redirectUri: 'https://gw.example/cb' }],
  accounts: [
    { id: 'retail', integration: 'main', subdomain: 'retail', domain: 'amocrm.ru' },
    { id: 'corp', integration: 'main', subdomain: 'corp', domain: 'amocrm.ru' },
  ],
});
const accountOf = (id: string) => config.accounts.find((a) => a.id === id)!;

function statusEvent(lead: Record<string, unknown>): WebhookEvent {
  return {
    kind: 'lead.status',
    entity: 'lead',
    action: 'status',
    family: 'account',
    account: { subdomain: 'x' },
    entityId: lead.id as number,
    data: lead as never,
    raw: {},
    index: 0,
    path: 'leads[status][0]',
    idempotencyKey: `sha256:ab:lead:${String(lead.id)}:status:0`,
  } as WebhookEvent;
}

const RULES: RulesConfigInput = {
  list: [
    {
      id: 'ret2corp',
      account: 'retail',
      when: { lead: 'status', to: 'Розница / Передать в корпорат' },
      then: [
        {
          transfer: {
            to: 'corp',
            status: 'Корпорат / Новая заявка',
            fields: { Сайт: 'Сайт' },
            linkField: 'ID розничной сделки',
            backLinkField: 'ID сделки корпората',
            tags: ['Сделка из розницы'],
            notes: ['common', 'call_in'],
            moveSourceTo: 'Розница / Передано в корпорат',
          },
        },
      ],
    },
    { id: 'corp2ret', account: 'corp', when: { lead: 'status' }, then: [{ syncBack: { to: 'retail', linkField: 'ID розничной сделки' } }] },
  ],
};

async function world() {
  const corp = sb.account('corp');
  const tokens = {
    retail: sb.admin.issueLongLivedToken({ clientId: CLIENT_ID }).access_token,
    corp: corp.admin.issueLongLivedToken({ clientId: CLIENT_ID }).access_token,
  };
  const client = new AmoClient({
    tokens: {
      getToken: async (a: AccountRef) =>
        a.accountKey === 'corp' ? { accessToken: tokens.corp, baseUrl: corp.url } : { accessToken: tokens.retail, baseUrl: sb.url },
      onUnauthorized: async () => {},
    },
    budget: new MemoryRateBudget({ perIntegrationPerSecond: 1_000, perAccountPerSecond: null }),
    breaker: new MemoryBreakerStore(),
    cache: new MemoryCacheStore(),
    mode: 'await',
    requestTimeoutMs: 300,
    retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 50, maxRateLimitWaits: 1 },
    addPolicy: { recheckDelayMs: 50, settleMs: 400, maxInlineSettleWaitMs: 2_000 },
  });
  const api = {
    retail: client.forAccount({ clientId: CLIENT_ID, accountKey: 'retail' }),
    corp: client.forAccount({ clientId: CLIENT_ID, accountKey: 'corp' }),
  };
  const schemas = { retail: AccountSchema.from(await pullSchema(api.retail)), corp: AccountSchema.from(await pullSchema(api.corp)) };
  const compiled = resolveRules(rulesSchema.parse(RULES), (a) => schemas[a as 'retail' | 'corp']);
  const { log, lines } = captureLog();
  const ctx = (account: string, stepKey: string): FlowContext => ({
    account: accountOf(account),
    requestId: 'r1',
    receivedAt: Date.now(),
    stepKey,
    log,
    now: () => Date.now(),
  });
  const deps: RulesFlowDeps = {
    rules: compiled,
    client: (a) => api[a.id as 'retail' | 'corp'],
    clientById: (id) => api[id as 'retail' | 'corp'],
    state: new DynamoRulesState({ doc: table.doc, tableName: table.tableName }),
  };
  const writer = new BatchWriter(5);
  const rule = (id: string) => compiled.rules.find((r) => r.id === id)!;
  const fieldId = (account: 'retail' | 'corp', name: string) => schemas[account].field('leads', name).id;
  return { api, deps, ctx, writer, rule, lines, fieldId, corp };
}

const cfText = (e: Record<string, unknown>, fieldId: number): unknown =>
  (e.custom_fields_values as Array<{ field_id: number; values: Array<{ value: unknown }> }> | null)?.find((f) => f.field_id === fieldId)
    ?.values[0]?.value;

describe('transfer and sync back between two accounts', () => {
  it('a retail lead reaching the transfer stage: one corp contact (deduped), one corp lead with fields and back-links; won and lost follow back', async () => {
    const w = await world();
    const call = { uniq: 'call-1', duration: 60, source: 'tel', link: 'https://rec.example/1.mp3', phone: '+79991234567' };
    await w.api.retail.notes('leads').add([
      { entity_id: retailLead, note_type: 'common', params: { text: 'Нужно обучение 5 сотрудников' } },
      { entity_id: retailLead, note_type: 'service_message', params: { service: 'x', text: 'not copied' } },
    ]);
    await w.api.retail.notes('contacts').add([{ entity_id: 9101, note_type: 'call_in', params: call }]);
    const ev = statusEvent({ id: retailLead, status_id: ids.toCorp, pipeline_id: ids.retailPipeline, old_status_id: ids.retailNew });
    await runRule(w.rule('ret2corp'), ev, w.ctx('retail', 'step-t1'), w.deps, w.writer);

    const corpContacts = w.corp.admin.entities('contacts');
    expect(corpContacts.map((c) => c.id)).toEqual([corpContact]); // found by the phone in another spelling, none created
    const corpLeads = w.corp.admin.entities('leads');
    expect(corpLeads).toHaveLength(1);
    const corpLead = corpLeads[0]!;
    expect(corpLead).toMatchObject({ name: 'Обучение для компании', pipeline_id: ids.corpPipeline, status_id: ids.corpNew });
    expect(cfText(corpLead, w.fieldId('corp', 'Сайт'))).toBe('mzpo.example');
    expect(String(cfText(corpLead, w.fieldId('corp', 'ID розничной сделки')))).toBe(String(retailLead));
    const corpLinks = await w.api.corp.links('leads').list(corpLead.id as number);
    expect(corpLinks).toEqual([expect.objectContaining({ to_entity_id: corpContact, to_entity_type: 'contacts' })]);
    const tags = (await w.api.corp.leads.get(corpLead.id as number, { cache: false }))?._embedded?.tags?.map((t) => t.name);
    expect(tags).toEqual(['Сделка из розницы']);
    const retail = (await w.api.retail.leads.get(retailLead, { cache: false }))!;
    expect(retail.status_id).toBe(ids.sentToCorp);
    expect(Number(cfText(retail as never, w.fieldId('retail', 'ID сделки корпората')))).toBe(corpLead.id);
    // Notes of the given types: the lead's to the corp lead, the contact's to the corp contact; a re-run copies none twice.
    const notesOf = async (kind: 'leads' | 'contacts', id: number) => {
      const out: Array<{ note_type?: string; params?: unknown }> = [];
      for await (const n of w.api.corp.notes(kind).list(id)) out.push({ note_type: n.note_type, params: n.params });
      return out;
    };
    expect(await notesOf('leads', corpLead.id as number)).toEqual([
      { note_type: 'common', params: expect.objectContaining({ text: 'Нужно обучение 5 сотрудников' }) },
    ]);
    expect(await notesOf('contacts', corpContact)).toEqual([{ note_type: 'call_in', params: expect.objectContaining({ uniq: 'call-1' }) }]);
    await runRule(w.rule('ret2corp'), ev, w.ctx('retail', 'step-t1-again'), w.deps, w.writer);
    expect(await notesOf('leads', corpLead.id as number)).toHaveLength(1);
    expect(await notesOf('contacts', corpContact)).toHaveLength(1);
    expect(w.corp.admin.entities('leads')).toHaveLength(1);

    // Corp won with its price → the retail lead is won with that price.
    await w.api.corp.leads.update([{ id: corpLead.id as number, status_id: 142, pipeline_id: ids.corpPipeline, price: 5000 }]);
    await runRule(
      w.rule('corp2ret'),
      statusEvent({ id: corpLead.id, status_id: 142, pipeline_id: ids.corpPipeline, price: 5000, old_status_id: ids.corpNew }),
      w.ctx('corp', 'step-won'),
      w.deps,
      w.writer,
    );
    expect(await w.api.retail.leads.get(retailLead, { cache: false })).toMatchObject({ status_id: 142, price: 5000 });
    // Its echo (the same status again) writes nothing.
    const patches = sb.admin.count({ method: 'PATCH', route: '/api/v4/leads' });
    await runRule(
      w.rule('corp2ret'),
      statusEvent({ id: corpLead.id, status_id: 142, pipeline_id: ids.corpPipeline, price: 5000 }),
      w.ctx('corp', 'step-won-2'),
      w.deps,
      w.writer,
    );
    expect(sb.admin.count({ method: 'PATCH', route: '/api/v4/leads' })).toBe(patches);

    // A second retail lead (contact by e-mail, none in corp: created), corp lost → retail lost.
    await runRule(
      w.rule('ret2corp'),
      statusEvent({ id: retailLead2, status_id: ids.toCorp, pipeline_id: ids.retailPipeline }),
      w.ctx('retail', 'step-t2'),
      w.deps,
      w.writer,
    );
    expect(w.corp.admin.entities('contacts')).toHaveLength(2);
    const second = w.corp.admin.entities('leads').find((l) => l.id !== corpLead.id)!;
    await w.api.corp.leads.update([{ id: second.id as number, status_id: 143, pipeline_id: ids.corpPipeline }]);
    await runRule(
      w.rule('corp2ret'),
      statusEvent({ id: second.id, status_id: 143, pipeline_id: ids.corpPipeline }),
      w.ctx('corp', 'step-lost'),
      w.deps,
      w.writer,
    );
    expect((await w.api.retail.leads.get(retailLead2, { cache: false }))?.status_id).toBe(143);
  });

  it('reuses an open corp lead of the found contact in the target pipeline (fields, link and tag written to it); a closed one is not reused', async () => {
    const w = await world();
    const seeded = w.corp.admin.seed({
      leads: [
        { name: 'Закрытая', pipeline_id: ids.corpPipeline, status_id: 143, _embedded: { contacts: [{ id: corpContact }] } },
        { name: 'Открытая', pipeline_id: ids.corpPipeline, status_id: ids.corpNew, _embedded: { contacts: [{ id: corpContact }] } },
      ],
    });
    const open = seeded.leads[1]!;
    const ev = statusEvent({ id: retailLead, status_id: ids.toCorp, pipeline_id: ids.retailPipeline });
    await runRule(w.rule('ret2corp'), ev, w.ctx('retail', 'step-reuse'), w.deps, w.writer);
    expect(w.corp.admin.entities('leads')).toHaveLength(2);
    const reused = (await w.api.corp.leads.get(open, { cache: false }))!;
    expect(reused.name).toBe('Открытая');
    expect(cfText(reused as never, w.fieldId('corp', 'Сайт'))).toBe('mzpo.example');
    expect(String(cfText(reused as never, w.fieldId('corp', 'ID розничной сделки')))).toBe(String(retailLead));
    expect(reused._embedded?.tags?.map((t) => t.name)).toEqual(['Сделка из розницы']);
    const retail = (await w.api.retail.leads.get(retailLead, { cache: false }))!;
    expect(Number(cfText(retail as never, w.fieldId('retail', 'ID сделки корпората')))).toBe(open);
  });

  it('exactly once: the step run three times and a lost answer on the lead create still give one corp contact and one corp lead', async () => {
    const w = await world();
    // No corp contact yet: the contact is created too.
    await w.api.corp.contacts.update([
      { id: corpContact, custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+74950000000', enum_code: 'WORK' }] }] },
    ]);
    w.corp.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, lostAnswer: 'drop', times: 1 }]);
    const ev = statusEvent({ id: retailLead, status_id: ids.toCorp, pipeline_id: ids.retailPipeline });
    // The same step (a retried message) twice, then a redelivery that hashed differently.
    for (const key of ['step-x', 'step-x', 'step-y']) await runRule(w.rule('ret2corp'), ev, w.ctx('retail', key), w.deps, w.writer);
    expect(w.corp.admin.count({ method: 'POST', route: '/api/v4/leads', status: 'dropped' })).toBeGreaterThanOrEqual(1);
    expect(w.corp.admin.entities('leads')).toHaveLength(1);
    expect(w.corp.admin.entities('contacts')).toHaveLength(2); // the unrelated one and the one created
    expect((await w.api.retail.leads.get(retailLead, { cache: false }))?.status_id).toBe(ids.sentToCorp);
  });
});
