/**
 * The systems the gateway replaces, as they talked to amoCRM — for the burst bench's "old way"
 * side. Each old system is its own program with its own HTTP client: it paces ITSELF at amoCRM's
 * documented 7 requests/s (the best a careful integration did: a sliding window of its own, with
 * a margin), knows
 * nothing of the others (no shared budget), handles one event at a time (no batching), and on a
 * 429 waits one second and tries once more (more patient than the originals, which dropped the
 * event); a second 429, a 403 (the account blocked) or a network error loses the event.
 *
 * - RDESK (the old gateway, github.com/dyuzha/amo-gate): `GET /api/v4/leads/{id}`, then a PATCH of
 *   every mapped field of that lead, per push.
 * - Stage-change rules (the old webhook handler): `GET /api/v4/leads/{id}` (the lead's responsible
 *   and fields), then `POST /api/v4/tasks` with one task, per webhook.
 * - Site forms: bench/support/forms-old-way.ts (the PHP integration's eight steps).
 */
import { buildQuery } from '../../lib/amocrm/client/transport.ts';
import type { AmoRequest } from '../../lib/amocrm/client/core.ts';

export interface OldResponse<T> {
  status: number;
  body: T | undefined;
}

/** The one method the old-way scripts need (bench/support/forms-old-way.ts takes the same). */
export interface OldRequester {
  request<T = unknown>(req: AmoRequest): Promise<OldResponse<T>>;
}

export class OldEventLost extends Error {}

/**
 * The pacing window: 7 per 1.1 s, a 10 % margin a careful integration leaves (requests sent 1 s
 * apart may arrive closer: without it a lone paced system trips the sandbox's strict sliding
 * window now and then).
 */
const WINDOW_MS = 1100;

/** One old system's HTTP client: its own 7/s window, one request at a time. */
export class OldSystem implements OldRequester {
  calls = 0;
  status429 = 0;
  status403 = 0;
  private sent: number[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly perSecond = 7,
  ) {}

  private async pace(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.sent = this.sent.filter((t) => t > now - WINDOW_MS);
      if (this.sent.length < this.perSecond) {
        this.sent.push(now);
        return;
      }
      await new Promise((r) => setTimeout(r, this.sent[0]! + WINDOW_MS + 1 - now));
    }
  }

  async request<T = unknown>(req: AmoRequest): Promise<OldResponse<T>> {
    for (let attempt = 1; ; attempt++) {
      await this.pace();
      this.calls++;
      const res = await fetch(`${this.baseUrl}${req.path}${buildQuery(req.query)}`, {
        method: req.method,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
      });
      const text = await res.text();
      if (res.status === 429) {
        this.status429++;
        if (attempt < 2) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
      }
      if (res.status === 403) this.status403++;
      if (res.status >= 400) throw new OldEventLost(`${req.method} ${req.path}: ${res.status}`);
      return { status: res.status, body: text ? (JSON.parse(text) as T) : undefined };
    }
  }
}

/** The old RDESK gateway, one push: read the lead, PATCH every mapped field. */
export async function oldRdeskPush(
  sys: OldRequester,
  leadId: number,
  fields: Array<{ field_id: number; value: string | number }>,
  price?: number,
) {
  await sys.request({ method: 'GET', path: `/api/v4/leads/${leadId}` });
  await sys.request({
    method: 'PATCH',
    path: `/api/v4/leads/${leadId}`,
    body: {
      ...(price !== undefined ? { price } : {}),
      custom_fields_values: fields.map((f) => ({ field_id: f.field_id, values: [{ value: f.value }] })),
    },
  });
}

/** The old stage-change handler, one webhook: read the lead, add the task for its responsible. */
export async function oldStageRule(sys: OldRequester, leadId: number, task: { typeId: number; text: string; dueIn: number }) {
  const lead = await sys.request<{ responsible_user_id?: number }>({ method: 'GET', path: `/api/v4/leads/${leadId}` });
  await sys.request({
    method: 'POST',
    path: '/api/v4/tasks',
    body: [
      {
        entity_id: leadId,
        entity_type: 'leads',
        task_type_id: task.typeId,
        text: task.text,
        complete_till: Math.floor(Date.now() / 1000) + task.dueIn,
        ...(lead.body?.responsible_user_id ? { responsible_user_id: lead.body.responsible_user_id } : {}),
      },
    ],
  });
}

/** The RDESK booked-push mapping both benches use (the replaced PHP integration's fields): push key → lead field name. */
export const RDESK_BOOKED_FIELDS = {
  status: 'Статус',
  total: 'price',
  paid: 'Оплачено',
  rdeskId: 'ID здравница',
  guests: 'Гости',
  bills: 'Биллинг инфо',
  checkin: 'Заезд',
  checkout: 'Выезд',
} as const;
