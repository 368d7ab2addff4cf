/**
 * `dlq list/show/replay/purge` over a runner with several parked messages: filters by queue,
 * route, reason and id; unindexed messages (as SQS's own redrive leaves them); show with the body
 * redacted (and --raw); purge with its guards and stale index entries.
 */
import { routeTable } from '../../lib/routes.ts';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { LocalRunner } from '../../infra/local/runner.ts';
import { buildEnvelope } from '../../lib/envelope.ts';
import { ok, PermanentError, RetryableError } from '../../lib/pipeline/outcome.ts';
import type { RouteProcessor } from '../../lib/pipeline/registry.ts';
import { cli, post, runnerEnv, startRunner, waitFor } from './support.ts';

const HOOK_TOKEN = 'tok-SECRET-4f9a2b7c';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const HOOK_BODY =
  'contacts%5Badd%5D%5B0%5D%5Bemail%5D=ivan.petrov%40example.com&contacts%5Badd%5D%5B0%5D%5Bphone%5D=%2B7+999+123-45-67&leads%5Bstatus%5D%5B0%5D%5Bid%5D=4242';

let r: LocalRunner;
let env: Record<string, string>;
const amojoSeen: string[] = [];
let bookedFixed = false;

/** Ids by what they are, filled in beforeAll. */
const ids: Record<'hook' | 'mc' | 'booked' | 'amojoUnindexed' | 'rawUnindexed', string> = {
  hook: '',
  mc: '',
  booked: '',
  amojoUnindexed: '',
  rawUnindexed: '',
};

beforeAll(async () => {
  const hook: RouteProcessor = async () => {
    // The error mentions the path token: the pipeline redacts it from lastError.
    throw new PermanentError('bad-token', `token ${HOOK_TOKEN} is not an account's`);
  };
  const mc: RouteProcessor = async () => {
    throw new PermanentError('bad-payload', 'bookings[0].date is missing');
  };
  const booked: RouteProcessor = async () => {
    if (bookedFixed) return ok();
    throw new RetryableError('RDESK 502');
  };
  const amojo: RouteProcessor = async (e) => {
    amojoSeen.push(e.requestId);
    return ok();
  };
  r = await startRunner({ processors: { 'amocrm-hook': hook, 'zdrav-mc': mc, 'zdrav-booked': booked, 'amojo-callback': amojo } });
  env = runnerEnv(r);
  await post(r, `/hooks/amocrm/${HOOK_TOKEN}`, HOOK_BODY, FORM);
  await post(r, '/zdrav/mc/t0k', '[{"booking":"mc-1"}]');
  await post(r, '/zdrav/booked/t0k', '[{"booking":"bk-1"}]');
  // As SQS's maxReceiveCount net leaves them: in the DLQ, no attributes, no index entry.
  const unindexed = buildEnvelope(
    {
      routeId: 'amojo-callback',
      pathParams: { scope_id: 'scope-123' },
      query: {},
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"message":"hi"}'),
      receivedAt: Date.now() - 60_000,
      requestId: 'redriven-1',
      sourceIp: '10.0.0.9',
    },
    ['content-type'],
  );
  const sent = await r.sqs.send(
    new SendMessageCommand({ QueueUrl: r.queues.amojo!.dlqUrl, MessageBody: JSON.stringify({ ...unindexed, attempt: 3 }) }),
  );
  ids.amojoUnindexed = `amojo/unindexed:${sent.MessageId}`;
  const raw = await r.sqs.send(new SendMessageCommand({ QueueUrl: r.queues.rdesk!.dlqUrl, MessageBody: 'not json at all' }));
  ids.rawUnindexed = `rdesk/unindexed:${raw.MessageId}`;

  const entries = await waitFor(async () => {
    const l = await r.dlqIndex.list();
    return l.length === 3 ? l : undefined;
  }, 'three index entries');
  for (const e of entries) {
    const ref = `${e.queueId}/${e.id}`;
    if (e.route === 'amocrm-hook') ids.hook = ref;
    if (e.route === 'zdrav-mc') ids.mc = ref;
    if (e.route === 'zdrav-booked') ids.booked = ref;
  }
  await waitFor(() => r.depth('rdesk').dlq === 3 && r.depth('amocrm-hooks').dlq === 1, 'the DLQ copies');
});

afterAll(async () => {
  await r?.stop();
});

