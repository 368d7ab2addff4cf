/**
 * `--no-sandbox`: a real account's config file and local secrets. Nothing is connected or
 * subscribed automatically; webhooks with the configured token are processed, /health says the
 * account is not connected yet.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocal } from '../../infra/local/runner.ts';
import { fixtureBytes } from '../support/fixtures.ts';
import { waitFor } from './support.ts';

describe('npm start --no-sandbox (a real account from amo.config.json)', () => {
  it("processes the account's webhooks with its configured token; /health shows it not connected; the OAuth routes are live", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amo-nosb-'));
    const configFile = join(dir, 'amo.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        integrations: [
          {
            id: 'main',
            clientId: 'client-0000-0000-0042',
            clientSecret: { secret: 'client-main' },
            redirectUri: 'https://gw.example.com/oauth/callback',
          },
        ],
        accounts: [
          {
            id: 'clinic',
            integration: 'main',
            subdomain: 'anyor',
            domain: 'amocrm.ru',
            accountId: 30307558,
            hookToken: { secret: 'hook-clinic' },
          },
        ],
      }),
    );
    const secretsFile = join(dir, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ 'client-main': 's3cret', 'hook-clinic': 'real-account-hook-token-77' }));
    const lines: string[] = [];
    const runner = await startLocal({
      port: 0,
      memory: true,
      quiet: true,
      logSink: (l) => lines.push(l),
      pollWaitSeconds: 1,
      schedule: false,
      amocrm: { sandbox: false, configFile, secretsFile },
    });
    try {
      expect(runner.amo?.mode).toBe('account');
      expect(runner.amo?.sandbox).toBeUndefined();
      const res = await fetch(`${runner.url}/hooks/amocrm/real-account-hook-token-77`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-amocrm-requestid': '4deb1687-f69f-4f06-930e-95c2947134ca' },
        body: fixtureBytes('amocrm-webhooks/webhook-04-status_lead-dp-short.txt'),
      });
      expect(res.status).toBe(200);
      const ev = await waitFor(() => runner.amo?.bus.events[0], 'the event');
      expect(ev).toMatchObject({
        detailType: 'amocrm.lead.status',
        detail: { account: 'clinic', entityId: 10754147, family: 'digital-pipeline' },
      });
      const health = await fetch(`${runner.url}/health`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { parts: Record<string, unknown> }).parts.amocrm).toMatchObject({
        status: 'down',
        mode: 'account',
        accounts: { clinic: 'not-connected' },
      });
      // The callback is served by the real OAuth function: a foreign client id is refused, nothing stored.
      const cb = await fetch(`${runner.url}/oauth/callback?code=x&state=y&referer=anyor.amocrm.ru&client_id=someone-else`);
      expect(cb.status).toBe(400);
      expect(((await cb.json()) as { error: string }).error).toBe('unknown_client');
      expect(lines.join('\n')).not.toContain('real-account-hook-token-77');
    } finally {
      await runner.stop();
    }
  });

  it('a missing config file is a clear error at start', async () => {
    await expect(
      startLocal({ port: 0, memory: true, quiet: true, amocrm: { sandbox: false, configFile: '/nonexistent/amo.config.json' } }),
    ).rejects.toThrow(/--no-sandbox needs a config: \/nonexistent\/amo\.config\.json does not exist/);
  });
});
