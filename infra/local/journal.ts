/**
 * The SQS write-ahead journal (`<dataDir>/sqs-journal.log`): one JSON line per change the SQS
 * stand-in accepted — a message sent (with its body, attributes and the time it becomes
 * visible), deleted, its visibility changed, or its queue purged. Lines are appended and
 * fdatasync'ed BEFORE the SQS answer leaves the stand-in (infra/local/sqs-wire.ts), so anything
 * a caller was told "sent" is on disk before the caller can acknowledge its own client.
 *
 * Appends are group-committed: every change that arrives while a write + fdatasync is running
 * waits for the next one, so a burst costs one flush per round, not one per message.
 *
 * A receive is journaled too (`R`, once per message, before the answer goes back to the poller):
 * a message handed to a worker may have had effects, so after a crash it is re-queued with the
 * `AmoMayHaveRun` message attribute and its processors re-check before they write
 * (ProcessorContext.mayHaveRun; fauxqs starts afresh, so its receive count alone would say 1).
 *
 * Replay (at start) folds the lines into the live set: sent and not deleted (queued, delayed, in
 * flight or parked in a DLQ). A last line without its newline is a write cut by the crash: it
 * was never flushed, so never answered, and is dropped. The live set is re-sent to the fresh
 * fauxqs and a compacted journal holding only it replaces the old one (temp file, fdatasync,
 * rename, fsync of the directory): a crash at any point leaves either the old or the new file.
 * The journal is compacted the same way while running once it is mostly dead lines.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { MAY_HAVE_RUN_ATTRIBUTE } from '../../lib/pipeline/process.ts';

export const JOURNAL_FILE = 'sqs-journal.log';

/** A message attribute as the SQS JSON protocol carries it (BinaryValue in base64). */
export interface WireAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

/** A message sent: `q` queue name, `id` fauxqs's message id, `at` epoch ms when it becomes visible. */
export interface SendRecord {
  k: 'S';
  q: string;
  id: string;
  body: string;
  attrs?: Record<string, WireAttribute>;
  at?: number;
  group?: string;
  dedup?: string;
}

export type JournalRecord =
  | SendRecord
  | { k: 'D'; q: string; id: string }
  /** Visibility changed (a worker's backoff): not visible before `at`. */
  | { k: 'V'; q: string; id: string; at: number }
  /** Received (handed to a worker): re-queued after a crash with MAY_HAVE_RUN_ATTRIBUTE. */
  | { k: 'R'; q: string; id: string }
  | { k: 'P'; q: string };

export interface Replayed {
  /** Live messages in journal order. */
  live: SendRecord[];
  lines: number;
  /** Lines that could not be read (a cut last line included). */
  skipped: number;
}

/** Fold records into the live set (insertion order = send order). */
export function applyRecord(live: Map<string, SendRecord>, r: JournalRecord): void {
  switch (r.k) {
    case 'S':
      live.set(r.id, r);
      return;
    case 'D':
      live.delete(r.id);
      return;
    case 'V': {
      const m = live.get(r.id);
      if (m) live.set(r.id, { ...m, at: r.at });
      return;
    }
    case 'R': {
      const m = live.get(r.id);
      if (m && !wasReceived(m)) live.set(r.id, { ...m, attrs: { ...m.attrs, [MAY_HAVE_RUN_ATTRIBUTE]: RECEIVED_MARK } });
      return;
    }
    case 'P':
      for (const [id, m] of live) if (m.q === r.q) live.delete(id);
      return;
  }
}

const RECEIVED_MARK: WireAttribute = { DataType: 'String', StringValue: 'in flight at a crash' };

/** Was the message handed to a worker (in this run or before a crash)? Its `R` line need not be written again. */
export function wasReceived(m: SendRecord): boolean {
  return m.attrs?.[MAY_HAVE_RUN_ATTRIBUTE] !== undefined;
}

export function readJournal(dir: string): Replayed {
  const file = join(dir, JOURNAL_FILE);
  const live = new Map<string, SendRecord>();
  if (!existsSync(file)) return { live: [], lines: 0, skipped: 0 };
  const text = readFileSync(file, 'utf8');
  const parts = text.split('\n');
  // The piece after the last newline is empty, or a write the crash cut short (never answered).
  const tail = parts.pop() ?? '';
  let skipped = tail.length > 0 ? 1 : 0;
  let lines = 0;
  for (const line of parts) {
    if (!line) continue;
    lines++;
    let r: JournalRecord;
    try {
      r = JSON.parse(line) as JournalRecord;
    } catch {
      skipped++;
      continue;
    }
    if (!r || typeof r !== 'object' || typeof (r as { q?: unknown }).q !== 'string') {
      skipped++;
      continue;
    }
    applyRecord(live, r);
  }
  return { live: [...live.values()], lines, skipped };
}

