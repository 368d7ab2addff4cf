/**
 * The durable side of the SQS stand-in: a small HTTP front on fauxqs that every SQS client of the
 * runner talks to (the gateway's SendMessage, the pollers, the worker's re-sends and parks, the
 * CLI's `dlq` commands through `--local`). It passes each request through to fauxqs unchanged
 * and, for the calls that change what a queue holds (SendMessage(Batch), DeleteMessage(Batch),
 * ChangeMessageVisibility(Batch), PurgeQueue) and the first receive of each message, appends what fauxqs accepted to the journal
 * (infra/local/journal.ts) and waits for it to be on disk before the answer goes back. Clients
 * keep speaking the SQS protocol (AWS JSON 1.0), so the code under test is the code AWS runs.
 *
 * Receipt handles only mean something to the fauxqs that issued them: the front remembers which
 * message each handle it handed out names (from ReceiveMessage answers), so deletes and
 * visibility changes can be journaled by message id.
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { wasReceived, type JournalRecord, type SendRecord, type SqsJournal, type WireAttribute } from './journal.ts';

/** The queue name of a queue URL (`…/<account>/<name>`). */
export const queueOfUrl = (url: unknown): string => (typeof url === 'string' ? (url.split('/').pop() ?? '') : '');

interface SendInput {
  MessageBody?: string;
  MessageAttributes?: Record<string, WireAttribute>;
  DelaySeconds?: number;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

function sendRecord(q: string, id: string, m: SendInput, now: number): SendRecord {
  const r: SendRecord = { k: 'S', q, id, body: m.MessageBody ?? '' };
  if (m.MessageAttributes && Object.keys(m.MessageAttributes).length) r.attrs = m.MessageAttributes;
  if (m.DelaySeconds) r.at = now + m.DelaySeconds * 1000;
  if (m.MessageGroupId !== undefined) r.group = m.MessageGroupId;
  if (m.MessageDeduplicationId !== undefined) r.dedup = m.MessageDeduplicationId;
  return r;
}

type Json = Record<string, unknown>;
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

const MAX_HANDLES = 200_000;

/** Which handle names which message (filled from ReceiveMessage answers). */
export class HandleBook {
  private readonly byHandle = new Map<string, { q: string; id: string }>();
  private readonly byId = new Map<string, string[]>();

  remember(q: string, id: string, handle: string): void {
    // Handles of messages received again and again without a delete (DLQ scans) pile up: keep the
    // newest. A delete by a forgotten handle is not journaled, so that message may come back once
    // after a crash (at least once), never the other way round.
    if (this.byHandle.size >= MAX_HANDLES) {
      const oldest = this.byHandle.keys().next().value;
      if (oldest !== undefined) this.byHandle.delete(oldest);
    }
    this.byHandle.set(handle, { q, id });
    const list = this.byId.get(id);
    if (list) list.push(handle);
    else this.byId.set(id, [handle]);
  }

  lookup(handle: unknown): { q: string; id: string } | undefined {
    return typeof handle === 'string' ? this.byHandle.get(handle) : undefined;
  }

  forget(id: string): void {
    for (const h of this.byId.get(id) ?? []) this.byHandle.delete(h);
    this.byId.delete(id);
  }

