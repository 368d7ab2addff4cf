/** The typed Unsorted resource against the sandbox: add a form entry, read, summary, accept, decline. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import { AmoNotFoundError, AmoValidationError } from '../../lib/amocrm/client/errors.ts';
import { collect } from '../../lib/amocrm/client/pagination.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from './support.ts';

describe('unsorted resource against the sandbox', () => {
  let sb: TestSandbox;
  let acc: AmoClientForAccount;
  let stages: { unsorted: number; first: number; second: number };

  beforeAll(async () => {
    sb = await sandbox({ fast: true });
    const seeded = sb.admin.seed({
      pipelines: [
        { name: 'Воронка', is_main: true, statuses: [{ name: 'Неразобранное', type: 1 }, { name: 'Новая' }, { name: 'В работе' }] },
      ],
    });
    const [u, f, s] = seeded.pipelines[0]!.statuses;
    stages = { unsorted: u!.id, first: f!.id, second: s!.id };
    acc = fastClient(sb).client.forAccount(ACCOUNT);
  });
  afterAll(async () => {
    await sb.close();
  });

  const form = (formId: string) => ({
    source_uid: 'site',
    source_name: 'Сайт',
    metadata: { form_id: formId, form_name: 'Запись', form_page: 'https://clinic.example/', form_sent_at: 1768467600 },
    _embedded: { leads: [{ name: 'Запись с сайта' }] as [{ name: string }], contacts: [{ name: 'Анна' }] as [{ name: string }] },
  });

  it('adds, lists, reads and accepts a form entry; the lead leaves the Unsorted stage', async () => {
    const [created] = await acc.unsorted.addForms([form('a')]);
    expect(created).toMatchObject({
      uid: expect.any(String),
      _embedded: { leads: [{ id: expect.any(Number) }], contacts: [{ id: expect.any(Number) }] },
    });
    const leadId = created!._embedded.leads[0]!.id;
    expect((await acc.leads.get(leadId, { cache: false }))?.status_id).toBe(stages.unsorted);
    expect((await collect(acc.unsorted.list({ filter: { category: ['forms'] } }))).map((u) => u.uid)).toEqual([created!.uid]);
    expect(await acc.unsorted.get(created!.uid)).toMatchObject({ category: 'forms', metadata: { form_id: 'a' } });

    const sorted = await acc.unsorted.accept(created!.uid, { status_id: stages.second });
    expect(sorted).toMatchObject({ uid: created!.uid, category: 'forms' });
    expect((await acc.leads.get(leadId, { cache: false }))?.status_id).toBe(stages.second);
    expect(await acc.unsorted.get(created!.uid)).toBeUndefined();
    await expect(acc.unsorted.accept(created!.uid)).rejects.toBeInstanceOf(AmoNotFoundError);
  });

  it('a repeated form entry is refused; decline and the summary', async () => {
    const [created] = await acc.unsorted.addForms([form('b')]);
    await expect(acc.unsorted.addForms([form('b')])).rejects.toBeInstanceOf(AmoValidationError);
    const declined = await acc.unsorted.decline(created!.uid);
    expect(declined._embedded.leads[0]!.id).toBe(created!._embedded.leads[0]!.id);
    expect(await acc.unsorted.summary()).toMatchObject({ total: 2, accepted: 1, declined: 1, categories: { forms: { total: 2 } } });
  });
});
