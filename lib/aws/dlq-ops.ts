/**
 * The SQS and DynamoDB side of the DLQ tooling: list, show, replay and purge what the worker
 * parked (docs/architecture.md, "Failure semantics"). The DLQ index (lib/pipeline/dlq-index.ts) says
 * what is parked and why; the DLQs themselves are the source of truth for the messages. The pure
 * parts — refs, selection, presentation, the absence rule — are lib/dlq/. Used by
 * `amo-gateway dlq …` (infra/cli/commands/dlq.ts) and by tests; no CLI or infra knowledge here.
 *
 * Reading a DLQ means receiving from it. Every scan holds what it received invisible for
 * `holdSeconds` (so one pass sees each message once) and lets go of everything it did not delete
 * when it ends (visibility 0). If the process dies mid-scan, the held messages simply reappear
 * when the hold runs out: a scan never loses a message.
 *
 * Replay is send-then-delete, per message: the envelope goes back to its main queue with its
 * `attempt` counter removed (a fresh set of tries; `lastError` and `deferrals` are kept as
 * history), and only after SQS accepted the send is the DLQ copy deleted and the index entry
 * removed. A failed send leaves the message in the DLQ; a failed delete after a good send is
 * reported (the message is then in both queues: a duplicate the flows' idempotency absorbs).
 *
 * Messages in a DLQ without an index entry (moved there by SQS's own maxReceiveCount net, or a
 * park whose index write failed) are reported with reason `unindexed` and can be replayed and
 * purged like the rest.
 *
 * An index entry whose message a pass did not see is called stale (and removed by purge) only
 * when the pass can account for every message left in the DLQ: a message held invisible by a
 * concurrent reader is not seen either, and is very much alive (lib/dlq/absence.ts).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  absenceProven,
  DlqOpsError,
  itemOfEntry,
  listedOfEntry,
  listedOfMessage,
  parkedOf,
  parseRef,
  pickQueues,
  queueOfIds,
  replayBody,
  selects,
  stripMessage,
  unaccounted,
  UNINDEXED,
  formatRef,
  type DlqDepth,
  type DlqMessageInput,
  type DlqQueueRef,
  type DlqSelector,
  type ListedItem,
  type ParkAttributes,
  type ParkedItem,
  type ParkedMessage,
} from '../dlq/index.ts';
import { mapLimit } from '../common/concurrency.ts';
import { safeErrorDescription } from '../common/errors.ts';
import type { DlqEntry, DlqIndex } from '../pipeline/dlq-index.ts';
import { DLQ_ATTR } from './actions.ts';

export const DEFAULT_HOLD_SECONDS = 120;
export const DEFAULT_WAIT_SECONDS = 1;
export const DEFAULT_CONCURRENCY = 10;

export interface DlqOpsDeps {
  sqs: SQSClient;
  index: DlqIndex;
  queues: readonly DlqQueueRef[];
  now?: () => number;
  /** Seconds a scan keeps received messages invisible. assumed: 120 s covers a scan of thousands. */
  holdSeconds?: number;
  /** Long-poll wait of each receive; 1 s makes SQS ask all its servers (0 is fine for fauxqs). */
  waitSeconds?: number;
  /** Messages of a standard queue replayed side by side (FIFO: always 1, in order). */
  concurrency?: number;
}

/** An SQS message in the plain terms of lib/dlq. */
function inputOf(m: Message): DlqMessageInput {
  const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const attrs: ParkAttributes = {};
  const indexId = attr(DLQ_ATTR.indexId);
  const reason = attr(DLQ_ATTR.reason);
  const sourceQueue = attr(DLQ_ATTR.sourceQueue);
  if (indexId !== undefined) attrs.indexId = indexId;
  if (reason !== undefined) attrs.reason = reason;
  if (sourceQueue !== undefined) attrs.sourceQueue = sourceQueue;
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attrs,
    sentAt: Number(m.Attributes?.SentTimestamp) || undefined,
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount) || 1,
    groupId: m.Attributes?.MessageGroupId,
  };
}

