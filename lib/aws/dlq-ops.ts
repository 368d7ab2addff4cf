/**
 * The operations side of parking (docs/architecture.md#failure-semantics): list, show, replay and purge
 * what the worker parked. The DLQ index (lib/store/dlq-index.ts) says what is parked and why; the
 * DLQs themselves are the source of truth for the messages. Used by `amo-gateway dlq …`
 * (infra/cli/commands/dlq.ts) and by tests; no CLI or infra knowledge here.
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
import { envelopeBody, parseEnvelope, type Envelope } from '../envelope.ts';
import { mapLimit } from '../pipeline/fifo.ts';
import { describeError } from '../pipeline/outcome.ts';
import { redact, safeErrorText } from '../pipeline/redact.ts';
import type { DlqEntry, DlqIndex } from '../store/dlq-index.ts';
import { DLQ_ATTR } from './actions.ts';

/** The reason given to a DLQ message that has no index entry. */
export const UNINDEXED = 'unindexed';
const UNINDEXED_PREFIX = 'unindexed:';
/** The route shown for a parked message that is not an envelope (as lib/aws/actions.ts indexes it). */
export const NOT_AN_ENVELOPE = '(not an envelope)';

export const DEFAULT_HOLD_SECONDS = 120;
export const DEFAULT_WAIT_SECONDS = 1;
export const DEFAULT_CONCURRENCY = 10;

export class DlqOpsError extends Error {
  override readonly name = 'DlqOpsError';
}

/** A queue as the operations tools know it. */
export interface DlqQueueRef {
  id: string;
  url: string;
  dlqUrl: string;
  fifo: boolean;
}

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

// ---------------------------------------------------------------------------------------------
// References: `<queue id>/<index id>` or `<queue id>/unindexed:<DLQ message id>`.

export type ParkedKey = { kind: 'indexed'; id: string } | { kind: 'unindexed'; messageId: string };

export function formatRef(queueId: string, key: ParkedKey): string {
  return `${queueId}/${key.kind === 'indexed' ? key.id : `${UNINDEXED_PREFIX}${key.messageId}`}`;
}

/** Parse what an operator typed: a full ref, or a bare index id, message key or message id. */
export function parseRef(ref: string): { queueId: string | undefined; key: ParkedKey } {
  const slash = ref.indexOf('/');
  const queueId = slash > 0 ? ref.slice(0, slash) : undefined;
  const rest = slash > 0 ? ref.slice(slash + 1) : ref;
  if (rest === '') throw new DlqOpsError(`"${ref}" is not a DLQ id (expected <queue>/<id> as \`dlq list\` prints it)`);
  if (rest.startsWith(UNINDEXED_PREFIX)) return { queueId, key: { kind: 'unindexed', messageId: rest.slice(UNINDEXED_PREFIX.length) } };
  return { queueId, key: { kind: 'indexed', id: rest } };
}

// ---------------------------------------------------------------------------------------------
// What is parked.

/** One parked thing: an index entry, a DLQ message, or both. */
export interface ParkedItem {
  ref: string;
  queueId: string;
  route: string;
  reason: string;
  /** Epoch ms: the index's parkedAt, or when SQS got the message (unindexed). */
  parkedAt: number;
  key: ParkedKey;
  entry: DlqEntry | undefined;
}

/** A parked message as received from its DLQ. */
export interface ParkedMessage extends ParkedItem {
  messageId: string;
  receiptHandle: string;
  body: string;
  envelope: Envelope | undefined;
  /** Why the body is not an envelope (redacted). */
  envelopeError: string | undefined;
  /** The attributes the worker set when parking (absent on SQS-redriven messages). */
  attrs: { indexId?: string; reason?: string; sourceQueue?: string };
  /** Epoch ms SQS accepted the message into the DLQ (SentTimestamp). */
  sentAt: number | undefined;
  /** Times it was received from the DLQ (scans, shows, this one included). */
  dlqReceiveCount: number;
  /** FIFO message group. */
  groupId: string | undefined;
}

