/**
 * The fault suite's scenario (README.md in this folder): mixed events through the local runner —
 * run as its own process (child.ts) so it can be SIGKILLed — against a sandbox in THIS process
 * (it survives the kills and counts every effect), with every fault at once; then the exact
 * effects are read back from the sandbox. No vitest here: `npm run faults -- --full` runs it too.
 *
 * Events: amoCRM stage moves (the sandbox's status_lead webhook → a task rule), RDESK pushes (two
 * per lead: the second one's values must win), site forms (contact + lead + note), and poison
 * events (an RDESK push for a deal that does not exist, webhooks posted with a wrong token).
 *
 * Faults, all seeded: the sandbox answers amoCRM REST calls 5xx, holds them (timeouts) or applies
 * them and drops the answer (lost answers); 429 bursts; every edge request may be sent twice (the
 * sandbox's webhook deliveries by its fetch, RDESK and form posts by the test); the sandbox sees
 * some delivered webhooks as failed and redelivers them under a new request id; queued messages
 * are duplicated at the SQS level (received, sent back twice, deleted); the runner is SIGKILLed
 * while a write is in flight and started again.
 */
import {
  SQSClient,
  ReceiveMessageCommand,
  SendMessageCommand,
  DeleteMessageCommand,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoSeed } from '../../infra/local/sandbox/demo.ts';