function messageOf(queue: DlqQueueRef, m: Message, entries: ReadonlyMap<string, DlqEntry>): ParkedMessage {
  return parkedOf(queue.id, inputOf(m), entries);
}

// ---------------------------------------------------------------------------------------------
// Queue plumbing.

export async function dlqDepth(sqs: SQSClient, dlqUrl: string): Promise<DlqDepth> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: dlqUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = res.Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

function selectQueues(deps: DlqOpsDeps, queue: string | undefined): DlqQueueRef[] {
  return pickQueues(deps.queues, queue);
}

async function indexEntries(deps: DlqOpsDeps, queueId: string): Promise<Map<string, DlqEntry>> {
  return new Map((await deps.index.list({ queue: queueId })).map((e) => [e.id, e]));
}

/**
 * One pass over a DLQ: receives batches, holds everything it received until `release()`, and
 * ends when SQS has nothing more to give (or only gives back what this pass already saw: the
 * hold ran out and the queue wrapped around).
 */
class DlqScan {
  private readonly held = new Map<string, string>();
  private readonly seen = new Set<string>();
  /** The pass ended: the DLQ gave nothing (complete) or only what this pass had seen (wrapped). */
  exhausted = false;
  /**
   * The DLQ gave back only messages this pass had already seen: the hold ran out before the pass
   * ended, so messages not yet seen may remain. The pass is not complete.
   */
  wrapped = false;
  releaseErrors = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queue: DlqQueueRef,
    private readonly holdSeconds: number,
    private readonly waitSeconds: number,
  ) {}

  async next(): Promise<Message[]> {
    if (this.exhausted) return [];
    let res;
    try {
      res = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queue.dlqUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: this.holdSeconds,
          WaitTimeSeconds: this.waitSeconds,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
    } catch (cause) {
      throw new DlqOpsError(`could not receive from the DLQ of queue "${this.queue.id}"`, { cause });
    }
    const msgs = res.Messages ?? [];
    const fresh: Message[] = [];
    for (const m of msgs) {
      if (!m.MessageId || !m.ReceiptHandle) continue;
      this.held.set(m.MessageId, m.ReceiptHandle);
      if (!this.seen.has(m.MessageId)) {
        this.seen.add(m.MessageId);
        fresh.push(m);
      }
    }
    if (fresh.length === 0) {
      this.exhausted = true;
      this.wrapped = msgs.length > 0;
    }
    return fresh;
  }

  /**
   * After the pass, while it still holds what it received: how many messages of the DLQ it cannot
   * account for (lib/dlq/absence.ts) — undefined when the pass was not complete or the DLQ's
   * depth could not be read. 0 proves that a message this pass did not see is not in the DLQ.
   */
  async unaccounted(): Promise<number | undefined> {
    if (!this.exhausted || this.wrapped) return undefined;
    try {
      return unaccounted(await dlqDepth(this.sqs, this.queue.dlqUrl), this.held.size);
    } catch {
      return undefined;
    }
  }

  /** The message was deleted: nothing to release. */
  settled(messageId: string): void {
    this.held.delete(messageId);
  }

  /** Let go of everything still held (visible again at once). Never throws. */
  async release(): Promise<void> {
    const handles = [...this.held.entries()];
    this.held.clear();
    for (let i = 0; i < handles.length; i += 10) {
      const chunk = handles.slice(i, i + 10);
      try {
        const res = await this.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queue.dlqUrl,
            Entries: chunk.map(([, handle], j) => ({ Id: String(j), ReceiptHandle: handle, VisibilityTimeout: 0 })),
          }),
        );
        this.releaseErrors += res.Failed?.length ?? 0;
      } catch {
        // They come back by themselves when the hold runs out.
        this.releaseErrors += chunk.length;
      }
    }
  }
}

function scanOf(deps: DlqOpsDeps, queue: DlqQueueRef): DlqScan {
  return new DlqScan(deps.sqs, queue, deps.holdSeconds ?? DEFAULT_HOLD_SECONDS, deps.waitSeconds ?? DEFAULT_WAIT_SECONDS);
}

