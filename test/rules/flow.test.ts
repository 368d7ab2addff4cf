/**
 * The rule flow against the sandbox and the state on DynamoDB Local: a retried step (its write
 * landed, the step was never marked done) re-checks instead of posting again; round-robin over
 * a list is one shared counter; the DynamoDB state's conditional writes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountSchema, pullSchema } from '../../lib/amocrm/client/schema.ts';
import type { WebhookEvent } from '../../lib/amocrm/webhooks/types.ts';
import { parseConfig } from '../../lib/config/index.ts';
import type { FlowContext } from '../../lib/ingest/flows.ts';
import { rulesSchema, type RulesConfigInput } from '../../lib/rules/config.ts';
import { runRule } from '../../lib/rules/flow.ts';
import { resolveRules } from '../../lib/rules/resolve.ts';
import { BatchWriter } from '../../lib/rules/writer.ts';
import { MemoryRulesState } from '../../lib/rules/state.ts';
import { DynamoRulesState } from '../../lib/store/rules-state.ts';
import { demoSeed } from '../../infra/local/sandbox/demo.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { captureLog } from '../ingest/support.ts';
import { fastClient, sandbox, type TestSandbox } from '../client/support.ts';

let sb: TestSandbox;
let table: TestTable;
beforeEach(async () => {
  sb = await sandbox({ fast: true });
  sb.admin.seed(demoSeed());
  table = await createTestTable('rules');
});
afterEach(async () => {
  await sb.close();
});

const account = parseConfig({
  integrations: [{ id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 's' }, redirectUri: 'https://gw.example/cb' }],
  accounts: [{ id: 'local', integration: 'main', subdomain: 'sandbox', domain: 'amocrm.ru' }],
}).accounts[0]!;

function statusEvent(lead: Record<string, unknown>): WebhookEvent {
  return {
    kind: 'lead.status',
    entity: 'lead',
    action: 'status',
    family: 'account',
    account: { subdomain: 'sandbox' },
    entityId: lead.id as number,
    data: lead as never,
    raw: {},
    index: 0,
    path: 'leads[status][0]',
    idempotencyKey: `sha256:ab:lead:${String(lead.id)}:status:0`,
  } as WebhookEvent;
}

async function world(rules: RulesConfigInput) {
  const { client } = fastClient(sb);
  const api = client.forAccount({ clientId: 'client-test', accountKey: 'acc1' });
  const schema = AccountSchema.from(await pullSchema(api));
  const compiled = resolveRules(rulesSchema.parse(rules), () => schema);
  const state = new DynamoRulesState({ doc: table.doc, tableName: table.tableName });
  const { log, lines } = captureLog();
  const ctx = (stepKey: string): FlowContext => ({ account, requestId: 'r1', receivedAt: Date.now(), stepKey, log, now: () => Date.now() });
  const deps = { rules: compiled, client: () => api, state };
  const writer = new BatchWriter(5);
  return { compiled, deps, ctx, writer, lines, state };
}

/** Stage "Записан на приём" → a task "Позвонить" due in 15 minutes. */
const CALL_RULE: NonNullable<RulesConfigInput['list']>[number] = {
  id: 'call',
  account: 'local',
  when: { lead: 'status', to: 'Записан на приём' },
  then: [{ task: { type: 'Связаться', text: 'Позвонить', due: { in: 900 } } }],
};

