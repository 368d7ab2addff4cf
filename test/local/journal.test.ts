/** The SQS write-ahead journal: replay folds lines into the live set, a cut last line is dropped, appends are group-committed, compaction keeps exactly the live set. */
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOURNAL_FILE, readJournal, SqsJournal, type JournalRecord, type SendRecord } from '../../infra/local/journal.ts';
import { MAY_HAVE_RUN_ATTRIBUTE } from '../../lib/pipeline/process.ts';
import { start, tempDataDir, useRunners, waitFor } from './helpers.ts';

useRunners();

const S = (id: string, q = 'amo-gateway-rdesk', extra: Partial<SendRecord> = {}): SendRecord => ({
  k: 'S',
  q,
  id,
  body: `{"m":"${id}"}`,
  ...extra,
});
const lines = (recs: JournalRecord[]) => recs.map((r) => `${JSON.stringify(r)}\n`).join('');

describe('the SQS journal', () => {
  it('replay: sent minus deleted and purged, visibility changes kept, a line cut by a crash dropped', () => {
    const dir = tempDataDir();
    writeFileSync(
      join(dir, JOURNAL_FILE),
      lines([
        S('a'),
        S('b'),
        S('c', 'amo-gateway-amojo'),
        S('d', 'amo-gateway-rdesk-dlq', { attrs: { 'dlq-reason': { DataType: 'String', StringValue: 'bad-token' } } }),
        { k: 'D', q: 'amo-gateway-rdesk', id: 'a' },
        { k: 'V', q: 'amo-gateway-rdesk', id: 'b', at: 1234 },
        { k: 'P', q: 'amo-gateway-amojo' },
      ]) + '{"k":"S","q":"amo-gateway-rdesk","id":"e","bo',
    );
    const r = readJournal(dir);
    expect(r.live.map((m) => m.id)).toEqual(['b', 'd']);
    expect(r.live[0]?.at).toBe(1234);
    expect(r.live[1]?.attrs?.['dlq-reason']?.StringValue).toBe('bad-token');
    expect(r.skipped).toBe(1);
  });

  it('commits concurrently in few flushes; everything committed is in the file; compaction leaves the live set only', async () => {
    const dir = tempDataDir();
    const j = await SqsJournal.create(dir, [], { compactAtBytes: 2000 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => j.commit([S(`m${i}`)])));
    expect(j.stats.commits).toBe(100);
    expect(j.stats.flushes).toBeLessThan(100);
    expect(readJournal(dir).live).toHaveLength(100);
    for (let i = 0; i < 98; i++) await j.commit([{ k: 'D', q: 'amo-gateway-rdesk', id: `m${i}` }]);
    await j.commit([S('last')]);
    expect(j.stats.compactions).toBeGreaterThan(0);
    // 199 lines were committed; compaction dropped the dead ones.
    expect(readFileSync(join(dir, JOURNAL_FILE), 'utf8').trim().split('\n').length).toBeLessThan(60);
    expect(readJournal(dir).live.map((m) => m.id)).toEqual(['m98', 'm99', 'last']);
    expect(j.counts()).toEqual({ 'amo-gateway-rdesk': 3 });
    await j.close();
    await expect(j.commit([S('late')])).rejects.toThrow(/closed/);
  });

  it("through the runner: a worker's backoff (ChangeMessageVisibility) is journaled and honoured after a crash", async () => {
    const dataDir = tempDataDir();
    const first = await start({ memory: false, dataDir, pollers: false });
    const r1 = first.runner;
    expect(
      (await fetch(`${r1.url}/zdrav/mc/t0k`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["x"]' })).status,
    ).toBe(200);
    const got = await r1.sqs.send(new ReceiveMessageCommand({ QueueUrl: r1.queues.rdesk!.url, MaxNumberOfMessages: 1 }));
    const m = got.Messages![0]!;
    await r1.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: r1.queues.rdesk!.url, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 120 }),
    );
    const live = readJournal(dataDir).live;
    expect(live).toHaveLength(1);
    expect(live[0]!.at! - Date.now()).toBeGreaterThan(100_000);
    // stop() writes nothing (no snapshot any more): the next start gets only what a SIGKILL would leave.
    await r1.stop();
    expect(readJournal(dataDir).live).toEqual(live);
    const second = await start({ memory: false, dataDir, pollers: false });
    await waitFor(() => second.runner.depth('rdesk').delayed === 1, 'the message back, still delayed');
    expect(second.runner.depth('rdesk').visible).toBe(0);
  });

  it('a message a worker received (in flight at the crash) comes back marked AmoMayHaveRun; one never received does not', async () => {
    const dataDir = tempDataDir();
    const first = await start({ memory: false, dataDir, pollers: false });
    const r1 = first.runner;
    const post = (body: string) =>
      fetch(`${r1.url}/zdrav/mc/t0k`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.status);
    expect(await post('["taken"]')).toBe(200);
    const got = await r1.sqs.send(new ReceiveMessageCommand({ QueueUrl: r1.queues.rdesk!.url, MaxNumberOfMessages: 1 }));
    expect(got.Messages).toHaveLength(1);
    expect(await post('["waiting"]')).toBe(200);
    // The receive is on disk before the receiver got the message: a SIGKILL now keeps the mark.
    const marked = (id: string | undefined) => readJournal(dataDir).live.find((m) => m.id === id)?.attrs?.[MAY_HAVE_RUN_ATTRIBUTE];
    expect(marked(got.Messages![0]!.MessageId)).toBeDefined();
    expect(readJournal(dataDir).live.filter((m) => m.attrs?.[MAY_HAVE_RUN_ATTRIBUTE] === undefined)).toHaveLength(1);
    await r1.stop();
    const r2 = (await start({ memory: false, dataDir, pollers: false })).runner;
    await waitFor(() => r2.depth('rdesk').visible === 2, 'both messages back');
    const back = await r2.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: r2.queues.rdesk!.url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
    );
    const byBody = new Map((back.Messages ?? []).map((m) => [m.Body ?? '', m.MessageAttributes?.[MAY_HAVE_RUN_ATTRIBUTE]]));
    const bodies = [...byBody.keys()];
    const taken = bodies.find((b) => b.includes(Buffer.from('["taken"]').toString('base64')));
    const waiting = bodies.find((b) => b.includes(Buffer.from('["waiting"]').toString('base64')));
    expect(taken && byBody.get(taken)?.StringValue).toBeTruthy();
    expect(waiting).toBeDefined();
    expect(byBody.get(waiting!)).toBeUndefined();
  });
});
