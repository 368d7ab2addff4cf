/**
 * Webhook redelivery as amoCRM does it ([amo-docs webhooks-format] "Ожидаемый ответ"): after a failed
 * attempt, attempt 2 follows 5 min later and attempt 3 15 min after that for any invalid answer;
 * attempts 4 (15 min) and 5 (1 h) only after a 499 or 5xx. Driven by the sandbox clock
 * (`runWebhookRetries`) or by real timers scaled with `webhookRetryScale`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxOptions } from '../../infra/local/sandbox/index.ts';
import { WebhookDeliverer } from '../../infra/local/sandbox/webhook-out.ts';
import { call, receiver, seedBasic, world, type World } from './support.ts';

const MIN = 60_000;
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

async function setup(
  opts: SandboxOptions = {},
  status = 500,
): Promise<{ w: World; hook: Awaited<ReturnType<typeof receiver>>; leadId: number }> {
  const w = await world({ webhookRetryScale: 0, ...opts });
  const hook = await receiver(status);
  open.push(w.sb, hook);
  seedBasic(w.sb);
  const seeded = w.sb.admin.seed({
    leads: [{ name: 'Deal', pipeline_id: 100, status_id: 1001 }],
    webhooks: [{ destination: `${hook.url}/hooks/amocrm/secret`, settings: ['status_lead'] }],
  });
  return { w, hook, leadId: seeded.leads[0] as number };
}

describe('webhook redelivery (amo-docs webhooks-format)', () => {
  it('a 5xx is redelivered 5 min, 15 min, 15 min and 1 h after the previous attempt, then given up; same body, new request ids', async () => {
    const { w, hook, leadId } = await setup();
    const t0 = w.clock.now();
    const moved = await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    expect(moved.deliveries[0]?.result).toMatchObject({ status: 500, ok: false });
    expect(w.sb.admin.pendingWebhookRetries()).toEqual([
      expect.objectContaining({
        attempt: 2,
        dueAt: t0 + 5 * MIN,
        previousStatus: 500,
        previousError: 'HTTP 500',
        destination: `${hook.url}/hooks/amocrm/secret`,
      }),
    ]);
    // Not due yet: nothing is sent.
    w.clock.advance(5 * MIN - 1);
    expect(await w.sb.admin.runWebhookRetries()).toEqual({ delivered: 0 });
    expect(hook.got).toHaveLength(1);
    for (const [attempt, wait] of [
      [2, 1],
      [3, 15 * MIN],
      [4, 15 * MIN],
      [5, 60 * MIN],
    ] as const) {
      w.clock.advance(wait);
      expect(await w.sb.admin.runWebhookRetries()).toEqual({ delivered: 1 });
      expect(hook.got).toHaveLength(attempt);
    }
    expect(w.sb.admin.pendingWebhookRetries()).toEqual([]);
    const recs = w.sb.admin.webhookDeliveries();
    expect(recs.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(recs.map((r) => r.at - t0)).toEqual([0, 5 * MIN, 20 * MIN, 35 * MIN, 95 * MIN]);
    expect(new Set(hook.got.map((g) => g.body)).size).toBe(1);
    expect(new Set(hook.got.map((g) => g.headers['x-amocrm-requestid'])).size).toBe(5);
    // Much later: nothing more.
    w.clock.advance(24 * 60 * MIN);
    expect(await w.sb.admin.runWebhookRetries({ all: true })).toEqual({ delivered: 0 });
  });

  it("knob webhookRetryRequestId: 'same' redelivers under the first attempt's X-Amocrm-Requestid", async () => {
    const { w, hook, leadId } = await setup({ webhookRetryRequestId: 'same' });
    await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    w.clock.advance(5 * MIN);
    await w.sb.admin.runWebhookRetries();
    expect(hook.got).toHaveLength(2);
    expect(hook.got[1]?.headers['x-amocrm-requestid']).toBe(hook.got[0]?.headers['x-amocrm-requestid']);
  });

  it('a 4xx (not 499) gets attempts 2 and 3 only; a 499 gets all four redeliveries', async () => {
    const { w, hook, leadId } = await setup({}, 404);
    await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    w.clock.advance(5 * MIN);
    await w.sb.admin.runWebhookRetries();
    w.clock.advance(15 * MIN);
    await w.sb.admin.runWebhookRetries();
    expect(hook.got).toHaveLength(3);
    expect(w.sb.admin.pendingWebhookRetries()).toEqual([]);

    hook.setStatus(499);
    await w.sb.admin.moveLead({ leadId, statusId: 1001 });
    for (const wait of [5 * MIN, 15 * MIN, 15 * MIN, 60 * MIN]) {
      w.clock.advance(wait);
      await w.sb.admin.runWebhookRetries();
    }
    expect(hook.got).toHaveLength(3 + 5);
  });

  it('no answer at all (connection refused) counts as code 0: attempts 2 and 3 only', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const w = await world({ webhookRetryScale: 0 });
    open.push(w.sb);
    seedBasic(w.sb);
    const s = w.sb.admin.seed({
      leads: [{ name: 'Deal', pipeline_id: 100, status_id: 1001 }],
      webhooks: [{ destination: `http://127.0.0.1:${port}/h`, settings: ['status_lead'] }],
    });
    await w.sb.admin.moveLead({ leadId: s.leads[0] as number, statusId: 1002 });
    expect(w.sb.admin.pendingWebhookRetries()[0]).toMatchObject({
      attempt: 2,
      previousStatus: null,
      previousError: expect.stringMatching(/^network error/),
    });
    w.clock.advance(5 * MIN);
    await w.sb.admin.runWebhookRetries();
    w.clock.advance(15 * MIN);
    await w.sb.admin.runWebhookRetries();
    expect(w.sb.admin.webhookDeliveries().map((r) => [r.attempt, r.ok])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    expect(w.sb.admin.pendingWebhookRetries()).toEqual([]);
  });

  it('an answer later than the timeout counts as 499: all four redeliveries (the pessimistic reading)', async () => {
    const held: Array<() => void> = [];
    const slow = createServer((_req, res) => void held.push(() => res.end()));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const port = (slow.address() as AddressInfo).port;
    const w = await world({ webhookRetryScale: 0, webhookTimeoutMs: 100 });
    open.push(w.sb);
    try {
      seedBasic(w.sb);
      const s = w.sb.admin.seed({
        leads: [{ name: 'Deal', pipeline_id: 100, status_id: 1001 }],
        webhooks: [{ destination: `http://127.0.0.1:${port}/h`, settings: ['status_lead'] }],
      });
      await w.sb.admin.moveLead({ leadId: s.leads[0] as number, statusId: 1002 });
      for (const wait of [5, 15, 15, 60]) {
        w.clock.advance(wait * MIN);
        await w.sb.admin.runWebhookRetries();
      }
      expect(w.sb.admin.webhookDeliveries().map((r) => [r.attempt, r.ok, r.error])).toEqual(
        [1, 2, 3, 4, 5].map((a) => [a, false, 'no answer within 100 ms']),
      );
      expect(w.sb.admin.pendingWebhookRetries()).toEqual([]);
    } finally {
      held.forEach((end) => end());
      slow.closeAllConnections();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });

  it('once the endpoint recovers, the redelivery succeeds and nothing more is pending', async () => {
    const { w, hook, leadId } = await setup({}, 503);
    await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    hook.setStatus(200);
    w.clock.advance(5 * MIN);
    await w.sb.admin.runWebhookRetries();
    expect(hook.got).toHaveLength(2);
    expect(hook.got[1]?.body).toBe(hook.got[0]?.body);
    expect(w.sb.admin.webhookDeliveries().map((r) => [r.attempt, r.status])).toEqual([
      [1, 503],
      [2, 200],
    ]);
    expect(w.sb.admin.pendingWebhookRetries()).toEqual([]);
  });

  it('real timers run scaled by webhookRetryScale; the admin shows pending retries over HTTP', async () => {
    const { w, hook, leadId } = await setup({ webhookRetryScale: 0.0005 }, 500); // 5 min → 150 ms
    await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    const pending = await call(`${w.sb.url}/_sandbox/webhooks/pending`);
    expect(pending.json).toEqual([expect.objectContaining({ attempt: 2, previousStatus: 500 })]);
    hook.setStatus(200);
    const until = Date.now() + 5000;
    while (hook.got.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await w.sb.admin.flushWebhooks();
    expect(hook.got).toHaveLength(2);
    expect((await call(`${w.sb.url}/_sandbox/webhooks/pending`)).json).toEqual([]);
  });

  it('POST /_sandbox/webhooks/retry delivers the due ones now ({all: true}: every pending one)', async () => {
    const { w, hook, leadId } = await setup();
    await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    expect((await call(`${w.sb.url}/_sandbox/webhooks/retry`, { method: 'POST' })).json).toEqual({ delivered: 0 });
    expect((await call(`${w.sb.url}/_sandbox/webhooks/retry`, { method: 'POST', body: JSON.stringify({ all: true }) })).json).toEqual({
      delivered: 1,
    });
    expect(hook.got).toHaveLength(2);
  });

  it('a deleted subscription gets no redelivery; reset cancels pending ones', async () => {
    const { w, hook, leadId } = await setup({ webhookRetryScale: 1 });
    const t = (await w.login()).access_token;
    await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    expect(w.sb.admin.pendingWebhookRetries()).toHaveLength(1);
    expect((await w.api('DELETE', '/api/v4/webhooks', t, { destination: `${hook.url}/hooks/amocrm/secret` })).status).toBe(204);
    w.clock.advance(5 * MIN);
    await w.sb.admin.runWebhookRetries();
    expect(hook.got).toHaveLength(1);

    w.sb.admin.seed({ webhooks: [{ destination: `${hook.url}/again`, settings: ['status_lead'] }] });
    await w.sb.admin.moveLead({ leadId, statusId: 1001 });
    expect(w.sb.admin.pendingWebhookRetries()).toHaveLength(1);
    w.sb.admin.reset();
    expect(w.sb.admin.pendingWebhookRetries()).toEqual([]);
  });

  it('close() cancels the timers of pending redeliveries: nothing is sent after it', async () => {
    const { w, hook, leadId } = await setup({ webhookRetryScale: 0.001 }); // 5 min → 300 ms
    await w.sb.admin.moveLead({ leadId, statusId: 1002 });
    expect(w.sb.admin.pendingWebhookRetries()).toHaveLength(1);
    await w.sb.close();
    expect(w.sb.admin.pendingWebhookRetries()).toEqual([]);
    await new Promise((r) => setTimeout(r, 600));
    expect(hook.got).toHaveLength(1);
  });

  it('redeliveries are answers like any other for the disable rule; a disabled destination gets no more of them', async () => {
    const hook = await receiver(500);
    open.push(hook);
    let now = Date.UTC(2026, 0, 1);
    const d = new WebhookDeliverer({ clock: { now: () => now }, retryScale: 0, disableAfterFailures: 2 });
    const dest = { id: 1, destination: `${hook.url}/h` };
    await d.deliver(dest, 'a=1');
    now += 5 * MIN;
    await d.runRetries();
    expect(d.isDisabled(dest.destination)).toBe(false);
    now += 15 * MIN;
    await d.runRetries(); // the third invalid answer in 2 h: more than 2 → disabled
    expect(d.isDisabled(dest.destination)).toBe(true);
    expect(d.pendingRetries()).toEqual([]);
    expect(hook.got).toHaveLength(3);
    expect(d.stop()).toBe(0);
  });
});
