/**
 * The sandbox's outgoing amoCRM **account webhooks** (docs/amocrm-protocol.md#webhooks): the body encoder
 * (PHP `http_build_query`, byte-compatible with the real captures in test/fixtures/amocrm-webhooks)
 * and a deliverer with amoCRM's success and disable rules.
 *
 * Sources: test/fixtures/README.md ("How I encoded", headers seen on real deliveries, shape notes);
 * [K-WH] https://developers.kommo.com/docs/webhooks-general (2 s, 100–299, the disable rule); [amo-docs
 * webhooks-format] https://www.amocrm.ru/developers/content/crm_platform/webhooks-format (redelivery).
 */
import { randomUUID } from 'node:crypto';
import type { SbClock } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * PHP `urlencode`: `A–Z a–z 0–9 - _ .` kept, space → `+`, every other UTF-8 byte → `%XX` with
 * uppercase hex (fixtures README; checked there against 14 RAW bodies).
 */
export function phpUrlencode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      (byte >= 0x30 && byte <= 0x39) ||
      byte === 0x2d ||
      byte === 0x5f ||
      byte === 0x2e
    ) {
      out += String.fromCharCode(byte);
    } else if (byte === 0x20) {
      out += '+';
    } else {
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** PHP's scalar → string for http_build_query: true → "1", false → "0"; null/undefined are skipped. */
function scalarToString(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  throw new TypeError(`cannot form-encode a ${typeof v}`);
}

function appendPairs(prefix: string, value: unknown, out: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => appendPairs(`${prefix}[${i}]`, v, out));
    return;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) appendPairs(`${prefix}[${String(k)}]`, v, out);
    return;
  }
  if (value !== null && typeof value === 'object') {
    // Empty arrays/objects produce nothing, as in PHP.
    for (const [k, v] of Object.entries(value)) appendPairs(`${prefix}[${k}]`, v, out);
    return;
  }
  const s = scalarToString(value);
  if (s !== undefined) out.push(`${phpUrlencode(prefix)}=${phpUrlencode(s)}`);
}

/**
 * PHP `http_build_query($data)` for nested arrays/objects, in the data's own key order. A plain
 * object puts integer-like keys first, ascending (a JavaScript rule); amoCRM does not always
 * (webhook-11's `linked_leads_id[<lead id>]` map is unsorted), so pass a `Map` where such an
 * order matters: Maps are walked in insertion order.
 */
export function httpBuildQuery(data: Record<string, unknown> | Map<string, unknown>): string {
  const out: string[] = [];
  const entries = data instanceof Map ? [...data] : Object.entries(data);
  for (const [k, v] of entries) appendPairs(k, v, out);
  return out.join('&');
}

/**
 * Entities as they appear in webhook bodies: `leads`, `contacts` (contacts and companies, told apart
 * by `type`), `task` (singular), `unsorted`, `catalogs`, plus `message`/`talk` (docs/amocrm-protocol.md#delivery-format).
 */
export type WebhookEntity = 'leads' | 'contacts' | 'task' | 'unsorted' | 'catalogs' | 'message' | 'talk';

export interface WebhookEvent {
  entity: WebhookEntity;
  /** `add`, `update`, `delete`, `restore`, `status`, `responsible`, `note`, … */
  action: string;
  item: Record<string, unknown>;
}

export interface WebhookAccount {
  id: number;
  subdomain: string;
  /**
   * The account's host for `account[_links][self]`: `unirock.amocrm.ru` → `https://unirock.amocrm.ru`.
   * A value that already has a scheme (`http://127.0.0.1:8080`) is used as is (the sandbox's own URL).
   */
  host: string;
}

/**
 * One webhook POST body. Events are grouped entity → action → index, in first-appearance order
 * (`leads[status][0]`, `leads[status][1]`, `contacts[add][0]`, …), as PHP builds a nested array.
 * The account block is `account[subdomain]`, `account[id]`, `account[_links][self]`: first in the
 * captures from 2023-09 on (default), last in the older ones (`accountFirst: false`) — fixtures README.
 */
