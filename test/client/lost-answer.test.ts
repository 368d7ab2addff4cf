/**
 * The lost-answer fault: amoCRM APPLIES the add and the answer never reaches us (connection reset,
 * or held until our timeout). amoCRM has no idempotency key, so only the re-check (add.ts) stands
 * between us and a duplicate: the client must find what landed and send nothing again — by
 * fingerprint, by marker field, and by marker field when `query` also returns an unrelated hit
 * (the sandbox's `noisy` search mode).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import { collect } from '../../lib/amocrm/client/pagination.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from './support.ts';

const fast = { requestTimeoutMs: 300, retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 50, maxRateLimitWaits: 1 } };
const policy = { recheckDelayMs: 50, settleMs: 400, maxInlineSettleWaitMs: 2_000 };

describe('a lost answer to an applied add is never turned into a duplicate', () => {
  let sb: TestSandbox;
  let markerField: number;
  let noteField: number;
  beforeAll(async () => {
    sb = await sandbox({ fast: true });
    const seeded = sb.admin.seed({
      customFields: {
        leads: [
          { name: 'gateway id', type: 'text', is_api_only: true },
          { name: 'Комментарий', type: 'text' },
        ],
      },
    });
    markerField = seeded.customFields.leads![0]!.id;
    noteField = seeded.customFields.leads![1]!.id;
  });
  beforeEach(() => {
    sb.admin.clearFaults();
    sb.admin.setSearchMode('literal');
  });
  afterAll(async () => {
    await sb.close();
  });

  const named = async (name: string) => (await collect(fastClient(sb).client.forAccount(ACCOUNT).leads.list({ filter: { name } }))).length;
  const posts = () => sb.admin.count({ method: 'POST', route: '/api/v4/leads' });

  it('connection reset after the write (fingerprint re-check): one lead, one POST', async () => {
    const { client, events } = fastClient(sb, { ...fast, addPolicy: policy });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, lostAnswer: 'drop', times: 1 }]);
    const before = posts();
    const [r] = await client
      .forAccount(ACCOUNT)
      .leads.add([{ name: 'Lost reset', price: 7, custom_fields_values: [cf.text(noteField, 'n')] }]);
    expect(r!.id).toBeGreaterThan(0);
    expect(posts() - before).toBe(1);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/leads', status: 'dropped' })).toBeGreaterThanOrEqual(1);
    expect(await named('Lost reset')).toBe(1);
    expect(events.filter((e) => e.type === 'add-verified')).toEqual([expect.objectContaining({ found: 1, resent: 0 })]);
  });

  it('answer held past the client timeout (marker re-check): one lead, the id of the one that landed', async () => {
    const { client } = fastClient(sb, { ...fast, markerFields: () => ({ leads: markerField }), addPolicy: policy });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, lostAnswer: 'hold', times: 1 }]);
    const before = posts();
    const [r] = await client.forAccount(ACCOUNT).leads.add([{ name: 'Lost held' }], { markers: ['lost-held-1'] });
    expect(posts() - before).toBe(1);
    const landed = sb.admin.entities('leads').filter((l) => l.name === 'Lost held');
    expect(landed).toHaveLength(1);
    expect(r).toEqual({ id: landed[0]!.id, request_id: 'lost-held-1' });
  });

  it('search over-matches (noisy mode): the marker re-check keeps only the exact field match', async () => {
    sb.admin.setSearchMode('noisy');
    const { client } = fastClient(sb, { ...fast, markerFields: () => ({ leads: markerField }), addPolicy: policy });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    const before = posts();
    const [r] = await client.forAccount(ACCOUNT).leads.add([{ name: 'Lost noisy' }], { markers: ['lost-noisy-1'] });
    expect(posts() - before).toBe(1);
    const landed = sb.admin.entities('leads').filter((l) => l.name === 'Lost noisy');
    expect(landed).toHaveLength(1);
    expect(r!.id).toBe(landed[0]!.id);
  });

  it('leads/complex whose answer is lost: lead, contact and company once each, ids read back', async () => {
    const { client } = fastClient(sb, { ...fast, markerFields: () => ({ leads: markerField }), addPolicy: policy });
    sb.admin.setFaults([{ path: '/api/v4/leads/complex', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    const contactsBefore = sb.admin.entities('contacts').length;
    const companiesBefore = sb.admin.entities('companies').length;
    const [r] = await client
      .forAccount(ACCOUNT)
      .leads.addComplex(
        [{ name: 'Complex lost', _embedded: { contacts: [{ name: 'Lost contact' }], companies: [{ name: 'Lost company' }] } }],
        { markers: ['cl-1'] },
      );
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/leads/complex' })).toBe(1);
    expect(await named('Complex lost')).toBe(1);
    expect(sb.admin.entities('contacts').length - contactsBefore).toBe(1);
    expect(sb.admin.entities('companies').length - companiesBefore).toBe(1);
    const lead = sb.admin.lead(r!.id) as { _embedded: { contacts: Array<{ id: number }>; companies: Array<{ id: number }> } };
    expect(r).toMatchObject({ contact_id: lead._embedded.contacts[0]!.id, company_id: lead._embedded.companies[0]!.id });
  });

  it('tasks and notes whose answer is lost (fingerprint re-check): once each', async () => {
    const { client } = fastClient(sb, { ...fast, addPolicy: policy });
    const acc = client.forAccount(ACCOUNT);
    const [lead] = await acc.leads.add([{ name: 'Lost task host' }]);
    sb.admin.setFaults([
      { path: '/api/v4/tasks', method: 'POST', lostAnswerRate: 1, times: 1 },
      { path: '/api/v4/leads/notes', method: 'POST', lostAnswerRate: 1, lostAnswer: 'hold', times: 1 },
    ]);
    await acc.tasks.add([
      { text: 'Lost once', complete_till: Math.floor(Date.now() / 1000) + 600, entity_type: 'leads', entity_id: lead!.id },
    ]);
    await acc.notes('leads').add([{ entity_id: lead!.id, note_type: 'common', params: { text: 'Lost once' } }]);
    expect(await collect(acc.tasks.list({ filter: { entity_type: 'leads', entity_id: [lead!.id] } }))).toHaveLength(1);
    expect(await collect(acc.notes('leads').list(lead!.id))).toHaveLength(1);
  });

  it('a batch of three whose answer is lost: all three found, none sent twice', async () => {
    const { client } = fastClient(sb, { ...fast, markerFields: () => ({ leads: markerField }), addPolicy: policy });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    const before = posts();
    const out = await client
      .forAccount(ACCOUNT)
      .leads.add([{ name: 'Batch lost' }, { name: 'Batch lost' }, { name: 'Batch lost' }], { markers: ['bl-1', 'bl-2', 'bl-3'] });
    expect(posts() - before).toBe(1);
    expect(new Set(out.map((x) => x.id)).size).toBe(3);
    expect(await named('Batch lost')).toBe(3);
  });
});
