/**
 * The forms worker over the sandbox (real sockets) and DynamoDB Local: a queued submission becomes
 * amoCRM writes, cheaply and exactly once. The ContactFinder is the real one (lib/contacts) over
 * the same table.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryFormsState } from '../../../lib/flows/forms/state.ts';
import { DynamoFormsState } from '../../../lib/store/forms-state.ts';
import { createDynamoIdempotency } from '../../../lib/store/idempotency.ts';
import type { FetchLike } from '../../../lib/amocrm/client/types.ts';
import { fastClient } from '../../client/support.ts';
import { createTestTable, type TestTable } from '../../support/ddb.ts';
import { ACC, formEnvelope, formsConfig, processors, runBatch, submission, world, type World } from './worker-support.ts';

let table: TestTable;
let w: World | undefined;
beforeAll(async () => {
  table = await createTestTable('forms');
});
afterAll(() => table.client.destroy());
afterEach(async () => {
  await w?.sb.close();
  w = undefined;
});

const state = () => new DynamoFormsState({ doc: table.doc, tableName: table.tableName });
const guard = () => createDynamoIdempotency({ client: table.client, tableName: table.tableName });
const kinds = (rs: Awaited<ReturnType<typeof runBatch>>) => rs.map((r) => r.action.kind);
let phoneSeq = 1_000_000;
const phone = () => `+7916${String(phoneSeq++).padStart(7, '0')}`;

const SITE = {
  id: 'site',
  name: 'Site',
  tags: { fixed: ['site'], rules: [{ field: 'course', contains: 'mass', tag: 'massage' }] },
  mapping: [
    { from: 'course', to: 'lead', field: 'Course' },
    { from: 'seats', to: 'lead', field: 'Seats' },
    { from: 'start', to: 'lead', field: 'Start' },
    { from: 'agree', to: 'lead', field: 'Agree' },
    { from: 'days', to: 'lead', field: 'Days' },
    { from: 'city', to: 'contact', field: 'City' },
  ],
  repeatWindowSeconds: 600,
};

function leadsOf(contactId: number) {
  return w!.sb.admin.entities('leads').filter((l) => {
    const e = l._embedded as { contacts?: Array<{ id: number }> } | undefined;
    return e?.contacts?.some((c) => c.id === contactId);
  });
}
/** The lead's notes, read through the API (counted by the sandbox: read after the counts). */
async function notesOf(leadId: number): Promise<Array<{ params: { text?: string } }>> {
  const out: Array<{ params: { text?: string } }> = [];
  for await (const n of w!.api().notes('leads').list(leadId)) out.push(n as unknown as { params: { text?: string } });
  return out;
}
const posts = (route: string) => w!.sb.admin.count({ method: 'POST', route });