export function encodeWebhookBody(
  account: WebhookAccount,
  events: ReadonlyArray<WebhookEvent>,
  opts: { accountFirst?: boolean } = {},
): string {
  const grouped: Record<string, Record<string, Array<Record<string, unknown>>>> = {};
  for (const e of events) {
    const byAction = (grouped[e.entity] ??= {});
    (byAction[e.action] ??= []).push(e.item);
  }
  const self = /^[a-z][a-z0-9+.-]*:\/\//i.test(account.host) ? account.host : `https://${account.host}`;
  const accountBlock = { account: { subdomain: account.subdomain, id: String(account.id), _links: { self } } };
  const data = opts.accountFirst === false ? { ...grouped, ...accountBlock } : { ...accountBlock, ...grouped };
  return httpBuildQuery(data);
}

// ---------------------------------------------------------------------------------------------
// A realistic `leads[status]` item
// ---------------------------------------------------------------------------------------------

/** The REST v4 lead shape (what GET /api/v4/leads returns), as far as a webhook needs it. */
export interface LeadForWebhook {
  id: number;
  name: string;
  price: number | null;
  status_id: number;
  pipeline_id: number;
  responsible_user_id: number;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  account_id: number;
  custom_fields_values?: Array<{
    field_id: number;
    field_name: string;
    field_code?: string | null;
    field_type?: string;
    values: Array<{ value?: unknown; enum_id?: number | null; enum_code?: string | null }>;
  }> | null;
  _embedded?: { tags?: Array<{ id: number; name: string }> };
}

/** Field types whose webhook value is `[values][0]=<unix>` with no `[value]` key (webhook-03). */
const DATE_FIELD_TYPES = new Set(['date', 'date_time', 'birthday']); // *assumed* for date_time/birthday

function webhookCustomFields(cfs: NonNullable<LeadForWebhook['custom_fields_values']>): Array<Record<string, unknown>> {
  return cfs.map((cf) => {
    const field: Record<string, unknown> = { id: String(cf.field_id), name: cf.field_name };
    const values = cf.values.filter((v) => v.value !== undefined && v.value !== null);
    if (values.length > 0) {
      field.values = values.map((v) => {
        if (cf.field_type !== undefined && DATE_FIELD_TYPES.has(cf.field_type)) return scalarToString(v.value);
        const val: Record<string, unknown> = { value: scalarToString(v.value) };
        if (v.enum_id !== undefined && v.enum_id !== null) val.enum = String(v.enum_id);
        return val;
      });
    }
    // `code` comes after `values` (webhook-06, -10, -11); fields without values keep id/name/code only.
    if (cf.field_code) field.code = cf.field_code;
    return field;
  });
}

/**
 * The `leads[status][i]` item amoCRM sends when a lead changes stage, in the modern key order of
 * webhook-02 / webhook-06 (tags between pipeline_id and account_id as in webhook-03/-06). All values
 * are strings; `price` is "0" when empty (fixtures README shape notes). `old_pipeline_id` is left
 * out: no account-level capture has it (it is a Digital Pipeline field).
 */