// ---------------------------------------------------------------------------------------------
// list

export interface ListOptions extends DlqSelector {
  /** Also receive through the DLQs (held, then let go): lists unindexed messages and index entries without a message. */
  scan?: boolean;
  /** Ask SQS for each DLQ's depth (default true). */
  depth?: boolean;
}

export interface QueueListing {
  id: string;
  /** Index entries of this queue (whatever the filter). */
  indexed: number;
  depth?: DlqDepth;
  depthError?: string;
  /** With a scan: messages without an index entry, and entries whose message is proven gone. */
  unindexed?: number;
  missing?: number;
  /**
   * With a scan: entries whose message the scan did not see, but which may be held by another
   * reader right now (the DLQ had `heldElsewhere` messages the scan could not account for;
   * undefined: its depth could not be read). Not counted as missing.
   */
  unproven?: number;
  heldElsewhere?: number;
  /** The scan ran longer than its hold and met its own messages again: counts may be short. */
  incomplete?: boolean;
}

export interface ListResult {
  items: ListedItem[];
  /** Counts per reason over the selected items. */
  byReason: Record<string, number>;
  queues: QueueListing[];
  scanned: boolean;
}

export async function listParked(deps: DlqOpsDeps, opts: ListOptions = {}): Promise<ListResult> {
  const scan = opts.scan === true || opts.reason === UNINDEXED;
  const items: ListedItem[] = [];
  const queues: QueueListing[] = [];
  for (const q of selectQueues(deps, opts.queue)) {
    const entries = await indexEntries(deps, q.id);
    const listing: QueueListing = { id: q.id, indexed: entries.size };
    if (opts.depth !== false) {
      try {
        listing.depth = await dlqDepth(deps.sqs, q.dlqUrl);
      } catch (e) {
        listing.depthError = safeErrorDescription(e);
      }
    }
    const all: ListedItem[] = [...entries.values()].map(listedOfEntry);
    if (scan) {
      const found = new Set<string>();
      const unindexed: ListedItem[] = [];
      const s = scanOf(deps, q);
      let others: number | undefined;
      try {
        for (let batch = await s.next(); batch.length; batch = await s.next()) {
          for (const m of batch) {
            const p = messageOf(q, m, entries);
            if (p.entry) found.add(p.entry.id);
            else unindexed.push(listedOfMessage(p));
          }
        }
        others = await s.unaccounted(); // while still holding: see lib/dlq/absence.ts
      } finally {
        await s.release();
      }
      for (const it of all) if (found.has(it.entry?.id ?? '')) it.inDlq = true;
      // A pass that met its own messages again may have missed some: say nothing about absence then.
      if (s.wrapped) listing.incomplete = true;
      else if (absenceProven(others)) {
        for (const it of all) it.inDlq ??= false;
        listing.missing = all.filter((i) => i.inDlq === false).length;
      } else {
        listing.unproven = all.filter((i) => i.inDlq === undefined).length;
        if (others !== undefined) listing.heldElsewhere = others;
      }
      all.push(...unindexed);
      listing.unindexed = unindexed.length;
    }
    queues.push(listing);
    items.push(...all.filter((i) => selects(opts, i)));
  }
  items.sort((a, b) => a.parkedAt - b.parkedAt || a.ref.localeCompare(b.ref));
  const byReason: Record<string, number> = {};
  for (const i of items) byReason[i.reason] = (byReason[i.reason] ?? 0) + 1;
  return { items, byReason, queues, scanned: scan };
}

// ---------------------------------------------------------------------------------------------
// show

export interface ShowResult {
  item: ParkedItem;
  /** The DLQ message, when found (it was received and let go again, never deleted). */
  message: ParkedMessage | undefined;
  /**
   * No message found: how many messages of its DLQ the search could not account for (held by
   * another reader right now: it may be one of them); undefined when that could not be told.
   */
  heldElsewhere?: number;
}