export interface DlqSelector {
  queue?: string;
  route?: string;
  reason?: string;
  /** Refs as printed by `dlq list` (or bare index ids / message keys / message ids). */
  ids?: readonly string[];
  /** Only items parked at or after this epoch ms. */
  since?: number;
  /** Only items parked before this epoch ms. */
  before?: number;
}

function idMatches(wanted: string, item: ParkedItem): boolean {
  const { queueId, key } = parseRef(wanted);
  if (queueId !== undefined && queueId !== item.queueId) return false;
  if (key.kind === 'unindexed') return item.key.kind === 'unindexed' && item.key.messageId === key.messageId;
  if (item.entry && (item.entry.id === key.id || item.entry.messageKey === key.id)) return true;
  return item.key.kind === 'unindexed' && item.key.messageId === key.id;
}

export function selects(sel: DlqSelector, item: ParkedItem): boolean {
  if (sel.queue !== undefined && sel.queue !== item.queueId) return false;
  if (sel.route !== undefined && sel.route !== item.route) return false;
  if (sel.reason !== undefined && sel.reason !== item.reason) return false;
  if (sel.since !== undefined && item.parkedAt < sel.since) return false;
  if (sel.before !== undefined && item.parkedAt >= sel.before) return false;
  if (sel.ids !== undefined && sel.ids.length > 0 && !sel.ids.some((w) => idMatches(w, item))) return false;
  return true;
}

function itemOfEntry(e: DlqEntry): ParkedItem {
  const key: ParkedKey = { kind: 'indexed', id: e.id };
  return { ref: formatRef(e.queueId, key), queueId: e.queueId, route: e.route, reason: e.reason, parkedAt: Date.parse(e.parkedAt), key, entry: e };
}

function messageOf(queue: DlqQueueRef, m: Message, entries: ReadonlyMap<string, DlqEntry>): ParkedMessage {
  const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const attrs: ParkedMessage['attrs'] = {};
  const indexId = attr(DLQ_ATTR.indexId);
  const reason = attr(DLQ_ATTR.reason);
  const sourceQueue = attr(DLQ_ATTR.sourceQueue);
  if (indexId !== undefined) attrs.indexId = indexId;
  if (reason !== undefined) attrs.reason = reason;
  if (sourceQueue !== undefined) attrs.sourceQueue = sourceQueue;
  const messageId = m.MessageId ?? '';
  const body = m.Body ?? '';
  let envelope: Envelope | undefined;
  let envelopeError: string | undefined;
  try {
    envelope = parseEnvelope(body);
  } catch (e) {
    envelopeError = safeErrorText(describeError(e));
  }
  const sentAt = Number(m.Attributes?.SentTimestamp) || undefined;
  const entry = indexId !== undefined ? entries.get(indexId) : undefined;
  const key: ParkedKey = entry ? { kind: 'indexed', id: entry.id } : { kind: 'unindexed', messageId };
  return {
    ref: formatRef(queue.id, key),
    queueId: queue.id,
    route: entry?.route ?? envelope?.route ?? NOT_AN_ENVELOPE,
    reason: entry?.reason ?? UNINDEXED,
    parkedAt: entry ? Date.parse(entry.parkedAt) : (sentAt ?? 0),
    key,
    entry,
    messageId,
    receiptHandle: m.ReceiptHandle ?? '',
    body,
    envelope,
    envelopeError,
    attrs,
    sentAt,
    dlqReceiveCount: Number(m.Attributes?.ApproximateReceiveCount) || 1,
    groupId: m.Attributes?.MessageGroupId,
  };
}

// ---------------------------------------------------------------------------------------------
// Queue plumbing.

export interface DlqDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

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
  if (queue === undefined) return [...deps.queues];
  const q = deps.queues.find((x) => x.id === queue);
  if (!q) throw new DlqOpsError(`unknown queue "${queue}" (known: ${deps.queues.map((x) => x.id).join(', ') || 'none'})`);
  return [q];
}

