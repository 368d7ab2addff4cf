/**
 * The batch writer: the rules of every event a worker is processing at once put their writes
 * here, and after a short linger (the time it takes the other messages of the batch to reach the
 * same point) they go out together — every task in one `POST /api/v4/tasks` (the client chunks by
 * 50), every lead/contact change coalesced into one PATCH per ≤ 50 entities (the client's
 * batching.ts), every note in one POST. Each caller waits for its own writes and gets their
 * failure, so an idempotency step completes only once its writes landed.
 */
import type { EntityPatch } from '../amocrm/client/batching.ts';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { NoteCreate, TaskCreate } from '../amocrm/client/resources/tasks-notes.ts';

export interface WriteSet {
  tasks: TaskCreate[];
  /** One marker per task, stable across retries (derived from the step key). */
  taskMarkers: string[];
  /** Re-check before posting: this (event, rule) was attempted before. */
  checkFirst: boolean;
  leadPatches: EntityPatch[];
  contactPatches: EntityPatch[];
  notes: { entity: 'leads' | 'contacts'; note: NoteCreate; marker: string }[];
}

export interface WriteResult {
  /** `updated_at` per patched entity id, as amoCRM answered (echo detection). */
  updatedAt: Map<string, number>;
}

interface Pending {
  set: WriteSet;
  resolve(r: WriteResult): void;
  reject(e: unknown): void;
}

/** assumed: the messages of one batch reach their writes within a few tens of ms of each other. */
export const DEFAULT_LINGER_MS = 30;
/** A steady stream of writes still goes out this long after the first one waiting (assumed). */
export const DEFAULT_MAX_WAIT_MS = 1_000;

export class BatchWriter {
  private readonly queues = new Map<
    string,
    { client: AmoClientForAccount; pending: Pending[]; timer?: NodeJS.Timeout; firstAt?: number }
  >();
  constructor(
    private readonly lingerMs = DEFAULT_LINGER_MS,
    private readonly maxWaitMs = DEFAULT_MAX_WAIT_MS,
  ) {}

  /** Queue `set` for `account` (our id) and wait until it is written. */
  write(account: string, client: AmoClientForAccount, set: WriteSet): Promise<WriteResult> {
    let q = this.queues.get(account);
    if (!q) {
      q = { client, pending: [] };
      this.queues.set(account, q);
    }
    const queue = q;
    return new Promise<WriteResult>((resolve, reject) => {
      queue.pending.push({ set, resolve, reject });
      // Each new write restarts the linger (flush once the batch has gone quiet), but never past
      // maxWaitMs after the first waiting write.
      const now = Date.now();
      queue.firstAt ??= now;
      if (queue.timer) clearTimeout(queue.timer);
      const wait = Math.max(0, Math.min(this.lingerMs, queue.firstAt + this.maxWaitMs - now));
      queue.timer = setTimeout(() => void this.flush(account), wait);
    });
  }

  private async flush(account: string): Promise<void> {
    const q = this.queues.get(account);
    if (!q) return;
    const batch = q.pending.splice(0);
    delete q.timer;
    delete q.firstAt;
    if (!batch.length) return;
    const c = q.client;
    const all = <T>(f: (s: WriteSet) => T[]) => batch.flatMap((p) => f(p.set));
    const tasks = all((s) => s.tasks);
    const markers = all((s) => s.taskMarkers);
    const checkFirst = batch.some((p) => p.set.checkFirst && p.set.tasks.length > 0);
    const leads = all((s) => s.leadPatches);
    const contacts = all((s) => s.contactPatches);
    const notes = all((s) => s.notes);
    const updatedAt = new Map<string, number>();
    const results = await Promise.allSettled([
      tasks.length ? c.tasks.add(tasks, { markers, checkFirst }) : Promise.resolve([]),
      leads.length
        ? c.leads
            .update(leads, { coalesce: true })
            .then((r) => r.forEach((u) => u.updated_at && updatedAt.set(`lead:${u.id}`, u.updated_at)))
        : Promise.resolve(),
      contacts.length
        ? c.contacts
            .update(contacts, { coalesce: true })
            .then((r) => r.forEach((u) => u.updated_at && updatedAt.set(`contact:${u.id}`, u.updated_at)))
        : Promise.resolve(),
      ...(['leads', 'contacts'] as const).map((kind) => {
        const list = notes.filter((n) => n.entity === kind);
        return list.length
          ? c.notes(kind).add(
              list.map((n) => n.note),
              { markers: list.map((n) => n.marker), checkFirst: batch.some((p) => p.set.checkFirst) },
            )
          : Promise.resolve([]);
      }),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const p of batch) {
      if (failed) p.reject(failed.reason);
      else p.resolve({ updatedAt });
    }
  }
}
