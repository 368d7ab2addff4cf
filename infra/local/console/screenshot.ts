/**
 * `npm run console:screenshot [-- out.png]`: docs/console.png, the console of a throwaway local
 * gateway (memory, the sandbox) with a little going on — two deals moved (two events each), one
 * webhook parked by a failing flow, one forged webhook parked `bad-token` with its body view open —
 * taken in headless Chromium (infra/local/console/chromium.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { FlowRegistry } from '../../../lib/ingest/flows.ts';
import { PermanentError } from '../../../lib/pipeline/outcome.ts';
import { startLocal } from '../runner.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';

async function until(fn: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const out = resolve(process.argv[2] ?? 'docs/console.png');
let moves = 0;
const flows = new FlowRegistry().on('lead.status', 'crm-sync', async () => {
  // The second move's sync fails for good: that message is parked with the flow's reason.
  if (++moves === 2) throw new PermanentError('crm-sync-refused', 'the CRM sync target refused the lead');
});
const runner = await startLocal({
  port: 0,
  memory: true,
  quiet: true,
  schedule: false,
  pollWaitSeconds: 1,
  amocrm: { sandbox: true, flows, printEvents: false },
});
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] });
try {
  const sandbox = runner.amo!.sandbox!;
  await sandbox.admin.moveLead({ leadId: 8001, statusId: 50012 });
  await until(() => moves === 1, 'the first move');
  await sandbox.admin.moveLead({ leadId: 8002, statusId: 50013 });
  await fetch(`${runner.url}/hooks/amocrm/forged-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'leads[add][0][id]=9001&leads[add][0][name]=Call+back&contacts[add][0][phone]=%2B7%20916%20123-45-67&contacts[add][0][email]=ivan%40example.ru',
  });
  await until(() => runner.depth('amocrm-hooks').dlq === 2, 'two parked messages');
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(runner.consoleUrl);
  await page.locator('#parked tbody tr', { hasText: 'bad-token' }).locator('summary').click();
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await runner.stop();
}