export async function showParked(deps: DlqOpsDeps, ref: string): Promise<ShowResult> {
  const { queueId, key } = parseRef(ref);
  const queues = selectQueues(deps, queueId);

  // 1. The index entry, when the ref names one.
  let entryHit: { queue: DlqQueueRef; entry: DlqEntry; entries: Map<string, DlqEntry> } | undefined;
  const entriesByQueue = new Map<string, Map<string, DlqEntry>>();
  for (const q of queues) {
    const entries = await indexEntries(deps, q.id);
    entriesByQueue.set(q.id, entries);
    if (key.kind !== 'indexed') continue;
    for (const e of entries.values()) {
      if (e.id !== key.id && e.messageKey !== key.id) continue;
      if (entryHit)
        throw new DlqOpsError(
          `"${ref}" is ambiguous: it matches ${formatRef(entryHit.queue.id, { kind: 'indexed', id: entryHit.entry.id })} and ${formatRef(q.id, { kind: 'indexed', id: e.id })}`,
        );
      entryHit = { queue: q, entry: e, entries };
    }
  }

  // 2. The message: by its index id attribute, or by its DLQ message id.
  const wantsMessageId = key.kind === 'unindexed' ? key.messageId : entryHit ? undefined : key.id;
  let heldElsewhere: number | undefined = 0;
  for (const q of entryHit ? [entryHit.queue] : queues) {
    const entries = entriesByQueue.get(q.id) ?? new Map<string, DlqEntry>();
    const s = scanOf(deps, q);
    try {
      for (let batch = await s.next(); batch.length; batch = await s.next()) {
        for (const m of batch) {
          const hit = entryHit
            ? m.MessageAttributes?.[DLQ_ATTR.indexId]?.StringValue === entryHit.entry.id
            : m.MessageId === wantsMessageId;
          if (hit)
            return {
              item: entryHit ? itemOfEntry(entryHit.entry) : stripMessage(messageOf(q, m, entries)),
              message: messageOf(q, m, entries),
            };
        }
      }
      const others = await s.unaccounted();
      heldElsewhere = heldElsewhere === undefined || others === undefined ? undefined : heldElsewhere + others;
    } finally {
      await s.release();
    }
  }
  if (entryHit) return { item: itemOfEntry(entryHit.entry), message: undefined, ...(heldElsewhere !== 0 ? { heldElsewhere } : {}) };
  throw new DlqOpsError(`no parked message "${ref}" (not in the DLQ index, not in ${queueId ? `the DLQ of "${queueId}"` : 'any DLQ'})`);
}

// ---------------------------------------------------------------------------------------------
// replay and purge

export type RunEvent =
  | { kind: 'start'; approxTotal: number }
  | { kind: 'done'; item: ParkedMessage }
  | { kind: 'would'; item: ParkedMessage }
  | { kind: 'skipped'; item: ParkedMessage }
  | { kind: 'failed'; item: ParkedMessage; stage: 'send' | 'delete'; error: string }
  | { kind: 'index-left'; item: ParkedMessage; error: string }
  | { kind: 'stale'; item: ParkedItem; removed: boolean }
  /** Not seen by the pass, but the DLQ had messages the pass could not account for: kept. */
  | { kind: 'unproven'; item: ParkedItem };

export interface RunOptions extends DlqSelector {
  /** At most this many messages are replayed/purged (default: all that match). */
  limit?: number;
  dryRun?: boolean;
  onEvent?: (e: RunEvent) => void;
}

export interface RunFailure {
  ref: string;
  stage: 'send' | 'delete';
  error: string;
  /** Where the message is now. */
  inDlq: boolean;
  inMainQueue: boolean;
}

