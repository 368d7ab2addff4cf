/**
 * The 200-post burst (test/support/form-burst.ts) through the local runner — real HTTP posts to
 * /forms/{form_id}, the forms function, the forms queue, the worker, the contact finder — under
 * each of the sandbox's search modes: exactly the expected contacts, leads and notes (half the
 * posts from contacts stored as managers type phones, a tenth posted twice), nothing parked, and
 * invalid posts answered 400 with their fields and never queued. Under `literal` the stored
 * "+7 (916) …" phones cannot be found by any query: the contact index (built once, as
 * `amo-gateway contacts index build` does) finds them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalRunner } from '../../infra/local/runner.ts';
import type { SearchMode } from '../../infra/local/sandbox/index.ts';
import { noteCount, startBurstWorld } from '../support/form-burst-world.ts';
import { waitFor } from './support.ts';

const runners: LocalRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

async function burstThroughRunner(mode: SearchMode): Promise<string> {
  const w = await startBurstWorld(mode);
  runners.push(w.runner);
  const { sandbox: sb, burst } = w;
  const contacts0 = sb.admin.entities('contacts').length;
  const leads0 = sb.admin.entities('leads').length;
  const notes0 = noteCount(sb);
  const calls0 = sb.admin.count();

  // Posted as a site sends them: a few at a time, in order (a repeat comes after its first post).
  const statuses: number[] = [];
  for (let i = 0; i < burst.posts.length; i += 5) {
    const rs = await Promise.all(burst.posts.slice(i, i + 5).map((p) => w.post(p.fields)));
    for (const r of rs) {
      statuses.push(r.status);
      await r.arrayBuffer();
    }
  }
  expect(statuses.filter((s) => s !== 202)).toEqual([]);

  // Invalid posts: 400 naming every bad field; none reaches the queue (the counts below stay exact).
  const bad = await w.post({ phone: '12345', email: 'not-an-email', comment: 'x' });
  expect(bad.status).toBe(400);
  const body = (await bad.json()) as { error: string; fields: Array<{ field: string }> };
  expect(body.error).toBe('invalid');
  expect(body.fields.map((f) => f.field).sort()).toEqual(['email', 'name', 'phone']);
  expect((await w.post({ name: 'Без контактов', comment: 'x' })).status).toBe(400);

  const idle = () => {
    const d = w.runner.depth('forms');
    return d.visible + d.inFlight + d.delayed === 0;
  };
  await waitFor(() => noteCount(sb) - notes0 === burst.notes && idle(), `${burst.notes} notes written (${mode})`, 150_000);
  expect(sb.admin.entities('contacts').length - contacts0).toBe(burst.newContacts);
  expect(sb.admin.entities('leads').length - leads0).toBe(burst.newLeads);
  // Each existing person who posted: their open lead reused, else exactly one new lead beside the old one.
  const leadsOf = new Map<number, number>();
  for (const l of sb.admin.entities('leads'))
    for (const c of (l._embedded as { contacts?: Array<{ id: number }> }).contacts ?? []) leadsOf.set(c.id, (leadsOf.get(c.id) ?? 0) + 1);
  const posted = new Set(burst.posts.map((p) => p.person));
  for (const [person, contactId] of w.contactOf) {
    if (!posted.has(person)) continue;
    const kind = burst.people[person]!.existing!.lead;
    expect(leadsOf.get(contactId), `${kind} lead`).toBe(kind === 'open' || kind === 'none' ? 1 : 2);
  }
  expect(await w.runner.dlqIndex.list({ queue: 'forms' })).toEqual([]);
  expect(w.runner.depth('forms').dlq).toBe(0);
  const calls = sb.admin.count() - calls0;
  return `search ${mode}: ${burst.posts.length} posts → ${burst.newContacts} contacts, ${burst.newLeads} leads, ${burst.notes} notes; ${calls} amoCRM calls (${(calls / burst.posts.length).toFixed(2)} per post)`;
}

describe('site forms: the 200-post burst through the local runner', () => {
  it('under each search mode: exactly the expected contacts, leads and notes; invalid posts 400 and never queued', async () => {
    // The three worlds are independent (each its own runner and sandbox): run side by side.
    const lines = await Promise.all((['normalising', 'literal', 'noisy'] as const).map((m) => burstThroughRunner(m)));
    for (const l of lines) console.log(`forms burst through the runner, ${l}`);
  }, 300_000);
});