describe('forms worker: mode lead', () => {
  it('a new person: one leads/complex call (contact, lead, tags, converted fields), the comment as one note', async () => {
    w = await world(table);
    const procs = processors(w, formsConfig([SITE]), { state: state(), guard: guard() });
    const p = phone();
    const sub = submission(
      'site',
      { phone: p, email: 'ann@example.com', name: 'Ann' },
      { course: 'Massage', seats: '2', start: '31.12.2026', agree: 'on', days: 'Mon, Tue', city: 'Moscow', comment: 'Call me after 6' },
    );
    expect(kinds(await runBatch(procs, [formEnvelope(sub)]))).toEqual(['delete']);
    expect(posts('/api/v4/leads/complex')).toBe(1);
    expect(posts('/api/v4/leads/notes')).toBe(1);
    expect(posts('/api/v4/contacts')).toBe(0);
    const contact = w.sb.admin.entities('contacts').find((c) => c.name === 'Ann')!;
    const cfs = contact.custom_fields_values as Array<{ field_code?: string; field_id: number; values: Array<{ value: unknown }> }>;
    expect(cfs.find((f) => f.field_code === 'PHONE')!.values[0]!.value).toBe(p);
    expect(cfs.find((f) => f.field_id === 401)!.values[0]!.value).toBe('Moscow');
    const [lead] = leadsOf(contact.id as number);
    expect(lead).toMatchObject({ name: 'Site: Ann', pipeline_id: 100, status_id: 1001 });
    const lcf = new Map(
      (lead!.custom_fields_values as Array<{ field_id: number; values: Array<Record<string, unknown>> }>).map((f) => [
        f.field_id,
        f.values,
      ]),
    );
    expect(lcf.get(301)).toEqual([expect.objectContaining({ enum_id: 3011 })]);
    expect(Number(lcf.get(302)![0]!.value)).toBe(2);
    expect(lcf.get(303)![0]!.value).toBe(Date.UTC(2026, 11, 31) / 1000);
    expect(lcf.get(304)![0]!.value).toBe(true);
    expect(lcf.get(306)!.map((v) => v.enum_id)).toEqual([3061, 3062]);
    const tags = ((lead!._embedded as { tags: Array<{ name: string }> }).tags ?? []).map((t) => t.name).sort();
    expect(tags).toEqual(['massage', 'site']);
    const notes = await notesOf(lead!.id as number);
    expect(notes).toHaveLength(1);
    expect((notes[0]!.params as { text: string }).text).toContain('Call me after 6');
    // The finder was told: the new contact is in the index under both channels.
    const idx = await w.index.lookup(ACC, [`phone:${p}`, 'email:ann@example.com']);
    expect([...idx.values()]).toEqual([[contact.id], [contact.id]]);
  });

  it('an existing contact with its phone stored in another spelling and no open lead: a new lead linked to it, no new contact', async () => {
    w = await world(table);
    w.sb.admin.setSearchMode('normalising');
    const p = phone();
    const spelled = `8 (${p.slice(2, 5)}) ${p.slice(5, 8)}-${p.slice(8, 10)}-${p.slice(10)}`;
    w.sb.admin.seed({
      contacts: [{ name: 'Old Ivan', custom_fields_values: [{ field_code: 'PHONE', values: [{ value: spelled, enum_code: 'WORK' }] }] }],
    });
    const before = w.sb.admin.entities('contacts').length;
    const ivan = w.sb.admin.entities('contacts').find((c) => c.name === 'Old Ivan')!;
    const procs = processors(w, formsConfig([SITE]), { state: state() });
    expect(kinds(await runBatch(procs, [formEnvelope(submission('site', { phone: p, name: 'Ivan' }))]))).toEqual(['delete']);
    expect(w.sb.admin.entities('contacts').length).toBe(before);
    expect(leadsOf(ivan.id as number)).toHaveLength(1);
    expect(posts('/api/v4/leads/complex')).toBe(1);
  });

  it('an open lead of the contact is reused (tags added, a note); closed, excluded or too old ones are not', async () => {
    w = await world(table);
    const now = Math.floor(Date.now() / 1000);
    const mk = (name: string, p: string, lead: Record<string, unknown>) => {
      const r = w!.sb.admin.seed({
        contacts: [{ name, custom_fields_values: [{ field_code: 'PHONE', values: [{ value: p, enum_code: 'WORK' }] }] }],
      });
      const cid = r.contacts[0]!;
      w!.sb.admin.seed({ leads: [{ name: `${name} lead`, ...lead, _embedded: { contacts: [{ id: cid }] } }] });
      return cid;
    };
    const [pOpen, pWon, pExcl, pOld] = [phone(), phone(), phone(), phone()];
    const open = mk('Open', pOpen, { pipeline_id: 100, status_id: 1002 });
    const won = mk('Won', pWon, { pipeline_id: 100, status_id: 142 });
    const excl = mk('Excl', pExcl, { pipeline_id: 200, status_id: 2001 });
    const old = mk('Old', pOld, { pipeline_id: 100, status_id: 1001, created_at: now - 40 * 86_400 });
    const cfg = formsConfig([{ ...SITE, merge: { exceptPipelines: ['Service'], maxAgeDays: 30 } }]);
    const procs = processors(w, cfg, { state: state() });
    const subs = [pOpen, pWon, pExcl, pOld].map((p) => submission('site', { phone: p }, { course: 'Yoga', comment: 'again' }));
    expect(
      kinds(
        await runBatch(
          procs,
          subs.map((s) => formEnvelope(s)),
        ),
      ),
    ).toEqual(['delete', 'delete', 'delete', 'delete']);
    const reused = leadsOf(open);
    expect(reused).toHaveLength(1);
    expect(((reused[0]!._embedded as { tags: Array<{ name: string }> }).tags ?? []).map((t) => t.name)).toContain('site');
    expect(await notesOf(reused[0]!.id as number)).toHaveLength(1);
    for (const c of [won, excl, old]) expect(leadsOf(c)).toHaveLength(2);
    // three new leads in one complex call, one PATCH for the tags, every note in one POST
    expect(posts('/api/v4/leads/complex')).toBe(1);
    expect(w.sb.admin.count({ method: 'PATCH', route: '/api/v4/leads' })).toBe(1);
    expect(posts('/api/v4/leads/notes')).toBe(1);
  });

  it('the same person twice within the window (one batch, then another): one lead, a note each', async () => {
    w = await world(table);
    const procs = processors(w, formsConfig([SITE]), { state: state() });
    const p = phone();
    const a = submission('site', { phone: p, name: 'Rep' }, { comment: 'first' });
    const b = submission('site', { phone: p, name: 'Rep' }, { comment: 'double click' }, { receivedAt: a.receivedAt + 300 });
    const c = submission('site', { phone: p, email: 'rep@example.com' }, { comment: 'later form' }, { receivedAt: a.receivedAt + 60_000 });
    expect(kinds(await runBatch(procs, [formEnvelope(a), formEnvelope(b)]))).toEqual(['delete', 'delete']);
    expect(kinds(await runBatch(procs, [formEnvelope(c)]))).toEqual(['delete']);
    const contact = w.sb.admin.entities('contacts').find((x) => x.name === 'Rep')!;
    const leads = leadsOf(contact.id as number);
    expect(leads).toHaveLength(1);
    expect(w.sb.admin.entities('leads')).toHaveLength(1);
    const texts = (await notesOf(leads[0]!.id as number)).map((n) => (n.params as { text: string }).text);
    expect(texts).toHaveLength(3);
    expect(texts.join('|')).toMatch(/first.*double click.*later form/s);
    expect(posts('/api/v4/leads/complex')).toBe(1);
    // the second batch: no lookup at all, one note
    expect(w.sb.admin.count({ method: 'GET', route: '/api/v4/contacts' })).toBe(1);
  });

  it('two containers with the same person at the same time: one lead (the loser defers, then adds its note)', async () => {
    w = await world(table);
    const cfg = formsConfig([SITE]);
    // Container A's leads/complex is held at the network until B has run its batch.
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const gated: FetchLike = async (input, init) => {
      if (init?.method === 'POST' && String(input).includes('/api/v4/leads/complex')) {
        reached();
        await opened;
      }
      return fetch(input, init);
    };
    const { client } = fastClient(w.sb, { fetch: gated });
    const one = processors(w, cfg, { state: state(), clientFor: () => client.forAccount({ clientId: 'client-test', accountKey: ACC }) });
    const two = processors(w, cfg, { state: state(), claimWaitMs: 300 });
    const p = phone();
    const a = submission('site', { phone: p, name: 'Twin' }, { comment: 'from A' });
    const b = submission('site', { phone: p, name: 'Twin' }, { comment: 'from B' }, { receivedAt: a.receivedAt + 10 });
    const ra = runBatch(one, [formEnvelope(a)]);
    await atGate;
    const eb = formEnvelope(b);
    const rb = await runBatch(two, [eb]);
    expect(rb[0]!.outcome).toBe('defer');
    open();
    expect(kinds(await ra)).toEqual(['delete']);
    expect(kinds(await runBatch(two, [{ ...eb, deferrals: 1 }]))).toEqual(['delete']);
    expect(w.sb.admin.entities('leads')).toHaveLength(1);
    expect(w.sb.admin.entities('contacts')).toHaveLength(1);
    expect(await notesOf(w.sb.admin.entities('leads')[0]!.id as number)).toHaveLength(2);
  });

  it('two flushes of one container overlapping with the same person: the second waits for the first, one lead', async () => {
    w = await world(table);
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const gated: FetchLike = async (input, init) => {
      if (init?.method === 'POST' && String(input).includes('/api/v4/leads/complex')) {
        reached();
        await opened;
      }
      return fetch(input, init);
    };
    const { client } = fastClient(w.sb, { fetch: gated });
    const procs = processors(w, formsConfig([SITE]), {
      state: state(),
      clientFor: () => client.forAccount({ clientId: 'client-test', accountKey: ACC }),
    });
    const p = phone();
    const first = runBatch(procs, [formEnvelope(submission('site', { phone: p, name: 'Solo' }, { comment: 'one' }))]);
    await atGate;
    const second = runBatch(procs, [formEnvelope(submission('site', { phone: p, name: 'Solo' }, { comment: 'two' }))]);
    await new Promise((r) => setTimeout(r, 300));
    open();
    expect([...kinds(await first), ...kinds(await second)]).toEqual(['delete', 'delete']);
    expect(w.sb.admin.entities('leads')).toHaveLength(1);
    expect(await notesOf(w.sb.admin.entities('leads')[0]!.id as number)).toHaveLength(2);
  });

  it('a redelivered message never makes a second lead; a lost leads/complex answer neither', async () => {
    w = await world(table);
    const procs = processors(w, formsConfig([SITE]), { state: state(), guard: guard() });
    const env = formEnvelope(submission('site', { phone: phone(), name: 'Again' }, { comment: 'x' }));
    expect(kinds(await runBatch(procs, [env]))).toEqual(['delete']);
    expect(kinds(await runBatch(procs, [{ ...env, attempt: 1 }], 2))).toEqual(['delete']);
    expect(w.sb.admin.entities('leads')).toHaveLength(1);

    // The answer of the complex add is lost: the client cannot tell whether it landed → defer;
    // the redelivery re-checks first (checkFirst) and finds it.
    w.sb.admin.setFaults([{ path: '/api/v4/leads/complex', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    const lost = formEnvelope(submission('site', { phone: phone(), name: 'Lost' }, { comment: 'lost answer' }));
    // (the client re-checks inline when it can: then the first delivery already completes)
    await runBatch(procs, [lost]);
    expect(w.sb.admin.entities('leads')).toHaveLength(2);
    expect(kinds(await runBatch(procs, [{ ...lost, deferrals: 1 }], 2))).toEqual(['delete']);
    expect(w.sb.admin.entities('leads')).toHaveLength(2);
    expect(w.sb.admin.entities('contacts').filter((c) => c.name === 'Lost')).toHaveLength(1);
    const lead = w.sb.admin.entities('leads').find((l) => l.name === 'Site: Lost')!;
    expect(await notesOf(lead.id as number)).toHaveLength(1);
  });

  it('a lost answer to a batch of five new people: each lead and contact once after the redelivery', async () => {
    w = await world(table);
    const procs = processors(w, formsConfig([SITE]), { state: state(), guard: guard() });
    w.sb.admin.setFaults([{ path: '/api/v4/leads/complex', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    const envs = [0, 1, 2, 3, 4].map((i) => formEnvelope(submission('site', { phone: phone(), name: `Five${i}` }, { comment: `c${i}` })));
    const first = await runBatch(procs, envs);
    const again = envs.filter((_, i) => first[i]!.outcome !== 'ok').map((e) => ({ ...e, attempt: 1 }));
    if (again.length) expect(kinds(await runBatch(procs, again, 2))).toEqual(again.map(() => 'delete'));
    expect(w.sb.admin.entities('leads')).toHaveLength(5);
    expect(w.sb.admin.entities('contacts')).toHaveLength(5);
    expect((w.sb.admin.state().counts as { notes: number }).notes).toBe(5);
  });

  it('one failed contact search fails only its own chunk of the batch, not all of it (a big batch under faults made no progress at all)', async () => {
    // One try per request, so the one failing search fails its lookup at once.
    w = await world(table, { retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 10, maxRateLimitWaits: 0 } });
    // A window long enough for the 20 messages to meet in one flush, as a full SQS batch does.
    const procs = processors(w, formsConfig([SITE]), { state: state(), guard: guard(), windowMs: 300 });
    // The batch's lookup fails at its first search, and so does the first chunk's on the way back.
    w.sb.admin.setFaults([{ path: '/api/v4/contacts', method: 'GET', errorRate: 1, times: 2 }]);
    const envs = Array.from({ length: 20 }, (_, i) =>
      formEnvelope(submission('site', { phone: phone(), name: `Chunk${i}` }, { comment: `c${i}` })),
    );
    const first = await runBatch(procs, envs);
    // At most the chunk whose search failed (10 people) comes back; the others are written now
    // (before: the one failed search sent the whole batch back, every time).
    const done = first.filter((r) => r.outcome === 'ok').length;
    expect(done).toBeGreaterThanOrEqual(10);
    expect(w.sb.admin.entities('leads')).toHaveLength(done);
    const again = envs.filter((_, i) => first[i]!.outcome !== 'ok').map((e) => ({ ...e, attempt: 1 }));
    if (again.length) expect(kinds(await runBatch(procs, again, 2))).toEqual(again.map(() => 'delete'));
    expect(w.sb.admin.entities('leads')).toHaveLength(20);
    expect(w.sb.admin.entities('contacts')).toHaveLength(20);
    expect((w.sb.admin.state().counts as { notes: number }).notes).toBe(20);
  });

  it('a lost notes answer: the redelivery does not add the note twice', async () => {
    w = await world(table);
    const procs = processors(w, formsConfig([SITE]), { state: state(), guard: guard() });
    w.sb.admin.setFaults([{ path: '/api/v4/leads/notes', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    const env = formEnvelope(submission('site', { phone: phone(), name: 'Noted' }, { comment: 'only once' }));
    await runBatch(procs, [env]);
    expect(kinds(await runBatch(procs, [{ ...env, attempt: 1 }], 2))).toEqual(['delete']);
    expect(w.sb.admin.entities('leads')).toHaveLength(1);
    expect(await notesOf(w.sb.admin.entities('leads')[0]!.id as number)).toHaveLength(1);
  });

  it('a worker that died after its writes, before its records: the rerun (may have run) adds no second note and no second lead', async () => {
    w = await world(table);
    const cfg = formsConfig([SITE]);
    const env = formEnvelope(submission('site', { phone: phone(), name: 'Died' }, { comment: 'once, please' }));
    // The first run writes the contact, the lead and the note…
    expect(kinds(await runBatch(processors(w, cfg, { state: state() }), [env]))).toEqual(['delete']);
    // …and "dies" before the person's record and its idempotency record: the rerun has neither
    // (a fresh state), and SQS delivers it again (receive count 2). It finds the contact and the
    // open lead the first run made and reuses it; its note would read "Новая заявка: …".
    const rerun = processors(w, cfg, { state: new MemoryFormsState() });
    expect(kinds(await runBatch(rerun, [env], 2))).toEqual(['delete']);
    expect(w.sb.admin.entities('leads')).toHaveLength(1);
    expect(w.sb.admin.entities('contacts').filter((c) => c.name === 'Died')).toHaveLength(1);
    const notes = await notesOf(w.sb.admin.entities('leads')[0]!.id as number);
    expect(notes.map((n) => n.params.text)).toEqual([expect.stringMatching(/^once, please\n#[0-9a-f]{8}$/)]);
  });

  it('responsible in turns across batches (the counter in the table), the contact too; a fixed one', async () => {
    w = await world(table);
    const cfg = formsConfig([
      { id: 'rr', responsible: { roundRobin: ['Anna', 'Boris'] } },
      { id: 'fixed', responsible: { user: 'Boris' } },
    ]);
    const procs = processors(w, cfg, { state: state() });
    const t0 = Date.now();
    const people = [0, 1, 2].map((i) => submission('rr', { phone: phone(), name: `Turn${i}` }, {}, { receivedAt: t0 + i }));
    await runBatch(
      procs,
      people.map((s) => formEnvelope(s)),
    );
    await runBatch(procs, [formEnvelope(submission('rr', { phone: phone(), name: 'Turn3' }))]);
    await runBatch(procs, [formEnvelope(submission('fixed', { phone: phone(), name: 'Fixed' }))]);
    const owner = (name: string) => w!.sb.admin.entities('leads').find((l) => String(l.name).endsWith(name))!.responsible_user_id;
    expect(['Turn0', 'Turn1', 'Turn2', 'Turn3'].map(owner)).toEqual([12, 13, 12, 13]);
    expect(w.sb.admin.entities('contacts').find((c) => c.name === 'Turn1')!.responsible_user_id).toBe(13);
    expect(owner('Fixed')).toBe(13);
  });

  it('parks: not a submission, a form no longer configured, an unknown name', async () => {
    w = await world(table);
    const procs = processors(w, formsConfig([SITE, { id: 'bad', lead: { pipeline: 'Nope' } }]), { state: state() });
    const rs = await runBatch(procs, [
      formEnvelope('{"v":1}'),
      formEnvelope(submission('gone', { phone: phone() })),
      formEnvelope(submission('bad', { phone: phone() })),
    ]);
    expect(rs.map((r) => (r.action.kind === 'park' ? r.action.reason : r.action.kind))).toEqual([
      'invalid-payload',
      'unknown-form',
      'unknown-name',
    ]);
    expect(w.sb.admin.entities('leads')).toHaveLength(0);
  });
});

describe('forms worker: mode unsorted', () => {
  it('an Unsorted form entry with the metadata, the contact and the lead; a redelivery adds none', async () => {
    w = await world(table);
    const cfg = formsConfig([
      {
        id: 'inbox',
        name: 'Inbox form',
        mode: 'unsorted',
        unsorted: { sourceName: 'Website' },
        mapping: [{ from: 'course', to: 'lead', field: 'Course' }],
      },
    ]);
    const procs = processors(w, cfg, { state: state() });
    const sub = submission(
      'inbox',
      { phone: phone(), name: 'Una' },
      { course: 'Yoga' },
      { meta: { ip: '192.0.2.7', page: 'https://site.example/form', referer: 'https://google.com/' } },
    );
    const env = formEnvelope(sub);
    expect(kinds(await runBatch(procs, [env]))).toEqual(['delete']);
    const entries = [];
    for await (const e of w.api().unsorted.list({ filter: { category: ['forms'] } })) entries.push(e);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      source_name: 'Website',
      source_uid: sub.id,
      pipeline_id: 100,
      metadata: {
        form_id: 'inbox',
        form_name: 'Inbox form',
        form_page: 'https://site.example/form',
        ip: '192.0.2.7',
        referer: 'https://google.com/',
        form_sent_at: Math.floor(sub.receivedAt / 1000),
      },
    });
    expect(kinds(await runBatch(procs, [{ ...env, attempt: 1 }], 2))).toEqual(['delete']);
    expect(posts('/api/v4/leads/unsorted/forms')).toBe(1);
  });
});

describe('forms worker: Unsorted with a lost answer', () => {
  it('the add landed but its answer was lost: the redelivery finds the entry and adds none', async () => {
    w = await world(table);
    const cfg = formsConfig([{ id: 'inbox', mode: 'unsorted', origins: ['https://site.example'] }]);
    const procs = processors(w, cfg, { state: state(), guard: guard() });
    w.sb.admin.setFaults([{ path: '/api/v4/leads/unsorted/forms', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    const env = formEnvelope(submission('inbox', { email: 'lost@example.com', name: 'Lost U' }));
    const first = await runBatch(procs, [env]);
    expect(first[0]!.outcome).toBe('retry');
    expect(kinds(await runBatch(procs, [{ ...env, attempt: 1 }], 2))).toEqual(['delete']);
    const entries = [];
    for await (const e of w.api().unsorted.list({ filter: { category: ['forms'] } })) entries.push(e);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.metadata).toMatchObject({ form_page: 'https://site.example' });
  });
});

describe('forms worker: a batch of 50', () => {
  it('50 mixed submissions (new, existing contacts, repeats, unsorted): amoCRM calls counted', async () => {
    w = await world(table);
    const cfg = formsConfig([SITE, { id: 'inbox', mode: 'unsorted' }]);
    const procs = processors(w, cfg, { state: state() });
    // 10 existing contacts (5 with an open lead)
    const existing = Array.from({ length: 10 }, () => phone());
    existing.forEach((p, i) => {
      const r = w!.sb.admin.seed({
        contacts: [{ name: `E${i}`, custom_fields_values: [{ field_code: 'PHONE', values: [{ value: p, enum_code: 'WORK' }] }] }],
      });
      if (i < 5)
        w!.sb.admin.seed({
          leads: [{ name: `E${i} lead`, pipeline_id: 100, status_id: 1001, _embedded: { contacts: [{ id: r.contacts[0]! }] } }],
        });
    });
    const subs = [
      ...Array.from({ length: 25 }, (_, i) =>
        submission('site', { phone: phone(), name: `N${i}` }, { course: 'Yoga', comment: i % 2 ? 'hi' : '' }),
      ),
      ...existing.map((p, i) => submission('site', { phone: p, name: `E${i}` }, { comment: 'back' })),
      ...Array.from({ length: 5 }, (_, i) => submission('site', { phone: existing[i + 5]!, name: `R${i}` }, { comment: 'twice' })),
      ...Array.from({ length: 10 }, (_, i) => submission('inbox', { phone: phone(), name: `U${i}` })),
    ];
    expect(subs).toHaveLength(50);
    const total0 = w.sb.admin.count();
    const rs = await runBatch(
      procs,
      subs.map((s) => formEnvelope(s)),
    );
    expect(rs.filter((r) => r.action.kind !== 'delete').map((r) => r.action)).toEqual([]);
    const calls = w.sb.admin.count() - total0;
    const writes =
      ['/api/v4/leads/complex', '/api/v4/leads/notes', '/api/v4/leads/unsorted/forms'].reduce((s, r) => s + posts(r), 0) +
      w.sb.admin.count({ method: 'PATCH', route: '/api/v4/leads' });
    console.log(`forms batch of 50: ${calls} amoCRM calls (${writes} writes) = ${(calls / 50).toFixed(2)} per submission`);
    expect(calls / 50).toBeLessThanOrEqual(1.5);
    expect(w.sb.admin.entities('leads').filter((l) => /^Site: N/.test(String(l.name)))).toHaveLength(25);
  });
});
