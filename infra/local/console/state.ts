/**
 * What the operator's console shows, gathered from the running runner (read-only): routes,
 * queue counts, parked messages, token states, the rate budget, the last events, the sandbox's
 * counters. Nothing here may hold a secret: route URLs are templates (`{token}`), parked bodies go
 * through the same presentation as `dlq show --body` (lib/dlq/present.ts: path parameters masked,
 * tokens, phones and e-mails redacted), token rows are the `token status` rows (expiry, last
 * refresh, status — never a token).
 *
 * Parked messages are read with fauxqs's inspection (no ReceiveMessage): a console that refreshes
 * every few seconds must not hold DLQ messages invisible, or a concurrent `dlq replay` would see
 * fewer messages than the DLQ holds (lib/dlq/absence.ts).
 */
import type { FauxqsServer } from 'fauxqs';
import { accountHost } from '../../../lib/config/schema.ts';
import { createAmoClientRuntime, type AmoClientRuntime } from '../../../lib/aws/amo-client-runtime.ts';
import { DLQ_ATTR } from '../../../lib/aws/actions.ts';
import { ACCOUNT_RING } from '../../../lib/amocrm/client/rate-budget.ts';
import { safeErrorDescription } from '../../../lib/common/errors.ts';
import { parkedOf, renderBody, summarizeEnvelope, type DlqMessageInput, type ParkAttributes } from '../../../lib/dlq/index.ts';
import type { DlqEntry, DlqIndex } from '../../../lib/pipeline/dlq-index.ts';
import type { RouteTable } from '../../../lib/routes.ts';
import { tokenStatusRow, type StatusRow } from '../../cli/commands/token.ts';
import { eventLine, type LocalAmo } from '../amocrm.ts';
import type { LocalQueue } from '../stand-ins.ts';

export interface ConsoleSources {
  table: RouteTable;
  /** The runner's base URL. */
  url(): string;
  queues: Readonly<Record<string, LocalQueue>>;
  depth(queueId: string): { visible: number; delayed: number; inFlight: number; dlq: number };
  fauxqs: FauxqsServer;
  dlqIndex: DlqIndex;
  /** The amoCRM side, once wired (undefined without `amocrm`). */
  amo(): LocalAmo | undefined;
  doc: Parameters<typeof createAmoClientRuntime>[0]['doc'];
  tableName: string;
}

export interface RouteRow {
  id: string;
  method: string;
  /** Template URL: path parameters stay `{name}`. */
  url: string;
  target: string;
}

export interface QueueRow {
  id: string;
  visible: number;
  delayed: number;
  inFlight: number;
  dlq: number;
}

export interface ParkedRow {
  ref: string;
  queue: string;
  route: string;
  reason: string;
  parkedAt: string | undefined;
  attempts: number | undefined;
  lastError: string | undefined;
  /** False: an index entry whose message is not in the DLQ (nothing to replay; purge clears it). */
  inDlq: boolean;
  /** The `dlq show` summary (redacted), when the message is an envelope. */
  summary: ReturnType<typeof summarizeEnvelope> | undefined;
  /** The `dlq show --body` view: redacted lines. */
  body: { kind: string; lines: string[] } | undefined;
}

export interface BudgetRow {
  account: string;
  host: string;
  /** Calls granted in the last minute (from the account ring of the shared budget). */
  callsLastMinute: number | undefined;
  /** The ring holds only the last N grants: at least this many when the whole ring is in the minute. */
  callsAtLeast: boolean;
  /** 429s and budget deferrals since the runner started (the AmoRateLimited / RateBudgetExhausted metrics). */
  rateLimited: number;
  budgetDeferred: number;
  breaker: { open: boolean; openedAt?: number; reason?: string; liftedAt?: number; liftedBy?: string } | undefined;
  error?: string;
}

export interface EventRow {
  time: string;
  type: string;
  attributes: Record<string, unknown>;
}

export interface SandboxView {
  url: string;
  requests: number;
  rateLimited: number;
  blockedResponses: number;
  blocksImposed: number;
  tokenEndpoint: Record<string, number>;
  webhooks: { delivered: number; failed: number };
  byRoute: Array<{ method: string; route: string; status: string; count: number }>;
}

