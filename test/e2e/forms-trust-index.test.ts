/**
 * "Trust the finished index" (lib/contacts/README.md) end to end: the 200-post form burst through
 * the local runner with the form's `contact.trustFinishedIndex` on and the index built. The same
 * exact result as without it (every existing person found, every new one created once, repeats
 * merged), but not a single `query` search: the only contacts requests are the index candidates'
 * reads. Then a contact made in amoCRM after the build reaches the index through its webhook and
 * is found, not duplicated.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalRunner } from '../../infra/local/runner.ts';
import { SANDBOX_ACCOUNT } from '../../infra/local/amocrm.ts';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import { DynamoContactIndex } from '../../lib/store/contact-index.ts';
import { noteCount, startBurstWorld } from '../support/form-burst-world.ts';
import { waitFor } from './support.ts';

const runners: LocalRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

describe('forms trusting the finished contact index', () => {
  it('200 posts: exact contacts, leads and notes, zero searches; a contact added after the build is found through its webhook', async () => {
    const w = await startBurstWorld('normalising', { trustFinishedIndex: true });
    runners.push(w.runner);
    const { sandbox: sb, burst } = w;
    const contacts0 = sb.admin.entities('contacts').length;
    const leads0 = sb.admin.entities('leads').length;
    const notes0 = noteCount(sb);
    const searches = () => w.runner.amo!.metrics.total('ContactSearches', { account: SANDBOX_ACCOUNT });
    const contactsGets0 = sb.admin.count({ method: 'GET', route: '/api/v4/contacts' });

    for (let i = 0; i < burst.posts.length; i += 5) {
      const rs = await Promise.all(burst.posts.slice(i, i + 5).map((p) => w.post(p.fields)));
      for (const r of rs) {
        expect(r.status).toBe(202);
        await r.arrayBuffer();
      }
    }
    const idle = () => {
      const d = w.runner.depth('forms');
      return d.visible + d.inFlight + d.delayed === 0;
    };
    await waitFor(() => noteCount(sb) - notes0 === burst.notes && idle(), `${burst.notes} notes written`, 150_000);
    expect(sb.admin.entities('contacts').length - contacts0).toBe(burst.newContacts);
    expect(sb.admin.entities('leads').length - leads0).toBe(burst.newLeads);
    expect(searches()).toBe(0);
    // Every contacts GET was an index read (filter[id]): at most one per flushed batch.
    const reads = sb.admin.count({ method: 'GET', route: '/api/v4/contacts' }) - contactsGets0;
    expect(reads).toBeLessThanOrEqual(Math.ceil(burst.posts.length / 5));

    // A contact added in amoCRM after the build: its add_contact webhook indexes it, so a post from
    // that person finds it (no duplicate), still without a search.
    const [ref] = await w.api.contacts.add([{ name: 'Позже', custom_fields_values: [cf.phone(['+7 (926) 700-80-90'])] }]);
    const added = ref!.id;
    await sb.admin.flushWebhooks();
    const index = new DynamoContactIndex({ doc: w.runner.doc, tableName: w.runner.tableName });
    await waitFor(
      async () => (await index.lookup(SANDBOX_ACCOUNT, ['phone:+79267008090'])).size || undefined,
      'the new contact indexed',
      30_000,
    );
    const before = sb.admin.entities('contacts').length;
    const res = await w.post({ name: 'Позже', phone: '8 926 700 80 90', comment: 'снова я' });
    expect(res.status).toBe(202);
    await waitFor(() => noteCount(sb) - notes0 === burst.notes + 1 && idle(), 'the late post written', 60_000);
    expect(sb.admin.entities('contacts').length).toBe(before);
    const lead = sb.admin
      .entities('leads')
      .find((l) => ((l._embedded as { contacts?: Array<{ id: number }> }).contacts ?? []).some((c) => c.id === added));
    expect(lead).toBeDefined();
    expect(searches()).toBe(0);
  }, 240_000);
});