import { startSandbox, type Sandbox } from '../../infra/local/sandbox/index.ts';
import type { FaultRule } from '../../infra/local/sandbox/faults.ts';
import { pullSchemaToFile } from '../../lib/amocrm/client/schema.ts';
import { listParked, replayParked, showParked, type DlqOpsDeps } from '../../lib/aws/dlq-ops.ts';
import { envelopeBody } from '../../lib/envelope.ts';
import { readLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { DynamoDlqIndex } from '../../lib/store/dlq-index.ts';
import { DEFAULT_STATUS_LABELS } from '../../lib/flows/rdesk/labels.ts';
import { sandboxClient } from '../support/form-burst-world.ts';
import { noSandboxConfig } from '../support/no-sandbox-config.ts';
import { seeded } from '../pipeline/seeded.ts';
import type { ChildOptions } from './child.ts';
import { freePort } from '../support/free-port.ts';

export interface ScenarioOptions {
  /** One seed for the sandbox's fault rolls, the runner's backoffs and the test's own choices. */
  seed: number;
  /** Stage moves (each: one task). */
  moves: number;
  /** Deals RDESK pushes to (two pushes each). */
  rdeskLeads: number;
  /** People posting a site form (each: a contact, a lead, one note per accepted post). */
  formPeople: number;
  /** RDESK pushes for deals that do not exist (parked lead-not-found). */
  poisonRdesk: number;
  /** amoCRM webhooks posted with a wrong route token (parked bad-token). */
  poisonHooks: number;
  /** Chance of a REST call answered 5xx / held (timeout) / applied with its answer dropped. */
  errorRate: number;
  timeoutRate: number;
  lostAnswerRate: number;
  /** Chance an edge request is sent twice; chance a delivered webhook is seen as failed and redelivered. */
  duplicateRate: number;
  redeliveryRate: number;
  /**
   * At most this many forced redeliveries: amoCRM (and the sandbox) disables a webhook after more
   * than 100 invalid answers within 2 hours, and every forced one counts as invalid.
   */
  maxRedeliveries: number;
  /** SQS-level duplicates to inject (each: a queued message received, sent back twice, deleted). */
  sqsDuplicates: number;
  /**
   * An amoCRM outage of the lead PATCH (503) from the start until an RDESK push has run out of
   * attempts (parked `out-of-attempts`, for the replay to recover), at most this long.
   */
  outageMs: number;
  /**
   * 429 bursts (of `burstSize` refusals each), spread over the run. Keep bursts × size under 10:
   * the sandbox counts every refusal towards the block (10 within 60 s), and a blocked account
   * stops the gateway by design until an operator lifts it (`breaker lift`).
   */
  bursts429: number;
  burstSize: number;
  /** SIGKILL the runner mid-batch once, a quarter into the events. */
  kill: boolean;
  /**
   * The kill may also cut a form writer holding a person's claim. A dead holder's claim blocks
   * that person until its lease ends (120 s, lib/flows/forms/README.md), longer than the CI scale
   * may take, so there the kill lands while only the rules and RDESK write (the forms share of
   * that slice is posted after the restart); `--full` kills with everything in flight.
   */
  killWithForms: boolean;
  /** Give up waiting for the queues to drain after this long. */
  drainTimeoutMs: number;
  log?: (line: string) => void;
}

export const CI_SCENARIO: ScenarioOptions = {
  seed: 18,
  moves: 40,
  rdeskLeads: 15,
  formPeople: 20,
  poisonRdesk: 2,
  poisonHooks: 2,
  errorRate: 0.2,
  timeoutRate: 0.05,
  lostAnswerRate: 0.05,
  duplicateRate: 0.1,
  redeliveryRate: 0.1,
  maxRedeliveries: 80,
  sqsDuplicates: 10,
  outageMs: 60_000,
  bursts429: 2,
  burstSize: 3,
  kill: true,
  killWithForms: false,
  drainTimeoutMs: 180_000,
};

/** 10 000 events: 4 000 moves, 2 000 deals × 2 RDESK pushes, 1 950 form people (+ their duplicates), 50 poison. */
export const FULL_SCENARIO: ScenarioOptions = {
  ...CI_SCENARIO,
  moves: 4000,
  rdeskLeads: 2000,
  formPeople: 1950,
  poisonRdesk: 25,
  poisonHooks: 25,
  sqsDuplicates: 1000,
  killWithForms: true,
  drainTimeoutMs: 60 * 60_000,
};

export interface ScenarioReport {
  seed: number;
  /** Events per kind (as sent: before the edge's duplicates). */
  events: Record<string, number>;
  /** Faults injected, as counted by the sandbox (REST) and by the test (edge, SQS, kills). */
  faults: Record<string, number>;
  /** Effects found in the sandbox, and expected. */
  counts: Record<string, { found: number; expected: number }>;
  /** Parked before the replay, by reason. */
  parked: Record<string, number>;
  replayed: number;
  /** Parked after the replay, by reason (the poison only). */
  parkedAfter: Record<string, number>;
  /** Every way the sandbox differs from the exact expectation (empty: the suite passes). */
  mismatches: string[];
  wallMs: number;
}

const CLIENT_ID = 'faults-gateway';
const TOOLS_ID = 'faults-tools';
const HOOK_TOKEN = 'faults-hook-token-0123456789abcdef';
const RDESK_TOKEN = 'faults-rdesk-token-5b1c0123';
const ACCOUNT = 'local';
const BOOKED = 50012; // "Продажи / Записан на приём" of the demo seed
const POISON_LEAD_BASE = 70_000_000;
const BOOKING_STATUS_FIELD = 'Статус брони';
/** The park reasons of the poison events: never replayed. */
const POISON_REASONS = new Set(['bad-token', 'lead-not-found']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs: number, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

interface Child {
  proc: ChildProcess;
  out: () => string;
  url: string;
}

function startChild(opts: ChildOptions): Promise<Child> {
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/faults/child.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '', FAULTS_CHILD: JSON.stringify(opts), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return until(
    () => {
      if (proc.exitCode !== null) throw new Error(`the runner exited with ${proc.exitCode}:\n${out}`);
      const url = /FAULTS-CHILD-READY (http:\/\/\S+)/.exec(out)?.[1];
      return url ? { proc, out: () => out, url } : undefined;
    },
    'the runner to start',
    90_000,
  );
}

const exited = (p: ChildProcess) =>
  new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

async function killGroup(c: Child): Promise<void> {
  try {
    process.kill(-c.proc.pid!, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
  await exited(c.proc);
}

/** The RDESK booked sample with this deal, booking id and values. */
function bookedPush(leadId: number, bookingId: number, total: number, status: string): string {
  const sample = JSON.parse(readFileSync('test/fixtures/rdesk/booked.json', 'utf8')) as Array<Record<string, unknown>>;
  const el = { ...sample[0]!, lead_id: String(leadId), id: bookingId, status, money: { total, paid: 0 } };
  return JSON.stringify([el]);
}

/** An amoCRM status_lead webhook body (form-encoded), for the poison posts. */
const hookBody = (leadId: number) =>
  new URLSearchParams({
    'leads[status][0][id]': String(leadId),
    'leads[status][0][status_id]': String(BOOKED),
    'leads[status][0][old_status_id]': '50011',
    'leads[status][0][pipeline_id]': '5001',
    'account[subdomain]': 'sandbox',
    'account[id]': '31000001',
  }).toString();

export async function runScenario(o: ScenarioOptions): Promise<ScenarioReport> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const step = (what: string) => log(`faults +${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  const rand = seeded(o.seed * 7919 + 1);
  const chance = (p: number) => rand() < p;
  const dataDir = mkdtempSync(join(tmpdir(), 'amo-faults-'));
  const port = await freePort();
  const runnerUrl = `http://127.0.0.1:${port}`;
  const hookUrl = `${runnerUrl}/hooks/amocrm/${HOOK_TOKEN}`;
  const injected = { edgeDuplicates: 0, webhookRedeliveries: 0, sqsDuplicates: 0, kills: 0, killsInWriteWindow: 0, bursts429: 0 };
  const mismatches: string[] = [];
  let child: Child | undefined;
  let killAt: Child | undefined;
  let killed: (() => void) | undefined;
  /** FAULTS_DUMP=FILE: the runners' output and the sandbox's request lines, written there at the end. */
  const dump: string[] | undefined = process.env.FAULTS_DUMP ? [] : undefined;
  const outs: string[] = [];

  // The sandbox's webhook deliveries to the runner: sometimes twice (the edge sees the same request
  // twice), sometimes answered 2xx but seen as failed by amoCRM (it redelivers under a new request id).
  const hookFetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(hookUrl)) return fetch(input, init);
    if (chance(o.duplicateRate)) {
      injected.edgeDuplicates++;
      await fetch(input, init).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      );
    }
    const res = await fetch(input, init);
    if (res.ok && chance(o.redeliveryRate) && injected.webhookRedeliveries < o.maxRedeliveries) {
      injected.webhookRedeliveries++;
      await res.arrayBuffer();
      return new Response('', { status: 504 });
    }
    return res;
  };
  const sb: Sandbox = await startSandbox({
    seed: o.seed,
    integrations: [
      { clientId: TOOLS_ID, clientSecret: 'tools-secret', redirectUri: 'http://127.0.0.1/tools' },
      { clientId: CLIENT_ID, clientSecret: 'secret-faults', redirectUri: `${runnerUrl}/oauth/callback` },
    ],
    account: { id: 31000001, subdomain: 'sandbox', name: 'Fault sandbox' },
    fetch: hookFetch,
    // The runner is killed when the sandbox has applied a write and not yet answered it.
    log: (line) => {
      if (dump) dump.push(`${new Date().toISOString().slice(11, 23)} sandbox ${line}`);
      if (killAt && /^(POST|PATCH) \/api\/v4\/(tasks|leads\/complex|leads\/notes|leads|contacts) 200 /.test(line)) {
        process.kill(-killAt.proc.pid!, 'SIGKILL');
        killAt = undefined;
        injected.killsInWriteWindow++;
        killed?.();
      }
    },
    webhookRetryScale: 0,
    // A 429's retry_after: seconds here, so the paused budget comes back within the suite.
    limits: { retryAfterSeconds: 1 },
  });
  try {
    sb.admin.seed(demoSeed());
    const fieldSeed = sb.admin.seed({ customFields: { leads: [{ name: BOOKING_STATUS_FIELD, type: 'text' }] } });
    const statusFieldId = fieldSeed.customFields.leads![0]!.id;
    const { leads: moveLeads } = sb.admin.seed({
      leads: Array.from({ length: o.moves }, (_, i) => ({
        name: `Ход ${i}`,
        status_id: 50011,
        pipeline_id: 5001,
        responsible_user_id: 1003,
      })),
    }) as { leads: number[] };
    const { leads: rdeskLeads } = sb.admin.seed({
      leads: Array.from({ length: o.rdeskLeads }, (_, i) => ({ name: `Бронь ${i}`, status_id: 50011, pipeline_id: 5001 })),
    }) as { leads: number[] };
    const leads0 = sb.admin.entities('leads').length;
    const contacts0 = sb.admin.entities('contacts').length;

    // The account as a --no-sandbox user sets it up: the dictionary, config, secrets, subscription.
    const tools = sandboxClient(sb, TOOLS_ID);
    const dictionary = join(dataDir, 'schema-local.json');
    await pullSchemaToFile(tools, dictionary);
    await tools.webhooks.subscribe(hookUrl, ['status_lead']);
    const configFile = join(dataDir, 'amo.config.json');
    const secretsFile = join(dataDir, 'secrets.json');
    writeFileSync(
      configFile,
      JSON.stringify(
        noSandboxConfig(
          { clientId: CLIENT_ID, runnerUrl, sandbox: sb, account: ACCOUNT, dictionary },
          {
            rdesk: {
              accounts: [
                {
                  account: ACCOUNT,
                  token: { secret: 'rdesk-token' },
                  fields: { booked: { total: 'price', status: BOOKING_STATUS_FIELD } },
                  leadNotFound: { action: 'park' },
                },
              ],
            },
            forms: {
              defaultCountry: 'RU',
              list: [
                {
                  id: 'site',
                  account: ACCOUNT,
                  name: 'Сайт',
                  lead: { pipeline: 'Продажи' },
                  repeatWindowSeconds: 3600,
                  // One client posts everything here: the per-IP throttle would (rightly) stop it.
                  throttle: { perMinute: 10_000, perHour: 100_000 },
                },
              ],
            },
          },
        ),
      ),
    );
    writeFileSync(secretsFile, JSON.stringify({ 'client-secret': 'secret-faults', 'hook-token': HOOK_TOKEN, 'rdesk-token': RDESK_TOKEN }));
    const childOpts: ChildOptions = {
      port,
      dataDir,
      configFile,
      secretsFile,
      token: { account: ACCOUNT, accessToken: sb.admin.issueLongLivedToken({ clientId: CLIENT_ID }).access_token },
      seed: o.seed,
      visibilityTimeoutSeconds: 10,
      requestTimeoutMs: 1_500,
      settleMs: 2_500,
      debug: dump !== undefined,
    };
    child = await startChild(childOpts);
    step('runner up');

    // ---- the faults -------------------------------------------------------------------------
    const restFaults: FaultRule = {
      path: '/api/v4/*',
      errorRate: o.errorRate,
      timeoutRate: o.timeoutRate,
      lostAnswerRate: o.lostAnswerRate,
      lostAnswer: 'drop',
    };
    const outage: FaultRule = { path: '/api/v4/leads', method: 'PATCH', errorRate: 1, errorStatus: 503 };
    let outageOn = o.outageMs > 0;
    // Besides the 5 % everywhere: the first answer of each add amoCRM has no idempotency key for
    // (a task, a lead + contact, a note) is lost after the write, so each kind's re-check runs.
    const lostOnce: FaultRule[] = ['/api/v4/tasks', '/api/v4/leads/complex', '/api/v4/leads/notes'].map((path) => ({
      path,
      method: 'POST',
      lostAnswerRate: 1,
      times: 1,
    }));
    /** The live rules: a 429 burst's remainder first, the one-shot lost answers not spent yet, the outage while it lasts, the rates. */
    const setFaults = (burst?: FaultRule) => {
      const now = sb.admin.faults();
      const live429 = now.filter((r) => r.errorStatus === 429 && (r.times ?? 0) > 0);
      const liveLost = now.filter((r) => r.lostAnswerRate === 1 && (r.times ?? 0) > 0);
      sb.admin.setFaults([...(burst ? [burst] : live429), ...liveLost, ...(outageOn ? [outage] : []), restFaults]);
    };
    sb.admin.setFaults([...lostOnce, restFaults]);
    setFaults();
    const outageUntil = Date.now() + o.outageMs;
    const outageOver = outageOn
      ? until(
          () => Date.now() > outageUntil || /queue=rdesk .*reason=out-of-attempts/.test([...outs, child?.out() ?? ''].join('\n')),
          'the outage to end',
          o.outageMs + 5_000,
          200,
        ).then(() => {
          outageOn = false;
          setFaults();
        })
      : Promise.resolve();
    const burst = () => {
      injected.bursts429++;
      setFaults({ path: '/api/v4/*', errorRate: 1, errorStatus: 429, times: o.burstSize });
    };

    // ---- the events ---------------------------------------------------------------------------
    /** An edge post, sent twice now and then; resolves when acknowledged (2xx). */
    const edge = async (path: string, body: string, contentType: string, headers: Record<string, string> = {}): Promise<number> => {
      const send = () =>
        fetch(`${child!.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': contentType, referer: 'https://site.example/', ...headers },
          body,
          signal: AbortSignal.timeout(10_000),
        }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        });
      const twice = chance(o.duplicateRate);
      const first = await send();
      if (twice) {
        injected.edgeDuplicates++;
        const again = await send();
        if (again !== first) throw new Error(`${path}: the duplicate was answered ${again}, the first ${first}`);
      }
      return first;
    };
    const formPosts = new Map<number, number>(); // person → accepted posts
    const postForm = async (i: number) => {
      const digits = String(i).padStart(7, '0');
      const fields = { name: `Гость ${o.seed}-${i}`, phone: `+7 977 ${digits.slice(0, 3)} ${digits.slice(3)}`, comment: `Вопрос ${i}` };
      const twice = chance(o.duplicateRate);
      for (let k = 0; k < (twice ? 2 : 1); k++) {
        const res = await fetch(`${child!.url}/forms/site`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', referer: 'https://site.example/' },
          body: new URLSearchParams(fields).toString(),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        if (res.status !== 202) throw new Error(`form post ${i}: ${res.status}`);
        formPosts.set(i, (formPosts.get(i) ?? 0) + 1);
      }
      if (twice) injected.edgeDuplicates++;
    };
    const rdeskFinal = new Map<number, { total: number; status: string }>();
    const pushRdesk = async (j: number) => {
      const lead = rdeskLeads[j]!;
      for (const [n, status] of [
        [1, 'waiting'],
        [2, 'booked'],
      ] as const) {
        const total = 10_000 + j * 10 + n;
        const s = await edge(`/zdrav/booked/${RDESK_TOKEN}`, bookedPush(lead, 500_000 + j, total, status), 'application/json');
        if (s !== 200) throw new Error(`RDESK push ${j}/${n}: ${s}`);
        if (n === 2) rdeskFinal.set(lead, { total, status: DEFAULT_STATUS_LABELS[status] });
      }
    };
    const poison = async () => {
      for (let k = 0; k < o.poisonRdesk; k++) {
        const s = await edge(
          `/zdrav/booked/${RDESK_TOKEN}`,
          bookedPush(POISON_LEAD_BASE + k, 900_000 + k, 1, 'waiting'),
          'application/json',
        );
        if (s !== 200) throw new Error(`poison RDESK push ${k}: ${s}`);
      }
      for (let k = 0; k < o.poisonHooks; k++) {
        const s = await edge(`/hooks/amocrm/not-our-token-${k}`, hookBody(POISON_LEAD_BASE + k), 'application/x-www-form-urlencoded', {
          'x-amocrm-requestid': `poison-${o.seed}-${k}`,
        });
        if (s !== 200) throw new Error(`poison hook ${k}: ${s}`);
      }
    };

    /** A slice of every kind, a few at a time side by side. */
    const runSlice = async (from: number, to: number, kinds = { forms: true, others: true }) => {
      const share = (n: number) => [Math.floor((n * from) / 100), Math.floor((n * to) / 100)] as const;
      const work: Array<() => Promise<unknown>> = [];
      const [m0, m1] = share(o.moves);
      if (kinds.others) for (let i = m0; i < m1; i++) work.push(() => sb.admin.moveLead({ leadId: moveLeads[i]!, statusId: BOOKED }));
      const [r0, r1] = share(o.rdeskLeads);
      if (kinds.others) for (let j = r0; j < r1; j++) work.push(() => pushRdesk(j));
      const [f0, f1] = share(o.formPeople);
      if (kinds.forms) for (let i = f0; i < f1; i++) work.push(() => postForm(i));
      // Interleaved by the seeded PRNG, so the kinds share batches and the budget.
      for (let i = work.length - 1; i > 0; i--) {
        const k = Math.floor(rand() * (i + 1));
        [work[i], work[k]] = [work[k]!, work[i]!];
      }
      let next = 0;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < work.length) await work[next++]!();
        }),
      );
    };

    // SQS-level duplicates: a queued message received before the runner's poller takes it, sent
    // back twice with its attributes, then deleted: the worker gets the same message twice.
    let duplicating = true;
    const duplicator = (async () => {
      const queues = ['amocrm-hooks', 'rdesk', 'forms'];
      let q = 0;
      while (duplicating && injected.sqsDuplicates < o.sqsDuplicates) {
        await sleep(40);
        if (!child) continue;
        let ep;
        try {
          ep = readLocalEndpoints(dataDir);
        } catch {
          continue;
        }
        const sqs = new SQSClient({ endpoint: ep.sqsEndpoint, region: ep.region, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
        try {
          const id = queues[q++ % queues.length]!;
          const url = ep.queues[id]?.url;
          if (!url) continue;
          const got = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: url,
              MaxNumberOfMessages: 1,
              WaitTimeSeconds: 0,
              VisibilityTimeout: 30,
              MessageAttributeNames: ['All'],
            }),
          );
          const m = got.Messages?.[0];
          if (!m) continue;
          const attrs = m.MessageAttributes as Record<string, MessageAttributeValue> | undefined;
          for (let k = 0; k < 2; k++)
            await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: m.Body!, ...(attrs ? { MessageAttributes: attrs } : {}) }));
          await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
          injected.sqsDuplicates++;
        } catch {
          /* the runner is being killed or restarted: try again */
        } finally {
          sqs.destroy();
        }
      }
    })();

    const burstAt = new Set(Array.from({ length: o.bursts429 }, (_, k) => Math.floor(((k + 1) * 100) / (o.bursts429 + 1))));
    const slices = [0, 25, 50, 75, 100];
    const formsIdle = async () => {
      const h = (await (await fetch(`${child!.url}/health`)).json()) as {
        parts: { sqs?: { queues?: Record<string, { visible: number; inFlight: number; delayed?: number }> } };
      };
      const q = h.parts.sqs?.queues?.forms;
      return q !== undefined && q.visible + q.inFlight + (q.delayed ?? 0) === 0;
    };
    for (let s = 0; s + 1 < slices.length; s++) {
      const [from, to] = [slices[s]!, slices[s + 1]!];
      for (const b of burstAt) if (b >= from && b < to) burst();
      const killHere = o.kill && from === 25;
      if (killHere && !o.killWithForms) {
        await until(formsIdle, 'the forms queue idle before the kill', o.drainTimeoutMs, 100);
        await runSlice(from, to, { forms: false, others: true });
      } else await runSlice(from, to);
      step(`events ${from}–${to} % sent`);
      if (s === 0) await poison();
      if (killHere) {
        // Killed mid-batch: at the next write amoCRM applies, before the runner hears its answer.
        const victim = child;
        const hit = new Promise<void>((r) => (killed = r));
        killAt = victim;
        const inWindow = await Promise.race([hit.then(() => true), sleep(15_000).then(() => false)]);
        killAt = undefined;
        if (!inWindow) process.kill(-victim.proc.pid!, 'SIGKILL');
        await killGroup(victim);
        outs.push(victim.out());
        injected.kills++;
        child = undefined;
        step(`runner killed ${inWindow ? 'between a write and its answer' : '(no write in flight: killed anyway)'}`);
        child = await startChild(childOpts);
        step('runner up again');
        // amoCRM redelivers what the dead runner refused.
        await sb.admin.runWebhookRetries({ all: true });
        if (!o.killWithForms) await runSlice(from, to, { forms: true, others: false });
      }
    }
    duplicating = false;
    await duplicator;
    await outageOver;

    // ---- drain: the queues quiet, amoCRM's redeliveries done --------------------------------
    const ep = () => readLocalEndpoints(dataDir);
    const idle = async () => {
      const h = (await (await fetch(`${child!.url}/health`)).json()) as {
        parts: { sqs?: { queues?: Record<string, { visible: number; inFlight: number; delayed?: number }> } };
      };
      return Object.values(h.parts.sqs?.queues ?? {}).every((q) => q.visible + q.inFlight + (q.delayed ?? 0) === 0);
    };
    const drain = async (what: string) => {
      const end = Date.now() + o.drainTimeoutMs;
      for (;;) {
        await sb.admin.runWebhookRetries({ all: true });
        await until(idle, `${what}: the queues drained`, Math.max(1, end - Date.now()), 250);
        await sleep(1_500);
        if (sb.admin.pendingWebhookRetries().length === 0 && (await idle())) return;
      }
    };
    await drain('with the faults');
    step('drained with the faults on');

    const dlqDeps = (): { deps: DlqOpsDeps; close(): void } => {
      const e = ep();
      const creds = { accessKeyId: 'l', secretAccessKey: 'l' };
      const sqs = new SQSClient({ endpoint: e.sqsEndpoint, region: e.region, credentials: creds });
      const ddb = new DynamoDBClient({ endpoint: e.dynamodbEndpoint, region: e.region, credentials: creds });
      const queues = Object.entries(e.queues).map(([id, q]) => ({ id, url: q.url, dlqUrl: q.dlqUrl, fifo: q.fifo ?? false }));
      return {
        deps: {
          sqs,
          index: new DynamoDlqIndex({ doc: DynamoDBDocumentClient.from(ddb), tableName: e.tableName, queueIds: queues.map((q) => q.id) }),
          queues,
          waitSeconds: 0,
          holdSeconds: 10,
        },
        close: () => {
          sqs.destroy();
          ddb.destroy();
        },
      };
    };
    const faultCounts = sb.admin.counters();
    /**
     * Parked messages by reason, and the poison events among them (by the deal id in the body).
     * An edge or SQS duplicate of a poison event may be parked as its own message (a duplicate the
     * idempotency step caught first is not): the events are counted exactly, the messages reported.
     */
    const parkedEvents: Record<string, Set<number>> = {};
    const parkedList = async () => {
      const d = dlqDeps();
      try {
        const { items, byReason } = await listParked(d.deps, { scan: true });
        for (const k of Object.keys(parkedEvents)) delete parkedEvents[k];
        for (const it of items) {
          if (!POISON_REASONS.has(it.reason)) continue;
          const env = (await showParked(d.deps, it.ref)).message?.envelope;
          const body = env ? envelopeBody(env).toString() : '';
          const id = /"lead_id":"(\d+)"/.exec(body)?.[1] ?? /leads%5Bstatus%5D%5B0%5D%5Bid%5D=(\d+)/.exec(body)?.[1];
          (parkedEvents[it.reason] ??= new Set()).add(id === undefined ? -1 : Number(id));
        }
        return byReason;
      } finally {
        d.close();
      }
    };
    const parked = await parkedList();
    step(`parked: ${JSON.stringify(parked)}`);

    // ---- clear the faults, replay what was parked for a transient reason ------------------------
    sb.admin.clearFaults();
    let replayed = 0;
    {
      const d = dlqDeps();
      try {
        for (const reason of Object.keys(parked).filter((r) => !POISON_REASONS.has(r))) {
          const r = await replayParked(d.deps, { reason });
          replayed += r.done;
          if (r.failed.length) mismatches.push(`replay of ${reason}: ${r.failed.length} failed`);
        }
      } finally {
        d.close();
      }
    }
    await drain('after the replay');
    const parkedAfter = await parkedList();
    step(`replayed ${replayed}; parked after: ${JSON.stringify(parkedAfter)}`);

    // ---- the exact effects ------------------------------------------------------------------
    const counts: ScenarioReport['counts'] = {};
    const expectCount = (what: string, found: number, expected: number) => {
      counts[what] = { found, expected };
      if (found !== expected) mismatches.push(`${what}: ${found}, expected exactly ${expected}`);
    };
    const tasks = sb.admin.entities('tasks');
    const tasksOf = new Map<number, number>();
    for (const t of tasks) tasksOf.set(t.entity_id as number, (tasksOf.get(t.entity_id as number) ?? 0) + 1);
    expectCount('tasks', tasks.length, o.moves);
    const badTasks = moveLeads.filter((id) => tasksOf.get(id) !== 1);
    if (badTasks.length)
      mismatches.push(
        `moved deals without exactly one task: ${badTasks
          .slice(0, 10)
          .map((id) => `${id}×${tasksOf.get(id) ?? 0}`)
          .join(', ')}`,
      );

    let rdeskRight = 0;
    const rdeskWrong: string[] = [];
    for (const [id, want] of rdeskFinal) {
      const l = sb.admin.lead(id) as {
        price?: number;
        custom_fields_values?: Array<{ field_id: number; values: Array<{ value: unknown }> }> | null;
      };
      const status = l.custom_fields_values?.find((f) => f.field_id === statusFieldId)?.values[0]?.value;
      if (l.price === want.total && status === want.status) rdeskRight++;
      else rdeskWrong.push(`${id}: price ${l.price} status ${String(status)} (want ${want.total} ${want.status})`);
    }
    expectCount('RDESK deals with the final values', rdeskRight, o.rdeskLeads);
    if (dump)
      for (const w of rdeskWrong) {
        const id = w.split(':')[0]!;
        const tok = sb.admin.issueLongLivedToken({ clientId: TOOLS_ID }).access_token;
        const r = await fetch(`${sb.url}/api/v4/events?filter[entity]=lead&filter[entity_id]=${id}`, {
          headers: { authorization: `Bearer ${tok}` },
        });
        dump.push(
          `events of ${id}: ${r.status === 200 ? JSON.stringify(((await r.json()) as { _embedded: unknown })._embedded) : r.status}`,
        );
      }
    if (rdeskWrong.length) mismatches.push(`RDESK deals: ${rdeskWrong.slice(0, 5).join('; ')}`);

    const people = new Map<string, number>();
    for (let i = 0; i < o.formPeople; i++) people.set(`Гость ${o.seed}-${i}`, i);
    const contacts = sb.admin.entities('contacts');
    const formContacts = contacts.filter((c) => people.has(c.name as string));
    expectCount('contacts (all)', contacts.length - contacts0, o.formPeople);
    expectCount('contacts of the form people', new Set(formContacts.map((c) => c.name)).size, o.formPeople);
    const leads = sb.admin.entities('leads');
    expectCount('leads (all)', leads.length - leads0, o.formPeople);
    const formLeads = leads.filter((l) => typeof l.name === 'string' && l.name.startsWith('Сайт: Гость '));
    expectCount('leads of the form people', formLeads.length, o.formPeople);

    // Notes: read over REST (the faults are off now), every note of every form lead.
    const token = sb.admin.issueLongLivedToken({ clientId: TOOLS_ID }).access_token;
    const notesOf = new Map<number, number>();
    for (let page = 1; ; page++) {
      const r = await fetch(`${sb.url}/api/v4/leads/notes?limit=250&page=${page}`, { headers: { authorization: `Bearer ${token}` } });
      if (r.status === 204) break;
      const body = (await r.json()) as { _embedded: { notes: Array<{ entity_id: number }> }; _links: { next?: unknown } };
      for (const n of body._embedded.notes) notesOf.set(n.entity_id, (notesOf.get(n.entity_id) ?? 0) + 1);
      if (!body._links.next) break;
      await sleep(200);
    }
    const postsTotal = [...formPosts.values()].reduce((a, b) => a + b, 0);
    const formNotes = formLeads.reduce((n, l) => n + (notesOf.get(l.id as number) ?? 0), 0);
    expectCount('notes on the form leads (one per accepted post)', formNotes, postsTotal);
    const wrongNotes = formLeads.filter((l) => {
      const person = people.get((l.name as string).slice('Сайт: '.length));
      return person === undefined || notesOf.get(l.id as number) !== formPosts.get(person);
    });
    if (wrongNotes.length)
      mismatches.push(
        `form leads with a wrong note count: ${wrongNotes
          .slice(0, 5)
          .map((l) => `${l.id as number}×${notesOf.get(l.id as number) ?? 0}`)
          .join(', ')}`,
      );

    const poisonIds = (n: number) => Array.from({ length: n }, (_, k) => POISON_LEAD_BASE + k).join(',');
    expectCount('poison RDESK pushes parked lead-not-found (events)', parkedEvents['lead-not-found']?.size ?? 0, o.poisonRdesk);
    expectCount('poison webhooks parked bad-token (events)', parkedEvents['bad-token']?.size ?? 0, o.poisonHooks);
    if ([...(parkedEvents['lead-not-found'] ?? [])].sort().join(',') !== poisonIds(o.poisonRdesk))
      mismatches.push(
        `parked lead-not-found: deals ${[...(parkedEvents['lead-not-found'] ?? [])].join(',')}, expected ${poisonIds(o.poisonRdesk)}`,
      );
    if ([...(parkedEvents['bad-token'] ?? [])].sort().join(',') !== poisonIds(o.poisonHooks))
      mismatches.push(`parked bad-token: deals ${[...(parkedEvents['bad-token'] ?? [])].join(',')}, expected ${poisonIds(o.poisonHooks)}`);
    const others = Object.entries(parkedAfter).filter(([r]) => !POISON_REASONS.has(r));
    expectCount(
      'parked for other reasons after the replay',
      others.reduce((n, [, c]) => n + c, 0),
      0,
    );
    expectCount('amoCRM blocks', (sb.admin.limits() as { blocksImposed: number }).blocksImposed, 0);

    const byStatus = (status: number | string) =>
      faultCounts.requests
        .filter((r) => r.route.startsWith('/api/v4/') && String(r.status) === String(status))
        .reduce((n, r) => n + r.count, 0);
    // Where the answers were lost: the adds (tasks, leads/complex, notes) are the ones amoCRM has no idempotency key for.
    const lostBy: Record<string, number> = {};
    for (const r of faultCounts.requests)
      if (r.route.startsWith('/api/v4/') && String(r.status) === 'dropped')
        lostBy[`${r.method} ${r.route}`] = (lostBy[`${r.method} ${r.route}`] ?? 0) + r.count;
    const faults: Record<string, number> = {
      'REST 5xx': byStatus(500),
      'REST 503 (the lead PATCH outage)': byStatus(503),
      'REST timeouts (held)': byStatus('timeout'),
      'REST answers lost after the write (dropped)': byStatus('dropped'),
      ...Object.fromEntries(Object.entries(lostBy).map(([k, v]) => [`  of them ${k}`, v])),
      'REST 429': byStatus(429),
      '429 bursts': injected.bursts429,
      'edge duplicates': injected.edgeDuplicates,
      'webhook redeliveries (forced)': injected.webhookRedeliveries,
      'SQS duplicates': injected.sqsDuplicates,
      'runner SIGKILLs': injected.kills,
      'of them between a write and its answer': injected.killsInWriteWindow,
    };
    return {
      seed: o.seed,
      events: {
        'stage moves': o.moves,
        'RDESK pushes': o.rdeskLeads * 2,
        'form posts': o.formPeople,
        'poison RDESK': o.poisonRdesk,
        'poison hooks': o.poisonHooks,
      },
      faults,
      counts,
      parked,
      replayed,
      parkedAfter,
      mismatches,
      wallMs: Date.now() - t0,
    };
  } catch (e) {
    if (child) log(`runner output (last 4000 chars):\n${child.out().slice(-4000)}`);
    throw e;
  } finally {
    if (child) await killGroup(child).catch(() => undefined);
    if (dump && process.env.FAULTS_DUMP) writeFileSync(process.env.FAULTS_DUMP, [...outs, child?.out() ?? '', ...dump].join('\n=====\n'));
    await sb.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The report as the README's table. */
export function formatReport(r: ScenarioReport): string {
  const rows = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `  ${k}: ${v}`);
  return [
    `fault suite, seed ${r.seed}, ${(r.wallMs / 1000).toFixed(1)} s`,
    'events:',
    ...rows(r.events),
    'faults injected:',
    ...rows(r.faults),
    'effects (found / expected):',
    ...Object.entries(r.counts).map(([k, v]) => `  ${k}: ${v.found} / ${v.expected}`),
    `parked before the replay: ${JSON.stringify(r.parked)}; replayed ${r.replayed}; parked after: ${JSON.stringify(r.parkedAfter)}`,
    r.mismatches.length ? `MISMATCHES (seed ${r.seed}):\n${r.mismatches.map((m) => `  - ${m}`).join('\n')}` : 'exact: every effect once',
  ].join('\n');
}
