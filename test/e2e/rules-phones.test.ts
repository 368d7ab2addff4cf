/**
 * The normalizePhones rule end to end through the connected local world: an API write saves a
 * contact's phone as "8 (999) 123-45-67" → the sandbox's update_contact webhook → our hook route →
 * SQS → the worker → the rule → one PATCH of the contact in E.164 → the update webhook that PATCH
 * causes (the sandbox sends it, as amoCRM does) → nothing more. Requests counted by the sandbox.
 */
import { describe, expect, it } from 'vitest';
import type { RulesConfigInput } from '../../lib/rules/config.ts';
import { startWorld, useWorlds, waitFor, type World } from './support.ts';

useWorlds();

const RULES: RulesConfigInput = {
  list: [{ id: 'phones', account: 'local', when: { contact: 'updated' }, then: [{ normalizePhones: { defaultCountry: 'RU' } }] }],
};

const contactPatches = (w: World) => w.sandbox.admin.count({ method: 'PATCH', route: '/api/v4/contacts' });
const phonesOf = (w: World, id: number) =>
  (
    w.sandbox.admin.entities('contacts').find((c) => c.id === id)?.custom_fields_values as
      Array<{ field_code: string | null; values: Array<{ value: string; enum_code?: string }> }> | undefined
  )?.find((f) => f.field_code === 'PHONE')?.values;

/** A write through the REST API, as another integration (or amoCRM's own UI) would make it. */
async function saveContact(w: World, body: unknown): Promise<void> {
  const { access_token } = w.sandbox.admin.issueLongLivedToken();
  const res = await fetch(`${w.sandbox.url}/api/v4/contacts`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

describe('normalizePhones through the local runner and the sandbox', () => {
  it('a contact saved with "8 (999) 123-45-67" ends as "+79991234567"; the echo of our PATCH changes nothing more', async () => {
    const w = await startWorld({ amocrm: { rules: RULES } });
    await waitFor(() => w.lines.some((l) => l.includes('1 rule(s) registered')), 'the rules registered');
    await saveContact(w, [
      {
        id: 9002,
        custom_fields_values: [
          {
            field_code: 'PHONE',
            values: [
              { value: '8 (999) 123-45-67', enum_code: 'WORK' },
              { value: '+7 999 123 45 67', enum_code: 'MOB' },
              { value: 'секретарь', enum_code: 'OTHER' },
              { value: '916 000-11-22', enum_code: 'MOB' },
            ],
          },
        ],
      },
    ]);
    expect(contactPatches(w)).toBe(1);
    await waitFor(() => phonesOf(w, 9002)?.[0]?.value === '+79991234567' || undefined, 'the phone normalised', 30_000);
    // Our PATCH makes the sandbox send update_contact: let it (and any retry) go through the worker.
    await w.sandbox.admin.flushWebhooks();
    await waitFor(() => w.sandbox.admin.webhookDeliveries().length >= 2 || undefined, 'the echo delivered');
    await new Promise((r) => setTimeout(r, 2500));
    expect(phonesOf(w, 9002)).toEqual([
      expect.objectContaining({ value: '+79991234567', enum_code: 'WORK' }),
      expect.objectContaining({ value: 'секретарь', enum_code: 'OTHER' }),
      expect.objectContaining({ value: '+79160001122', enum_code: 'MOB' }),
    ]);
    expect(contactPatches(w)).toBe(2); // the save and our one normalising PATCH: the echo wrote nothing
    expect(w.lines.some((l) => l.includes('rules: phones left as they are'))).toBe(true);
    // The count is logged, never the numbers.
    expect(w.lines.join('\n')).not.toMatch(/9991234567|секретарь/);
  }, 60_000);
});
