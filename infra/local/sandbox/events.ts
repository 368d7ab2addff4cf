/**
 * When the account sends webhooks, and to whom. A write produces events tagged with the setting
 * that subscribes to them (`status_lead`, `update_lead`, …; docs/amocrm-protocol.md#subscriptions);
 * every destination whose settings include the event gets ONE POST with all its events of that
 * write (*assumed*: docs/amocrm-protocol.md#delivery-format, one POST may carry several entities and actions). Body format and
 * delivery rules live in `webhook-out.ts`.
 */
import { encodeWebhookBody, type DeliveryResult, type WebhookDeliverer, type WebhookEntity } from './webhook-out.ts';
import type { AccountState } from './state.ts';

export interface OutEvent {
  /** The subscription setting this event belongs to, e.g. `status_lead`. */
  setting: string;
  entity: WebhookEntity;
  action: string;
  item: Record<string, unknown>;
}

export interface EmittedRecord {
  at: number;
  webhookId: number;
  destination: string;
  events: Array<{ setting: string; entity: string; action: string; id: string | undefined }>;
  result: DeliveryResult | null;
}

export class WebhookHub {
  private pending = new Set<Promise<unknown>>();
  private log: EmittedRecord[] = [];

  constructor(
    private readonly getState: () => AccountState,
    public deliverer: WebhookDeliverer,
    private readonly host: () => string,
    private readonly now: () => number,
  ) {}

  /** Sends events to every subscribed, enabled destination. Returns when all deliveries finished. */
  emit(events: OutEvent[]): Promise<EmittedRecord[]> {
    if (events.length === 0) return Promise.resolve([]);
    const state = this.getState();
    const subs = [...state.webhooks.values()].sort((a, b) => a.sort - b.sort || a.id - b.id);
    const jobs: Array<Promise<EmittedRecord>> = [];
    for (const sub of subs) {
      const mine = events.filter((e) => sub.settings.includes(e.setting));
      if (mine.length === 0) continue;
      const rec: EmittedRecord = {
        at: this.now(),
        webhookId: sub.id,
        destination: sub.destination,
        events: mine.map((e) => ({ setting: e.setting, entity: e.entity, action: e.action, id: itemId(e.item) })),
        result: null,
      };
      this.log.push(rec);
      const body = encodeWebhookBody({ id: state.account.id, subdomain: state.account.subdomain, host: this.host() }, mine);
      const job = this.deliverer.deliver({ id: sub.id, destination: sub.destination }, body).then((r) => {
        rec.result = r;
        return rec;
      });
      jobs.push(job);
    }
    const all = Promise.all(jobs);
    this.pending.add(all);
    void all.finally(() => this.pending.delete(all));
    return all;
  }

  /** Waits for every delivery started so far (pending redeliveries are not waited for: they are minutes away). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    // Redeliveries whose timers fired are the deliverer's own (they have no emit behind them).
    await this.deliverer.flush();
  }

  emitted(): EmittedRecord[] {
    return this.log.map((r) => ({ ...r, events: [...r.events] }));
  }

  reset(): void {
    this.log = [];
  }
}

function itemId(item: Record<string, unknown>): string | undefined {
  const id = item.id ?? (item.note as Record<string, unknown> | undefined)?.element_id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}