describe('dlq list filters', () => {
  it('lists every indexed entry with counts per reason, and says which DLQs hold unindexed messages', async () => {
    const res = await cli(['dlq', 'list'], env);
    expect(res.code).toBe(0);
    const rows = res.out.slice(1, 4).join('\n');
    expect(rows).toMatch(/amocrm-hooks\s+amocrm-hook\s+bad-token\s+1 /);
    expect(rows).toMatch(/rdesk\s+zdrav-mc\s+bad-payload\s+1 /);
    expect(rows).toMatch(/rdesk\s+zdrav-booked\s+out-of-attempts\s+5 /);
    expect(res.text).toContain('3 parked: bad-payload 1, bad-token 1, out-of-attempts 1');
    expect(res.text).not.toContain(HOOK_TOKEN);
    expect(res.text).toContain('rdesk: the DLQ holds about 3 message(s), the index 2: about 1 unindexed (`dlq list --scan` lists them)');
    expect(res.text).toContain('amojo: the DLQ holds about 1 message(s), the index 0: about 1 unindexed');
  });

  it('filters by queue, route, reason, since; --limit shows the oldest n but counts all', async () => {
    const byRoute = await cli(['dlq', 'list', '--route', 'zdrav-booked', '--json'], env);
    expect(byRoute.out.map((l) => JSON.parse(l).id)).toEqual([ids.booked]);
    const byReason = await cli(['dlq', 'list', '--reason', 'bad-payload', '--json'], env);
    expect(byReason.out.map((l) => JSON.parse(l).id)).toEqual([ids.mc]);
    const byQueue = await cli(['dlq', 'list', '--queue', 'rdesk', '--json'], env);
    expect(byQueue.out.map((l) => JSON.parse(l).id).sort()).toEqual([ids.mc, ids.booked].sort());
    const future = await cli(['dlq', 'list', '--since', new Date(Date.now() + 3_600_000).toISOString()], env);
    expect(future.text).toMatch(/^nothing parked matching the filter/m);
    const recent = await cli(['dlq', 'list', '--since', '1h', '--json'], env);
    expect(recent.out).toHaveLength(3);
    const limited = await cli(['dlq', 'list', '--limit', '1'], env);
    expect(limited.out.filter((l) => /^(rdesk|amocrm-hooks|amojo) /.test(l))).toHaveLength(1);
    expect(limited.text).toContain('3 parked: bad-payload 1, bad-token 1, out-of-attempts 1 (showing 1, --limit 1)');
    expect((await cli(['dlq', 'list', '--queue', 'nope'], env)).err.at(-1)).toMatch(
      `unknown queue "nope" (known: ${routeTable.queues.map((q) => q.id).join(', ')})`,
    );
    expect((await cli(['dlq', 'list', '--since', 'yesterday-ish'], env)).code).toBe(2);
    expect((await cli(['dlq', 'list', '--limit', '0'], env)).code).toBe(2);
  });

  it('--scan (or --reason unindexed) lists messages without an index entry, and leaves every message in place', async () => {
    const res = await cli(['dlq', 'list', '--reason', 'unindexed', '--json'], env);
    expect(res.code).toBe(0);
    const rows = res.out.map((l) => JSON.parse(l));
    expect(rows.map((x) => x.id).sort()).toEqual([ids.amojoUnindexed, ids.rawUnindexed].sort());
    expect(rows.find((x) => x.id === ids.amojoUnindexed)).toMatchObject({
      queue: 'amojo',
      route: 'amojo-callback',
      reason: 'unindexed',
      attempts: 3,
      inDlq: true,
    });
    expect(rows.find((x) => x.id === ids.rawUnindexed)).toMatchObject({ route: '(not an envelope)', reason: 'unindexed', attempts: null });
    const all = await cli(['dlq', 'list', '--scan'], env);
    expect(all.text).toContain('5 parked: unindexed 2, bad-payload 1, bad-token 1, out-of-attempts 1');
    // Let go again: visible, nothing in flight, nothing deleted.
    for (const q of ['rdesk', 'amojo', 'amocrm-hooks'] as const) {
      const m = r.fauxqs.inspectQueue(r.queues[q]!.dlqName)!.messages;
      expect(m.inflight).toHaveLength(0);
    }
    expect(r.depth('rdesk').dlq).toBe(3);
  });
});

