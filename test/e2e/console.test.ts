/**
 * The operator's console (infra/local/console/) in a real browser: headless Debian Chromium
 * driven by playwright-core, against a running gateway with the sandbox (startWorld). A real
 * webhook is parked by a failing flow, seen in the console with its redacted body, replayed from
 * the console once the flow works again (the counts change, the event's flow runs); a forged
 * webhook is parked `bad-token` and purged through the confirmation page. The protection (Host,
 * Origin, per-run token) is checked over plain HTTP. `.ci/run` installs Chromium; nothing skips.
 */
import { request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH as CHROMIUM } from '../../infra/local/console/chromium.ts';
import { FlowRegistry } from '../../lib/ingest/flows.ts';
import { PermanentError } from '../../lib/pipeline/outcome.ts';
import { startWorld, useWorlds, waitFor } from './support.ts';

useWorlds();

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  // playwright-core gives the browser a fresh temporary profile of its own.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS] });
}, 30_000);
afterAll(async () => {
  await browser?.close();
});

/** A count of the queues table (each cell names its queue and column in `data-k`). */
async function queueCount(page: Page, queue: string, column: 'visible' | 'delayed' | 'inFlight' | 'dlq'): Promise<string> {
  return (await page.locator(`#queues [data-k="q.${queue}.${column}"]`).innerText()).trim();
}

function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', rej);
    req.end(opts.body);
  });
}

