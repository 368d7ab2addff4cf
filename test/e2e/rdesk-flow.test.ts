/**
 * RDESK end to end on the local runner (`npm start`'s wiring): the real booked sample POSTed to
 * /zdrav/booked/<token> is answered exactly `200 {"status":"ok"}`, queued, consumed by the worker's
 * RDESK processor (registered from the config's `rdesk` section) and written into the sandbox lead;
 * a wrong token gets the same answer and is parked bad-token.
 */
import { describe, expect, it } from 'vitest';
import { SANDBOX_ACCOUNT } from '../../infra/local/amocrm.ts';
import { fixtureBytes } from '../support/fixtures.ts';
import { startWorld, useWorlds, waitFor } from './support.ts';

useWorlds();
const TOKEN = 'rdesk-e2e-token-5b1c';

describe('RDESK through the local runner', () => {
  it('booked sample → ack {"status":"ok"} → worker → lead fields; a wrong token: same ack, parked bad-token', async () => {
    const w = await startWorld({
      amocrm: {
        rdesk: {
          accounts: [
            { account: SANDBOX_ACCOUNT, token: { secret: 'rdesk/local' }, fields: { booked: { total: 'price', rdeskId: 'ID здравница' } } },
          ],
        },
        extraSecrets: { 'rdesk/local': TOKEN },
      },
    });
    const seeded = w.sandbox.admin.seed({
      customFields: { leads: [{ name: 'ID здравница', type: 'text' }] },
      leads: [{ id: 23392663, name: 'Бронь' }],
    });
    const fieldId = seeded.customFields.leads![0]!.id;

    const post = (token: string) =>
      fetch(`${w.runner.url}/zdrav/booked/${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: fixtureBytes('rdesk/booked.json'),
      });
    for (const token of [TOKEN, 'not-our-token']) {
      const res = await post(token);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('{"status":"ok"}');
    }
    const lead = await waitFor(
      () => {
        const l = w.sandbox.admin.lead(23392663) as { price?: number } | undefined;
        return l?.price === 153887 ? l : undefined;
      },
      'the lead written',
      20_000,
    );
    expect(
      (lead as { custom_fields_values?: Array<{ field_id: number; values: Array<{ value: unknown }> }> }).custom_fields_values,
    ).toEqual(
      expect.arrayContaining([expect.objectContaining({ field_id: fieldId, values: [expect.objectContaining({ value: '88888' })] })]),
    );
    const parked = await waitFor(async () => {
      const l = await w.runner.dlqIndex.list({ queue: 'rdesk' });
      return l.length ? l : undefined;
    }, 'the bad-token park');
    expect(parked.map((e) => [e.route, e.reason])).toEqual([['zdrav-booked', 'bad-token']]);
    // Neither token appears in the runner's log lines.
    expect(w.lines.join('\n')).not.toContain(TOKEN);
    expect(w.lines.join('\n')).not.toContain('not-our-token');
  }, 40_000);
});