export interface ConsoleState {
  generatedAt: string;
  url: string;
  routes: RouteRow[];
  queues: QueueRow[];
  parked: ParkedRow[];
  tokens: StatusRow[];
  budget: BudgetRow[];
  events: EventRow[];
  eventsTotal: number;
  sandbox: SandboxView | undefined;
  amoMode: 'sandbox' | 'account' | undefined;
}

/** How many of the last events the console lists. */
export const EVENTS_SHOWN = 20;
/** How many parked messages the console lists (the CLI lists them all). */
export const PARKED_SHOWN = 200;

function attrsOf(m: { messageAttributes: Record<string, { StringValue?: string; stringValue?: string }> }): ParkAttributes {
  const get = (name: string) => {
    const a = m.messageAttributes[name];
    return a?.StringValue ?? a?.stringValue;
  };
  const attrs: ParkAttributes = {};
  const indexId = get(DLQ_ATTR.indexId);
  const reason = get(DLQ_ATTR.reason);
  const sourceQueue = get(DLQ_ATTR.sourceQueue);
  if (indexId !== undefined) attrs.indexId = indexId;
  if (reason !== undefined) attrs.reason = reason;
  if (sourceQueue !== undefined) attrs.sourceQueue = sourceQueue;
  return attrs;
}

export class ConsoleStateReader {
  private runtime: AmoClientRuntime | undefined;

  constructor(private readonly src: ConsoleSources) {}

  private amoRuntime(amo: LocalAmo): AmoClientRuntime {
    // The same runtime the CLI's `breaker status` opens: the breaker and the budget on the one table.
    this.runtime ??= createAmoClientRuntime({
      config: amo.config,
      oauth: amo.oauth.provider,
      doc: this.src.doc,
      tableName: this.src.tableName,
    });
    return this.runtime;
  }

  routes(): RouteRow[] {
    const base = this.src.url();
    return this.src.table.routes.map((r) => ({
      id: r.id,
      method: r.method,
      url: `${base}${r.path}`,
      target: r.target.kind === 'queue' ? `queue ${r.target.queue}` : `function ${r.target.function}`,
    }));
  }

  queues(): QueueRow[] {
    return Object.values(this.src.queues).map((q) => ({ id: q.id, ...this.src.depth(q.id) }));
  }

  async parked(): Promise<ParkedRow[]> {
    const rows: ParkedRow[] = [];
    for (const q of Object.values(this.src.queues)) {
      const entries = new Map<string, DlqEntry>((await this.src.dlqIndex.list({ queue: q.id })).map((e) => [e.id, e]));
      const inspected = this.src.fauxqs.inspectQueue(q.dlqName);
      const messages = inspected
        ? [...inspected.messages.ready, ...inspected.messages.delayed, ...inspected.messages.inflight.map((f) => f.message)]
        : [];
      const seen = new Set<string>();
      for (const m of messages) {
        const input: DlqMessageInput = {
          messageId: m.messageId,
          receiptHandle: '',
          body: m.body,
          attrs: attrsOf(m as unknown as { messageAttributes: Record<string, { StringValue?: string }> }),
          sentAt: m.sentTimestamp,
          receiveCount: m.approximateReceiveCount,
          groupId: m.messageGroupId,
        };
        const p = parkedOf(q.id, input, entries);
        if (p.entry) seen.add(p.entry.id);
        let body: ParkedRow['body'];
        let summary: ParkedRow['summary'];
        if (p.envelope) {
          try {
            summary = summarizeEnvelope(p.envelope);
            const b = renderBody(p.envelope);
            body = { kind: b.kind, lines: b.lines };
          } catch (e) {
            body = { kind: 'text', lines: [`(could not render: ${safeErrorDescription(e)})`] };
          }
        } else body = { kind: 'text', lines: [`(not an envelope: ${p.envelopeError ?? 'unknown'}; ${m.body.length} bytes)`] };
        rows.push({
          ref: p.ref,
          queue: q.id,
          route: p.route,
          reason: p.reason,
          parkedAt: Number.isFinite(p.parkedAt) && p.parkedAt > 0 ? new Date(p.parkedAt).toISOString() : undefined,
          attempts: p.entry?.attempts,
          lastError: p.entry?.lastError ?? summary?.lastError,
          inDlq: true,
          summary,
          body,
        });
      }
      for (const e of entries.values()) {
        if (seen.has(e.id)) continue;
        rows.push({
          ref: `${q.id}/${e.id}`,
          queue: q.id,
          route: e.route,
          reason: e.reason,
          parkedAt: e.parkedAt,
          attempts: e.attempts,
          lastError: e.lastError,
          inDlq: false,
          summary: undefined,
          body: undefined,
        });
      }
    }
    rows.sort((a, b) => (a.parkedAt ?? '').localeCompare(b.parkedAt ?? '') || a.ref.localeCompare(b.ref));
    return rows.slice(-PARKED_SHOWN);
  }

