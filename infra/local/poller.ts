/**
 * One poller per queue, standing in for Lambda's SQS event source mapping: long-polls, fills a
 * batch up to the queue's batchSize within its batching window, invokes the consumer with a
 * real-shaped SQSEvent, deletes what succeeded and leaves what is listed in batchItemFailures
 * (it comes back after the visibility timeout). A handler error, a timeout or a malformed
 * response fails the whole batch, as in AWS.
 *
 * `concurrency` runs that many receive→batch→invoke loops on the queue, as Lambda runs several
 * batches of one queue at once. Default 1 (one keeps local logs readable and ordering easy to
 * follow). FIFO stays safe with more: fauxqs, like SQS, hands out no message of a group that has
 * a message in flight, so two loops never hold the same group.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import type { FunctionDef } from '../../lib/routes.ts';
import { safeErrorDescription } from '../../lib/common/errors.ts';
import { invoke, sqsEvent, type LocalInvoke } from './lambda.ts';
import type { LocalLog } from './log.ts';
import type { LocalQueue } from './stand-ins.ts';

export interface PollerStats {
  state: 'idle' | 'running' | 'stopping' | 'stopped';
  batches: number;
  received: number;
  deleted: number;
  failed: number;
  /** Wall time spent in the consumer's invocations (ms): what Lambda would bill (benches price it). */
  invokeMs: number;
  /** Batches being handled right now (gathering, invoking or deleting), and the most at once. */
  inFlight: number;
  maxInFlight: number;
  lastError?: string;
}

export interface PollerOptions {
  sqs: SQSClient;
  queue: LocalQueue;
  fn: FunctionDef;
  handler: LocalInvoke;
  region: string;
  log: LocalLog;
  /** Long-poll wait; the stop sequence cancels it. */
  waitSeconds?: number;
  /** Concurrent receive→batch→invoke loops on this queue. Default 1. */
  concurrency?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class QueuePoller {
  readonly stats: PollerStats = {
    state: 'idle',
    batches: 0,
    received: 0,
    deleted: 0,
    failed: 0,
    invokeMs: 0,
    inFlight: 0,
    maxInFlight: 0,
  };
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  private readonly current = new Set<Promise<void>>();
  private readonly aborter = new AbortController();

  constructor(private readonly o: PollerOptions) {
    const n = o.concurrency ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new Error(`poller concurrency must be a positive integer, got ${n}`);
  }

  start(): void {
    if (this.loopDone) return;
    this.stats.state = 'running';
    const loops = Array.from({ length: this.o.concurrency ?? 1 }, () => this.loop());
    this.loopDone = Promise.all(loops)
      .then(() => undefined)
      .finally(() => {
        this.stats.state = 'stopped';
      });
  }

  get started(): boolean {
    return this.loopDone !== undefined;
  }

  /** Take no new batch; resolve when every batch in flight (if any) has finished. */
  async drain(): Promise<void> {
    this.stopping = true;
    if (this.stats.state === 'running') this.stats.state = 'stopping';
    // A batch that started while we waited is awaited too (none should: stopping is set).
    while (this.current.size) await Promise.all(this.current);
  }

  /** After drain(): abort a pending receive and wait for the loop to end. */
  async join(): Promise<void> {
    this.stopping = true;
    this.aborter.abort();
    await this.loopDone;
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const res = await this.o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.o.queue.url,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.aborter.signal },
    );
    return res.Messages ?? [];
  }

  private async loop(): Promise<void> {
    const { def } = this.o.queue;
    while (!this.stopping) {
      let first: Message[];
      try {
        first = await this.receive(def.batchSize, this.o.waitSeconds ?? 20);
      } catch (e) {
        if (this.stopping) break;
        this.stats.lastError = safeErrorDescription(e);
        this.o.log.pipeline('poller').error('receive failed', { queue: def.id, error: this.stats.lastError });
        await sleep(1000);
        continue;
      }
      // Received while stopping: leave them in flight; the snapshot keeps them.
      if (this.stopping || first.length === 0) continue;
      const run = this.runBatch(first);
      this.current.add(run);
      this.stats.inFlight = this.current.size;
      this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight);
      try {
        await run;
      } finally {
        this.current.delete(run);
        this.stats.inFlight = this.current.size;
      }
    }
  }

  private async runBatch(batch: Message[]): Promise<void> {
    const { def } = this.o.queue;
    // The batching window: keep gathering until the batch is full or the window closes.
    const windowEnd = Date.now() + def.batchingWindowSeconds * 1000;
    while (batch.length < def.batchSize && Date.now() < windowEnd && !this.stopping) {
      let more: Message[] = [];
      try {
        more = await this.receive(def.batchSize - batch.length, 0);
      } catch {
        break;
      }
      if (more.length) batch.push(...more);
      else await sleep(Math.min(50, Math.max(1, windowEnd - Date.now())));
    }
    this.stats.batches++;
    this.stats.received += batch.length;

    const event = sqsEvent(batch, this.o.queue.arn, this.o.region);
    const ids = new Set(event.Records.map((r) => r.messageId));
    let failed: Set<string>;
    const invokedAt = performance.now();
    try {
      const res = await invoke(this.o.fn, this.o.handler, event, this.o.region);
      failed = failedIds(res, ids);
    } catch (e) {
      this.stats.lastError = safeErrorDescription(e);
      this.o.log.pipeline('poller').error('invocation failed; the whole batch comes back after the visibility timeout', {
        queue: def.id,
        records: batch.length,
        error: this.stats.lastError,
      });
      failed = ids;
    }
    this.stats.invokeMs += performance.now() - invokedAt;
    this.stats.failed += failed.size;

    const toDelete = batch.filter((m) => !failed.has(m.MessageId ?? ''));
    for (let i = 0; i < toDelete.length; i += 10) {
      const chunk = toDelete.slice(i, i + 10);
      try {
        const res = await this.o.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.o.queue.url,
            Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
        this.stats.deleted += res.Successful?.length ?? 0;
        if (res.Failed?.length)
          this.o.log
            .pipeline('poller')
            .warn('some deletes failed; those messages will be redelivered', { queue: def.id, failed: res.Failed.length });
      } catch (e) {
        this.stats.lastError = safeErrorDescription(e);
        this.o.log
          .pipeline('poller')
          .error('delete failed; those messages will be redelivered', { queue: def.id, error: this.stats.lastError });
      }
    }
  }
}

/**
 * Lambda's reading of a partial batch response: a missing/empty list means all succeeded; an
 * entry that is empty or names no record of the batch fails the whole batch.
 */
export function failedIds(res: unknown, ids: ReadonlySet<string>): Set<string> {
  if (res === undefined || res === null) return new Set();
  const list = (res as Partial<SQSBatchResponse>).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  if (!Array.isArray(list)) return new Set(ids);
  const out = new Set<string>();
  for (const f of list) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return new Set(ids);
    out.add(id);
  }
  return out;
}