/** When every id names the same queue, only that DLQ needs a pass. */
function queueOfIds(ids: readonly string[] | undefined): string | undefined {
  if (!ids || ids.length === 0) return undefined;
  const queues = new Set(ids.map((i) => parseRef(i).queueId));
  const [only] = [...queues];
  return queues.size === 1 ? only : undefined;
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

export interface ListedItem extends ParkedItem {
  /** Tries made (the index's, or the envelope's `attempt` for an unindexed message). */
  attempts: number | undefined;
  /** Epoch ms the request was first received. */
  firstSeenAt: number | undefined;
  /** Redacted. */
  lastError: string;
  /** With a scan: whether the message was found in its DLQ. */
  inDlq?: boolean;
}

function listedOfEntry(e: DlqEntry): ListedItem {
  return { ...itemOfEntry(e), attempts: e.attempts, firstSeenAt: Date.parse(e.firstSeenAt), lastError: e.lastError };
}

function listedOfMessage(p: ParkedMessage): ListedItem {
  const env = p.envelope;
  return {
    ...stripMessage(p),
    attempts: env?.attempt,
    firstSeenAt: env?.receivedAt,
    lastError: env?.lastError !== undefined ? safeErrorText(env.lastError, Object.values(env.params)) : (p.envelopeError ?? ''),
    inDlq: true,
  };
}

export interface QueueListing {
  id: string;
  /** Index entries of this queue (whatever the filter). */
  indexed: number;
  depth?: DlqDepth;
  depthError?: string;
  /** With a scan: messages without an index entry, and entries whose message was not found. */
  unindexed?: number;
  missing?: number;
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
        listing.depthError = safeErrorText(describeError(e));
      }
    }
    const all: ListedItem[] = [...entries.values()].map(listedOfEntry);
    if (scan) {
      const found = new Set<string>();
      const unindexed: ListedItem[] = [];
      const s = scanOf(deps, q);
      try {
        for (let batch = await s.next(); batch.length; batch = await s.next()) {
          for (const m of batch) {
            const p = messageOf(q, m, entries);
            if (p.entry) found.add(p.entry.id);
            else unindexed.push(listedOfMessage(p));
          }
        }
      } finally {
        await s.release();
      }
      // A pass that met its own messages again may have missed some: say nothing about absence then.
      if (!s.wrapped) for (const it of all) it.inDlq = found.has(it.entry?.id ?? '');
      all.push(...unindexed);
      listing.unindexed = unindexed.length;
      if (!s.wrapped) listing.missing = all.filter((i) => i.inDlq === false).length;
      else listing.incomplete = true;
    }
    queues.push(listing);
    items.push(...all.filter((i) => selects(opts, i)));
  }
  items.sort((a, b) => a.parkedAt - b.parkedAt || a.ref.localeCompare(b.ref));
  const byReason: Record<string, number> = {};
  for (const i of items) byReason[i.reason] = (byReason[i.reason] ?? 0) + 1;
  return { items, byReason, queues, scanned: scan };
}

function stripMessage(p: ParkedMessage): ParkedItem {
  return { ref: p.ref, queueId: p.queueId, route: p.route, reason: p.reason, parkedAt: p.parkedAt, key: p.key, entry: p.entry };
}

// ---------------------------------------------------------------------------------------------
// show

export interface ShowResult {
  item: ParkedItem;
  /** The DLQ message, when found (it was received and let go again, never deleted). */
  message: ParkedMessage | undefined;
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
      if (entryHit) throw new DlqOpsError(`"${ref}" is ambiguous: it matches ${formatRef(entryHit.queue.id, { kind: 'indexed', id: entryHit.entry.id })} and ${formatRef(q.id, { kind: 'indexed', id: e.id })}`);
      entryHit = { queue: q, entry: e, entries };
    }
  }

  // 2. The message: by its index id attribute, or by its DLQ message id.
  const wantsMessageId = key.kind === 'unindexed' ? key.messageId : entryHit ? undefined : key.id;
  for (const q of entryHit ? [entryHit.queue] : queues) {
    const entries = entriesByQueue.get(q.id) ?? new Map<string, DlqEntry>();
    const s = scanOf(deps, q);
    try {
      for (let batch = await s.next(); batch.length; batch = await s.next()) {
        for (const m of batch) {
          const hit = entryHit ? m.MessageAttributes?.[DLQ_ATTR.indexId]?.StringValue === entryHit.entry.id : m.MessageId === wantsMessageId;
          if (hit) return { item: entryHit ? itemOfEntry(entryHit.entry) : stripMessage(messageOf(q, m, entries)), message: messageOf(q, m, entries) };
        }
      }
    } finally {
      await s.release();
    }
  }
  if (entryHit) return { item: itemOfEntry(entryHit.entry), message: undefined };
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
  | { kind: 'stale'; item: ParkedItem; removed: boolean };

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
  /** Held messages that could not be let go explicitly: they reappear when the hold runs out. */
  releaseErrors: number;
  /** A pass ran longer than the hold and met its own messages again: some may not have been seen. */
  incomplete: boolean;
  holdSeconds: number;
}