export function leadStatusItem(lead: LeadForWebhook, change: { oldStatusId: number; modifiedUserId?: number }): Record<string, unknown> {
  const item: Record<string, unknown> = {
    id: String(lead.id),
    name: lead.name,
    status_id: String(lead.status_id),
    old_status_id: String(change.oldStatusId),
    price: String(lead.price ?? 0),
    responsible_user_id: String(lead.responsible_user_id),
    last_modified: String(lead.updated_at),
    modified_user_id: String(change.modifiedUserId ?? lead.updated_by),
    created_user_id: String(lead.created_by),
    date_create: String(lead.created_at),
    pipeline_id: String(lead.pipeline_id),
  };
  const tags = lead._embedded?.tags ?? [];
  if (tags.length > 0) item.tags = tags.map((t) => ({ id: String(t.id), name: t.name }));
  item.account_id = String(lead.account_id);
  if (lead.custom_fields_values && lead.custom_fields_values.length > 0)
    item.custom_fields = webhookCustomFields(lead.custom_fields_values);
  item.created_at = String(lead.created_at);
  item.updated_at = String(lead.updated_at);
  return item;
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

export interface DeliveryRecord {
  /** Epoch ms (injected clock) when the delivery was attempted. */
  at: number;
  webhookId: number;
  destination: string;
  requestId: string;
  status: number | null;
  ok: boolean;
  error?: string;
  durationMs: number;
  bytes: number;
  /** The destination was disabled by this delivery's check. */
  disabledNow: boolean;
  /** 1 = the first attempt, 2–5 = redeliveries ([amo-docs webhooks-format] "Номер попытки"). */
  attempt: number;
}

export interface DeliveryResult {
  status: number | null;
  ok: boolean;
  error?: string;
  /** The destination is disabled after this call (or was already, and nothing was sent). */
  disabled: boolean;
}

export interface WebhookDelivererOptions {
  fetch?: typeof fetch;
  clock: SbClock;
  log?: (line: string) => void;
  /** "Our service expects a response from the webhook within 2 seconds" [K-WH]. */
  timeoutMs?: number;
  /** Disable when MORE than this many invalid responses fall in the window [K-WH]: 100. */
  disableAfterFailures?: number;
  /** [K-WH]: "in the last 2 hours". */
  failureWindowMs?: number;
  /** Redeliver failed attempts per RETRY_SCHEDULE. Default true. */
  redeliver?: boolean;
  /**
   * Real-time factor for the redelivery timers: 1 (default) waits the real 5 min, 0.001 waits 300 ms;
   * 0 starts no timers (retries then wait for `runRetries()`, driven by the injected clock).
   */
  retryScale?: number;
  /** Is the subscription still there? A retry for a deleted one is dropped (*assumed*). */
  stillSubscribed?: (dest: { id: number; destination: string }) => boolean;
  /**
   * `X-Amocrm-Requestid` of a redelivery: 'new' (default) or 'same' as the first attempt's. The docs
   * do not say; 'new' is the pessimistic reading (a receiver cannot dedupe on it).
   */
  retryRequestId?: 'new' | 'same';
}

/**
 * amoCRM's redelivery table ([amo-docs webhooks-format] "Ожидаемый ответ"): the first attempt is
 * immediate; after a failed one, attempt N follows `afterMs` after the previous attempt, if the
 * previous attempt's code qualifies. Attempts 2 and 3 follow any invalid answer ("0-99, а также 300
 * и больше"); attempts 4 and 5 only a 499 or a 5xx ("499 или от 500 до 599"). An answer later than
 * the timeout counts as 499 (*assumed*, the pessimistic reading: 499 is nginx's "client closed the
 * request", which is what amoCRM's 2-second wait looks like from its side), so a slow receiver gets
 * all four redeliveries; a refused connection has code 0 (what curl reports when nothing came
 * back) and gets attempts 2 and 3 only.
 */
/** The code a timed-out delivery counts as (see RETRY_SCHEDULE). */
export const TIMEOUT_CODE = 499;

export const RETRY_SCHEDULE: ReadonlyArray<{ attempt: number; afterMs: number; when: (code: number) => boolean }> = [
  { attempt: 2, afterMs: 5 * 60_000, when: (c) => c < 100 || c >= 300 },
  { attempt: 3, afterMs: 15 * 60_000, when: (c) => c < 100 || c >= 300 },
  { attempt: 4, afterMs: 15 * 60_000, when: (c) => c === 499 || (c >= 500 && c <= 599) },
  { attempt: 5, afterMs: 60 * 60_000, when: (c) => c === 499 || (c >= 500 && c <= 599) },
];

/** A redelivery waiting for its time (admin view). */
export interface PendingRetry {
  id: number;
  webhookId: number;
  destination: string;
  /** The attempt this will be (2–5). */
  attempt: number;
  /** Epoch ms on the sandbox clock when it is due (the previous attempt's time + the table's delay). */
  dueAt: number;
  /** The previous attempt's answer. */
  previousStatus: number | null;
  previousError?: string;
}

interface Scheduled extends PendingRetry {
  body: string;
  /** The first attempt's request id (reused when `retryRequestId: 'same'`). */
  requestId: string;
  timer: ReturnType<typeof setTimeout> | null;
}

/** What a real delivery carries (fixtures README, "Headers seen on real deliveries", 2023–2025). */
export const WEBHOOK_USER_AGENT = 'amoCRM-Webhooks/3.0';

/**
 * POSTs account webhooks the way amoCRM does. A delivery succeeds on HTTP 100–299 received within
 * 2 s [K-WH]; anything else (other status, timeout, network error) is invalid. The destination is
 * disabled "if more than 100 invalid responses were received in the last 2 hours, and the last
 * webhook at the time of the check is also invalid" [K-WH]; the check runs after every delivery
 * (*assumed*: the docs do not say when it runs). A disabled destination gets nothing until
 * `enable()` (amoCRM: an admin clicks Save); enabling clears its failure history (*assumed*).
 *
 * A failed attempt is redelivered per RETRY_SCHEDULE (5 min, 15 min, 15 min, 1 h; [amo-docs
 * webhooks-format]), each redelivery a new request with a new `X-Amocrm-Requestid` (*assumed*), and
 * each counting for the disable rule like any answer. Timers run in real time times `retryScale`;
 * `runRetries()` delivers what is due on the injected clock; `stop()` cancels them all.
 * Redirects are not followed (*assumed*: a 3xx is "not 100–299").
 * Note: Node's fetch adds a few headers of its own (`accept`, `accept-language`, `sec-fetch-mode`)
 * that amoCRM does not send; no receiver should depend on them.
 */
export class WebhookDeliverer {
  private readonly fetchFn: typeof fetch;
  private readonly clock: SbClock;
  private readonly log: (line: string) => void;
  private readonly timeoutMs: number;
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly history = new Map<string, number[]>(); // destination → epoch ms of invalid responses
  private readonly disabled = new Set<string>();
  private readonly recorded: DeliveryRecord[] = [];
  private readonly redeliver: boolean;
  private readonly retryScale: number;
  private readonly stillSubscribed: (dest: { id: number; destination: string }) => boolean;
  private readonly retryRequestId: 'new' | 'same';
  private readonly scheduled = new Map<number, Scheduled>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextRetryId = 1;
  private stopped = false;
  /** Keep memory bounded in long `npm start` sessions; the newest records win. */
  private static readonly MAX_RECORDS = 10_000;

  constructor(opts: WebhookDelivererOptions) {
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.clock = opts.clock;
    this.log = opts.log ?? (() => {});
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.threshold = opts.disableAfterFailures ?? 100;
    this.windowMs = opts.failureWindowMs ?? 2 * 60 * 60 * 1000;
    this.redeliver = opts.redeliver ?? true;
    this.retryScale = opts.retryScale ?? 1;
    this.stillSubscribed = opts.stillSubscribed ?? (() => true);
    this.retryRequestId = opts.retryRequestId ?? 'new';
  }

  isDisabled(destination: string): boolean {
    return this.disabled.has(destination);
  }

  enable(destination: string): void {
    this.disabled.delete(destination);
    this.history.delete(destination);
  }

  records(): DeliveryRecord[] {
    return [...this.recorded];
  }

  /** Invalid responses for the destination inside the window ending now. */
  failuresInWindow(destination: string): number {
    const since = this.clock.now() - this.windowMs;
    return (this.history.get(destination) ?? []).filter((t) => t > since).length;
  }

  /** The first attempt of a delivery; a failure schedules the redeliveries. */
  deliver(dest: { id: number; destination: string }, body: string): Promise<DeliveryResult> {
    return this.track(this.attempt(dest, body, 1));
  }

  /** Redeliveries waiting for their time, soonest first. */
  pendingRetries(): PendingRetry[] {
    return [...this.scheduled.values()]
      .sort((a, b) => a.dueAt - b.dueAt || a.id - b.id)
      .map(({ body: _b, timer: _t, requestId: _r, ...p }) => ({ ...p }));
  }

  /**
   * Delivers the redeliveries that are due on the injected clock now (or all of them, `all`), without
   * waiting for their timers. Resolves with their results.
   */
  runRetries(opts: { all?: boolean } = {}): Promise<DeliveryResult[]> {
    const now = this.clock.now();
    const due = [...this.scheduled.values()].filter((r) => opts.all || r.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt || a.id - b.id);
    return Promise.all(due.map((r) => this.fire(r)));
  }

  /** Waits until every attempt started so far (first ones and redeliveries) has finished. */
  async flush(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Cancels every pending redelivery and schedules no more (close, reset). Returns how many were cancelled. */
  stop(): number {
    this.stopped = true;
    const n = this.scheduled.size;
    for (const r of this.scheduled.values()) if (r.timer) clearTimeout(r.timer);
    this.scheduled.clear();
    return n;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  private fire(r: Scheduled): Promise<DeliveryResult> {
    if (r.timer) clearTimeout(r.timer);
    this.scheduled.delete(r.id);
    return this.track(
      this.attempt(
        { id: r.webhookId, destination: r.destination },
        r.body,
        r.attempt,
        this.retryRequestId === 'same' ? r.requestId : undefined,
      ),
    );
  }

  private schedule(
    dest: { id: number; destination: string },
    body: string,
    attempt: number,
    at: number,
    status: number | null,
    error: string | undefined,
    requestId: string,
  ): void {
    const next = RETRY_SCHEDULE.find((x) => x.attempt === attempt + 1);
    const code = status ?? (error?.startsWith('no answer within') ? TIMEOUT_CODE : 0);
    if (!this.redeliver || this.stopped || !next || !next.when(code)) return;
    if (this.disabled.has(dest.destination) || !this.stillSubscribed(dest)) return;
    const r: Scheduled = {
      id: this.nextRetryId++,
      webhookId: dest.id,
      destination: dest.destination,
      attempt: next.attempt,
      dueAt: at + next.afterMs,
      previousStatus: status,
      ...(error !== undefined ? { previousError: error } : {}),
      body,
      requestId,
      timer: null,
    };
    if (this.retryScale > 0) {
      r.timer = setTimeout(() => void this.fire(r), next.afterMs * this.retryScale);
      // A pending redelivery must not keep a test or `npm start` process alive.
      r.timer.unref();
    }
    this.scheduled.set(r.id, r);
  }

  private async attempt(
    dest: { id: number; destination: string },
    body: string,
    attempt: number,
    sameRequestId?: string,
  ): Promise<DeliveryResult> {
    if (attempt > 1 && (this.disabled.has(dest.destination) || !this.stillSubscribed(dest))) {
      return {
        status: null,
        ok: false,
        error: 'webhook disabled or deleted: redelivery dropped',
        disabled: this.disabled.has(dest.destination),
      };
    }
    if (this.disabled.has(dest.destination)) {
      return { status: null, ok: false, error: 'webhook disabled', disabled: true };
    }
    const at = this.clock.now();
    const requestId = sameRequestId ?? randomUUID();
    const bytes = Buffer.from(body, 'utf8');
    const started = performance.now();
    let status: number | null = null;
    let error: string | undefined;
    try {
      const res = await this.fetchFn(dest.destination, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'User-Agent': WEBHOOK_USER_AGENT,
          'X-Amocrm-Requestid': requestId,
          'Accept-Encoding': 'gzip',
        },
        body: bytes,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      // Drain so the socket is released; the body itself does not matter to amoCRM.
      await res.arrayBuffer().catch(() => undefined);
      if (status < 100 || status > 299) error = `HTTP ${status}`;
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      error =
        name === 'TimeoutError' || name === 'AbortError'
          ? `no answer within ${this.timeoutMs} ms`
          : `network error: ${e instanceof Error ? e.message : String(e)}`;
      status = null;
    }
    const durationMs = Math.round(performance.now() - started);
    const ok = error === undefined;
    let disabledNow = false;
    if (!ok) {
      const list = this.history.get(dest.destination) ?? [];
      list.push(at);
      const since = at - this.windowMs;
      const recent = list.filter((t) => t > since);
      this.history.set(dest.destination, recent);
      // Rule [K-WH]: more than N invalid in the window AND the last one (this one) invalid.
      if (recent.length > this.threshold) {
        this.disabled.add(dest.destination);
        disabledNow = true;
      }
    }
    const record: DeliveryRecord = {
      at,
      webhookId: dest.id,
      destination: dest.destination,
      requestId,
      status,
      ok,
      durationMs,
      bytes: bytes.length,
      disabledNow,
      attempt,
      ...(error !== undefined ? { error } : {}),
    };
    this.recorded.push(record);
    if (this.recorded.length > WebhookDeliverer.MAX_RECORDS) this.recorded.splice(0, this.recorded.length - WebhookDeliverer.MAX_RECORDS);
    this.log(
      `webhook #${dest.id} → ${redactUrl(dest.destination)}: ${ok ? status : error}${disabledNow ? ' — destination DISABLED' : ''}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
    );
    if (!ok) this.schedule(dest, body, attempt, at, status, error, requestId);
    return { status, ok, ...(error !== undefined ? { error } : {}), disabled: this.disabled.has(dest.destination) };
  }
}

/** Destinations carry a secret path token (docs/architecture.md#logs-and-secrets): log the origin and the first path segment only. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const first = u.pathname.split('/').filter(Boolean)[0];
    return `${u.origin}/${first ?? ''}${u.pathname.split('/').filter(Boolean).length > 1 ? '/…' : ''}`;
  } catch {
    return '<invalid url>';
  }
}
