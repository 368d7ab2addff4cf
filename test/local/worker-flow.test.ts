/** Route → queue → poller → worker, with the real worker, fauxqs and dynalite. */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { buildEnvelope } from '../../lib/envelope.ts';
import { routeTable } from '../../lib/routes.ts';
import { ok, RetryableError } from '../../lib/pipeline/outcome.ts';
import type { RouteProcessor } from '../../lib/pipeline/registry.ts';
import { start, useRunners, waitFor } from './helpers.ts';

useRunners();

const json = { 'content-type': 'application/json' };

describe('route → queue → worker', () => {
  it('a direct route is consumed: one log line with route, bytes and outcome — never the body or the path token; without a processor it is parked no-processor, not acknowledged', async () => {
    const { runner, lines } = await start();
    const body = 'leads%5Bstatus%5D%5B0%5D%5Bid%5D=4242&secret_marker=1';
    const res = await fetch(`${runner.url}/hooks/amocrm/tok-SECRET-9f8e7d`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(res.status).toBe(200);
    const line = await waitFor(() => lines.find((l) => / worker .* message /.test(l)), 'the worker line');
    // No amoCRM side configured: the hook route has no processor, so its message is parked.
    expect(line).toMatch(
      new RegExp(`queue=amocrm-hooks route=amocrm-hook bytes=${Buffer.byteLength(body)} outcome=park action=park .*reason=no-processor`),
    );
    await waitFor(() => runner.pollerStats()['amocrm-hooks']?.deleted === 1, 'the park');
    expect(runner.depth('amocrm-hooks')).toEqual({ visible: 0, delayed: 0, inFlight: 0, dlq: 1 });
    expect((await runner.dlqIndex.list({ reason: 'no-processor' })).map((e) => e.route)).toEqual(['amocrm-hook']);
    const all = lines.join('\n');
    expect(all).not.toContain('SECRET');
    expect(all).not.toContain('secret_marker');
    expect(all).not.toContain('4242');
    expect(lines.filter((l) => / worker .* message /.test(l))).toHaveLength(1);
  });

  it('a failing record is retried and parked after its attempts while its batch-mates are deleted', async () => {
    const calls = new Map<string, number>();
    const flaky: RouteProcessor = async (_env, ctx) => {
      const text = ctx.body.toString('utf8');
      calls.set(text, (calls.get(text) ?? 0) + 1);
      if (text.includes('bad')) throw new RetryableError('upstream 503');
      return ok();
    };
    // Paused first so the three land in one batch; random 0 makes every backoff 0 s.
    const { runner, lines } = await start({ pollers: false, processors: { 'zdrav-mc': flaky }, random: () => 0 });
    for (const b of ['[{"n":"good-1"}]', '[{"n":"bad"}]', '[{"n":"good-2"}]']) {
      expect((await fetch(`${runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: b })).status).toBe(200);
    }
    runner.startPollers();
    await waitFor(() => lines.some((l) => l.includes('action=park')), 'the park');
    expect(Object.fromEntries(calls)).toEqual({ '[{"n":"good-1"}]': 1, '[{"n":"bad"}]': 5, '[{"n":"good-2"}]': 1 });
    // The first batch held all three: two deleted, one re-sent.
    const workerLines = lines.filter((l) => / worker /.test(l));
    expect(workerLines.filter((l) => l.includes('action=delete'))).toHaveLength(2);
    expect(workerLines.filter((l) => l.includes('action=resend'))).toHaveLength(4);
    expect(workerLines.filter((l) => l.includes('action=park') && l.includes('reason=out-of-attempts'))).toHaveLength(1);
    await waitFor(() => runner.pollerStats().rdesk?.deleted === 7, 'every delivery deleted'); // 2 good + 5 tries of the bad one
    expect(runner.depth('rdesk')).toMatchObject({ visible: 0, delayed: 0, inFlight: 0 });
    const [entry, ...more] = await runner.dlqIndex.list({ queue: 'rdesk' });
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ route: 'zdrav-mc', reason: 'out-of-attempts', attempts: 5, lastError: 'RetryableError: upstream 503' });
  });

  it('the worker parks a queued body over its route limit as body-too-large (API Gateway cannot refuse it)', async () => {
    const { runner } = await start();
    const env = buildEnvelope(
      {
        routeId: 'zdrav-mc',
        pathParams: {},
        query: {},
        headers: json,
        body: Buffer.alloc(256 * 1024 + 1, 0x20),
        receivedAt: Date.now(),
        requestId: 'big-1',
        sourceIp: '10.0.0.1',
      },
      ['content-type'],
    );
    await runner.sqs.send(new SendMessageCommand({ QueueUrl: runner.queues.rdesk!.url, MessageBody: JSON.stringify(env) }));
    await waitFor(() => runner.depth('rdesk').dlq === 1, 'the park');
    const entries = await waitFor(async () => {
      const l = await runner.dlqIndex.list({ reason: 'body-too-large' });
      return l.length ? l : undefined;
    }, 'the index entry');
    expect(entries[0]).toMatchObject({ queueId: 'rdesk', route: 'zdrav-mc', requestId: 'big-1', attempts: 1 });
  });
});

describe('the poller (Lambda event source mapping stand-in)', () => {
  it('delivers real-shaped SQS events and honours batchItemFailures: failed ones come back after the visibility timeout, the rest are deleted', async () => {
    const events: SQSEvent[] = [];
    let failedOnce = false;
    const { runner } = await start({
      pollers: false,
      visibilityTimeoutSeconds: 1,
      functions: {
        worker: async (e) => {
          const ev = e as SQSEvent;
          events.push(structuredClone(ev));
          const victim = ev.Records.find((r) => r.body.includes(Buffer.from('["victim"]').toString('base64')));
          if (victim && !failedOnce) {
            failedOnce = true;
            return { batchItemFailures: [{ itemIdentifier: victim.messageId }] };
          }
          return { batchItemFailures: [] };
        },
      },
    });
    for (const b of ['["a"]', '["victim"]', '["b"]']) await fetch(`${runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: b });
    const sentAt = Date.now();
    runner.startPollers();
    await waitFor(() => events.length >= 2, 'the redelivery', 5000);
    const [first, second] = events;
    expect(first!.Records).toHaveLength(3);
    const r = first!.Records[0]!;
    expect(Object.keys(r).sort()).toEqual(
      [
        'attributes',
        'awsRegion',
        'body',
        'eventSource',
        'eventSourceARN',
        'md5OfBody',
        'messageAttributes',
        'messageId',
        'receiptHandle',
      ].sort(),
    );
    expect(r).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: runner.queues.rdesk!.arn,
      awsRegion: 'us-east-1',
      messageAttributes: {},
    });
    expect(r.eventSourceARN).toBe('arn:aws:sqs:us-east-1:000000000000:amo-gateway-rdesk');
    expect(Object.keys(r.attributes).sort()).toEqual([
      'ApproximateFirstReceiveTimestamp',
      'ApproximateReceiveCount',
      'SenderId',
      'SentTimestamp',
    ]);
    expect(r.attributes.ApproximateReceiveCount).toBe('1');
    expect(Number(r.attributes.SentTimestamp)).toBeGreaterThan(sentAt - 5000);
    expect(r.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    // Only the failed one came back, after the 1 s visibility timeout, received a second time.
    expect(second!.Records).toHaveLength(1);
    expect(second!.Records[0]!.body).toContain(Buffer.from('["victim"]').toString('base64'));
    expect(second!.Records[0]!.attributes.ApproximateReceiveCount).toBe('2');
    await waitFor(() => runner.pollerStats().rdesk?.deleted === 3, 'all deleted');
    await new Promise((res) => setTimeout(res, 1200));
    expect(events).toHaveLength(2);
  });

  it('a handler error or an unknown itemIdentifier fails the whole batch (as Lambda reads it)', async () => {
    let n = 0;
    const { runner } = await start({
      visibilityTimeoutSeconds: 1,
      functions: {
        worker: async () => {
          n++;
          if (n === 1) throw new Error('crash');
          if (n === 2) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
          return { batchItemFailures: [] };
        },
      },
    });
    await fetch(`${runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: '[1]' });
    await waitFor(() => runner.pollerStats().rdesk?.deleted === 1, 'the third delivery', 8000);
    expect(n).toBe(3);
    expect(runner.pollerStats().rdesk).toMatchObject({ batches: 3, failed: 2, deleted: 1 });
  });

  it('fills a batch up to batchSize within the batching window', async () => {
    const sizes: number[] = [];
    const { runner } = await start({
      pollers: false,
      functions: { worker: async (e) => (sizes.push((e as SQSEvent).Records.length), { batchItemFailures: [] }) },
    });
    const hook = (i: number) =>
      fetch(`${runner.url}/hooks/amocrm/t`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `i=${i}`,
      });
    const batchSize = routeTable.queues.find((q) => q.id === 'amocrm-hooks')!.batchSize;
    for (let i = 0; i < batchSize + 5; i++) await hook(i);
    runner.startPollers();
    await waitFor(() => sizes.reduce((a, b) => a + b, 0) === batchSize + 5, 'all of them', 15_000);
    expect(sizes).toEqual([batchSize, 5]);
    // Spread over less than the batching window, three requests make one batch.
    sizes.length = 0;
    for (let i = 0; i < 3; i++) {
      await hook(i);
      await new Promise((r) => setTimeout(r, 150));
    }
    await waitFor(() => sizes.reduce((a, b) => a + b, 0) === 3, 'three more', 8000);
    expect(sizes).toEqual([3]);
  });
});
