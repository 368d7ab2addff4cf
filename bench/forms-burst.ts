/**
 * Bench: the 200-post form burst (test/support/form-burst.ts: half from existing contacts with
 * phones stored the way managers type them, phones posted three ways, a tenth posted twice) through
 * the local runner — real HTTP posts, the forms function, the queue, the worker, the contact finder
 * — against the sandbox at its strict 7 requests/s. Prints the form route's answer time (p50/p99),
 * amoCRM calls per submission and the time to drain; then, beside it, the SAME posts handled the
 * way the replaced PHP integration did (bench/support/forms-old-way.ts: search phone, search e-mail,
 * create contact, get leads, create lead, tags, note, link — one submission at a time) on a
 * second sandbox seeded the same, with its call count and what it got wrong.
 *
 *   npx tsx bench/forms-burst.ts [--posts 200] [--mode normalising|literal|noisy] [--no-old-way]
 *
 * Exits non-zero when the gateway misses its goal (≤ 1.5 calls per submission) or ends with other
 * contacts / leads than expected.
 */
import type { SearchMode } from '../infra/local/sandbox/index.ts';
import { noteCount, startBurstWorld, BURST_SALES } from '../test/support/form-burst-world.ts';
import { runOldWay } from './support/forms-old-way.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};
const describeMiss = (n: number, what: string) =>
  n === 0 ? `no ${what} amiss` : n > 0 ? `${n} ${what}(s) too many` : `${-n} ${what}(s) too few`;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  const posts = Number(arg('posts', '200'));
  const mode = arg('mode', 'normalising') as SearchMode;
  const goal = 1.5;

  // --- the gateway ------------------------------------------------------------------------------
  const w = await startBurstWorld(mode, { posts });
  const { sandbox: sb, burst } = w;
  const contacts0 = sb.admin.entities('contacts').length;
  const leads0 = sb.admin.entities('leads').length;
  const notes0 = noteCount(sb);
  const calls0 = sb.admin.count();
  const answers: number[] = [];
  const started = Date.now();
  let refused = 0;
  for (let i = 0; i < burst.posts.length; i += 5) {
    await Promise.all(
      burst.posts.slice(i, i + 5).map(async (p) => {
        const t = performance.now();
        const r = await w.post(p.fields);
        await r.arrayBuffer();
        answers.push(performance.now() - t);
        if (r.status !== 202) refused++;
      }),
    );
  }
  const postedIn = (Date.now() - started) / 1000;
  const deadline = Date.now() + 600_000;
  while (noteCount(sb) - notes0 < burst.notes || w.runner.depth('forms').visible + w.runner.depth('forms').inFlight > 0) {
    if (Date.now() > deadline) throw new Error('the burst did not drain within 10 minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
  const drained = (Date.now() - started) / 1000;
  const calls = sb.admin.count() - calls0;
  const throttled = sb.admin.count({ status: 429 });
  const byRoute = sb.admin
    .counters()
    .requests.filter((r) => r.route.startsWith('/api/'))
    .map((r) => `${r.method} ${r.route} ${r.status}: ${r.count}`);
  const contacts = sb.admin.entities('contacts').length - contacts0;
  const leads = sb.admin.entities('leads').length - leads0;
  answers.sort((a, b) => a - b);
  await w.runner.stop();

  console.log(
    `forms burst, search mode ${mode}: ${burst.posts.length} posts (${burst.newContacts} new people, ${burst.posts.length - new Set(burst.posts.map((p) => p.person)).size} repeats)`,
  );
  console.log(
    `  form route answer: p50 ${pct(answers, 50).toFixed(1)} ms, p99 ${pct(answers, 99).toFixed(1)} ms (5 at a time; ${refused} not 202); posted in ${postedIn.toFixed(1)} s`,
  );
  console.log(
    `  gateway: ${calls} amoCRM calls = ${(calls / burst.posts.length).toFixed(2)} per submission (goal ≤ ${goal}), ${throttled} × 429, drained ${drained.toFixed(1)} s after the first post`,
  );
  console.log(`  result: ${contacts} contacts (expected ${burst.newContacts}), ${leads} leads (expected ${burst.newLeads})`);
  console.log("    the sandbox's counters for the run (index build and setup included):");
  for (const l of byRoute) console.log(`    ${l}`);
  const failed = calls / burst.posts.length > goal || contacts !== burst.newContacts || leads !== burst.newLeads || refused > 0;

  // --- the old way, the same posts -----------------------------------------------------------------
  if (!process.argv.includes('--no-old-way')) {
    const o = await startBurstWorld(mode, { posts });
    const oc0 = o.sandbox.admin.entities('contacts').length;
    const ol0 = o.sandbox.admin.entities('leads').length;
    const t0 = Date.now();
    const old = await runOldWay(o.api, o.burst.posts, { pipeline: BURST_SALES.pipeline, status: BURST_SALES.status });
    const oldSeconds = (Date.now() - t0) / 1000;
    const oldContacts = o.sandbox.admin.entities('contacts').length - oc0;
    const oldLeads = o.sandbox.admin.entities('leads').length - ol0;
    await o.runner.stop();
    const per = old.calls / o.burst.posts.length;
    console.log(
      `  old way (one submission at a time): ${old.calls} amoCRM calls = ${per.toFixed(2)} per submission, ${oldSeconds.toFixed(1)} s at 7/s`,
    );
    console.log(
      `    ${Object.entries(old.byStep)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    console.log(
      `    result: ${oldContacts} contacts (expected ${o.burst.newContacts}), ${oldLeads} leads (expected ${o.burst.newLeads}) — ${describeMiss(oldContacts - o.burst.newContacts, 'contact')}, ${describeMiss(oldLeads - o.burst.newLeads, 'lead')} (it reuses any open lead: past the merge window and in excluded pipelines too)`,
    );
    console.log(`  ratio: the old way makes ${(per / (calls / burst.posts.length)).toFixed(1)} × the gateway's calls`);
  }
  if (failed) {
    console.log('FAIL: the gateway missed its goal or its expected result');
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
