/**
 * The client's `search()` against each of the sandbox's `query` search modes: amoCRM's search is
 * undocumented beyond "filled fields", reported to treat +7… and 8… as different numbers and to
 * return contacts that do not match. A phone search must find the contact in every mode and must
 * not hand back an unrelated one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import { collect } from '../../lib/amocrm/client/pagination.ts';
import { phoneTail } from '../../lib/amocrm/client/resources/entities.ts';
import type { SearchMode } from '../../infra/local/sandbox/index.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from './support.ts';

describe('contacts.search under every search mode', () => {
  let sb: TestSandbox;
  let ivan: number;
  let maria: number;
  beforeAll(async () => {
    sb = await sandbox({ fast: true });
    const acc = fastClient(sb).client.forAccount(ACCOUNT);
    [ivan, maria] = (
      await acc.contacts.add([
        { name: 'Иван', custom_fields_values: [cf.phone([{ value: '+79161234567', kind: 'MOB' }])] },
        { name: 'Мария', custom_fields_values: [cf.phone(['+79035550011']), cf.email(['maria@example.test'])] },
      ])
    ).map((r) => r.id) as [number, number];
  });
  afterAll(async () => {
    await sb.close();
  });

  const modes: SearchMode[] = ['normalising', 'literal', 'noisy'];
  for (const mode of modes) {
    it(`${mode}: 8…, +7… and a formatted number all find the contact, and only it`, async () => {
      sb.admin.setSearchMode(mode);
      const acc = fastClient(sb).client.forAccount(ACCOUNT);
      for (const q of ['89161234567', '+79161234567', '+7 (916) 123-45-67', '9161234567']) {
        expect(
          (await collect(acc.contacts.search(q))).map((c) => c.id),
          `${mode} ${q}`,
        ).toEqual([ivan]);
      }
      expect((await collect(acc.contacts.search('89990000000'))).map((c) => c.id)).toEqual([]);
      // a non-phone query passes through: noisy may add a stranger, the caller checks what came back
      const byMail = (await collect(acc.contacts.search('maria@example'))).map((c) => c.id);
      expect(byMail).toContain(maria);
      expect(byMail.length).toBe(mode === 'noisy' ? 2 : 1);
    });
  }

  it('phoneTail: only phone-looking queries with ≥ 10 digits', () => {
    expect(phoneTail('+7 (916) 123-45-67')).toBe('9161234567');
    expect(phoneTail('89161234567')).toBe('9161234567');
    expect(phoneTail('123-45-67')).toBeUndefined();
    expect(phoneTail('ivan 89161234567')).toBeUndefined();
  });
});
