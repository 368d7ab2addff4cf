/** Ctrl-C loses nothing: in-flight batches finish, queued (and delayed, and parked) messages stay in the journal and are re-queued. */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envelopeBody, type Envelope } from '../../lib/envelope.ts';
import { ok, type Outcome } from '../../lib/pipeline/outcome.ts';
import type { RouteProcessor } from '../../lib/pipeline/registry.ts';
import { readJournal } from '../../infra/local/journal.ts';
import { start, tempDataDir, useRunners, waitFor } from './helpers.ts';

useRunners();

const json = { 'content-type': 'application/json' };

describe('stop and start again', () => {
  it('saves what is queued, delayed and parked; the next start re-queues it and the worker consumes it; DynamoDB persists', async () => {
    const dataDir = tempDataDir();
    const first = await start({ memory: false, dataDir, pollers: false });
    const r1 = first.runner;
    for (const b of ['["one"]', '["two"]'])
      expect((await fetch(`${r1.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: b })).status).toBe(200);
    expect((await fetch(`${r1.url}/chat/amojo/scope-1`, { method: 'POST', headers: json, body: '{"m":1}' })).status).toBe(200);
    // A delayed message (as a worker re-send leaves it) and a parked one.
    const [one] = first.runner.fauxqs.inspectQueue(r1.queues.rdesk!.name)!.messages.ready;
    const delayedEnv = { ...(JSON.parse(one!.body) as Envelope), requestId: 'delayed-1', attempt: 2 };
    const delayedSentAt = Date.now();
    await r1.sqs.send(new SendMessageCommand({ QueueUrl: r1.queues.rdesk!.url, MessageBody: JSON.stringify(delayedEnv), DelaySeconds: 2 }));
    await r1.sqs.send(
      new SendMessageCommand({
        QueueUrl: r1.queues.rdesk!.dlqUrl,
        MessageBody: '{"parked":true}',
        MessageAttributes: { 'dlq-reason': { DataType: 'String', StringValue: 'bad-envelope' } },
      }),
    );
    await r1.doc.send(new PutCommand({ TableName: r1.tableName, Item: { pk: 'T#1', sk: 'x', v: 42 } }));

    const report = await r1.stop();
    expect(report.saved).toEqual({ 'amo-gateway-rdesk': 3, 'amo-gateway-rdesk-dlq': 1, 'amo-gateway-amojo': 1 });
    expect(report.file).toBe(join(dataDir, 'sqs-journal.log'));
    const live = readJournal(dataDir).live;
    expect(live.filter((m) => m.q === 'amo-gateway-rdesk').map((m) => (m.at === undefined ? 'ready' : 'delayed'))).toEqual([
      'ready',
      'ready',
      'delayed',
    ]);

    const consumed: Array<{ requestId: string; at: number; body: string; attempt: number | undefined }> = [];
    const recorder: RouteProcessor = async (env, ctx): Promise<Outcome> => {
      consumed.push({ requestId: env.requestId, at: Date.now(), body: ctx.body.toString(), attempt: env.attempt });
      return ok();
    };
    const second = await start({ memory: false, dataDir, processors: { 'zdrav-mc': recorder, 'amojo-callback': recorder } });
    const r2 = second.runner;
    expect(r2.restored).toEqual(report.saved);
    await waitFor(() => consumed.length === 4, 'all four consumed', 10_000);
    expect(consumed.map((c) => c.body).sort()).toEqual(['["one"]', '["one"]', '["two"]', '{"m":1}']);
    const delayed = consumed.find((c) => c.requestId === 'delayed-1')!;
    expect(delayed.attempt).toBe(2); // the envelope's own counter survives
    expect(delayed.at - delayedSentAt).toBeGreaterThanOrEqual(1500); // its delay was kept, not reset to zero
    expect(r2.depth('rdesk').dlq).toBe(1);
    const got = await r2.doc.send(new GetCommand({ TableName: r2.tableName, Key: { pk: 'T#1', sk: 'x' } }));
    expect(got.Item?.v).toBe(42);
    const r2report = await r2.stop();
    expect(r2report.saved).toEqual({ 'amo-gateway-rdesk-dlq': 1 });
  });

  it('finishes the batch in flight before saving: nothing processed twice, nothing lost', async () => {
    const dataDir = tempDataDir();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const slow: RouteProcessor = async (env) => {
      started.push(envelopeBody(env).toString());
      await gate;
      return ok();
    };
    const { runner } = await start({ memory: false, dataDir, processors: { 'zdrav-mc': slow } });
    await fetch(`${runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: '["in-flight"]' });
    await waitFor(() => started.length === 1, 'the batch to start');
    // Stop while the batch is in flight; requests are refused from now on.
    const stopping = runner.stop();
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: '["late"]' })).rejects.toThrow();
    release();
    const report = await stopping;
    expect(report).toEqual({ saved: {}, file: undefined });
    expect(readJournal(dataDir).live).toEqual([]);
    expect(started).toEqual(['["in-flight"]']);
  });

  it('a message left in flight by a failed delivery is saved and comes back at once', async () => {
    const dataDir = tempDataDir();
    const { runner } = await start({
      memory: false,
      dataDir,
      visibilityTimeoutSeconds: 600,
      functions: {
        worker: async (e) => ({
          batchItemFailures: (e as { Records: Array<{ messageId: string }> }).Records.map((r) => ({ itemIdentifier: r.messageId })),
        }),
      },
    });
    await fetch(`${runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: '["x"]' });
    await waitFor(() => runner.pollerStats().rdesk?.failed === 1, 'the failed delivery');
    const report = await runner.stop();
    expect(report.saved).toEqual({ 'amo-gateway-rdesk': 1 });
    const seen: string[] = [];
    await start({ memory: false, dataDir, processors: { 'zdrav-mc': async (env) => (seen.push(envelopeBody(env).toString()), ok()) } });
    await waitFor(() => seen.length === 1, 'redelivery after restart', 5000);
    expect(seen).toEqual(['["x"]']);
  });

  it('a queues.json left by an older runner is re-queued once, then removed (its messages now in the journal)', async () => {
    const dataDir = tempDataDir();
    writeFileSync(
      join(dataDir, 'queues.json'),
      JSON.stringify({
        v: 1,
        savedAt: '',
        queues: {
          'amo-gateway-rdesk': [{ body: '{"old":1}', attributes: {}, state: 'ready' }],
          'amo-gateway-rdesk-dlq': [
            { body: '{"parked":1}', attributes: { 'dlq-reason': { DataType: 'String', StringValue: 'bad-envelope' } }, state: 'ready' },
          ],
        },
      }),
    );
    const { runner } = await start({ memory: false, dataDir, pollers: false });
    expect(runner.restored).toEqual({ 'amo-gateway-rdesk': 1, 'amo-gateway-rdesk-dlq': 1 });
    expect(existsSync(join(dataDir, 'queues.json'))).toBe(false);
    expect(readJournal(dataDir).live.map((m) => m.body)).toEqual(['{"old":1}', '{"parked":1}']);
    const dlq = runner.fauxqs.inspectQueue(runner.queues.rdesk!.dlqName)!.messages.ready;
    expect(dlq[0]?.messageAttributes['dlq-reason']?.StringValue).toBe('bad-envelope');
  });

  it('memory mode saves nothing and reads no snapshot', async () => {
    const dataDir = tempDataDir();
    writeFileSync(
      join(dataDir, 'queues.json'),
      JSON.stringify({ v: 1, savedAt: '', queues: { 'amo-gateway-rdesk': [{ body: 'x', attributes: {}, state: 'ready' }] } }),
    );
    const { runner } = await start({ memory: true, dataDir, pollers: false });
    expect(runner.restored).toEqual({});
    expect(runner.depth('rdesk').visible).toBe(0);
    await fetch(`${runner.url}/zdrav/mc/t0k`, { method: 'POST', headers: json, body: '[1]' });
    expect(await runner.stop()).toEqual({ saved: {}, file: undefined });
    expect(existsSync(join(dataDir, 'queues.json'))).toBe(true); // untouched
  });

  it('refuses a second runner on the same data directory with a clear error', async () => {
    const dataDir = tempDataDir();
    await start({ memory: false, dataDir, pollers: false });
    await expect(start({ memory: false, dataDir, pollers: false })).rejects.toThrow(/another runner/);
  });

  it('refuses a corrupt snapshot with a clear error', async () => {
    const dataDir = tempDataDir();
    writeFileSync(join(dataDir, 'queues.json'), '{not json');
    await expect(start({ memory: false, dataDir })).rejects.toThrow(/queues\.json is not valid JSON/);
  });
});
