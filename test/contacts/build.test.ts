/**
 * The index build over a sandbox account of ~600 contacts (3 pages of 250): progress per page, the
 * cursor saved after each page so an interrupted build resumes without reading finished pages
 * again (counted by the sandbox), a finished build recorded and not re-run, `restart` from page 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import { buildContactIndex, type IndexBuildState } from '../../lib/contacts/index.ts';
import { DynamoContactIndex } from '../../lib/store/contact-index.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from '../client/support.ts';
import { createTestTable } from '../support/ddb.ts';

const CONTACTS_READ = { method: 'GET', route: '/api/v4/contacts' } as const;
const N = 610;

describe('the contact index build', () => {
  let sb: TestSandbox;
  let amo: AmoClientForAccount;
  let index: DynamoContactIndex;
  let ids: number[];

  beforeAll(async () => {
    sb = await sandbox({ fast: true });
    amo = fastClient(sb).client.forAccount(ACCOUNT);
    const t = await createTestTable('build');
    index = new DynamoContactIndex({ doc: t.doc, tableName: t.tableName });
    // Every contact a phone in a different spelling; every third also an e-mail; every tenth nothing usable.
    const spell = (i: number) => {
      const n = String(1_000_000 + i).slice(1); // 6 digits
      const d = `9${n.slice(0, 2)}${n.slice(2)}000`.slice(0, 10); // 10 national digits
      return [`+7 (${d.slice(0, 3)}) ${d.slice(3, 6)}-${d.slice(6, 8)}-${d.slice(8)}`, `8${d}`, `7${d}`][i % 3] as string;
    };
    ids = sb.admin.seed({
      contacts: Array.from({ length: N }, (_, i) => ({
        name: `C${i}`,
        custom_fields_values:
          i % 10 === 9 ? [cf.phone(['нет'])] : [cf.phone([spell(i)]), ...(i % 3 === 0 ? [cf.email([`Person${i}@Example.RU`])] : [])],
      })),
    }).contacts as number[];
  }, 60_000);
  afterAll(async () => {
    await sb.close();
  });

  it('3 pages; interrupted after page 2, resumed at page 3 without reading pages 1–2 again; then done and not re-run', async () => {
    const account = 'acc';
    const seen: IndexBuildState[] = [];
    const before = sb.admin.count(CONTACTS_READ);
    await expect(
      buildContactIndex({
        account,
        client: amo,
        index,
        defaultCountry: 'RU',
        onPage: (s) => {
          seen.push(s);
          if (s.pages === 2) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    expect(sb.admin.count(CONTACTS_READ) - before).toBe(2);
    expect(seen.map((s) => [s.pages, s.contacts])).toEqual([
      [1, 250],
      [2, 500],
    ]);
    const saved = await index.getBuild(account);
    expect(saved).toMatchObject({ status: 'running', nextPage: 3, pages: 2, contacts: 500 });

    const resumed = await buildContactIndex({ account, client: amo, index, defaultCountry: 'RU' });
    expect(sb.admin.count(CONTACTS_READ) - before).toBe(3);
    expect(resumed).toMatchObject({ pagesRead: 1, resumed: true });
    const usable = ids.filter((_, i) => i % 10 !== 9);
    const withMail = ids.filter((_, i) => i % 10 !== 9 && i % 3 === 0);
    expect(resumed.state).toMatchObject({ status: 'done', pages: 3, contacts: N, keys: usable.length + withMail.length });
    expect(resumed.state.finishedAt).toBeGreaterThanOrEqual(resumed.state.startedAt);

    // every spelling landed under its E.164 key (spot checks across the three pages)
    for (const i of [0, 1, 2, 251, 503, 608]) {
      const d = `9${String(1_000_000 + i).slice(1)}000`.slice(0, 10);
      expect((await index.lookup(account, [`phone:+7${d}`])).get(`phone:+7${d}`), String(i)).toEqual([ids[i]]);
    }
    expect((await index.lookup(account, ['email:person3@example.ru'])).get('email:person3@example.ru')).toEqual([ids[3]]);

    // finished: a rerun reads nothing; --restart reads everything again
    const again = await buildContactIndex({ account, client: amo, index, defaultCountry: 'RU' });
    expect(again).toMatchObject({ pagesRead: 0, state: { status: 'done', finishedAt: resumed.state.finishedAt } });
    expect(sb.admin.count(CONTACTS_READ) - before).toBe(3);
    const restarted = await buildContactIndex({ account, client: amo, index, defaultCountry: 'RU', restart: true });
    expect(restarted).toMatchObject({ pagesRead: 3, resumed: false, state: { status: 'done', contacts: N } });
    expect(sb.admin.count(CONTACTS_READ) - before).toBe(6);
  }, 120_000);
});
