/**
 * The local runner set up for the form burst (test/support/form-burst.ts): the sandbox in the
 * given search mode, the burst's existing contacts and leads seeded, the contact index built once
 * (what `amo-gateway contacts index build` runs), and a form `burst` whose merge rules match the
 * burst's expectations. Shared by test/e2e/forms-burst.test.ts and bench/forms-burst.ts (no vitest
 * here: the bench runs outside it).
 */
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import { SANDBOX_ACCOUNT } from '../../infra/local/amocrm.ts';
import type { SearchMode } from '../../infra/local/sandbox/router.ts';
import type { Sandbox } from '../../infra/local/sandbox/index.ts';
import { AmoClient, type AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import { MemoryBreakerStore } from '../../lib/amocrm/client/breaker-store.ts';
import { MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { MemoryRateBudget } from '../../lib/amocrm/client/rate-budget.ts';
import { buildContactIndex } from '../../lib/contacts/build.ts';
import { DynamoContactIndex } from '../../lib/store/contact-index.ts';
import { BURST_MERGE, burstSeed, makeFormBurst, type FormBurst } from './form-burst.ts';

/** The demo account's "Продажи / Новая заявка" and the pipeline the form excludes from reuse. */
export const BURST_SALES = { pipeline: 5001, status: 50011, name: 'Продажи' } as const;
export const BURST_EXCLUDED = { pipeline: 5002, status: 50021, name: 'Повторные' } as const;

export interface BurstWorld {
  runner: LocalRunner;
  sandbox: Sandbox;
  burst: FormBurst;
  /** Contact id of each existing person, by person index. */
  contactOf: Map<number, number>;
  /** A REST client on the sandbox account outside the runner (its own budget): for the old way and reads. */
  api: AmoClientForAccount;
  post(fields: Record<string, string>): Promise<Response>;
}

/** A REST client on a sandbox account with a long-lived token (awaiting mode, its own budget). */
export function sandboxClient(sandbox: Sandbox, key: string): AmoClientForAccount {
  // The tools are their own integration (`key`), with their own 7 requests/s at the sandbox: with
  // the gateway's integration and a budget of their own, they and the runner could together send
  // 8 in a second — a 429 that paused the runner's forms for its retry_after (a flaky burst test).
  let token: string;
  try {
    token = sandbox.admin.issueLongLivedToken({ clientId: key }).access_token;
  } catch {
    sandbox.admin.addIntegration({ clientId: key, clientSecret: `${key}-secret`, redirectUri: 'http://127.0.0.1/tools' });
    token = sandbox.admin.issueLongLivedToken({ clientId: key }).access_token;
  }
  const client = new AmoClient({
    tokens: { getToken: async () => ({ accessToken: token, baseUrl: sandbox.url }), onUnauthorized: async () => {} },
    budget: new MemoryRateBudget(),
    breaker: new MemoryBreakerStore(),
    cache: new MemoryCacheStore(),
    mode: 'await',
  });
  return client.forAccount({ clientId: key, accountKey: key });
}

/** Seeds the burst's existing people into `sandbox`; their contact ids by person index. */
export function seedBurst(sandbox: Sandbox, burst: FormBurst): Map<number, number> {
  const seed = burstSeed(burst, {
    pipeline: BURST_SALES.pipeline,
    status: BURST_SALES.status,
    excludedPipeline: BURST_EXCLUDED.pipeline,
    excludedStatus: BURST_EXCLUDED.status,
    now: Date.now(),
  });
  const ids = sandbox.admin.seed({ contacts: seed.contacts }).contacts;
  const existing = burst.people.map((p, i) => ({ p, i })).filter((x) => x.p.existing);
  const contactOf = new Map(existing.map((x, j) => [x.i, ids[j]!]));
  sandbox.admin.seed({ leads: seed.leads(contactOf) });
  return contactOf;
}

/** The burst's form `burst` (tests and bench/burst.ts): merge rules as the burst expects, the throttle out of the way. */
export function burstFormConfig(trustFinishedIndex: boolean) {
  return {
    id: 'burst',
    account: SANDBOX_ACCOUNT,
    name: 'Сайт',
    lead: { pipeline: BURST_SALES.name, name: 'Заявка: {name}' },
    fields: { name: { type: 'text' as const, required: true } },
    merge: { exceptPipelines: [BURST_EXCLUDED.name], maxAgeDays: BURST_MERGE.maxAgeDays },
    repeatWindowSeconds: 600,
    // One client posts everything here: the per-IP throttle would (rightly) stop it.
    throttle: { perMinute: 10_000, perHour: 100_000 },
    ...(trustFinishedIndex ? { contact: { trustFinishedIndex: true } } : {}),
  };
}

export async function startBurstWorld(
  mode: SearchMode,
  opts: { posts?: number; log?: (line: string) => void; trustFinishedIndex?: boolean } = {},
): Promise<BurstWorld> {
  const runner = await startLocal({
    port: 0,
    memory: true,
    quiet: true,
    logSink: opts.log ?? (() => {}),
    pollWaitSeconds: 1,
    schedule: false,
    amocrm: {
      sandbox: { options: { search: mode } },
      printEvents: false,
      forms: { defaultCountry: 'RU', list: [burstFormConfig(opts.trustFinishedIndex ?? false)] },
    },
  });
  const sandbox = runner.amo?.sandbox;
  if (!sandbox) throw new Error('the runner has no sandbox');
  const burst = makeFormBurst(opts.posts !== undefined ? { posts: opts.posts } : {});
  const contactOf = seedBurst(sandbox, burst);
  const api = sandboxClient(sandbox, 'burst-tools');
  await buildContactIndex({
    account: SANDBOX_ACCOUNT,
    client: api,
    index: new DynamoContactIndex({ doc: runner.doc, tableName: runner.tableName }),
    defaultCountry: 'RU',
  });
  const post = (fields: Record<string, string>) =>
    fetch(`${runner.url}/forms/burst`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', referer: 'https://site.example/' },
      body: new URLSearchParams(fields).toString(),
    });
  return { runner, sandbox, burst, contactOf, api, post };
}

/** Notes in the sandbox account. */
export function noteCount(sandbox: Sandbox): number {
  return (sandbox.admin.state().counts as { notes: number }).notes;
}