function fsyncDir(dir: string): void {
  // Makes a rename or a new file's directory entry durable; some platforms refuse: best effort there.
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported here (e.g. Windows) */
  }
}

async function writeDurably(file: string, text: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.writeFile(text);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

const linesOf = (recs: readonly JournalRecord[]) => recs.map((r) => `${JSON.stringify(r)}\n`).join('');

export interface JournalOptions {
  /** Compact once the file is this big and mostly dead lines. Default 8 MiB. */
  compactAtBytes?: number;
}

export interface JournalStats {
  commits: number;
  flushes: number;
  compactions: number;
  bytes: number;
  live: number;
}

export class SqsJournal {
  readonly file: string;
  readonly stats: JournalStats = { commits: 0, flushes: 0, compactions: 0, bytes: 0, live: 0 };
  private readonly live = new Map<string, SendRecord>();
  private pending: Array<{ recs: JournalRecord[]; text: string; done: (e?: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private fh: FileHandle,
    initial: readonly SendRecord[],
    bytes: number,
    private readonly compactAtBytes: number,
  ) {
    this.file = join(dir, JOURNAL_FILE);
    for (const m of initial) this.live.set(m.id, m);
    this.stats.bytes = bytes;
    this.stats.live = this.live.size;
  }

  /**
   * Replace the journal with exactly these live messages (durably) and open it for appends.
   * Called at start, after the live set was re-sent to fauxqs under new message ids.
   */
  static async create(dir: string, live: readonly SendRecord[], opts: JournalOptions = {}): Promise<SqsJournal> {
    const file = join(dir, JOURNAL_FILE);
    const text = linesOf(live);
    const tmp = `${file}.compact`;
    await writeDurably(tmp, text);
    renameSync(tmp, file);
    fsyncDir(dir);
    const fh = await open(file, 'a');
    return new SqsJournal(dir, fh, live, Buffer.byteLength(text), opts.compactAtBytes ?? 8 * 1024 * 1024);
  }

  /** What is live now (sent, not deleted), per queue name. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.live.values()) out[m.q] = (out[m.q] ?? 0) + 1;
    return out;
  }

  has(id: string): SendRecord | undefined {
    return this.live.get(id);
  }

  /** Resolves once the records are on disk (written and fdatasync'ed). */
  commit(recs: JournalRecord[]): Promise<void> {
    if (recs.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the SQS journal is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ recs, text: linesOf(recs), done: (e) => (e ? reject(e) : resolve()) });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing) return;
    // A commit queued after the loop's last check but before this `finally` ran starts the next loop.
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      if (this.pending.length) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length) {
      const round = this.pending;
      this.pending = [];
      try {
        if (this.stats.bytes > this.compactAtBytes && this.stats.bytes > 4 * this.liveBytes()) await this.compact();
        const text = round.map((p) => p.text).join('');
        await this.fh.write(text);
        await this.fh.datasync();
        this.stats.bytes += Buffer.byteLength(text);
        this.stats.flushes++;
        for (const p of round) {
          for (const r of p.recs) applyRecord(this.live, r);
          this.stats.commits++;
        }
        this.stats.live = this.live.size;
        for (const p of round) p.done();
      } catch (e) {
        for (const p of round) p.done(e);
      }
    }
  }

  private liveBytes(): number {
    let n = 0;
    for (const m of this.live.values()) n += m.body.length + 200;
    return n;
  }

  /** Rewrite the file as the live set (same message ids: fauxqs still holds them). */
  private async compact(): Promise<void> {
    const live = [...this.live.values()];
    const text = linesOf(live);
    const tmp = `${this.file}.compact`;
    await writeDurably(tmp, text);
    renameSync(tmp, this.file);
    fsyncDir(this.dir);
    const old = this.fh;
    this.fh = await open(this.file, 'a');
    await old.close();
    this.stats.bytes = Buffer.byteLength(text);
    this.stats.compactions++;
  }

  /** Wait for pending writes, then close. The file stays: it is the next start's input. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.fh.close();
  }

  /** Remove the journal (tests). */
  static remove(dir: string): void {
    rmSync(join(dir, JOURNAL_FILE), { force: true });
  }
}