export interface RunReport {
  action: 'replay' | 'purge';
  dryRun: boolean;
  /** Replayed / purged (or, with dryRun, that would be). */
  done: number;
  /** Received but not matching the filter (left in the DLQ). */
  skipped: number;
  failed: RunFailure[];
  /** Matching messages left alone because --limit was reached (the pass stopped there). */
  limitReached: boolean;
  /** Done, but the index entry could not be removed (it is stale now; `dlq purge` clears it). */
  indexLeft: string[];
  /** Index entries matching the selection whose message is not in the DLQ (complete passes only). */
  stale: string[];
  /** Of those, removed (purge only). */
  staleRemoved: number;
  /**
   * Per DLQ: index entries matching the selection whose message the pass did not see, kept because
   * the DLQ had messages the pass could not account for (`heldElsewhere`, e.g. held invisible by a
   * concurrent `dlq show` or `list --scan`; undefined: its depth could not be read). Such an
   * entry's message may well be there: nothing is concluded, nothing removed (lib/dlq/absence.ts).
   */
  unproven: Array<{ queueId: string; heldElsewhere: number | undefined; refs: string[] }>;
  /** Held messages that could not be let go explicitly: they reappear when the hold runs out. */
  releaseErrors: number;
  /** A pass ran longer than the hold and met its own messages again: some may not have been seen. */
  incomplete: boolean;
  holdSeconds: number;
}

export function replayParked(deps: DlqOpsDeps, opts: RunOptions = {}): Promise<RunReport> {
  return runOverDlqs(deps, opts, 'replay');
}

export function purgeParked(deps: DlqOpsDeps, opts: RunOptions = {}): Promise<RunReport> {
  return runOverDlqs(deps, opts, 'purge');
}

async function runOverDlqs(deps: DlqOpsDeps, opts: RunOptions, action: 'replay' | 'purge'): Promise<RunReport> {
  const now = deps.now ?? Date.now;
  const emit = opts.onEvent ?? (() => undefined);
  const dryRun = opts.dryRun === true;
  const holdSeconds = deps.holdSeconds ?? DEFAULT_HOLD_SECONDS;
  const report: RunReport = {
    action,
    dryRun,
    done: 0,
    skipped: 0,
    failed: [],
    limitReached: false,
    indexLeft: [],
    stale: [],
    staleRemoved: 0,
    unproven: [],
    releaseErrors: 0,
    incomplete: false,
    holdSeconds,
  };
  const queues = selectQueues(deps, opts.queue ?? queueOfIds(opts.ids));
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1))
    throw new DlqOpsError('limit must be a whole number ≥ 1');

  let approxTotal = 0;
  for (const q of queues) {
    try {
      const d = await dlqDepth(deps.sqs, q.dlqUrl);
      approxTotal += d.visible + d.delayed;
    } catch {
      /* the progress total is a guess anyway */
    }
  }
  emit({ kind: 'start', approxTotal });

  let chosen = 0;
  for (const q of queues) {
    if (report.limitReached) break;
    const startedAt = now();
    const entries = await indexEntries(deps, q.id);
    const found = new Set<string>();
    const s = scanOf(deps, q);
    let others: number | undefined;
    try {
      for (let batch = await s.next(); batch.length && !report.limitReached; batch = await s.next()) {
        const todo: ParkedMessage[] = [];
        for (const m of batch) {
          const p = messageOf(q, m, entries);
          if (p.entry) found.add(p.entry.id);
          if (!selects(opts, p)) {
            report.skipped++;
            emit({ kind: 'skipped', item: p });
            continue;
          }
          if (opts.limit !== undefined && chosen >= opts.limit) {
            report.limitReached = true;
            continue;
          }
          chosen++;
          todo.push(p);
        }
        if (dryRun) {
          for (const p of todo) {
            report.done++;
            emit({ kind: 'would', item: p });
          }
          continue;
        }
        // FIFO: one at a time, in the order received, so a group keeps its order.
        await mapLimit(todo, q.fifo ? 1 : (deps.concurrency ?? DEFAULT_CONCURRENCY), async (p) => {
          const ok = action === 'replay' ? await replayOne(deps, q, p, s, report, emit) : await purgeOne(deps, q, p, s, report, emit);
          if (ok) {
            report.done++;
            emit({ kind: 'done', item: p });
          }
        });
      }
      // While this pass still holds what it did not delete: can it account for every message left?
      if (!report.limitReached) others = await s.unaccounted();
    } finally {
      await s.release();
      report.releaseErrors += s.releaseErrors;
      if (s.wrapped) report.incomplete = true;
    }

    // Index entries whose message this complete pass did not find. Only those older than the
    // pass: a park in progress writes its DLQ message first and its entry just after. Not seeing
    // a message proves nothing while someone else may hold it invisible (lib/dlq/absence.ts).
    if (s.exhausted && !s.wrapped && !report.limitReached) {
      const proven = absenceProven(others);
      const unproven: string[] = [];
      for (const e of entries.values()) {
        if (found.has(e.id)) continue;
        const item = itemOfEntry(e);
        if (item.parkedAt >= startedAt || !selects(opts, item)) continue;
        if (!proven) {
          unproven.push(item.ref);
          emit({ kind: 'unproven', item });
          continue;
        }
        report.stale.push(item.ref);
        let removed = false;
        if (action === 'purge' && !dryRun) {
          try {
            await deps.index.remove(q.id, e.id);
            removed = true;
            report.staleRemoved++;
          } catch {
            /* still stale; reported */
          }
        }
        emit({ kind: 'stale', item, removed });
      }
      if (unproven.length) report.unproven.push({ queueId: q.id, heldElsewhere: others, refs: unproven });
    }
  }
  return report;
}

