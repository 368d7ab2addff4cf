/**
 * The amoCRM webhook processor over the real fixture bodies, with idempotency on DynamoDB Local
 * (AWS's own conditional-write semantics) and a recording bus. Nothing of our own is mocked.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { EVENT_SOURCE, MAX_DETAIL_BYTES, RecordingBus, type BusEvent, type EventPublisher } from '../../lib/events/bus.ts';
import { createEventBridgePublisher } from '../../lib/aws/event-bus.ts';
import {
  createAmocrmHookProcessor,
  eventKey,
  FlowRegistry,
  HookTokenMatcher,
  RecordingMetrics,
  type AmocrmHookDeps,
} from '../../lib/ingest/index.ts';
import { REDELIVERY_WINDOW_SECONDS } from '../../lib/ingest/amocrm-hook.ts';
import { METRIC } from '../../lib/metrics.ts';
import { decide } from '../../lib/pipeline/decide.ts';
import { DeferError, outcomeFromError, PermanentError, RetryableError, type Outcome } from '../../lib/pipeline/outcome.ts';
import { processMessage } from '../../lib/pipeline/process.ts';
import type { RouteProcessor } from '../../lib/pipeline/registry.ts';
import { createDynamoIdempotency } from '../../lib/store/idempotency.ts';
import type { IdempotencyGuard } from '../../lib/ingest/idempotency.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';
import { fixtureBytes, fixtureNames } from '../support/fixtures.ts';
import { accountIdOf, captureLog, ctxFor, fixtureConfig, hookEnvelope, TestSecrets, tokenOf } from './support.ts';

// A fresh table per test: the idempotency keys are the bodies' hashes, and the tests reuse the
// same fixture bodies (one gateway deployment = one table).
let table: TestTable;
beforeEach(async () => {
  table = await createTestTable('ingest');
});

function guard(): IdempotencyGuard {
  return createDynamoIdempotency({ client: table.client, tableName: table.tableName, remainingTimeMs: () => 30_000 });
}

interface World {
  processor: RouteProcessor;
  bus: RecordingBus;
  metrics: RecordingMetrics;
  secrets: TestSecrets;
  flows: FlowRegistry;
}

function world(over: Partial<AmocrmHookDeps> = {}): World {
  const bus = new RecordingBus();
  const metrics = new RecordingMetrics();
  const secrets = new TestSecrets();
  const flows = new FlowRegistry();
  const processor = createAmocrmHookProcessor({ config: fixtureConfig(), secrets, guard: guard(), bus, flows, metrics, ...over });
  return { processor, bus, metrics, secrets, flows };
}

/** Runs the processor as the pipeline does: a thrown error becomes its outcome. */
async function run(w: Pick<World, 'processor'>, env: ReturnType<typeof hookEnvelope>, log = captureLog().log): Promise<Outcome> {
  try {
    return await w.processor(env, ctxFor(env, log));
  } catch (e) {
    return outcomeFromError(e);
  }
}

/** The fixture's subdomain (each fixture names exactly one account). */
function subdomainOf(body: Buffer): string {
  return /account%5Bsubdomain%5D=([a-z0-9-]+)/.exec(body.toString('latin1'))?.[1] ?? '';
}

const FIXTURES = fixtureNames('amocrm-webhooks');

