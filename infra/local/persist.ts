/**
 * What the SQS stand-in held when the last run ended — gracefully or not — comes back at start.
 * The source is the write-ahead journal (infra/local/journal.ts); a `queues.json` snapshot that
 * an older runner wrote on Ctrl-C is read once, merged, and removed once the new journal holding
 * its messages is on disk. Re-queued messages get new message ids and receive counts (the
 * envelope's own `attempt`/`deferrals` carry what matters); in-flight ones come back at once,
 * delayed ones (and ones a worker's backoff set invisible) when their time comes.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQS_MAX_DELAY_SECONDS } from '../../lib/pipeline/backoff.ts';
import { readJournal, SqsJournal, type JournalOptions, type SendRecord } from './journal.ts';
import type { LocalQueue } from './stand-ins.ts';

export const SNAPSHOT_FILE = 'queues.json';
const SNAPSHOT_VERSION = 1;

export interface SavedMessage {
  body: string;
  attributes: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;
  state: 'ready' | 'delayed' | 'inflight';
  /** Epoch ms when a delayed message becomes visible. */
  visibleAt?: number;
  groupId?: string;
  deduplicationId?: string;
}

export interface Snapshot {
  v: typeof SNAPSHOT_VERSION;
  savedAt: string;
  /** Keyed by physical queue name (main queues and DLQs alike). */
  queues: Record<string, SavedMessage[]>;
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

export function readSnapshot(dir: string): Snapshot | undefined {
  const file = join(dir, SNAPSHOT_FILE);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new SnapshotError(`${file} is not valid JSON; move it away to start without it`, { cause });
  }
  const s = raw as Partial<Snapshot>;
  if (s.v !== SNAPSHOT_VERSION || typeof s.queues !== 'object' || s.queues === null) {
    throw new SnapshotError(`${file} is not a version-${SNAPSHOT_VERSION} queue snapshot; move it away to start without it`);
  }
  return s as Snapshot;
}

export interface RestoreResult {
  /** Re-queued per physical queue name. */
  restored: Record<string, number>;
  /** Messages of queues no longer in the route table, kept aside in this file (snapshot format). */
  orphanedFile?: string;
  /** Journal lines that could not be read (a write cut by a crash is one). */
  skipped: number;
  /** The journal, compacted to what was re-queued, open for this run's appends. */
  journal: SqsJournal;
}

function fromSnapshot(s: Snapshot): SendRecord[] {
  return Object.entries(s.queues).flatMap(([q, msgs]) =>
    msgs.map((m, i) => {
      const r: SendRecord = { k: 'S', q, id: `snapshot-${i}-${randomUUID()}`, body: m.body };
      if (Object.keys(m.attributes ?? {}).length) r.attrs = m.attributes;
      if (m.state === 'delayed' && m.visibleAt !== undefined) r.at = m.visibleAt;
      if (m.groupId !== undefined) r.group = m.groupId;
      if (m.deduplicationId !== undefined) r.dedup = m.deduplicationId;
      return r;
    }),
  );
}

/** SendMessage straight to fauxqs (not through the journaling front: the new journal is written below). */
async function sendRaw(fauxqsEndpoint: string, queueUrl: string, fifo: boolean, m: SendRecord, now: number): Promise<string> {
  const delay = m.at !== undefined ? Math.ceil((m.at - now) / 1000) : 0;
  const res = await fetch(fauxqsEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
    body: JSON.stringify({
      QueueUrl: queueUrl,
      MessageBody: m.body,
      ...(m.attrs ? { MessageAttributes: m.attrs } : {}),
      // FIFO queues take no per-message delay: their messages come back at once, in order.
      ...(fifo
        ? { MessageGroupId: m.group ?? 'restored', MessageDeduplicationId: m.dedup ?? randomUUID() }
        : { DelaySeconds: Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, delay)) }),
    }),
  });
  const text = await res.text();
  const id = res.ok ? (JSON.parse(text) as { MessageId?: string }).MessageId : undefined;
  if (!id) throw new SnapshotError(`could not re-queue a message of ${m.q}: ${res.status} ${text.slice(0, 200)}`);
  return id;
}

/**
 * Re-queue what the journal (and a legacy snapshot) holds, then replace the journal with exactly
 * that (under the new message ids) and remove the snapshot. A crash half-way leaves the old
 * journal and snapshot in place, so the next start does it again: nothing is lost, and nothing
 * is doubled either (this run's fauxqs dies with it).
 */
export async function restoreQueues(
  dir: string,
  fauxqsEndpoint: string,
  queues: readonly LocalQueue[],
  opts: JournalOptions & { now?: number } = {},
): Promise<RestoreResult> {
  const now = opts.now ?? Date.now();
  const snap = readSnapshot(dir);
  const replay = readJournal(dir);
  const all = [...(snap ? fromSnapshot(snap) : []), ...replay.live];
  const byName = new Map<string, { url: string; fifo: boolean }>();
  for (const q of queues) {
    byName.set(q.name, { url: q.url, fifo: q.def.fifo });
    byName.set(q.dlqName, { url: q.dlqUrl, fifo: q.def.fifo });
  }
  const restored: Record<string, number> = {};
  const kept: SendRecord[] = [];
  const orphans: Snapshot = { v: SNAPSHOT_VERSION, savedAt: new Date(now).toISOString(), queues: {} };
  for (const m of all) {
    const target = byName.get(m.q);
    if (!target) {
      (orphans.queues[m.q] ??= []).push({
        body: m.body,
        attributes: m.attrs ?? {},
        state: m.at !== undefined && m.at > now ? 'delayed' : 'ready',
        ...(m.at !== undefined && m.at > now ? { visibleAt: m.at } : {}),
        ...(m.group !== undefined ? { groupId: m.group } : {}),
        ...(m.dedup !== undefined ? { deduplicationId: m.dedup } : {}),
      });
      continue;
    }
    const id = await sendRaw(fauxqsEndpoint, target.url, target.fifo, m, now);
    kept.push({ ...m, id });
    restored[m.q] = (restored[m.q] ?? 0) + 1;
  }
  let orphanedFile: string | undefined;
  if (Object.keys(orphans.queues).length) {
    orphanedFile = join(dir, `queues.orphaned-${now}.json`);
    writeFileSync(orphanedFile, JSON.stringify(orphans));
  }
  const journal = await SqsJournal.create(dir, kept, opts);
  rmSync(join(dir, SNAPSHOT_FILE), { force: true });
  return { restored, ...(orphanedFile ? { orphanedFile } : {}), skipped: replay.skipped, journal };
}
