/**
 * End to end through the connected local world (docs/architecture.md#what-flows-where): the sandbox moves a deal → its
 * webhook → our hook route (ack) → SQS → the worker → a typed event on the bus. Real sockets,
 * the real sandbox, fauxqs, dynalite, the real OAuth install at start.
 */
import { describe, expect, it } from 'vitest';
import { SANDBOX_ACCOUNT, SANDBOX_AMO_ACCOUNT_ID } from '../../infra/local/amocrm.ts';
import { defineRouteTable, routeTable, type RouteTableInput } from '../../lib/routes.ts';
import { FlowRegistry } from '../../lib/ingest/index.ts';
import { METRIC } from '../../lib/metrics.ts';
import { DeferError } from '../../lib/pipeline/outcome.ts';
import { fixtureBytes } from '../support/fixtures.ts';
import { startWorld, useWorlds, waitFor } from './support.ts';

useWorlds();

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('the connected local world', () => {
  it('starts connected: the account was installed through our /oauth/callback and its webhooks point at our hook route', async () => {
    const w = await startWorld();
    expect(await w.amo.accountStates()).toEqual({ [SANDBOX_ACCOUNT]: 'connected' });
    expect(w.sandbox.admin.tokenEndpointCount({ grant: 'authorization_code', outcome: 'ok' })).toBe(1);
    expect(w.lines.some((l) => /http +GET -> 200 route=oauth-callback/.test(l))).toBe(true);
    const [sub, ...more] = w.sandbox.admin.webhookSubscriptions();
    expect(more).toEqual([]);
    expect(sub?.destination).toBe(await w.amo.hookUrl());
    expect(sub?.settings).toEqual(expect.arrayContaining(['status_lead', 'add_lead', 'update_lead']));
    const health = (await (await fetch(`${w.runner.url}/health`)).json()) as {
      status: string;
      parts: Record<string, { status: string; accounts?: unknown; url?: unknown }>;
    };
    expect(health.status).toBe('ok');
    expect(health.parts.sandbox).toMatchObject({ status: 'up', url: w.sandbox.url });
    expect(health.parts.amocrm).toMatchObject({ status: 'up', accounts: { local: 'connected' } });
    // The hook token never reaches the log.
    const token = decodeURIComponent((await w.amo.hookUrl()).split('/').pop() ?? '');
    expect(w.lines.join('\n')).not.toContain(token);
  });

  it('(a) a manager moves a deal → webhook → queue → worker → a typed amocrm.lead.status event with the right ids', async () => {
    const w = await startWorld();
    await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    const ev = await waitFor(() => w.amo.bus.events.find((e) => e.detailType === 'amocrm.lead.status'), 'the lead.status event');
    const delivery = w.sent.hooks()[0];
    expect(delivery?.status).toBe(200);
    expect(ev.detail).toMatchObject({
      account: SANDBOX_ACCOUNT,
      kind: 'lead.status',
      entity: 'lead',
      action: 'status',
      family: 'account',
      entityId: 8001,
      data: expect.objectContaining({ id: 8001, status_id: 50012, old_status_id: 50011, pipeline_id: 5001 }),
      amocrmRequestId: delivery?.headers['x-amocrm-requestid'],
      // The item names its change time: the key is the body's hash, whatever request id carries it.
      idempotencyKey: expect.stringMatching(/^sha256:[0-9a-f]{64}:lead:8001:status:0$/),
    });
    // status_lead and update_lead were one POST: both events, in body order.
    await waitFor(() => w.amo.bus.events.length === 2, 'both events');
    expect(w.amo.bus.events.map((e) => e.detailType)).toEqual(['amocrm.lead.status', 'amocrm.lead.update']);
    expect(w.lines.some((l) => /event +amocrm\.lead\.status account=local id=8001 from=50011 to=50012/.test(l))).toBe(true);
    await waitFor(() => w.runner.pollerStats()['amocrm-hooks']?.deleted === 1, 'the message deleted');
    expect(w.amo.metrics.total(METRIC.eventsPublished)).toBe(2);
  });

  it('(b) the same webhook delivered twice (exact body + X-Amocrm-Requestid) is processed once', async () => {
    const w = await startWorld();
    await w.sandbox.admin.moveLead({ leadId: 8002, statusId: 50013 });
    await waitFor(() => w.amo.bus.events.length === 2, 'the first delivery processed');
    const original = w.sent.hooks()[0]!;
    const replay = await fetch(original.url, {
      method: 'POST',
      headers: {
        'content-type': original.headers['content-type']!,
        'user-agent': original.headers['user-agent']!,
        'x-amocrm-requestid': original.headers['x-amocrm-requestid']!,
      },
      body: original.body,
    });
    expect(replay.status).toBe(200);
    await waitFor(() => w.runner.pollerStats()['amocrm-hooks']?.deleted === 2, 'the replay consumed');
    expect(w.amo.bus.events.filter((e) => e.detailType === 'amocrm.lead.status')).toHaveLength(1);
    expect(w.amo.bus.events).toHaveLength(2);
    expect(w.lines.some((l) => /amocrm webhook: duplicate events skipped .*events=2 ran=0 duplicates=2 published=0/.test(l))).toBe(true);
    expect(w.runner.depth('amocrm-hooks').dlq).toBe(0);
  });

  it('(c) a wrong token is parked bad-token in ONE receive: the DLQ index shows it (attempts 1), no event, the token nowhere', async () => {
    const w = await startWorld();
    const wrong = 'not-the-token-4f1d8e2b9c7a';
    const res = await fetch(`${w.runner.url}/hooks/amocrm/${wrong}`, {
      method: 'POST',
      headers: FORM,
      body: fixtureBytes('amocrm-webhooks/webhook-01-status_lead.txt'),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"status":"ok"}');
    const [entry, ...more] = await waitFor(async () => {
      const l = await w.runner.dlqIndex.list({ reason: 'bad-token' });
      return l.length ? l : undefined;
    }, 'the DLQ index entry');
    expect(more).toEqual([]);
    expect(entry).toMatchObject({
      queueId: 'amocrm-hooks',
      route: 'amocrm-hook',
      reason: 'bad-token',
      attempts: 1,
      lastError: 'the path token matches no configured account',
    });
    expect(w.runner.pollerStats()['amocrm-hooks']).toMatchObject({ received: 1, deleted: 1 });
    expect(w.runner.depth('amocrm-hooks')).toMatchObject({ visible: 0, delayed: 0, dlq: 1 });
    expect(w.amo.bus.events).toEqual([]);
    expect(w.amo.metrics.total(METRIC.badToken)).toBe(1);
    expect(w.amo.metrics.total(METRIC.parked, { reason: 'bad-token' })).toBe(1);
    expect(JSON.stringify(entry)).not.toContain(wrong);
    expect(w.lines.join('\n')).not.toContain(wrong);
  });

  it('(d) throttling never parks: a flow deferring more times than maxAttempts still ends processed, nothing in the DLQ', async () => {
    // The shipped table with a small maxAttempts and no batching window keeps this fast.
    const input = structuredClone(routeTable) as unknown as RouteTableInput;
    const hooks = input.queues.find((q) => q.id === 'amocrm-hooks')!;
    Object.assign(hooks, { maxAttempts: 2, batchingWindowSeconds: 0, batchSize: 10 });
    const table = defineRouteTable(input);
    let calls = 0;
    const flows = new FlowRegistry().on('lead.status', 'rate-limited', async () => {
      calls++;
      if (calls <= 3) throw new DeferError('rate-budget', 1);
    });
    const w = await startWorld({ table, amocrm: { flows } });
    await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50013 });
    await waitFor(() => calls === 4, 'the fourth try', 20_000);
    await waitFor(() => w.lines.some((l) => /worker +message .*outcome=ok action=delete .*deferrals=3/.test(l)), 'the final ok', 5000);
    // Four deliveries, each deleted (three after their re-send, the last as done).
    await waitFor(() => w.runner.pollerStats()['amocrm-hooks']?.deleted === 4, 'every delivery deleted', 5000);
    expect(w.runner.depth('amocrm-hooks')).toEqual({ visible: 0, delayed: 0, inFlight: 0, dlq: 0 });
    expect(await w.runner.dlqIndex.list({})).toEqual([]);
    expect(w.lines.filter((l) => /action=resend .*delaySeconds=1/.test(l))).toHaveLength(3);
    // Published once, though the message went round four times.
    expect(w.amo.bus.events.map((e) => e.detailType)).toEqual(['amocrm.lead.status', 'amocrm.lead.update']);
  });

  it('(e) the ack path does no business work: 200 {"status":"ok"} with the worker paused, and while the processor hangs', async () => {
    const paused = await startWorld({ pollers: false });
    await paused.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    expect(paused.sent.hooks().map((s) => s.status)).toEqual([200]);
    expect(paused.runner.depth('amocrm-hooks').visible).toBe(1);
    expect(paused.amo.bus.events).toEqual([]);

    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = 0;
    const flows = new FlowRegistry().on('*', 'hang', async () => {
      entered++;
      await gate;
    });
    const hanging = await startWorld({ amocrm: { flows } });
    await hanging.sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
    await waitFor(() => entered === 1, 'the worker stuck in the flow');
    const url = await hanging.amo.hookUrl();
    const body = fixtureBytes('amocrm-webhooks/webhook-04-status_lead-dp-short.txt');
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const res = await fetch(url, { method: 'POST', headers: FORM, body });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('{"status":"ok"}');
      expect(Date.now() - t0).toBeLessThan(2000); // amoCRM's own limit for an answer
    }
    expect(hanging.runner.depth('amocrm-hooks').visible).toBe(3);
    release();
    // webhook-04 names another account (anyor): parked account-mismatch once the worker is free.
    await waitFor(
      async () => (await hanging.runner.dlqIndex.list({ reason: 'account-mismatch' })).length === 3,
      'the three parked',
      10_000,
    );
    expect(hanging.sandbox.admin.webhookDeliveries().map((d) => d.status)).toEqual([200]);
  });

  it('uninstalling the integration in the sandbox calls our /oauth/disconnect (signed): the account shows disconnected in /health', async () => {
    const w = await startWorld();
    const clientId = w.amo.config.integrations[0]!.clientId;
    const r = await w.sandbox.admin.uninstall(clientId);
    expect(r.hook?.status).toBe(200);
    expect(r.hook?.url.startsWith(`${w.runner.url}/oauth/disconnect?client_uuid=${clientId}&account_id=31000001&signature=`)).toBe(true);
    expect(await w.amo.accountStates()).toEqual({ local: 'disconnected' });
    const health = await fetch(`${w.runner.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { parts: Record<string, unknown> }).parts.amocrm).toMatchObject({
      status: 'down',
      accounts: { local: 'disconnected' },
    });
  });

  it("the sandbox account id and subdomain are the config's; a body naming another account is parked account-mismatch", async () => {
    const w = await startWorld();
    expect(w.amo.config.accounts[0]).toMatchObject({ id: SANDBOX_ACCOUNT, subdomain: 'sandbox', accountId: SANDBOX_AMO_ACCOUNT_ID });
    const body = fixtureBytes('amocrm-webhooks/webhook-02-status_lead-modern-cyrillic.txt');
    await fetch(await w.amo.hookUrl(), { method: 'POST', headers: FORM, body });
    const [entry] = await waitFor(async () => {
      const l = await w.runner.dlqIndex.list({ reason: 'account-mismatch' });
      return l.length ? l : undefined;
    }, 'the park');
    expect(entry).toMatchObject({ attempts: 1, lastError: expect.stringContaining('"unirock"') });
  });
});