async function replayOne(
  deps: DlqOpsDeps,
  q: DlqQueueRef,
  p: ParkedMessage,
  s: DlqScan,
  report: RunReport,
  emit: (e: RunEvent) => void,
): Promise<boolean> {
  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: q.url,
        MessageBody: replayBody(p, (deps.now ?? Date.now)()),
        // A replay of the same DLQ message within SQS's 5-minute window is dropped as a duplicate.
        ...(q.fifo
          ? { MessageGroupId: p.groupId ?? p.envelope?.route ?? 'replay', MessageDeduplicationId: `replay-${p.messageId}`.slice(0, 128) }
          : {}),
      }),
    );
  } catch (e) {
    // Still held by this pass: let go with the rest at the end, so it stays in the DLQ.
    const error = safeErrorDescription(e);
    report.failed.push({ ref: p.ref, stage: 'send', error, inDlq: true, inMainQueue: false });
    emit({ kind: 'failed', item: p, stage: 'send', error });
    return false;
  }
  try {
    await deps.sqs.send(new DeleteMessageCommand({ QueueUrl: q.dlqUrl, ReceiptHandle: p.receiptHandle }));
    s.settled(p.messageId);
  } catch (e) {
    const error = safeErrorDescription(e);
    report.failed.push({ ref: p.ref, stage: 'delete', error, inDlq: true, inMainQueue: true });
    emit({ kind: 'failed', item: p, stage: 'delete', error });
    return false;
  }
  await removeEntry(deps, q, p, report, emit);
  return true;
}

async function purgeOne(
  deps: DlqOpsDeps,
  q: DlqQueueRef,
  p: ParkedMessage,
  s: DlqScan,
  report: RunReport,
  emit: (e: RunEvent) => void,
): Promise<boolean> {
  try {
    await deps.sqs.send(new DeleteMessageCommand({ QueueUrl: q.dlqUrl, ReceiptHandle: p.receiptHandle }));
    s.settled(p.messageId);
  } catch (e) {
    const error = safeErrorDescription(e);
    report.failed.push({ ref: p.ref, stage: 'delete', error, inDlq: true, inMainQueue: false });
    emit({ kind: 'failed', item: p, stage: 'delete', error });
    return false;
  }
  await removeEntry(deps, q, p, report, emit);
  return true;
}

async function removeEntry(
  deps: DlqOpsDeps,
  q: DlqQueueRef,
  p: ParkedMessage,
  report: RunReport,
  emit: (e: RunEvent) => void,
): Promise<void> {
  if (!p.entry) return;
  try {
    await deps.index.remove(q.id, p.entry.id);
  } catch (e) {
    const error = safeErrorDescription(e);
    report.indexLeft.push(p.ref);
    emit({ kind: 'index-left', item: p, error });
  }
}