/** The main-queue body of a replayed message: `attempt` removed (fresh tries), everything else kept. */
export function replayBody(p: Pick<ParkedMessage, 'body' | 'envelope'>): string {
  if (!p.envelope) return p.body; // not an envelope: sent back exactly as it was parked
  const raw = JSON.parse(p.body) as Record<string, unknown>;
  // Work on the raw JSON, not the parsed envelope: fields this version does not know survive.
  const { attempt: _attempt, ...rest } = raw;
  return JSON.stringify(rest);
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
  const report: RunReport = { action, dryRun, done: 0, skipped: 0, failed: [], limitReached: false, indexLeft: [], stale: [], staleRemoved: 0, releaseErrors: 0, incomplete: false, holdSeconds };
  const queues = selectQueues(deps, opts.queue ?? queueOfIds(opts.ids));
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) throw new DlqOpsError('limit must be a whole number ≥ 1');

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
    } finally {
      await s.release();
      report.releaseErrors += s.releaseErrors;
      if (s.wrapped) report.incomplete = true;
    }

    // Index entries whose message this complete pass did not find. Only those older than the
    // pass: a park in progress writes its DLQ message first and its entry just after.
    if (s.exhausted && !s.wrapped && !report.limitReached) {
      for (const e of entries.values()) {
        if (found.has(e.id)) continue;
        const item = itemOfEntry(e);
        if (item.parkedAt >= startedAt || !selects(opts, item)) continue;
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
    }
  }
  return report;
}

function errorText(e: unknown): string {
  return safeErrorText(describeError(e));
}

async function replayOne(deps: DlqOpsDeps, q: DlqQueueRef, p: ParkedMessage, s: DlqScan, report: RunReport, emit: (e: RunEvent) => void): Promise<boolean> {
  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: q.url,
        MessageBody: replayBody(p),
        // A replay of the same DLQ message within SQS's 5-minute window is dropped as a duplicate.
        ...(q.fifo ? { MessageGroupId: p.groupId ?? p.envelope?.route ?? 'replay', MessageDeduplicationId: `replay-${p.messageId}`.slice(0, 128) } : {}),
      }),
    );
  } catch (e) {
    // Still held by this pass: let go with the rest at the end, so it stays in the DLQ.
    const error = errorText(e);
    report.failed.push({ ref: p.ref, stage: 'send', error, inDlq: true, inMainQueue: false });
    emit({ kind: 'failed', item: p, stage: 'send', error });
    return false;
  }
  try {
    await deps.sqs.send(new DeleteMessageCommand({ QueueUrl: q.dlqUrl, ReceiptHandle: p.receiptHandle }));
    s.settled(p.messageId);
  } catch (e) {
    const error = errorText(e);
    report.failed.push({ ref: p.ref, stage: 'delete', error, inDlq: true, inMainQueue: true });
    emit({ kind: 'failed', item: p, stage: 'delete', error });
    return false;
  }
  await removeEntry(deps, q, p, report, emit);
  return true;
}

async function purgeOne(deps: DlqOpsDeps, q: DlqQueueRef, p: ParkedMessage, s: DlqScan, report: RunReport, emit: (e: RunEvent) => void): Promise<boolean> {
  try {
    await deps.sqs.send(new DeleteMessageCommand({ QueueUrl: q.dlqUrl, ReceiptHandle: p.receiptHandle }));
    s.settled(p.messageId);
  } catch (e) {
    const error = errorText(e);
    report.failed.push({ ref: p.ref, stage: 'delete', error, inDlq: true, inMainQueue: false });
    emit({ kind: 'failed', item: p, stage: 'delete', error });
    return false;
  }
  await removeEntry(deps, q, p, report, emit);
  return true;
}

