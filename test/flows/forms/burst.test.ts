/**
 * The shared burst (test/support/form-burst.ts) through the forms worker in batches of 50, as the
 * queue delivers them: exactly the expected contacts, leads and notes, and the amoCRM calls per
 * submission, under each of the sandbox's search modes. The finder is the real one (lib/contacts):
 * with its index built once (as `amo-gateway contacts index build` does), then kept by our writes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoFormsState } from '../../../lib/store/forms-state.ts';
import { createTestTable, type TestTable } from '../../support/ddb.ts';
import { BURST_MERGE, burstSeed, makeFormBurst, postedPhone } from '../../support/form-burst.ts';
import { formEnvelope, formsConfig, processors, runBatch, submission, world, type World } from './worker-support.ts';

let table: TestTable | undefined;
let w: World | undefined;
afterEach(async () => {
  table?.client.destroy();
  await w?.sb.close();
  w = undefined;
  table = undefined;
});

const MODES = [
  { mode: 'literal', index: true },
  { mode: 'noisy', index: true },
  { mode: 'normalising', index: false },
] as const;

describe('forms worker: the 200-post burst', () => {
  it.each(MODES)(
    'search $mode, index built: $index — exactly the expected contacts, leads and notes; calls printed',
    async ({ mode, index }) => {
      table = await createTestTable('forms-burst');
      w = await world(table);
      const sb = w!.sb;
      sb.admin.setSearchMode(mode);
      const burst = makeFormBurst();
      const now = Date.now();
      const seed = burstSeed(burst, {
        pipeline: 100,
        status: 1001,
        excludedPipeline: 300,
        excludedStatus: 3001,
        now,
      });
      const contactIds = w!.sb.admin.seed({ contacts: seed.contacts }).contacts;
      const existing = burst.people.map((p, i) => ({ p, i })).filter((x) => x.p.existing);
      w!.sb.admin.seed({ leads: seed.leads(new Map(existing.map((x, j) => [x.i, contactIds[j]!]))) });
      if (index) await w!.buildIndex();
      const contacts0 = w!.sb.admin.entities('contacts').length;
      const leads0 = w!.sb.admin.entities('leads').length;

      const cfg = formsConfig([
        {
          id: 'burst',
          lead: { pipeline: 'Sales', name: 'Заявка: {name}' },
          merge: { exceptPipelines: [BURST_MERGE.excludedPipeline], maxAgeDays: BURST_MERGE.maxAgeDays },
          repeatWindowSeconds: 600,
        },
      ]);
      const procs = processors(w!, cfg, { state: new DynamoFormsState({ doc: table.doc, tableName: table.tableName }) });
      const subs = burst.posts.map((post, n) => {
        const person = burst.people[post.person]!;
        const email = post.fields.email?.trim().toLowerCase();
        const phone = postedPhone(post, burst.people);
        return submission('burst', { ...(phone ? { phone } : {}), ...(email ? { email } : {}), name: person.name }, post.fields, {
          receivedAt: now + n * 20,
          capture: { utm_source: post.fields.utm_source! },
        });
      });
      const calls0 = w!.sb.admin.count();
      const searches0 = w!.sb.admin.count({ method: 'GET', route: '/api/v4/contacts' });
      for (let i = 0; i < subs.length; i += 50) {
        const rs = await runBatch(
          procs,
          subs.slice(i, i + 50).map((s) => formEnvelope(s)),
        );
        expect(rs.filter((r) => r.action.kind !== 'delete').map((r) => r.action)).toEqual([]);
      }
      const calls = w!.sb.admin.count() - calls0;
      const writes =
        ['/api/v4/leads/complex', '/api/v4/leads/notes'].reduce((s, route) => s + w!.sb.admin.count({ method: 'POST', route }), 0) +
        w!.sb.admin.count({ method: 'PATCH', route: '/api/v4/leads' });
      const searches = w!.sb.admin.count({ method: 'GET', route: '/api/v4/contacts' }) - searches0;
      console.log(
        `forms burst (search ${mode}, index ${index ? 'built' : 'empty'}): ${subs.length} posts → ${calls} amoCRM calls = ${(calls / subs.length).toFixed(2)} per submission (${writes} writes; ${searches} contact reads by the finder; ${calls - writes - searches} other reads)`,
      );
      expect(w!.sb.admin.entities('contacts').length - contacts0).toBe(burst.newContacts);
      expect(w!.sb.admin.entities('leads').length - leads0).toBe(burst.newLeads);
      let notes = 0;
      for await (const _n of w!.api().notes('leads').list()) notes++;
      expect(notes).toBe(burst.notes);
      expect(calls / subs.length).toBeLessThanOrEqual(1.5);
    },
  );
});