describe('dlq show', () => {
  it('prints the record and the envelope with path tokens masked; the message stays in the DLQ', async () => {
    const res = await cli(['dlq', 'show', ids.hook], env);
    expect(res.code).toBe(0);
    expect(res.text).toMatch(/^id:\s+amocrm-hooks\/\S+$/m);
    expect(res.text).toMatch(/^reason:\s+bad-token$/m);
    expect(res.text).toMatch(/^attempts:\s+1$/m);
    expect(res.text).toMatch(/^last error:\s+PermanentError: token \[redacted\] is not an account's$/m);
    expect(res.text).toMatch(/^message:\s+in the DLQ since \S+ \(message id \S+, received \d+× from the DLQ\)$/m);
    expect(res.text).toMatch(new RegExp(`^  params:\\s+token=\\[masked, ${HOOK_TOKEN.length} chars\\]$`, 'm'));
    expect(res.text).toMatch(/^ {2}route:\s+amocrm-hook$/m);
    expect(res.text).toMatch(/^ {4}content-type: application\/x-www-form-urlencoded$/m);
    expect(res.text).toMatch(
      new RegExp(
        `^  body:\\s+${Buffer.byteLength(HOOK_BODY)} bytes \\(application/x-www-form-urlencoded\\); --body prints it \\(redacted\\)$`,
        'm',
      ),
    );
    expect(res.text).not.toContain(HOOK_TOKEN);
    expect(res.text).not.toContain('example.com');
    const m = r.fauxqs.inspectQueue(r.queues['amocrm-hooks']!.dlqName)!.messages;
    expect(m.ready).toHaveLength(1);
    expect(m.inflight).toHaveLength(0);
  });

  it('--body decodes the form and redacts phones and emails; --raw prints the exact bytes with a warning', async () => {
    const res = await cli(['dlq', 'show', ids.hook, '--body'], env);
    expect(res.code).toBe(0);
    expect(res.out).toContain('--- body (form, redacted) ---');
    expect(res.out).toContain('contacts[add][0][email] = [email]');
    expect(res.out).toContain('contacts[add][0][phone] = [phone]');
    expect(res.out).toContain('leads[status][0][id] = 4242');
    expect(res.text).not.toMatch(/ivan\.petrov|123-45-67|SECRET/);

    const raw = await cli(['dlq', 'show', ids.hook, '--body', '--raw'], env);
    expect(raw.code).toBe(0);
    expect(raw.err[0]).toMatch(/^warning: --raw prints the body and path parameters unredacted/);
    expect(raw.out).toContain(HOOK_BODY);
    expect(raw.text).toContain(`token=${HOOK_TOKEN}`);

    const json = await cli(['dlq', 'show', ids.hook, '--body', '--json'], env);
    const doc = JSON.parse(json.out[0]!);
    expect(doc).toMatchObject({
      id: ids.hook,
      reason: 'bad-token',
      message: { attributes: { indexId: ids.hook.split('/')[1], reason: 'bad-token', sourceQueue: 'amocrm-hooks' }, bodyRedacted: true },
    });
    expect(doc.message.envelope.params.token).toBe(`[masked, ${HOOK_TOKEN.length} chars]`);
    expect(json.out[0]).not.toMatch(/ivan\.petrov|123-45-67|SECRET/);
  });

  it('finds unindexed messages and bare ids; an unknown id exits 1', async () => {
    const un = await cli(['dlq', 'show', ids.amojoUnindexed, '--body'], env);
    expect(un.code).toBe(0);
    expect(un.text).toMatch(/^index:\s+no entry \(unindexed/m);
    expect(un.text).toMatch(/^ {2}params:\s+scope_id=\[masked, 9 chars\]$/m);
    expect(un.text).toMatch(/^ {2}attempt:\s+3$/m);
    expect(un.out).toContain('  "message": "hi"');
    const bare = await cli(['dlq', 'show', ids.mc.split('/')[1]!], env);
    expect(bare.code).toBe(0);
    expect(bare.text).toMatch(/^reason:\s+bad-payload$/m);
    const notEnv = await cli(['dlq', 'show', ids.rawUnindexed, '--body'], env);
    expect(notEnv.text).toMatch(/not an envelope: EnvelopeError: message body is not JSON/);
    expect(notEnv.text).toContain('(--raw prints the message body)');
    const missing = await cli(['dlq', 'show', 'rdesk/2020-01-01T00:00:00.000Z#nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.err.at(-1)).toMatch(/no parked message "rdesk\/2020-01-01T00:00:00.000Z#nope"/);
  });
});

describe('dlq replay with filters', () => {
  it('--dry-run with a route filter names only that route; the rest count as skipped', async () => {
    const res = await cli(['dlq', 'replay', '--route', 'zdrav-mc', '--dry-run'], env);
    expect(res.code).toBe(0);
    expect(res.out).toContain(`would replay ${ids.mc} route=zdrav-mc reason=bad-payload`);
    expect(res.text).toContain('dry run: would replay 1, skipped by filter 4; nothing was changed');
    expect(r.depth('rdesk').dlq).toBe(3);
  });

  it('replays an unindexed message by reason; replays one by --id; the others stay', async () => {
    const un = await cli(['dlq', 'replay', '--reason', 'unindexed', '--queue', 'amojo', '--progress', 'lines'], env);
    expect(un.code).toBe(0);
    expect(un.out).toContain(`replayed ${ids.amojoUnindexed} route=amojo-callback reason=unindexed`);
    expect(un.text).toContain('replayed 1, skipped by filter 0, failed 0');
    await waitFor(() => amojoSeen.includes('redriven-1'), 'the amojo flow');
    await waitFor(() => r.depth('amojo').dlq === 0 && r.depth('amojo').inFlight === 0, 'amojo drained');

    bookedFixed = true;
    const one = await cli(['dlq', 'replay', '--id', ids.booked, '--progress', 'lines'], env);
    expect(one.code).toBe(0);
    expect(one.text).toContain('replayed 1, skipped by filter 2, failed 0'); // only rdesk is scanned: the id names it
    await waitFor(() => r.depth('rdesk').dlq === 2, 'booked left the DLQ');
    expect((await r.dlqIndex.list()).map((e) => e.route).sort()).toEqual(['amocrm-hook', 'zdrav-mc']);
  });
});

describe('dlq purge', () => {
  it('needs --yes; --dry-run and a non-matching --older-than change nothing; then deletes message and entry', async () => {
    const no = await cli(['dlq', 'purge', '--reason', 'bad-payload'], env);
    expect(no.code).toBe(2);
    expect(no.err.at(-1)).toMatch(/purge deletes parked messages for good: add --yes/);

    const dry = await cli(['dlq', 'purge', '--reason', 'bad-payload', '--dry-run'], env);
    expect(dry.out).toContain(`would purge ${ids.mc} route=zdrav-mc reason=bad-payload`);
    expect(dry.text).toContain('dry run: would purge 1');
    const young = await cli(['dlq', 'purge', '--reason', 'bad-payload', '--older-than', '1h', '--yes'], env);
    expect(young.text).toContain('purged 0, skipped by filter 3, failed 0'); // rdesk 2 + amocrm-hooks 1
    expect(r.depth('rdesk').dlq).toBe(2);
    expect((await cli(['dlq', 'purge', '--older-than', 'a while', '--yes'], env)).code).toBe(2);

    const yes = await cli(['dlq', 'purge', '--reason', 'bad-payload', '--yes', '--progress', 'lines'], env);
    expect(yes.code).toBe(0);
    expect(yes.out).toContain(`purged ${ids.mc} route=zdrav-mc reason=bad-payload`);
    expect(yes.text).toContain('purged 1, skipped by filter 2, failed 0');
    expect(r.depth('rdesk').dlq).toBe(1); // the raw unindexed one is left
    expect((await r.dlqIndex.list()).map((e) => e.route)).toEqual(['amocrm-hook']);
  });

  it('removes index entries whose message is gone (stale), and purges unindexed raw messages', async () => {
    await r.dlqIndex.put({
      queueId: 'rdesk',
      messageKey: 'ghost-1',
      route: 'zdrav-mc',
      reason: 'ghost',
      lastError: 'x',
      attempts: 1,
      firstSeenAt: Date.now() - 7_200_000,
      requestId: 'g',
      parkedAt: Date.now() - 3_600_000,
    });
    const scan = await cli(['dlq', 'list', '--scan', '--queue', 'rdesk'], env);
    expect(scan.text).toMatch(/note: rdesk\/\S+#ghost-1 has no message in its DLQ/);
    const replay = await cli(['dlq', 'replay', '--reason', 'ghost'], env);
    expect(replay.text).toContain('1 index entry has no message in the DLQ');
    const purge = await cli(['dlq', 'purge', '--reason', 'ghost', '--yes'], env);
    expect(purge.code).toBe(0);
    expect(purge.text).toContain('removed 1 of 1 index entry whose message was no longer in the DLQ');
    expect(await r.dlqIndex.list({ reason: 'ghost' })).toEqual([]);

    const raw = await cli(['dlq', 'purge', '--id', ids.rawUnindexed, '--yes'], env);
    expect(raw.text).toContain('purged 1, skipped by filter 0, failed 0');
    expect(r.depth('rdesk').dlq).toBe(0);
  });
});