describe('the operator console in Chromium', () => {
  it('shows the queues, a parked message with its redacted body; replay and purge from the page change the counts', async () => {
    let downstreamUp = false;
    let flowRuns = 0;
    const flows = new FlowRegistry().on('lead.status', 'crm-sync', async () => {
      flowRuns++;
      if (!downstreamUp) throw new PermanentError('downstream-down', 'the CRM sync target refused the lead');
    });
    const w = await startWorld({ amocrm: { flows } });
    const page = await browser.newPage();
    try {
      await page.goto(w.runner.consoleUrl);
      expect(await page.title()).toBe('amo-gateway console');
      // Routes with their template URLs, never a token.
      const routes = await page.locator('#routes').innerText();
      expect(routes).toContain('/hooks/amocrm/{token}');
      const hookToken = new URL(await w.amo.hookUrl()).pathname.split('/').pop()!;
      expect(await page.content()).not.toContain(hookToken);
      expect(await queueCount(page, 'amocrm-hooks', 'dlq')).toBe('0');
      // The token state (connected by the install flow) and the sandbox counters.
      expect(await page.locator('#tokens').innerText()).toMatch(/local.*active/s);
      expect(await page.locator('#sandbox').innerText()).toContain('/oauth2/access_token');

      // 1. A real webhook (the sandbox moves a deal) whose flow fails for good: parked.
      await w.sandbox.admin.moveLead({ leadId: 8001, statusId: 50013 });
      await page.locator('#parked tbody tr', { hasText: 'downstream-down' }).waitFor({ timeout: 10_000 });
      expect(await queueCount(page, 'amocrm-hooks', 'dlq')).toBe('1');
      const row = page.locator('#parked tbody tr', { hasText: 'downstream-down' });
      await row.locator('summary').click();
      const body = await row.locator('pre.body').innerText();
      expect(body).toContain('leads[status][0][id] = 8001');
      expect(await row.innerText()).toMatch(/token=\[masked, \d+ chars\]/);

      // 2. The target is fixed; Replay, with the keyboard. The message goes back and is processed.
      downstreamUp = true;
      const runsBefore = flowRuns;
      await row.getByRole('button', { name: /^Replay amocrm-hooks\// }).focus();
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/_console\?r=\d+/, { timeout: 10_000 });
      expect(await page.locator('#flash').innerText()).toContain('1 replayed');
      await waitFor(() => flowRuns > runsBefore, 'the replayed message through the flow', 10_000);
      await page.locator('#parked tbody tr', { hasText: 'downstream-down' }).waitFor({ state: 'detached', timeout: 10_000 });
      expect(await queueCount(page, 'amocrm-hooks', 'dlq')).toBe('0');
      expect(await page.locator('#events').innerText()).toContain('amocrm.lead.status');
      await waitFor(() => w.runner.depth('amocrm-hooks').inFlight === 0, 'the replayed message done', 10_000);
      expect(w.runner.depth('amocrm-hooks')).toEqual({ visible: 0, delayed: 0, inFlight: 0, dlq: 0 });

      // 3. A forged webhook (a token no account has) with a phone and an e-mail: parked bad-token.
      const forged = await fetch(`${w.runner.url}/hooks/amocrm/forged-token-0000`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'leads[add][0][id]=9001&contact[phone]=%2B7%20916%20123-45-67&contact[email]=ivan%40example.ru',
      });
      expect(forged.status).toBe(200);
      await page.locator('#parked tbody tr', { hasText: 'bad-token' }).waitFor({ timeout: 10_000 });
      const bad = page.locator('#parked tbody tr', { hasText: 'bad-token' });
      await bad.locator('summary').click();
      const badBody = await bad.locator('pre.body').innerText();
      expect(badBody).toContain('contact[phone] = [phone]');
      expect(badBody).toContain('contact[email] = [email]');
      expect(await page.content()).not.toMatch(/ivan@example\.ru|916 123-45-67|forged-token-0000/);
      expect(await queueCount(page, 'amocrm-hooks', 'dlq')).toBe('1');
      // The console (loaded, refreshed every 2 s, a body opened) never received from the DLQ:
      // a console left open holds nothing invisible under a concurrent `dlq replay`.
      const dlq = w.runner.fauxqs.inspectQueue(w.runner.queues['amocrm-hooks']!.dlqName)!;
      expect(dlq.messages.inflight).toEqual([]);
      expect(dlq.messages.ready.map((m) => m.approximateReceiveCount)).toEqual([0]);

      // 4. Purge it: the confirmation page (the CLI's --yes), then the POST.
      await bad.getByRole('link', { name: /^Purge amocrm-hooks\// }).click();
      await expect(page.locator('h1').innerText()).resolves.toMatch(/^Purge the parked message amocrm-hooks\//);
      await page.getByRole('button', { name: 'Purge for good' }).click();
      await page.waitForURL(/\/_console\?r=\d+/);
      expect(await page.locator('#flash').innerText()).toContain('1 purged');
      expect(await queueCount(page, 'amocrm-hooks', 'dlq')).toBe('0');
      expect(await page.locator('#parked').innerText()).toContain('Nothing is parked.');
      expect(await w.runner.dlqIndex.list({})).toEqual([]);
    } finally {
      await page.close();
    }
  }, 30_000);

  it('reads without JavaScript: the same tables, and a meta refresh instead of the script', async () => {
    const w = await startWorld();
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(w.runner.consoleUrl);
      expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('5');
      expect(
        await page
          .getByRole('table', { name: /Messages per queue/ })
          .locator('tbody tr')
          .count(),
      ).toBe(w.runner.table.queues.length);
      expect(await page.getByRole('heading', { level: 2 }).allInnerTexts()).toEqual([
        'Queues',
        'Parked messages',
        'Accounts and tokens',
        'Rate budget',
        'Last events',
        'Routes',
        'Sandbox',
      ]);
    } finally {
      await context.close();
    }
  });

  it('refuses what a foreign page could send: another Host, another Origin, a missing or wrong form token', async () => {
    const w = await startWorld({ consoleToken: 'the-run-token' });
    const u = new URL(w.runner.consoleUrl);
    const host = u.host;
    const ok = await rawRequest(w.runner.consoleUrl, { headers: { host } });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('amo-gateway — local console');
    // DNS rebinding: the page names its own host.
    expect((await rawRequest(w.runner.consoleUrl, { headers: { host: `evil.example:${u.port}` } })).status).toBe(403);
    expect((await rawRequest(`${w.runner.consoleUrl}/state.json`, { headers: { host: 'evil.example' } })).status).toBe(403);
    const post = (headers: Record<string, string>, body: string) =>
      rawRequest(`${w.runner.consoleUrl}/dlq/replay`, {
        method: 'POST',
        headers: { host, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
    expect((await post({ origin: 'https://evil.example' }, 'csrf=the-run-token&queue=amocrm-hooks')).status).toBe(403);
    expect((await post({}, 'csrf=the-run-token&queue=amocrm-hooks')).status).toBe(403); // no Origin
    expect((await post({ origin: `http://${host}` }, 'queue=amocrm-hooks')).status).toBe(403);
    expect((await post({ origin: `http://${host}` }, 'csrf=another-token&queue=amocrm-hooks')).status).toBe(403);
    expect((await post({ origin: `http://${host}`, 'sec-fetch-site': 'cross-site' }, 'csrf=the-run-token&queue=amocrm-hooks')).status).toBe(
      403,
    );
    const good = await post({ origin: `http://${host}` }, 'csrf=the-run-token&queue=amocrm-hooks');
    expect(good.status).toBe(303);
    // A purge needs its confirmation.
    const purge = await rawRequest(`${w.runner.consoleUrl}/dlq/purge`, {
      method: 'POST',
      headers: { host, origin: `http://${host}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=the-run-token&queue=amocrm-hooks',
    });
    expect(purge.status).toBe(400);
    // Pages cannot be framed and run only the console's own script.
    const page = await fetch(w.runner.consoleUrl);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});