async function removeEntry(deps: DlqOpsDeps, q: DlqQueueRef, p: ParkedMessage, report: RunReport, emit: (e: RunEvent) => void): Promise<void> {
  if (!p.entry) return;
  try {
    await deps.index.remove(q.id, p.entry.id);
  } catch (e) {
    const error = errorText(e);
    report.indexLeft.push(p.ref);
    emit({ kind: 'index-left', item: p, error });
  }
}

// ---------------------------------------------------------------------------------------------
// Presenting a parked envelope (pure): path tokens masked, everything else redacted unless raw.

export interface EnvelopeSummary {
  route: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** ISO. */
  receivedAt: string;
  requestId: string;
  sourceIp: string;
  attempt: number;
  deferrals: number;
  lastError: string | undefined;
  bodyBytes: number;
  contentType: string | undefined;
}

/** Path parameters are per-account secrets (e.g. the amoCRM hook token): never shown, only their length. */
export function maskParam(value: string): string {
  return `[masked, ${value.length} chars]`;
}

export function summarizeEnvelope(env: Envelope, opts: { raw?: boolean } = {}): EnvelopeSummary {
  const secrets = Object.values(env.params);
  const clean = (v: string) => (opts.raw ? v : redact(v, secrets));
  const map = (m: Record<string, string>, f: (v: string) => string) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, f(v)]));
  return {
    route: env.route,
    params: map(env.params, (v) => (opts.raw ? v : maskParam(v))),
    query: map(env.query, clean),
    headers: map(env.headers, clean),
    receivedAt: new Date(env.receivedAt).toISOString(),
    requestId: env.requestId,
    sourceIp: env.sourceIp,
    attempt: env.attempt ?? 0,
    deferrals: env.deferrals ?? 0,
    lastError: env.lastError === undefined ? undefined : clean(env.lastError),
    bodyBytes: envelopeBody(env).length,
    contentType: env.headers['content-type'],
  };
}

export interface RenderedBody {
  kind: 'form' | 'json' | 'text' | 'binary';
  /** Lines to print. */
  lines: string[];
  redacted: boolean;
}

function decodeFormPart(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * The body for a human: form bodies decoded to `key = value` lines (amoCRM's hooks percent-encode
 * every email and phone, so redaction must look at the decoded text), JSON pretty-printed, text
 * as is; phones, emails, tokens and the path tokens redacted. `raw` gives the exact bytes instead
 * (UTF-8 text as is, anything else as base64).
 */
export function renderBody(env: Envelope, opts: { raw?: boolean } = {}): RenderedBody {
  const bytes = envelopeBody(env);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return opts.raw
      ? { kind: 'binary', lines: [bytes.toString('base64')], redacted: false }
      : { kind: 'binary', lines: [`(${bytes.length} bytes, not UTF-8 text; --raw prints them as base64)`], redacted: true };
  }
  const ct = (env.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (opts.raw) return { kind: ct.includes('json') ? 'json' : ct === 'application/x-www-form-urlencoded' ? 'form' : 'text', lines: [text], redacted: false };
  const secrets = Object.values(env.params);
  const clean = (s: string) => redact(s, secrets);
  if (ct === 'application/x-www-form-urlencoded') {
    const lines = text === '' ? [] : text.split('&').map((pair) => {
      const eq = pair.indexOf('=');
      const k = decodeFormPart(eq < 0 ? pair : pair.slice(0, eq));
      const v = eq < 0 ? '' : decodeFormPart(pair.slice(eq + 1));
      return clean(`${k} = ${v}`);
    });
    return { kind: 'form', lines, redacted: true };
  }
  if (ct.includes('json')) {
    try {
      return { kind: 'json', lines: clean(JSON.stringify(JSON.parse(text), null, 2)).split('\n'), redacted: true };
    } catch {
      /* declared JSON, is not: show as text */
    }
  }
  return { kind: 'text', lines: clean(text).split('\n'), redacted: true };
}