  async tokens(): Promise<StatusRow[]> {
    const amo = this.src.amo();
    if (!amo) return [];
    const rows: StatusRow[] = [];
    for (const a of amo.config.accounts) {
      const r = amo.oauth.lifecycle.resolve(a.id);
      rows.push(tokenStatusRow(a.id, r.integration.id, `${a.subdomain}.${a.domain}`, await amo.oauth.lifecycle.read(a.id)));
    }
    return rows;
  }

  async budget(now: number): Promise<BudgetRow[]> {
    const amo = this.src.amo();
    if (!amo) return [];
    const runtime = this.amoRuntime(amo);
    const rows: BudgetRow[] = [];
    for (const a of amo.config.accounts) {
      const host = accountHost(a);
      const row: BudgetRow = {
        account: a.id,
        host,
        callsLastMinute: undefined,
        callsAtLeast: false,
        rateLimited: amo.metrics.total('AmoRateLimited', { account: a.id }),
        budgetDeferred: amo.metrics.total('RateBudgetExhausted', { account: a.id }),
        breaker: undefined,
      };
      try {
        const { host: _h, ...breaker } = await runtime.breakerStatus(a.id);
        row.breaker = breaker;
        const state = await runtime.stores.budget.read(host);
        // The account ring (every integration's grants) when there is one, else all rings together.
        const ring = state.rings[ACCOUNT_RING] ?? Object.values(state.rings).flat();
        const used = ring.filter((s) => s.id !== '');
        const recent = used.filter((s) => s.s >= now - 60_000);
        row.callsLastMinute = recent.length;
        row.callsAtLeast = ring.length > 0 && recent.length === ring.length;
      } catch (e) {
        row.error = safeErrorDescription(e);
      }
      rows.push(row);
    }
    return rows;
  }

  events(): { rows: EventRow[]; total: number } {
    const amo = this.src.amo();
    if (!amo) return { rows: [], total: 0 };
    const all = amo.bus.events;
    const rows = all
      .slice(-EVENTS_SHOWN)
      .reverse()
      .map((e) => {
        const l = eventLine(e);
        const attributes = Object.fromEntries(Object.entries(l.attributes).filter(([, v]) => v !== undefined));
        return { time: e.time ? new Date(e.time).toISOString() : '', type: l.message, attributes };
      });
    return { rows, total: all.length };
  }

  sandbox(): SandboxView | undefined {
    const sb = this.src.amo()?.sandbox;
    if (!sb) return undefined;
    const c = sb.admin.counters();
    const deliveries = sb.admin.webhookDeliveries();
    return {
      url: sb.url,
      requests: c.requests.reduce((n, r) => n + r.count, 0),
      rateLimited: c.rateLimited,
      blockedResponses: c.blockedResponses,
      blocksImposed: c.blocksImposed,
      tokenEndpoint: c.tokenEndpoint as Record<string, number>,
      webhooks: { delivered: deliveries.filter((d) => d.ok).length, failed: deliveries.filter((d) => !d.ok).length },
      byRoute: c.requests
        .map((r) => ({ method: r.method, route: r.route, status: String(r.status), count: r.count }))
        .sort((a, b) => b.count - a.count || a.route.localeCompare(b.route)),
    };
  }

  async read(now = Date.now()): Promise<ConsoleState> {
    const ev = this.events();
    return {
      generatedAt: new Date(now).toISOString(),
      url: this.src.url(),
      routes: this.routes(),
      queues: this.queues(),
      parked: await this.parked(),
      tokens: await this.tokens(),
      budget: await this.budget(now),
      events: ev.rows,
      eventsTotal: ev.total,
      sandbox: this.sandbox(),
      amoMode: this.src.amo()?.mode,
    };
  }
}
