/**
 * Typed events out: every parsed amoCRM event is published so users attach their
 * own consumers by rule. On AWS the adapter is EventBridge (lib/aws/event-bus.ts: source
 * `amo-gateway`, detail-type per event kind); locally a recording bus keeps them in memory and
 * the runner can print them.
 */
export const EVENT_SOURCE = 'amo-gateway';

export interface BusEvent {
  /** EventBridge detail-type, e.g. `amocrm.lead.status`. */
  detailType: string;
  /** JSON-serialisable detail (≤ 256 KiB once serialised; larger details are refused). */
  detail: Record<string, unknown>;
  /** Epoch ms the event happened (the request's receivedAt). */
  time: number;
}

export interface EventPublisher {
  publish(events: readonly BusEvent[]): Promise<void>;
}

export class EventPublishError extends Error {
  override readonly name = 'EventPublishError';
}

/** EventBridge's per-entry limit, checked before sending so a big event fails clearly. */
export const MAX_DETAIL_BYTES = 256 * 1024 - 2048;

export function serialiseDetail(e: BusEvent): string {
  const s = JSON.stringify(e.detail);
  if (Buffer.byteLength(s) > MAX_DETAIL_BYTES) {
    throw new EventPublishError(`event ${e.detailType} detail is ${Buffer.byteLength(s)} bytes, over the ${MAX_DETAIL_BYTES}-byte limit`);
  }
  return s;
}

/** The local stand-in: records every event; `onEvent` lets the runner print them. */
export class RecordingBus implements EventPublisher {
  readonly events: BusEvent[] = [];
  constructor(private readonly onEvent?: (e: BusEvent) => void) {}

  async publish(events: readonly BusEvent[]): Promise<void> {
    for (const e of events) {
      serialiseDetail(e);
      this.events.push(e);
      this.onEvent?.(e);
    }
  }
}
