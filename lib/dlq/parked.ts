/**
 * What is parked, as the operations tools see it: an index entry, a message received from a DLQ,
 * or both; and the operator's selection over them (queue, route, reason, time window, ids). Pure:
 * the SQS side (lib/aws/dlq-ops.ts) turns what it receives into a `DlqMessageInput` first.
 */
import { parseEnvelope, type Envelope } from '../envelope.ts';
import { safeErrorDescription } from '../common/errors.ts';
import { safeErrorText } from '../common/redact.ts';
import type { DlqEntry } from '../pipeline/dlq-index.ts';
import { DlqOpsError, formatRef, NOT_AN_ENVELOPE, parseRef, UNINDEXED, type ParkedKey } from './refs.ts';

/** A queue as the operations tools know it. */
export interface DlqQueueRef {
  id: string;
  url: string;
  dlqUrl: string;
  fifo: boolean;
}

/** The queues a command works on: all of them, or the one named (an unknown name is an error). */
export function pickQueues(queues: readonly DlqQueueRef[], queue: string | undefined): DlqQueueRef[] {
  if (queue === undefined) return [...queues];
  const q = queues.find((x) => x.id === queue);
  if (!q) throw new DlqOpsError(`unknown queue "${queue}" (known: ${queues.map((x) => x.id).join(', ') || 'none'})`);
  return [q];
}

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

/** The attributes the worker sets when parking (lib/aws/actions.ts DLQ_ATTR); absent on SQS-redriven messages. */
export interface ParkAttributes {
  indexId?: string;
  reason?: string;
  sourceQueue?: string;
}

/** A message received from a DLQ, in plain terms (no SDK types). */
export interface DlqMessageInput {
  messageId: string;
  receiptHandle: string;
  body: string;
  attrs: ParkAttributes;
  /** Epoch ms SQS accepted the message into the DLQ (SentTimestamp). */
  sentAt: number | undefined;
  /** Times it was received from the DLQ (ApproximateReceiveCount). */
  receiveCount: number;
  /** FIFO message group. */
  groupId: string | undefined;
}

/** A parked message as received from its DLQ. */
export interface ParkedMessage extends ParkedItem {
  messageId: string;
  receiptHandle: string;
  body: string;
  envelope: Envelope | undefined;
  /** Why the body is not an envelope (redacted). */
  envelopeError: string | undefined;
  attrs: ParkAttributes;
  /** Epoch ms SQS accepted the message into the DLQ (SentTimestamp). */
  sentAt: number | undefined;
  /** Times it was received from the DLQ (scans, shows, this one included). */
  dlqReceiveCount: number;
  /** FIFO message group. */
  groupId: string | undefined;
}

export function itemOfEntry(e: DlqEntry): ParkedItem {
  const key: ParkedKey = { kind: 'indexed', id: e.id };
  return {
    ref: formatRef(e.queueId, key),
    queueId: e.queueId,
    route: e.route,
    reason: e.reason,
    parkedAt: Date.parse(e.parkedAt),
    key,
    entry: e,
  };
}

/** A received DLQ message joined with its index entry (by the `dlq-index-id` attribute), if any. */
export function parkedOf(queueId: string, m: DlqMessageInput, entries: ReadonlyMap<string, DlqEntry>): ParkedMessage {
  let envelope: Envelope | undefined;
  let envelopeError: string | undefined;
  try {
    envelope = parseEnvelope(m.body);
  } catch (e) {
    envelopeError = safeErrorDescription(e);
  }
  const entry = m.attrs.indexId !== undefined ? entries.get(m.attrs.indexId) : undefined;
  const key: ParkedKey = entry ? { kind: 'indexed', id: entry.id } : { kind: 'unindexed', messageId: m.messageId };
  return {
    ref: formatRef(queueId, key),
    queueId,
    route: entry?.route ?? envelope?.route ?? NOT_AN_ENVELOPE,
    reason: entry?.reason ?? UNINDEXED,
    parkedAt: entry ? Date.parse(entry.parkedAt) : (m.sentAt ?? 0),
    key,
    entry,
    messageId: m.messageId,
    receiptHandle: m.receiptHandle,
    body: m.body,
    envelope,
    envelopeError,
    attrs: m.attrs,
    sentAt: m.sentAt,
    dlqReceiveCount: m.receiveCount,
    groupId: m.groupId,
  };
}

export function stripMessage(p: ParkedMessage): ParkedItem {
  return { ref: p.ref, queueId: p.queueId, route: p.route, reason: p.reason, parkedAt: p.parkedAt, key: p.key, entry: p.entry };
}

// ---------------------------------------------------------------------------------------------
// Selection.

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

// ---------------------------------------------------------------------------------------------
// Listing rows.

export interface ListedItem extends ParkedItem {
  /** Tries made (the index's, or the envelope's `attempt` for an unindexed message). */
  attempts: number | undefined;
  /** Epoch ms the request was first received. */
  firstSeenAt: number | undefined;
  /** Redacted. */
  lastError: string;
  /**
   * With a scan: whether the message was found in its DLQ. Left undefined when the scan could not
   * tell (another reader held messages of that DLQ, or the scan outlasted its hold).
   */
  inDlq?: boolean;
}

export function listedOfEntry(e: DlqEntry): ListedItem {
  return { ...itemOfEntry(e), attempts: e.attempts, firstSeenAt: Date.parse(e.firstSeenAt), lastError: e.lastError };
}

export function listedOfMessage(p: ParkedMessage): ListedItem {
  const env = p.envelope;
  return {
    ...stripMessage(p),
    attempts: env?.attempt,
    firstSeenAt: env?.receivedAt,
    lastError: env?.lastError !== undefined ? safeErrorText(env.lastError, Object.values(env.params)) : (p.envelopeError ?? ''),
    inDlq: true,
  };
}
