/**
 * The whole loop over real sockets: a flow fails transiently → retried → parked after the queue's
 * maxAttempts → `dlq list` shows it → `dlq replay --dry-run` changes nothing → the flow is fixed →
 * `dlq replay` → processed, DLQ and index empty.
 */
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../lib/envelope.ts';
import { ok, RetryableError } from '../../lib/pipeline/outcome.ts';
import type { RouteProcessor } from '../../lib/pipeline/registry.ts';
import { routeTable } from '../../lib/routes.ts';
import { cli, post, runnerEnv, startRunner, useRunners, waitFor } from './support.ts';

useRunners();

const RDESK_MAX_ATTEMPTS = routeTable.queues.find((q) => q.id === 'rdesk')!.maxAttempts;

describe('dlq: park → list → replay', () => {
  it('a transient failure is retried, parked as out-of-attempts, listed, dry-run replayed (nothing moves), then replayed and processed', async () => {
    let fixed = false;
    const seen: Array<{ attempt: number | undefined; lastError: string | undefined; fixed: boolean }> = [];
    const flaky: RouteProcessor = async (env: Envelope) => {
      seen.push({ attempt: env.attempt, lastError: env.lastError, fixed });
      // The error echoes a phone number and an email: the index must hold them redacted.
      if (!fixed) throw new RetryableError('upstream 503 for +7 (999) 123-45-67 / ivan@example.com');
      return ok();
    };
    const r = await startRunner({ processors: { 'zdrav-mc': flaky } });
    const env = runnerEnv(r);
    await post(r, '/zdrav/mc/t0k', '[{"booking":"b-1","phone":"+7 999 765-43-21"}]');

    await waitFor(() => r.depth('rdesk').dlq === 1, 'the park');
    expect(seen).toHaveLength(RDESK_MAX_ATTEMPTS);
    expect(seen.map((s) => s.attempt)).toEqual([undefined, 1, 2, 3, 4]);
    const entries = await waitFor(async () => {
      const l = await r.dlqIndex.list();
      return l.length ? l : undefined;
    }, 'the index entry');
    expect(entries).toHaveLength(1);

    // list: one row with queue, route, reason, attempts, first/last seen, id, redacted error; counts.
    const list = await cli(['dlq', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.out[0]).toMatch(/^QUEUE\s+ROUTE\s+REASON\s+ATTEMPTS\s+FIRST SEEN\s+LAST SEEN\s+ID\s+LAST ERROR$/);
    const id = `rdesk/${entries[0]!.id}`;
    expect(list.out[1]).toMatch(
      new RegExp(
        `^rdesk\\s+zdrav-mc\\s+out-of-attempts\\s+${RDESK_MAX_ATTEMPTS}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+\\S+Z\\s+${escape(id)}\\s+RetryableError: upstream 503 for \\[phone\\] / \\[email\\]$`,
      ),
    );
    expect(list.text).toContain('1 parked: out-of-attempts 1');
    expect(list.text).not.toMatch(/999|ivan@/);

    const json = await cli(['dlq', 'list', '--json'], env);
    expect(json.out).toHaveLength(1);
    expect(JSON.parse(json.out[0]!)).toMatchObject({
      id,
      queue: 'rdesk',
      route: 'zdrav-mc',
      reason: 'out-of-attempts',
      attempts: RDESK_MAX_ATTEMPTS,
      requestId: entries[0]!.requestId,
    });
    expect(json.err.join('\n')).toContain('1 parked: out-of-attempts 1');

    // Dry run: prints what would move, changes nothing.
    const dry = await cli(['dlq', 'replay', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`would replay ${id} route=zdrav-mc reason=out-of-attempts`);
    expect(dry.text).toContain('dry run: would replay 1, skipped by filter 0; nothing was changed');
    expect(r.depth('rdesk')).toEqual({ visible: 0, delayed: 0, inFlight: 0, dlq: 1 });
    expect(await r.dlqIndex.list()).toHaveLength(1);
    const dlqReady = r.fauxqs.inspectQueue(r.queues.rdesk!.dlqName)!.messages;
    expect(dlqReady.ready).toHaveLength(1); // let go again, visible at once
    await new Promise((res) => setTimeout(res, 300));
    expect(seen).toHaveLength(RDESK_MAX_ATTEMPTS);

    // The flow is fixed; replay.
    fixed = true;
    const rep = await cli(['dlq', 'replay', '--progress', 'lines'], env);
    expect(rep.code).toBe(0);
    expect(rep.out).toContain(`replayed ${id} route=zdrav-mc reason=out-of-attempts`);
    expect(rep.text).toContain('replayed 1, skipped by filter 0, failed 0');
    await waitFor(() => seen.some((s) => s.fixed), 'the replayed message');
    const replayed = seen.find((s) => s.fixed)!;
    expect(replayed.attempt).toBeUndefined(); // attempt counter reset
    expect(replayed.lastError).toMatch(/^RetryableError: upstream 503 for \[phone\]/); // kept as history
    await waitFor(() => r.pollerStats().rdesk?.deleted === RDESK_MAX_ATTEMPTS + 1, 'the delete');
    expect(r.depth('rdesk')).toEqual({ visible: 0, delayed: 0, inFlight: 0, dlq: 0 });
    expect(await r.dlqIndex.list()).toEqual([]);
    expect(seen.filter((s) => s.fixed)).toHaveLength(1);

    const after = await cli(['dlq', 'list'], env);
    expect(after.text).toMatch(/^nothing parked \(SQS http:\/\/127\.0\.0\.1:\d+, table amo-gateway\)$/m);
  });

  it('replay of a message parked again: a second failure parks it anew after a fresh set of attempts', async () => {
    let calls = 0;
    const alwaysFails: RouteProcessor = async () => {
      calls++;
      throw new RetryableError('still down');
    };
    const r = await startRunner({ processors: { 'zdrav-booked': alwaysFails } });
    const env = runnerEnv(r);
    await post(r, '/zdrav/booked/t0k', '[1]');
    await waitFor(() => r.depth('rdesk').dlq === 1 && calls === RDESK_MAX_ATTEMPTS, 'the first park');
    await waitFor(async () => (await r.dlqIndex.list()).length === 1, 'the index entry');
    const rep = await cli(['dlq', 'replay', '--route', 'zdrav-booked', '--progress', 'none'], env);
    expect(rep.code).toBe(0);
    expect(rep.out).not.toContain('replayed rdesk/'); // --progress none: no per-message lines
    expect(rep.text).toContain('replayed 1, skipped by filter 0, failed 0');
    // A full new set of attempts (the counter was reset), then parked again with a new entry.
    await waitFor(() => calls === 2 * RDESK_MAX_ATTEMPTS && r.depth('rdesk').dlq === 1, 'the second park');
    const entries = await waitFor(async () => {
      const l = await r.dlqIndex.list();
      return l.length === 1 ? l : undefined;
    }, 'one index entry');
    expect(entries[0]).toMatchObject({ reason: 'out-of-attempts', attempts: RDESK_MAX_ATTEMPTS, route: 'zdrav-booked' });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
