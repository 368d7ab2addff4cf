/**
 * fauxqs keeps queues in memory only. On stop the runner writes every message still held —
 * ready, delayed (with the time left) and in flight (not yet deleted: a failed or unfinished
 * delivery) — of every queue and DLQ to `<dataDir>/queues.json`, and the next start re-queues
 * them. Re-queued messages get new message ids and receive counts (the envelope's own
 * `attempt`/`deferrals` carry what matters); in-flight ones come back at once.
 */
import type { MessageAttributeValue as SdkAttributeValue, SQSClient } from '@aws-sdk/client-sqs';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SQS_MAX_DELAY_SECONDS } from '../../lib/pipeline/backoff.ts';
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

type InspectedMessage = NonNullable<ReturnType<FauxqsServer['inspectQueue']>>['messages']['ready'][number];

function saved(m: InspectedMessage, state: SavedMessage['state']): SavedMessage {
  const out: SavedMessage = { body: m.body, attributes: { ...m.messageAttributes }, state };
  if (state === 'delayed' && m.delayUntil !== undefined) out.visibleAt = m.delayUntil;
  if (m.messageGroupId !== undefined) out.groupId = m.messageGroupId;
  if (m.messageDeduplicationId !== undefined) out.deduplicationId = m.messageDeduplicationId;
  return out;
}

/** Every message fauxqs holds for these queues and their DLQs. */
export function takeSnapshot(fauxqs: FauxqsServer, queues: readonly LocalQueue[]): Snapshot {
  const out: Snapshot = { v: SNAPSHOT_VERSION, savedAt: new Date().toISOString(), queues: {} };
  for (const name of queues.flatMap((q) => [q.name, q.dlqName])) {
    const info = fauxqs.inspectQueue(name);
    if (!info) continue;
    const msgs = [
      ...info.messages.inflight.map((e) => saved(e.message, 'inflight')),
      ...info.messages.ready.map((m) => saved(m, 'ready')),
      ...info.messages.delayed.map((m) => saved(m, 'delayed')),
    ];
    if (msgs.length) out.queues[name] = msgs;
  }
  return out;
}

export function snapshotCounts(s: Snapshot): Record<string, number> {
  return Object.fromEntries(Object.entries(s.queues).map(([k, v]) => [k, v.length]));
}

/** Atomic write (temp file + rename); an empty snapshot removes the file. */
export function writeSnapshot(dir: string, s: Snapshot): string | undefined {
  const file = join(dir, SNAPSHOT_FILE);
  if (Object.keys(s.queues).length === 0) {
    rmSync(file, { force: true });
    return undefined;
  }
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s));
  renameSync(tmp, file);
  return file;
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
  restored: Record<string, number>;
  /** Messages of queues no longer in the route table, kept aside in this file. */
  orphanedFile?: string;
}

/**
 * Re-send a snapshot's messages (in their saved order) and remove the file. A crash half-way
 * leaves the file, so the next start sends them again: duplicates are possible, loss is not.
 */
export async function restoreSnapshot(
  dir: string,
  sqs: SQSClient,
  queues: readonly LocalQueue[],
  now = Date.now(),
): Promise<RestoreResult> {
  const s = readSnapshot(dir);
  const result: RestoreResult = { restored: {} };
  if (!s) return result;
  const byName = new Map<string, { url: string; fifo: boolean }>();
  for (const q of queues) {
    byName.set(q.name, { url: q.url, fifo: q.def.fifo });
    byName.set(q.dlqName, { url: q.dlqUrl, fifo: q.def.fifo });
  }
  const orphans: Snapshot = { v: SNAPSHOT_VERSION, savedAt: s.savedAt, queues: {} };
  for (const [name, msgs] of Object.entries(s.queues)) {
    const target = byName.get(name);
    if (!target) {
      orphans.queues[name] = msgs;
      continue;
    }
    for (const m of msgs) {
      const delay = m.state === 'delayed' && m.visibleAt !== undefined ? Math.ceil((m.visibleAt - now) / 1000) : 0;
      const attrs: Record<string, SdkAttributeValue> = {};
      for (const [k, v] of Object.entries(m.attributes)) {
        attrs[k] = {
          DataType: v.DataType,
          ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}),
          ...(v.BinaryValue !== undefined ? { BinaryValue: Buffer.from(v.BinaryValue, 'base64') } : {}),
        };
      }
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: target.url,
          MessageBody: m.body,
          ...(Object.keys(attrs).length ? { MessageAttributes: attrs } : {}),
          // FIFO queues take no per-message delay: their messages come back at once, in order.
          ...(target.fifo
            ? { MessageGroupId: m.groupId ?? 'restored', MessageDeduplicationId: m.deduplicationId ?? randomUUID() }
            : { DelaySeconds: Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, delay)) }),
        }),
      );
      result.restored[name] = (result.restored[name] ?? 0) + 1;
    }
  }
  if (Object.keys(orphans.queues).length) {
    result.orphanedFile = join(dir, `queues.orphaned-${Date.now()}.json`);
    writeFileSync(result.orphanedFile, JSON.stringify(orphans));
  }
  rmSync(join(dir, SNAPSHOT_FILE), { force: true });
  return result;
}
