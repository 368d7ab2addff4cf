/**
 * A timed-out add is never duplicated: the sandbox either processes the request after the client
 * gave up (latency fault longer than the timeout) or never processes it (held / 500), and the
 * client must end with exactly one entity either way.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AmoWriteUncertainError } from '../../lib/amocrm/client/errors.ts';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import { collect } from '../../lib/amocrm/client/pagination.ts';
import { outcomeFromError } from '../../lib/pipeline/outcome.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from './support.ts';

const fast = { requestTimeoutMs: 300, retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 50, maxRateLimitWaits: 1 } };

describe('adds are re-checked, never blindly re-sent', () => {
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
  beforeEach(() => sb.admin.clearFaults());
  afterAll(async () => {
    await sb.close();
  });

  const named = async (name: string) => (await collect(fastClient(sb).client.forAccount(ACCOUNT).leads.list({ filter: { name } }))).length;
  const posts = () => sb.admin.count({ method: 'POST', route: '/api/v4/leads' });

  it('landed after the timeout (fingerprint re-check): found, not sent again', async () => {
    const { client, events } = fastClient(sb, {
      ...fast,
      addPolicy: { recheckDelayMs: 1_500, settleMs: 3_000, maxInlineSettleWaitMs: 5_000 },
    });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', latencyMs: 600, times: 1 }]);
    const before = posts();
    const [r] = await client
      .forAccount(ACCOUNT)
      .leads.add([{ name: 'Landed late', price: 10, custom_fields_values: [cf.text(noteField, 'x')] }]);
    expect(r!.id).toBeGreaterThan(0);
    expect(posts() - before).toBe(1);
    expect(await named('Landed late')).toBe(1);
    expect(events.filter((e) => e.type === 'add-verified')).toEqual([expect.objectContaining({ found: 1 })]);
  });

  it('landed after the timeout (marker field re-check): found, not sent again', async () => {
    const { client } = fastClient(sb, {
      ...fast,
      markerFields: () => ({ leads: markerField }),
      addPolicy: { recheckDelayMs: 1_500, settleMs: 3_000, maxInlineSettleWaitMs: 5_000 },
    });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', latencyMs: 600, times: 1 }]);
    const before = posts();
    const [r] = await client.forAccount(ACCOUNT).leads.add([{ name: 'Marked' }], { markers: ['form-42-sub-7'] });
    expect(r).toMatchObject({ request_id: 'form-42-sub-7' });
    expect(posts() - before).toBe(1);
    expect(await named('Marked')).toBe(1);
  });

  it('never processed (held until the timeout): re-checked, then sent once more after the settle time', async () => {
    const { client } = fastClient(sb, { ...fast, addPolicy: { recheckDelayMs: 100, settleMs: 800, maxInlineSettleWaitMs: 2_000 } });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', timeoutRate: 1, times: 1 }]);
    const before = posts();
    await client.forAccount(ACCOUNT).leads.add([{ name: 'Held' }]);
    expect(posts() - before).toBe(2);
    expect(await named('Held')).toBe(1);
  });

  it('a 500 from amoCRM itself settles at once: re-checked, re-sent, one entity', async () => {
    const { client } = fastClient(sb, { ...fast, addPolicy: { recheckDelayMs: 10, settleMs: 60_000, maxInlineSettleWaitMs: 100 } });
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', errorRate: 1, errorStatus: 500, times: 1 }]);
    await client.forAccount(ACCOUNT).leads.add([{ name: 'After 500' }]);
    expect(await named('After 500')).toBe(1);
  });

  it('still unsettled → AmoWriteUncertainError (defer); the redelivery with checkFirst finds it and sends nothing', async () => {
    const opts = {
      ...fast,
      markerFields: () => ({ leads: markerField }),
      addPolicy: { recheckDelayMs: 100, settleMs: 30_000, maxInlineSettleWaitMs: 500 },
    };
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', latencyMs: 1_200, times: 1 }]);
    const first = fastClient(sb, opts).client.forAccount(ACCOUNT);
    const e = await first.leads.add([{ name: 'Slow land' }], { markers: ['msg-1'] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AmoWriteUncertainError);
    expect(outcomeFromError(e)).toMatchObject({ kind: 'defer', reason: 'amo-write-unsettled' });
    await new Promise((r) => setTimeout(r, 1_200));
    const before = posts();
    const second = fastClient(sb, opts).client.forAccount(ACCOUNT);
    const [r] = await second.leads.add([{ name: 'Slow land' }], { markers: ['msg-1'], checkFirst: true });
    expect(r!.id).toBeGreaterThan(0);
    expect(posts() - before).toBe(0);
    expect(await named('Slow land')).toBe(1);
  });

  it('look-alikes in the window make the re-check ambiguous: parked, nothing sent twice', async () => {
    const { client } = fastClient(sb, { ...fast, addPolicy: { recheckDelayMs: 10, settleMs: 0, maxInlineSettleWaitMs: 0 } });
    const acc = client.forAccount(ACCOUNT);
    await acc.leads.add([{ name: 'Twin' }, { name: 'Twin' }]);
    sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', timeoutRate: 1, times: 1 }]);
    const e = await acc.leads.add([{ name: 'Twin' }]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AmoWriteUncertainError);
    expect(outcomeFromError(e)).toMatchObject({ kind: 'park', reason: 'amo-write-ambiguous' });
    expect(await named('Twin')).toBe(2);
  });

  it('tasks and notes are re-checked by fingerprint too', async () => {
    const { client } = fastClient(sb, { ...fast, addPolicy: { recheckDelayMs: 700, settleMs: 1_500, maxInlineSettleWaitMs: 3_000 } });
    const acc = client.forAccount(ACCOUNT);
    const [lead] = await acc.leads.add([{ name: 'Task host' }]);
    sb.admin.setFaults([
      { path: '/api/v4/tasks', method: 'POST', latencyMs: 600, times: 1 },
      { path: '/api/v4/leads/notes', method: 'POST', latencyMs: 600, times: 1 },
    ]);
    const till = Math.floor(Date.now() / 1000) + 600;
    await acc.tasks.add([{ text: 'Once', complete_till: till, entity_type: 'leads', entity_id: lead!.id }]);
    await acc.notes('leads').add([{ entity_id: lead!.id, note_type: 'common', params: { text: 'Once' } }]);
    expect(await collect(acc.tasks.list({ filter: { entity_type: 'leads', entity_id: [lead!.id] } }))).toHaveLength(1);
    expect(await collect(acc.notes('leads').list(lead!.id))).toHaveLength(1);
  });

  it("a checkFirst task add on several leads reads only those leads' tasks: one request, not every task the account changed", async () => {
    const { client } = fastClient(sb, fast);
    const acc = client.forAccount(ACCOUNT);
    const leads = await acc.leads.add(Array.from({ length: 50 }, (_, i) => ({ name: `Busy ${i}` })));
    const till = Math.floor(Date.now() / 1000) + 900;
    // 300 tasks on other leads changed just now: a re-check listing every recent task would need two pages.
    await acc.tasks.add(
      Array.from({ length: 300 }, (_, i) => ({
        text: `Other ${i}`,
        complete_till: till,
        entity_type: 'leads' as const,
        entity_id: leads[i % 47]!.id,
      })),
    );
    const mine = [47, 48, 49].map((i) => ({ text: 'Mine', complete_till: till, entity_type: 'leads' as const, entity_id: leads[i]!.id }));
    const markers = ['m-a', 'm-b', 'm-c'];
    await acc.tasks.add(mine, { markers });
    const gets = () => sb.admin.count({ method: 'GET', route: '/api/v4/tasks' });
    const postsBefore = sb.admin.count({ method: 'POST', route: '/api/v4/tasks' });
    const before = gets();
    const again = await acc.tasks.add(mine, { markers, checkFirst: true });
    expect(again).toHaveLength(3);
    expect(gets() - before).toBe(1);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/tasks' })).toBe(postsBefore);
  });
});
