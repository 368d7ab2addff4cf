/**
 * The contact finder over real sockets: the sandbox (amoCRM) under each of its `query` search modes,
 * and the index on the run's DynamoDB emulator. amoCRM's search is undocumented and fuzzy, so the
 * finder must find a contact whatever format its phone was typed in, never return a search hit that
 * does not really carry the phone / e-mail, drop stale index entries, pick the most recently
 * updated of several real matches, and cost one contacts read for people the index knows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import type { Log } from '../../lib/common/log.ts';
import type { MetricsSink } from '../../lib/common/metrics-sink.ts';
import { buildContactIndex, createContactFinder, type ContactFinder, type PersonKey } from '../../lib/contacts/index.ts';
import type { MetricName } from '../../lib/metrics.ts';
import { DynamoContactIndex } from '../../lib/store/contact-index.ts';
import type { SearchMode } from '../../infra/local/sandbox/index.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from '../client/support.ts';
import { createTestTable } from '../support/ddb.ts';

const MODES: SearchMode[] = ['normalising', 'literal', 'noisy'];
const CONTACTS_READ = { method: 'GET', route: '/api/v4/contacts' } as const;

interface Recorded {
  lines: Array<{ level: string; message: string; attributes?: Record<string, unknown> }>;
  log: Log;
  counts: Map<MetricName, number>;
  metrics: MetricsSink;
}

function recorder(): Recorded {
  const lines: Recorded['lines'] = [];
  const at =
    (level: string) =>
    (message: string, attributes?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(attributes ? { attributes } : {}) });
    };
  const counts = new Map<MetricName, number>();
  return {
    lines,
    log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    counts,
    metrics: { count: (name, _d, v = 1) => void counts.set(name, (counts.get(name) ?? 0) + v) },
  };
}

describe('the contact finder', () => {
  let sb: TestSandbox;
  let amo: AmoClientForAccount;
  let index: DynamoContactIndex;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    sb = await sandbox({ fast: true });
    amo = fastClient(sb).client.forAccount(ACCOUNT);
    const t = await createTestTable('finder');
    index = new DynamoContactIndex({ doc: t.doc, tableName: t.tableName });
    const seeded = sb.admin.seed({
      contacts: [
        { name: 'Formatted', custom_fields_values: [cf.phone(['+7 (999) 123-45-67'])] },
        { name: 'Eight', custom_fields_values: [cf.phone(['8 999 222 33 44'])] },
        { name: 'Bare', custom_fields_values: [cf.phone(['79993334455'])] },
        { name: 'Mail', custom_fields_values: [cf.email(['Ivan.Petrov@Example.RU'])] },
        // near misses a fuzzy search returns: the phone's digits with an extension, a longer e-mail
        { name: 'Extension', custom_fields_values: [cf.phone(['+7 999 123-45-67 доб. 12'])] },
        { name: 'Longer mail', custom_fields_values: [cf.email(['xivan.petrov@example.ru'])] },
      ],
    });
    const c = seeded.contacts as number[];
    Object.assign(ids, { formatted: c[0], eight: c[1], bare: c[2], mail: c[3], extension: c[4], longer: c[5] });
  });
  afterAll(async () => {
    await sb.close();
  });

  const finderFor = (r: Recorded): ContactFinder =>
    createContactFinder({ clientFor: () => amo, index, log: r.log, metrics: r.metrics, defaultCountry: 'RU' });

  const people: PersonKey[] = [
    { phone: '+79991234567' },
    { phone: '+79992223344' },
    { phone: '+79993334455' },
    { email: 'ivan.petrov@example.ru' },
    { phone: '+79990000000' }, // nobody
    { email: 'nobody@example.ru' }, // nobody
  ];
  const expected = () => [ids.formatted, ids.eight, ids.bare, ids.mail, undefined, undefined];

  for (const mode of MODES) {
    it(`${mode}, index built: every spelling is found through the index, nobody else is returned`, async () => {
      sb.admin.setSearchMode(mode);
      const account = `built-${mode}`;
      await buildContactIndex({ account, client: amo, index, defaultCountry: 'RU' });
      const r = recorder();
      const got = await finderFor(r).find(account, people);
      expect(got.map((m) => m?.contactId)).toEqual(expected());
      expect(got.slice(0, 4).map((m) => m?.via)).toEqual(['index', 'index', 'index', 'index']);
      expect(got[0]?.contact._embedded).toBeDefined(); // read with=leads
      // only the two nobodies were searched (phone; e-mail)
      expect(r.counts.get('ContactSearches')).toBe(2);
    });

    it(`${mode}, no index: the search finds what amoCRM's query can, and a hit that does not really match is never returned`, async () => {
      sb.admin.setSearchMode(mode);
      const account = `search-${mode}`;
      const got = await finderFor(recorder()).find(account, people);
      const ids_ = got.map((m) => m?.contactId);
      if (mode === 'normalising') {
        expect(ids_).toEqual(expected());
      } else {
        // literal (and noisy, which is literal plus a stranger): a phone stored with separators
        // cannot be found by any query spelling of it — why the index exists.
        expect(ids_).toEqual([undefined, undefined, ids.bare, ids.mail, undefined, undefined]);
      }
      expect(got.filter(Boolean).every((m) => m?.via === 'search')).toBe(true);
      // verified search hits went into the index: the next call finds them there
      const again = await finderFor(recorder()).find(account, [people[2]!, people[3]!]);
      expect(again.map((m) => m?.via)).toEqual(['index', 'index']);
    });
  }

  it('the same person twice in one call is looked up once; 50 known people cost 1 contacts read and 0 searches', async () => {
    sb.admin.setSearchMode('literal');
    const seeded = sb.admin.seed({
      contacts: Array.from({ length: 50 }, (_, i) => ({
        name: `Known ${i}`,
        custom_fields_values: [cf.phone([`8 (916) 555-${String(1000 + i).slice(0, 2)}-${String(1000 + i).slice(2)}`])],
      })),
    }).contacts as number[];
    const account = 'known';
    await buildContactIndex({ account, client: amo, index, defaultCountry: 'RU' });
    const known = seeded.map((_, i) => ({ phone: `+7916555${String(1000 + i)}` }));
    const before = sb.admin.count(CONTACTS_READ);
    const r = recorder();
    const got = await finderFor(r).find(account, [...known, ...known]);
    expect(sb.admin.count(CONTACTS_READ) - before).toBe(1);
    expect(r.counts.get('ContactSearches')).toBeUndefined();
    expect(got.map((m) => m?.contactId)).toEqual([...seeded, ...seeded]);

    // a person the index does not know: one search (phone), then one more (e-mail) when nothing verified
    const before2 = sb.admin.count(CONTACTS_READ);
    const none = await finderFor(recorder()).find(account, [
      { phone: '+79160000001', email: 'none@example.ru' },
      { phone: '+79160000001', email: 'none@example.ru' },
    ]);
    expect(none).toEqual([undefined, undefined]);
    expect(sb.admin.count(CONTACTS_READ) - before2).toBe(2);
  });

  it('a stale index entry (the phone changed in amoCRM) is not returned and is removed', async () => {
    sb.admin.setSearchMode('literal');
    const [id] = sb.admin.seed({ contacts: [{ name: 'Mover', custom_fields_values: [cf.phone(['+7 (915) 444-55-66'])] }] })
      .contacts as number[];
    const account = 'stale';
    await index.add(account, [{ key: 'phone:+79154445566', contactId: id! }]);
    await amo.contacts.updateOne(id!, { custom_fields_values: [cf.phone(['+7 (915) 444-55-00'])] });
    const r = recorder();
    expect(await finderFor(r).find(account, [{ phone: '+79154445566' }])).toEqual([undefined]);
    expect(await index.lookup(account, ['phone:+79154445566'])).toEqual(new Map());
    expect(r.counts.get('ContactIndexStale')).toBe(1);
  });

  it('several real matches: the most recently updated is taken, and logged without the phone', async () => {
    sb.admin.setSearchMode('normalising');
    const [older, newer] = sb.admin.seed({
      contacts: [
        { name: 'Twin A', custom_fields_values: [cf.phone(['8 (917) 777-88-99']), cf.email(['Twin@Example.ru'])] },
        { name: 'Twin B', custom_fields_values: [cf.phone(['+79177778899'])] },
      ],
    }).contacts as number[];
    // amoCRM stamps updated_at in seconds: the older contact is touched a second later, so it is the newest.
    await new Promise((res) => setTimeout(res, 1_100));
    await amo.contacts.updateOne(older!, { name: 'Twin A (edited)' });
    for (const account of ['twins-search', 'twins-index']) {
      if (account === 'twins-index') await buildContactIndex({ account, client: amo, index, defaultCountry: 'RU' });
      const r = recorder();
      const [m] = await finderFor(r).find(account, [{ phone: '+79177778899', email: 'twin@example.ru' }]);
      expect(m?.contactId, account).toBe(older);
      expect(m?.matches).toBe(2);
      const warn = r.lines.find((l) => l.level === 'warn');
      expect(warn?.attributes).toMatchObject({ chosen: older, contactIds: [older, newer] });
      const logged = JSON.stringify(r.lines);
      expect(logged).not.toMatch(/917|7778899|@/);
      expect(r.counts.get('ContactMatchAmbiguous')).toBe(1);
    }
  });

  it('remember(): our own write is found through the index at once', async () => {
    sb.admin.setSearchMode('literal');
    const [id] = sb.admin.seed({ contacts: [{ name: 'Ours', custom_fields_values: [cf.phone(['+7 (918) 111-22-33'])] }] })
      .contacts as number[];
    const finder = finderFor(recorder());
    await finder.remember('ours', id!, { phone: '8 918 111 22 33' });
    const r = recorder();
    const [m] = await finderFor(r).find('ours', [{ phone: '+79181112233' }]);
    expect(m).toMatchObject({ contactId: id, via: 'index', matches: 1 });
    expect(r.counts.get('ContactSearches')).toBeUndefined();
  });
  it('trusting the finished index: an unknown person costs no search once the build is done; before it, or for a distrusting caller, the search runs as always', async () => {
    sb.admin.setSearchMode('normalising');
    const [known] = sb.admin.seed({ contacts: [{ name: 'Trusted', custom_fields_values: [cf.phone(['8 (919) 300-40-50'])] }] })
      .contacts as number[];
    // The contact exists in amoCRM but the index has not been built: trusting changes nothing yet.
    const account = 'trusting';
    const newcomer = { phone: '+79190000077', email: 'newcomer@example.ru' };
    const r0 = recorder();
    const before0 = sb.admin.count(CONTACTS_READ);
    const early = await finderFor(r0).find(account, [{ phone: '+79193004050' }, newcomer], { trustFinishedIndex: true });
    expect(early.map((m) => m?.contactId)).toEqual([known, undefined]);
    expect(r0.counts.get('ContactSearches')).toBe(3); // the known phone (found), the newcomer's phone, then e-mail
    expect(sb.admin.count(CONTACTS_READ) - before0).toBe(3);

    await buildContactIndex({ account, client: amo, index, defaultCountry: 'RU' });
    expect((await index.getBuild(account))?.status).toBe('done');
    // Built: the known person is an index hit (one read), the newcomer is new without a search.
    const r1 = recorder();
    const before1 = sb.admin.count(CONTACTS_READ);
    const got = await finderFor(r1).find(account, [{ phone: '+79193004050' }, newcomer], { trustFinishedIndex: true });
    expect(got.map((m) => m?.contactId)).toEqual([known, undefined]);
    expect(got[0]?.via).toBe('index');
    expect(r1.counts.get('ContactSearches')).toBeUndefined();
    expect(sb.admin.count(CONTACTS_READ) - before1).toBe(1);

    // Per person: only the trusting ones skip the search; the same person passed twice is searched
    // unless every occurrence trusts; without the option nothing changes.
    const other = { phone: '+79190000088' };
    const r2 = recorder();
    await finderFor(r2).find(account, [newcomer, other, other], { trustFinishedIndex: [true, true, false] });
    expect(r2.counts.get('ContactSearches')).toBe(1); // `other`'s phone only
    const r3 = recorder();
    await finderFor(r3).find(account, [newcomer]);
    expect(r3.counts.get('ContactSearches')).toBe(2);

    // A restarted (running) build is not finished: the search is back.
    const done = (await index.getBuild(account))!;
    await index.putBuild(account, { ...done, status: 'running', nextPage: 1 });
    const r4 = recorder();
    await finderFor(r4).find(account, [newcomer], { trustFinishedIndex: true });
    expect(r4.counts.get('ContactSearches')).toBe(2);
  });
});