describe('amocrm-hook processor over the real fixtures', () => {
  it('publishes one typed amocrm.<kind> event per fixture, for the account its token names, with the documented detail and no body', async () => {
    const w = world();
    expect(FIXTURES).toHaveLength(15);
    for (const [i, name] of FIXTURES.entries()) {
      const body = fixtureBytes(`amocrm-webhooks/${name}`);
      const sub = subdomainOf(body);
      const env = hookEnvelope(body, tokenOf(sub), { 'X-Amocrm-Requestid': `rid-${i}` }, `gw-${i}`);
      expect(await run(w, env), name).toEqual({ kind: 'ok' });
    }
    expect(w.bus.events).toHaveLength(15);
    const kinds = w.bus.events.map((e) => e.detailType);
    expect(kinds).toEqual([
      'amocrm.lead.status',
      'amocrm.lead.status',
      'amocrm.lead.status',
      'amocrm.lead.status',
      'amocrm.lead.add',
      'amocrm.lead.update',
      'amocrm.lead.delete',
      'amocrm.lead.responsible',
      'amocrm.contact.add',
      'amocrm.contact.update',
      'amocrm.contact.update',
      'amocrm.company.add',
      'amocrm.lead.note',
      'amocrm.unsorted.add',
      'amocrm.task.update',
    ]);
    const dp = w.bus.events[3] as BusEvent;
    expect(dp.detail).toEqual({
      account: accountIdOf('anyor'),
      kind: 'lead.status',
      entity: 'lead',
      action: 'status',
      family: 'digital-pipeline',
      entityId: 10754147,
      data: expect.objectContaining({
        id: 10754147,
        status_id: expect.any(Number),
        old_status_id: expect.any(Number),
        pipeline_id: expect.any(Number),
      }),
      index: 0,
      idempotencyKey: 'rid:rid-3:lead:10754147:status:0',
      requestId: 'gw-3',
      amocrmRequestId: 'rid-3',
      receivedAt: 1_767_225_600_000,
    });
    expect(dp.time).toBe(1_767_225_600_000);
    for (const e of w.bus.events) {
      const text = JSON.stringify(e.detail);
      // Never the request body (its encoded form) nor the path token.
      expect(text).not.toMatch(/%5B|hook-token-/);
      expect(Object.keys(e.detail).sort()).toEqual(
        expect.arrayContaining([
          'account',
          'kind',
          'entity',
          'action',
          'family',
          'entityId',
          'data',
          'idempotencyKey',
          'requestId',
          'receivedAt',
        ]),
      );
    }
    expect(w.metrics.total(METRIC.eventsPublished)).toBe(15);
    expect(w.metrics.total(METRIC.badToken)).toBe(0);
    // One secret read per account, once for the whole run (cached per container).
    expect(w.secrets.reads).toBe(8);
  });

  it('the same delivery twice (same body; same or a new X-Amocrm-Requestid): processed once, the others skipped as duplicates', async () => {
    const w = world();
    const calls: string[] = [];
    w.flows.on('lead.status', 'stage-rule', async (ev, ctx) => void calls.push(`${ev.entityId}@${ctx.stepKey}`));
    const body = fixtureBytes('amocrm-webhooks/webhook-04-status_lead-dp-short.txt');
    const rid = { 'X-Amocrm-Requestid': '4deb1687-f69f-4f06-930e-95c2947134ca' };
    const first = captureLog();
    expect(await run(w, hookEnvelope(body, tokenOf('anyor'), rid, 'gw-a'), first.log)).toEqual({ kind: 'ok' });
    const second = captureLog();
    // A new gateway request id (every API Gateway send makes one): the key is the business identity, not that.
    expect(await run(w, hookEnvelope(body, tokenOf('anyor'), rid, 'gw-b'), second.log)).toEqual({ kind: 'ok' });
    expect(w.bus.events).toHaveLength(1);
    // amoCRM's redelivery of the same bytes (5 min later) under a NEW X-Amocrm-Requestid: still the same event.
    const third = captureLog();
    expect(
      await run(
        w,
        hookEnvelope(body, tokenOf('anyor'), { 'X-Amocrm-Requestid': 'f00dfeed-0000-4000-8000-000000000001' }, 'gw-c'),
        third.log,
      ),
    ).toEqual({ kind: 'ok' });
    expect(w.bus.events).toHaveLength(1);
    expect(third.lines).toContainEqual({
      level: 'info',
      message: 'amocrm webhook: duplicate events skipped',
      attrs: { account: 'acc-anyor', events: 1, ran: 0, duplicates: 1, published: 0 },
    });
    expect(calls).toEqual([`10754147@amocrm:acc-anyor:rid:4deb1687-f69f-4f06-930e-95c2947134ca:lead:10754147:status:0#flow:stage-rule`]);
    expect(second.lines).toContainEqual({
      level: 'info',
      message: 'amocrm webhook: duplicate events skipped',
      attrs: { account: 'acc-anyor', events: 1, ran: 0, duplicates: 1, published: 0 },
    });
    expect(w.metrics.total(METRIC.eventsPublished)).toBe(1);
  });

  it('the same bytes under a new X-Amocrm-Requestid are a redelivery within amoCRM’s retry window, a new event after it', async () => {
    let now = 1_767_225_600_000;
    const w = world({
      guard: createDynamoIdempotency({ client: table.client, tableName: table.tableName, remainingTimeMs: () => 30_000, now: () => now }),
    });
    // A Digital Pipeline hook carries no timestamps: a lead entering the same stage again sends the same bytes.
    const body = fixtureBytes('amocrm-webhooks/webhook-04-status_lead-dp-short.txt');
    const send = (rid: string) => run(w, hookEnvelope(body, tokenOf('anyor'), { 'X-Amocrm-Requestid': rid }));
    expect(await send('first-1')).toEqual({ kind: 'ok' });
    now += 95 * 60_000; // amoCRM's last redelivery (5 + 15 + 15 + 60 min), under a new id
    expect(await send('redelivery-2')).toEqual({ kind: 'ok' });
    expect(w.bus.events).toHaveLength(1);
    now += REDELIVERY_WINDOW_SECONDS * 1000; // hours later: the lead entered the stage again
    expect(await send('later-3')).toEqual({ kind: 'ok' });
    expect(w.bus.events.map((e) => e.detail.idempotencyKey)).toEqual([
      'rid:first-1:lead:10754147:status:0',
      'rid:later-3:lead:10754147:status:0',
    ]);
  });

  it('without X-Amocrm-Requestid the key is the body hash: a byte-identical body is a duplicate, a different one is not', async () => {
    const w = world();
    const body = fixtureBytes('amocrm-webhooks/webhook-01-status_lead.txt');
    await run(w, hookEnvelope(body, tokenOf('test000002')));
    await run(w, hookEnvelope(body, tokenOf('test000002')));
    expect(w.bus.events).toHaveLength(1);
    expect(w.bus.events[0]?.detail.idempotencyKey).toMatch(/^sha256:[0-9a-f]{64}:lead:31926520:status:0$/);
    await run(w, hookEnvelope(Buffer.concat([body, Buffer.from('&x=1')]), tokenOf('test000002')));
    expect(w.bus.events).toHaveLength(2);
  });

  it('a timestamped event redelivered under a new X-Amocrm-Requestid while its first delivery is failing meets that attempt (the same step key)', async () => {
    // Found by the --full fault suite: the first delivery's task POST landed, its answer and
    // re-check were lost, the message went round again; amoCRM's redelivery under a new request
    // id ran the rule as a new event (new step key, no first-attempt mark) and wrote a second task.
    const w = world();
    const steps: string[] = [];
    let fail = 1;
    w.flows.on('lead.status', 'stage-rule', async (_ev, ctx) => {
      steps.push(ctx.stepKey);
      if (fail-- > 0) throw new RetryableError('the task answer was lost');
    });
    const body = fixtureBytes('amocrm-webhooks/webhook-01-status_lead.txt'); // names last_modified
    const first = await run(w, hookEnvelope(body, tokenOf('test000002'), { 'X-Amocrm-Requestid': 'aaaaaaaa-0000-4000-8000-000000000001' }));
    expect(first.kind).toBe('retry');
    const again = await run(w, hookEnvelope(body, tokenOf('test000002'), { 'X-Amocrm-Requestid': 'bbbbbbbb-0000-4000-8000-000000000002' }));
    expect(again).toEqual({ kind: 'ok' });
    expect(steps).toHaveLength(2);
    expect(steps[1]).toBe(steps[0]);
    expect(steps[0]).toMatch(/^amocrm:acc-test000002:sha256:[0-9a-f]{64}:lead:31926520:status:0#flow:stage-rule$/);
  });
});

describe('path token', () => {
  it('a wrong or missing token parks bad-token at once, counts WebhookBadToken, never parses, never echoes the token', async () => {
    const w = world();

    const body = fixtureBytes('amocrm-webhooks/webhook-02-status_lead-modern-cyrillic.txt');
    const wrong = `${tokenOf('unirock')}x`;
    expect(await run(w, hookEnvelope(body, wrong))).toEqual({
      kind: 'park',
      reason: 'bad-token',
      error: 'the path token matches no configured account',
    });
    expect(await run(w, hookEnvelope(body, undefined))).toMatchObject({ kind: 'park', reason: 'bad-token' });
    expect(await run(w, hookEnvelope(body, ''.padEnd(3, 'a')))).toMatchObject({ kind: 'park', reason: 'bad-token' });
    expect(w.bus.events).toEqual([]);
    expect(w.metrics.total(METRIC.badToken)).toBe(3);
  });

  it('through the pipeline: parked in ONE receive; the token is in no log line and not in the DLQ lastError', async () => {
    const w = world();
    const { log, lines } = captureLog();
    const token = 'SECRET-path-token-0123456789abcdef';
    const env = hookEnvelope(fixtureBytes('amocrm-webhooks/webhook-05-add_lead.txt'), token);
    const res = await processMessage(
      { messageId: 'm1', body: JSON.stringify(env), receiveCount: 1 },
      {
        queue: { id: 'amocrm-hooks', fifo: false, maxAttempts: 5 },
        routes: new Map([
          ['amocrm-hook', { id: 'amocrm-hook', bodyLimitBytes: 512 * 1024, target: { kind: 'queue', queue: 'amocrm-hooks' } }],
        ]),
        processors: { 'amocrm-hook': w.processor },
        log,
        now: Date.now,
        random: () => 0,
      },
    );
    expect(res.action).toMatchObject({ kind: 'park', reason: 'bad-token', attempts: 1 });
    expect(JSON.stringify(res.action).replace(/"body":"[^"]*"|"params":\{[^}]*\}/g, '')).not.toContain(token);
    expect(JSON.stringify(lines)).not.toContain(token);
  });

  it('tokens are compared against every account; secrets are read once per container, re-read on a miss after a while (rotation), and an outage is a retry', async () => {
    let now = 1_000_000;
    const secrets = new TestSecrets();
    const config = fixtureConfig();
    const tokens = new HookTokenMatcher({ config, secrets, now: () => now, refreshAfterMs: 60_000 });
    const w = world({ tokens, secrets });
    const body = fixtureBytes('amocrm-webhooks/webhook-07-delete_lead.txt');
    expect(await run(w, hookEnvelope(body, tokenOf('unirock')))).toEqual({ kind: 'ok' });
    expect(secrets.reads).toBe(8);
    // Rotation: the secret changes; the old token still works until the cache is re-read.
    secrets.values['hooks/unirock'] = 'rotated-token-for-unirock-000000';
    expect((await run(w, hookEnvelope(body, 'rotated-token-for-unirock-000000'))).kind).toBe('park'); // fresh cache: no re-read
    expect(secrets.reads).toBe(8);
    now += 61_000;
    const again = hookEnvelope(Buffer.concat([body, Buffer.from('&r=2')]), 'rotated-token-for-unirock-000000');
    expect(await run(w, again)).toEqual({ kind: 'ok' });
    expect(secrets.reads).toBe(16);
    // The secret store is down on a cold container: not the message's fault → retry, not park.
    const cold = new TestSecrets();
    cold.down = true;
    const w2 = world({ secrets: cold });
    const out = await run(w2, hookEnvelope(body, tokenOf('unirock')));
    expect(out).toMatchObject({ kind: 'retry' });
    expect((out as { error: string }).error).toMatch(/^RetryableError: the webhook path tokens could not be read/);
  });
});

describe('a missing hook-token secret', () => {
  it("stops only its own account: the others are processed; a token matching no loaded account is retried (it may be the missing one's) until the secret is read, then bad-token", async () => {
    let now = 1_000_000;
    const secrets = new TestSecrets();
    delete secrets.values['hooks/unirock'];
    const tokens = new HookTokenMatcher({ config: fixtureConfig(), secrets, now: () => now, refreshAfterMs: 60_000 });
    const w = world({ tokens, secrets });
    const { log, lines } = captureLog();
    // Another account's webhook goes through.
    expect(await run(w, hookEnvelope(fixtureBytes('amocrm-webhooks/webhook-04-status_lead-dp-short.txt'), tokenOf('anyor')), log)).toEqual({
      kind: 'ok',
    });
    expect(w.bus.events.map((e) => e.detail.account)).toEqual(['acc-anyor']);
    // The missing one is named (secret name only, never a value).
    expect(lines).toContainEqual({
      level: 'warn',
      message: "hook-token secret(s) could not be read; their accounts' webhooks are retried until they can",
      attrs: { accounts: ['acc-unirock'], secrets: ['hooks/unirock'] },
    });
    expect(JSON.stringify(lines)).not.toMatch(/hook-token-/);
    // unirock's own token, and a forged one: not parked bad-token while a secret is missing.
    const body = fixtureBytes('amocrm-webhooks/webhook-07-delete_lead.txt');
    const own = await run(w, hookEnvelope(body, tokenOf('unirock')));
    expect(own).toMatchObject({
      kind: 'retry',
      error: expect.stringMatching(
        /^RetryableError: the path token matches no loaded account, and the hook-token secret of 1 account could not be read \(hooks\/unirock\)/,
      ),
    });
    expect(JSON.stringify(own)).not.toContain(tokenOf('unirock'));
    expect(await run(w, hookEnvelope(body, 'forged-token'))).toMatchObject({ kind: 'retry' });
    expect(w.metrics.total(METRIC.badToken)).toBe(0);
    // Within 60 s a miss does not re-read; after it, the missing secret is read again.
    const reads = secrets.reads;
    await run(w, hookEnvelope(body, 'forged-token-2'));
    expect(secrets.reads).toBe(reads);
    secrets.values['hooks/unirock'] = tokenOf('unirock');
    now += 61_000;
    expect(await run(w, hookEnvelope(body, tokenOf('unirock')))).toEqual({ kind: 'ok' });
    expect(secrets.reads).toBeGreaterThan(reads);
    // Everything loaded: a forged token is bad-token again.
    expect(await run(w, hookEnvelope(body, 'forged-token'))).toMatchObject({ kind: 'park', reason: 'bad-token' });
    expect(w.metrics.total(METRIC.badToken)).toBe(1);
  });

  it("a re-read that fails for one account keeps that account's token from before", async () => {
    let now = 1_000_000;
    const secrets = new TestSecrets();
    const w = world({ tokens: new HookTokenMatcher({ config: fixtureConfig(), secrets, now: () => now }), secrets });
    const body = fixtureBytes('amocrm-webhooks/webhook-07-delete_lead.txt');
    expect(await run(w, hookEnvelope(body, tokenOf('unirock')))).toEqual({ kind: 'ok' });
    delete secrets.values['hooks/unirock'];
    now += 61_000;
    expect(await run(w, hookEnvelope(body, 'forged-token'))).toMatchObject({ kind: 'park', reason: 'bad-token' }); // re-read: unirock failed, kept
    expect(await run(w, hookEnvelope(Buffer.concat([body, Buffer.from('&r=2')]), tokenOf('unirock')))).toEqual({ kind: 'ok' });
  });
});

describe('parse and account checks', () => {
  it('an invalid body parks invalid-webhook with the parser code and message', async () => {
    const w = world();
    expect(await run(w, hookEnvelope('{"leads":1}', tokenOf('test')))).toEqual({
      kind: 'park',
      reason: 'invalid-webhook',
      error: 'not-form: the body looks like JSON, not application/x-www-form-urlencoded',
    });
    expect(await run(w, hookEnvelope('leads%5Bstatus%5D%5B0%5D%5Bid%5D=abc&account%5Bsubdomain%5D=test', tokenOf('test')))).toMatchObject({
      kind: 'park',
      reason: 'invalid-webhook',
      error: expect.stringMatching(/^invalid-item: leads\[status\]\[0\]\[id\]/),
    });
    expect(await run(w, hookEnvelope('account%5Bsubdomain%5D=test', tokenOf('test')))).toMatchObject({
      reason: 'invalid-webhook',
      error: expect.stringMatching(/^no-events:/),
    });
    expect(w.bus.events).toEqual([]);
  });

  it("the body must name the token's account: another subdomain, or another configured id, parks account-mismatch", async () => {
    const w = world();
    // webhook-02 is unirock's; the token is anyor's.
    expect(
      await run(w, hookEnvelope(fixtureBytes('amocrm-webhooks/webhook-02-status_lead-modern-cyrillic.txt'), tokenOf('anyor'))),
    ).toEqual({
      kind: 'park',
      reason: 'account-mismatch',
      error:
        'the webhook names account subdomain "unirock" (id 16700680), but its path token belongs to account "acc-anyor" (subdomain "anyor")',
    });
    // Right subdomain, wrong amoCRM id (configured for unirock).
    const forged = fixtureBytes('amocrm-webhooks/webhook-07-delete_lead.txt')
      .toString('latin1')
      .replace('account%5Bid%5D=16700680', 'account%5Bid%5D=16700681');
    expect(await run(w, hookEnvelope(Buffer.from(forged, 'latin1'), tokenOf('unirock')))).toMatchObject({
      kind: 'park',
      reason: 'account-mismatch',
    });
    expect(w.bus.events).toEqual([]);
  });
});

describe('flows and failure semantics', () => {
  const twoEvents =
    'leads%5Bstatus%5D%5B0%5D%5Bid%5D=501&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=142&leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=7&leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D=11' +
    '&leads%5Bupdate%5D%5B0%5D%5Bid%5D=502&leads%5Bupdate%5D%5B0%5D%5Bname%5D=Deal&account%5Bsubdomain%5D=test';

  it('events run in body order; a flow error retries the whole message while done steps (publish, earlier events) are skipped', async () => {
    const w = world();
    let failUpdate = 1;
    const seen: string[] = [];
    w.flows.on('*', 'audit', async (ev) => {
      seen.push(`audit:${ev.kind}:${ev.entityId}`);
      if (ev.kind === 'lead.update' && failUpdate-- > 0) throw new RetryableError('upstream 503');
    });
    const env = hookEnvelope(twoEvents, tokenOf('test'), { 'X-Amocrm-Requestid': 'two-1' });
    const first = await run(w, env);
    expect(first).toEqual({ kind: 'retry', error: 'RetryableError: upstream 503' });
    expect(w.bus.events.map((e) => e.detailType)).toEqual(['amocrm.lead.status', 'amocrm.lead.update']);
    expect(await run(w, env)).toEqual({ kind: 'ok' });
    // lead.status's audit ran once; lead.update's ran twice (failed, then ok); the bus got each event once.
    expect(seen).toEqual(['audit:lead.status:501', 'audit:lead.update:502', 'audit:lead.update:502']);
    expect(w.bus.events).toHaveLength(2);
    expect(await run(w, env)).toEqual({ kind: 'ok' });
    expect(seen).toHaveLength(3);
  });

  it('DeferError keeps its meaning (defer, not counted); PermanentError parks; an unknown error is a retry', async () => {
    for (const [err, expected] of [
      [new DeferError('rate-budget', 7), { kind: 'defer', reason: 'rate-budget', delaySeconds: 7 }],
      [
        new PermanentError('lead-not-found', 'lead 501 is gone'),
        { kind: 'park', reason: 'lead-not-found', error: 'PermanentError: lead 501 is gone' },
      ],
      [new TypeError('boom'), { kind: 'retry', error: 'TypeError: boom' }],
    ] as const) {
      table = await createTestTable('ingest'); // each case its own deployment: the same body again would be a duplicate
      const w = world();
      w.flows.on('lead.status', 'f', async () => {
        throw err;
      });
      expect(await run(w, hookEnvelope(twoEvents, tokenOf('test')))).toEqual(expected);
      // Published before the flow failed, and only once even when retried.
      expect(w.bus.events).toHaveLength(1);
    }
  });

  it('an event another worker holds right now is deferred (event-in-progress), not failed', async () => {
    const w = world();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    w.flows.on('lead.status', 'slow', async () => {
      entered();
      await gate;
    });
    const env = hookEnvelope(twoEvents, tokenOf('test'), { 'X-Amocrm-Requestid': 'race-1' });
    const firstRun = run(w, env);
    await inside;
    expect(await run(w, env)).toEqual({ kind: 'defer', reason: 'event-in-progress', delaySeconds: 30 });
    release();
    expect(await firstRun).toEqual({ kind: 'ok' });
    expect(w.bus.events.map((e) => e.detailType)).toEqual(['amocrm.lead.status', 'amocrm.lead.update']);
    // The defer decision re-sends with a delay and does not count an attempt.
    const d = decide({
      envelope: env,
      outcome: { kind: 'defer', reason: 'event-in-progress', delaySeconds: 30 },
      queue: { id: 'amocrm-hooks', fifo: false, maxAttempts: 5 },
      receiveCount: 1,
      random: () => 0,
      now: env.receivedAt,
    });
    expect(d).toMatchObject({ kind: 'resend', delaySeconds: 30, envelope: { deferrals: 1 } });
  });

  it('events.publish false: nothing goes to the bus, the flows still run once', async () => {
    const bus = new RecordingBus();
    const ran: unknown[] = [];
    const flows = new FlowRegistry().on('lead.status', 'f', async (ev) => void ran.push(ev.entityId));
    const w = world({ config: fixtureConfig({ events: { publish: false } }), bus, flows });
    const env = hookEnvelope(twoEvents, tokenOf('test'), { 'X-Amocrm-Requestid': 'nopub-1' });
    expect(await run(w, env)).toEqual({ kind: 'ok' });
    expect(await run(w, env)).toEqual({ kind: 'ok' });
    expect(bus.events).toEqual([]);
    expect(ran).toEqual([501]);
  });

  it('an event too large for EventBridge is published as a small amocrm.event-too-large stand-in (no data), its flows still run, and the events after it go on', async () => {
    const w = world();
    const flowSaw: Array<[string, number]> = [];
    w.flows.on('*', 'audit', async (ev) => void flowSaw.push([ev.kind, JSON.stringify(ev.kind === 'raw' ? ev.raw : ev.data).length]));
    const note = `leads%5Bnote%5D%5B0%5D%5Bnote%5D%5Belement_id%5D=501&leads%5Bnote%5D%5B0%5D%5Bnote%5D%5Belement_type%5D=2&leads%5Bnote%5D%5B0%5D%5Bnote%5D%5Bnote_type%5D=4&leads%5Bnote%5D%5B0%5D%5Bnote%5D%5Btext%5D=${'a'.repeat(300_000)}`;
    const huge = `${note}&leads%5Bupdate%5D%5B0%5D%5Bid%5D=502&leads%5Bupdate%5D%5B0%5D%5Bname%5D=Deal&account%5Bsubdomain%5D=test`;
    const { log, lines } = captureLog();
    const env = hookEnvelope(huge, tokenOf('test'), { 'X-Amocrm-Requestid': 'big-1' });
    expect(await run(w, env, log)).toEqual({ kind: 'ok' });
    expect(w.bus.events.map((e) => e.detailType)).toEqual(['amocrm.event-too-large', 'amocrm.lead.update']);
    const stand = w.bus.events[0]!.detail;
    expect(stand).toEqual({
      account: 'acc-test',
      kind: 'lead.note',
      entity: 'lead',
      action: 'note',
      family: 'account',
      entityId: 501,
      index: 0,
      idempotencyKey: 'rid:big-1:lead:501:note:0',
      size: expect.any(Number),
      maxSize: MAX_DETAIL_BYTES,
      requestId: 'gw-req-1',
      amocrmRequestId: 'big-1',
      receivedAt: 1_767_225_600_000,
    });
    expect(stand.size as number).toBeGreaterThan(MAX_DETAIL_BYTES);
    expect(JSON.stringify(stand).length).toBeLessThan(1000);
    // The flows got the full event, and the later event.
    expect(flowSaw.map(([k]) => k)).toEqual(['lead.note', 'lead.update']);
    expect(flowSaw[0]![1]).toBeGreaterThan(300_000);
    expect(
      lines.some(
        (l) =>
          l.level === 'warn' && l.message === 'amocrm event too large for the bus; published a stand-in' && l.attrs.kind === 'lead.note',
      ),
    ).toBe(true);
    expect(w.metrics.total(METRIC.eventsPublished)).toBe(2);
    // A redelivery is a duplicate, nothing published twice.
    expect(await run(w, env)).toEqual({ kind: 'ok' });
    expect(w.bus.events).toHaveLength(2);
    expect(flowSaw).toHaveLength(2);
  });

  it('the event key is per account and per parser key; a flow is named kebab-case and once', () => {
    expect(eventKey('clinic', { idempotencyKey: 'sha256:ab:lead:1:status:0' })).toBe('amocrm:clinic:sha256:ab:lead:1:status:0');
    const f = new FlowRegistry().on('lead.status', 'a', async () => undefined);
    expect(() => f.on('*', 'a', async () => undefined)).toThrow(/already registered/);
    expect(() => f.on('*', 'Bad Name', async () => undefined)).toThrow(/kebab-case/);
    expect(f.for('lead.status').map((x) => x.name)).toEqual(['a']);
    expect(f.for('lead.add')).toEqual([]);
  });
});

describe('bus adapters', () => {
  it('the EventBridge adapter sends source amo-gateway, the detail-type and the detail as the recording bus records them', async () => {
    const sent: unknown[] = [];
    // A structural EventBridge client: the adapter only calls send(PutEventsCommand).
    const client = { send: async (cmd: { input: unknown }) => (sent.push(cmd.input), { FailedEntryCount: 0, Entries: [] }) };
    const publisher: EventPublisher = createEventBridgePublisher(
      client as unknown as Parameters<typeof createEventBridgePublisher>[0],
      'amo-gateway-events',
    );
    const w = world({ bus: publisher });
    await run(
      w,
      hookEnvelope(fixtureBytes('amocrm-webhooks/webhook-04-status_lead-dp-short.txt'), tokenOf('anyor'), { 'X-Amocrm-Requestid': 'eb-1' }),
    );
    expect(sent).toHaveLength(1);
    const entry = (sent[0] as { Entries: Array<{ Source: string; DetailType: string; Detail: string; EventBusName: string }> }).Entries[0]!;
    expect(entry).toMatchObject({ Source: EVENT_SOURCE, DetailType: 'amocrm.lead.status', EventBusName: 'amo-gateway-events' });
    expect(JSON.parse(entry.Detail)).toMatchObject({
      account: 'acc-anyor',
      kind: 'lead.status',
      entityId: 10754147,
      idempotencyKey: 'rid:eb-1:lead:10754147:status:0',
    });
  });
});