  forgetQueue(q: string): void {
    for (const [h, v] of this.byHandle)
      if (v.q === q) {
        this.byHandle.delete(h);
        this.byId.delete(v.id);
      }
  }
}

/**
 * The journal records one accepted call implies (action without the `AmazonSQS.` prefix, the
 * request and fauxqs's 200 answer, both parsed).
 */
export function recordsOf(action: string, req: Json, res: Json, book: HandleBook, now: number): JournalRecord[] {
  const q = queueOfUrl(req.QueueUrl);
  switch (action) {
    case 'SendMessage':
      return typeof res.MessageId === 'string' ? [sendRecord(q, res.MessageId, req as SendInput, now)] : [];
    case 'SendMessageBatch': {
      const entries = new Map(arr(req.Entries).map((e) => [e.Id, e]));
      return arr(res.Successful).flatMap((s) => {
        const e = entries.get(s.Id);
        return e && typeof s.MessageId === 'string' ? [sendRecord(q, s.MessageId, e as SendInput, now)] : [];
      });
    }
    case 'ReceiveMessage': {
      const out: JournalRecord[] = [];
      for (const m of arr(res.Messages))
        if (typeof m.MessageId === 'string' && typeof m.ReceiptHandle === 'string') {
          book.remember(q, m.MessageId, m.ReceiptHandle);
          out.push({ k: 'R', q, id: m.MessageId });
        }
      return out;
    }
    case 'DeleteMessage': {
      const m = book.lookup(req.ReceiptHandle);
      return m ? [{ k: 'D', q: m.q, id: m.id }] : [];
    }
    case 'DeleteMessageBatch': {
      const entries = new Map(arr(req.Entries).map((e) => [e.Id, e]));
      return arr(res.Successful).flatMap((s) => {
        const m = book.lookup(entries.get(s.Id)?.ReceiptHandle);
        return m ? [{ k: 'D' as const, q: m.q, id: m.id }] : [];
      });
    }
    case 'ChangeMessageVisibility': {
      const m = book.lookup(req.ReceiptHandle);
      return m ? [{ k: 'V', q: m.q, id: m.id, at: now + Number(req.VisibilityTimeout ?? 0) * 1000 }] : [];
    }
    case 'ChangeMessageVisibilityBatch': {
      const entries = new Map(arr(req.Entries).map((e) => [e.Id, e]));
      return arr(res.Successful).flatMap((s) => {
        const e = entries.get(s.Id);
        const m = book.lookup(e?.ReceiptHandle);
        return m ? [{ k: 'V' as const, q: m.q, id: m.id, at: now + Number(e?.VisibilityTimeout ?? 0) * 1000 }] : [];
      });
    }
    case 'PurgeQueue':
      return [{ k: 'P', q }];
    default:
      return [];
  }
}

function readAll(s: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

const parse = (b: Buffer): Json => {
  try {
    const v: unknown = JSON.parse(b.toString('utf8') || '{}');
    return v && typeof v === 'object' ? (v as Json) : {};
  } catch {
    return {};
  }
};

export interface SqsWire {
  endpoint: string;
  stop(): Promise<void>;
}

/** Start the journaling front on 127.0.0.1 (a free port) in front of fauxqs at `upstreamPort`. */
export async function startSqsWire(opts: { upstreamPort: number; journal: SqsJournal; now?: () => number }): Promise<SqsWire> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const book = new HandleBook();
  const now = opts.now ?? Date.now;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readAll(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : '';
    const up = httpRequest({
      host: '127.0.0.1',
      port: opts.upstreamPort,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, 'content-length': String(body.length) },
      agent,
    });
    // A caller that gives up (a poller's long poll cancelled at stop) cancels the upstream call.
    const cancel = () => {
      if (!res.writableFinished) up.destroy();
    };
    res.on('close', cancel);
    up.end(body);
    const upRes = await new Promise<IncomingMessage>((resolve, reject) => {
      up.once('response', resolve);
      up.once('error', reject);
    });
    const out = await readAll(upRes);
    if (upRes.statusCode === 200 && action) {
      // A receive is journaled once per message (a DLQ scan receives the same ones again and again).
      const recs = recordsOf(action, parse(body), parse(out), book, now()).filter((r) => {
        if (r.k !== 'R') return true;
        const m = opts.journal.has(r.id);
        return m !== undefined && !wasReceived(m);
      });
      if (recs.length) {
        // On disk before the caller hears "accepted" (or, for a receive, before a worker sees the
        // message): a crash after this loses nothing it was told.
        await opts.journal.commit(recs);
        for (const r of recs) if (r.k === 'D') book.forget(r.id);
        for (const r of recs) if (r.k === 'P') book.forgetQueue(r.q);
      }
    }
    const headers = { ...upRes.headers };
    delete headers['transfer-encoding'];
    headers['content-length'] = String(out.length);
    res.writeHead(upRes.statusCode ?? 500, headers);
    res.end(out);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (res.headersSent || res.destroyed) return void res.destroy();
      // Not journaled (or fauxqs did not answer): a 500 the SDK retries; never an "accepted".
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'the local SQS journal could not record this call' }));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