/** Any stage change → a meeting task named after the lead, for the people in turn. */
function roundRobinRule(due: { in: number } | { at: string }, people: string[]): NonNullable<RulesConfigInput['list']>[number] {
  return {
    id: 'rr',
    account: 'local',
    when: { lead: 'status' },
    then: [{ task: { type: 'Встреча', text: '{{name}}', due, responsible: { roundRobin: people } } }],
  };
}
describe('the rule flow', () => {
  it('a retried step whose task already landed re-checks and posts nothing', async () => {
    const w = await world({
      list: [CALL_RULE],
    });
    const ev = statusEvent({ id: 8001, status_id: 50012, pipeline_id: 5001, old_status_id: 50011, responsible_user_id: 1002 });
    const c = w.ctx('amocrm:local:sha256:ab:lead:8001:status:0#flow:rule-call');
    await runRule(w.compiled.rules[0]!, ev, c, w.deps, w.writer);
    expect(sb.admin.entities('tasks')).toHaveLength(1);
    // The worker died before the step was marked done: the retry runs the flow again, same step key.
    await runRule(w.compiled.rules[0]!, ev, c, w.deps, w.writer);
    expect(sb.admin.entities('tasks')).toHaveLength(1);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/tasks' })).toBe(1);
  });

  it('another delivery of the same event, received seconds later, plans the same due time, so its re-check finds the task', async () => {
    // Found by the --full fault suite: the due time was counted from the delivery's receipt, so a
    // second delivery (an edge duplicate, amoCRM's redelivery) planned another complete_till, its
    // re-check matched nothing and it posted a second task. The event's own time (the lead's
    // updated_at, which every delivery of it repeats) is the same for all of them.
    const w = await world({
      list: [CALL_RULE],
    });
    const updatedAt = Math.floor(Date.now() / 1000) - 30;
    const ev = statusEvent({
      id: 8001,
      status_id: 50012,
      pipeline_id: 5001,
      old_status_id: 50011,
      responsible_user_id: 1002,
      updated_at: updatedAt,
    });
    const c = w.ctx('amocrm:local:sha256:ef:lead:8001:status:0#flow:rule-call');
    await runRule(w.compiled.rules[0]!, ev, { ...c, receivedAt: Date.now() - 7_000 }, w.deps, w.writer);
    await runRule(w.compiled.rules[0]!, ev, { ...c, receivedAt: Date.now() }, w.deps, w.writer);
    const tasks = sb.admin.entities('tasks');
    expect(tasks).toHaveLength(1);
    expect(tasks[0]!.complete_till).toBe(updatedAt + 900);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/tasks' })).toBe(1);
  });

  it('a step the delivery says may have run (mayHaveRun) re-checks even when its first-attempt mark says first', async () => {
    const w = await world({
      list: [CALL_RULE],
    });
    const ev = statusEvent({ id: 8001, status_id: 50012, pipeline_id: 5001, old_status_id: 50011, responsible_user_id: 1002 });
    const c = w.ctx('amocrm:local:sha256:cd:lead:8001:status:0#flow:rule-call');
    await runRule(w.compiled.rules[0]!, ev, c, w.deps, w.writer);
    expect(sb.admin.entities('tasks')).toHaveLength(1);
    // The mark is gone (another state, an expired TTL) but the delivery knows it may have run: no second task.
    const fresh = { ...w.deps, state: new MemoryRulesState() };
    await runRule(w.compiled.rules[0]!, ev, { ...c, mayHaveRun: true }, fresh, w.writer);
    expect(sb.admin.entities('tasks')).toHaveLength(1);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/tasks' })).toBe(1);
  });

  it('a retried step keeps its round-robin pick, so its re-check finds the task it wrote (no second task for the next person in turn)', async () => {
    const w = await world({ list: [roundRobinRule({ in: 600 }, ['Анна Админова', 'Борис Продажин'])] });
    const ev = statusEvent({ id: 8001, status_id: 50012, pipeline_id: 5001, name: 'rr', updated_at: Math.floor(Date.now() / 1000) });
    const c = w.ctx('amocrm:local:sha256:rr:lead:8001:status:0#flow:rule-rr');
    await runRule(w.compiled.rules[0]!, ev, c, w.deps, w.writer);
    // The worker died before the step was marked done: the same step runs again.
    await runRule(w.compiled.rules[0]!, ev, c, w.deps, w.writer);
    expect(sb.admin.entities('tasks').filter((t) => t.entity_id === 8001)).toHaveLength(1);
    // The next step gets the next person.
    await runRule(w.compiled.rules[0]!, { ...ev, data: { ...ev.data, name: 'rr2' } } as WebhookEvent, w.ctx('step-next'), w.deps, w.writer);
    expect(sb.admin.entities('tasks').map((t) => t.responsible_user_id)).toEqual([1001, 1002]);
  });

  it('hops count rule runs, not attempts: a step retried past the hop limit still writes', async () => {
    const w = await world({
      hopLimit: 1,
      list: [CALL_RULE],
    });
    const ev = statusEvent({
      id: 8001,
      status_id: 50012,
      pipeline_id: 5001,
      old_status_id: 50011,
      updated_at: Math.floor(Date.now() / 1000),
    });
    const c = w.ctx('amocrm:local:sha256:hop:lead:8001:status:0#flow:rule-call');
    sb.admin.setFaults([{ path: '/api/v4/tasks', method: 'POST', errorRate: 1, errorStatus: 500 }]);
    await expect(runRule(w.compiled.rules[0]!, ev, c, w.deps, w.writer)).rejects.toThrow();
    sb.admin.clearFaults();
    await runRule(w.compiled.rules[0]!, ev, c, w.deps, w.writer);
    expect(sb.admin.entities('tasks').filter((t) => t.entity_id === 8001)).toHaveLength(1);
    expect(w.lines.some((l) => l.message === 'rules: hop limit')).toBe(false);
  });

  it('round-robin hands the tasks out in turn, one shared counter in the table', async () => {
    const w = await world({ list: [roundRobinRule({ at: '10:00' }, ['Анна Админова', 'Борис Продажин', 'vera@example.test'])] });
    for (const [i, id] of [8001, 8002, 8003, 8001].entries()) {
      await runRule(
        w.compiled.rules[0]!,
        statusEvent({ id, status_id: 50012, pipeline_id: 5001, name: `n${i}` }),
        w.ctx(`step-${i}`),
        w.deps,
        w.writer,
      );
    }
    const byText = Object.fromEntries(sb.admin.entities('tasks').map((t) => [t.text as string, t.responsible_user_id]));
    expect(byText).toEqual({ n0: 1001, n1: 1002, n2: 1003, n3: 1001 });
  });

  it('the DynamoDB state: first attempt once, hops per window, marks expire', async () => {
    const s = new DynamoRulesState({ doc: table.doc, tableName: table.tableName });
    const t0 = 1_767_225_600_000;
    expect(await s.firstAttempt('k', 60, t0)).toBe(true);
    expect(await s.firstAttempt('k', 60, t0 + 1000)).toBe(false);
    expect(await s.firstAttempt('k', 60, t0 + 61_000)).toBe(true); // expired (TTL deletion is lazy)
    expect([await s.hop('lead', 300, t0), await s.hop('lead', 300, t0 + 1), await s.hop('lead', 300, t0 + 300_000)]).toEqual([1, 2, 1]);
    await s.remember('echo', 10, t0);
    expect(await s.has('echo', t0 + 5_000)).toBe(true);
    expect(await s.has('echo', t0 + 11_000)).toBe(false);
    const picks = await Promise.all(Array.from({ length: 9 }, () => s.nextRoundRobin('list', 3)));
    expect(picks.sort()).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
  });

  it('the batch writer: writes arriving together go out in one request; a steady stream still flushes by the max wait', async () => {
    const { client } = fastClient(sb);
    const api = client.forAccount({ clientId: 'client-test', accountKey: 'acc1' });
    const task = (i: number) => ({
      tasks: [{ text: `t${i}`, complete_till: 1_900_000_000, entity_id: 8001, entity_type: 'leads' as const, task_type_id: 1 }],
      taskMarkers: [`m${i}`],
      checkFirst: false,
      leadPatches: [],
      contactPatches: [],
      notes: [],
    });
    const together = new BatchWriter(20, 1_000);
    await Promise.all([0, 1, 2, 3, 4].map((i) => together.write('local', api, task(i))));
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/tasks' })).toBe(1);
    // One write every 15 ms with a 20 ms linger would never go quiet: the 100 ms max wait flushes anyway.
    const stream = new BatchWriter(20, 100);
    const started = Date.now();
    const first = stream.write('local', api, task(10)).then(() => Date.now() - started);
    const more: Array<Promise<unknown>> = [];
    for (let i = 11; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 15));
      more.push(stream.write('local', api, task(i)));
    }
    expect(await first).toBeLessThan(250);
    await Promise.all(more);
    expect(sb.admin.entities('tasks')).toHaveLength(25);
    expect(sb.admin.count({ method: 'POST', route: '/api/v4/tasks' })).toBeGreaterThan(2);
  });
});
