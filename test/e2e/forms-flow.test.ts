/**
 * Site forms end to end on the local runner (`npm start`'s wiring): posts to /forms/{form_id} are
 * answered 202, queued, and the worker's forms processor (registered from the config's `forms`
 * section, with the contact finder and the state on the runner's table) writes them into the
 * sandbox: a new contact + lead in one leads/complex call, a second post of the same person as a
 * note on the same lead, an `unsorted` form as an Unsorted entry with its metadata.
 */
import { describe, expect, it } from 'vitest';
import { startWorld, useWorlds, waitFor } from './support.ts';

useWorlds();

describe('site forms through the local runner', () => {
  it('post → 202 → worker → contact + lead (a repeat: one more note); an unsorted form → an Unsorted entry', async () => {
    const w = await startWorld({
      amocrm: {
        printEvents: false,
        forms: {
          defaultCountry: 'RU',
          list: [
            { id: 'site', account: 'local', name: 'Сайт', lead: { pipeline: 'Продажи' }, tags: { fixed: ['site'] } },
            { id: 'inbox', account: 'local', name: 'Заявки', mode: 'unsorted', lead: { pipeline: 'Продажи' } },
          ],
        },
      },
    });
    const post = (form: string, fields: Record<string, string>) =>
      fetch(`${w.runner.url}/forms/${form}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', referer: 'https://site.example/contacts' },
        body: new URLSearchParams(fields).toString(),
      });
    const complex0 = w.sandbox.admin.count({ method: 'POST', route: '/api/v4/leads/complex' });
    const leads0 = w.sandbox.admin.entities('leads').length;
    const noteCount = () => (w.sandbox.admin.state().counts as { notes: number }).notes;
    const notes0 = noteCount();

    const first = await post('site', { name: 'Анна', phone: '8 (916) 555-11-22', comment: 'Перезвоните' });
    expect(first.status).toBe(202);
    const contact = await waitFor(() => w.sandbox.admin.entities('contacts').find((c) => c.name === 'Анна'), 'the contact', 30_000);
    const lead = await waitFor(
      () =>
        w.sandbox.admin
          .entities('leads')
          .find((l) => (l._embedded as { contacts?: Array<{ id: number }> }).contacts?.some((c) => c.id === contact.id)),
      'the lead',
      30_000,
    );
    expect(lead.name).toBe('Сайт: Анна');
    expect(w.sandbox.admin.count({ method: 'POST', route: '/api/v4/leads/complex' }) - complex0).toBe(1);

    // The same person again, the phone spelled another way: the same lead, one more note.
    expect((await post('site', { name: 'Анна', phone: '+7 916 555 11 22', comment: 'И ещё вопрос' })).status).toBe(202);
    await waitFor(() => noteCount() - notes0 === 2, 'two notes', 30_000);
    expect(w.sandbox.admin.entities('leads').length - leads0).toBe(1);

    // Unsorted mode: an entry with the form's metadata (its lead waits in the Unsorted stage).
    expect((await post('inbox', { name: 'Борис', email: 'Boris@Example.RU' })).status).toBe(202);
    await waitFor(() => w.sandbox.admin.entities('leads').find((l) => l.name === 'Заявки: Борис'), 'the Unsorted lead', 30_000);
    // Read once over REST at the end (the sandbox's rate limit counts these too).
    const { access_token } = w.sandbox.admin.issueLongLivedToken();
    const get = async <T>(path: string): Promise<T> => {
      const r = await fetch(`${w.sandbox.url}${path}`, { headers: { authorization: `Bearer ${access_token}` } });
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    };
    const notes = await get<{ _embedded: { notes: Array<{ params: { text?: string } }> } }>(`/api/v4/leads/${lead.id as number}/notes`);
    expect(notes._embedded.notes.map((n) => n.params.text).join('\n')).toMatch(/Перезвоните[\s\S]*И ещё вопрос/);
    const unsorted = await get<{ _embedded: { unsorted: Array<{ metadata: Record<string, unknown> }> } }>(
      '/api/v4/leads/unsorted?filter[category][]=forms',
    );
    const entry = unsorted._embedded.unsorted[0]!;
    expect(entry.metadata).toMatchObject({ form_id: 'inbox', form_name: 'Заявки', form_page: 'https://site.example/contacts' });
  });
});
