/**
 * One parsed amoCRM event through its effects, at most once
 * (docs/architecture.md#exactly-once-effect):
 *
 *   guard.once(<event key>)                       ← a redelivered webhook stops here: duplicate
 *     ├─ guard.once(<event key>#publish)  → bus   ← done once even if a flow below fails
 *     │    (an event over EventBridge's entry limit → the small `amocrm.event-too-large` stand-in)
 *     └─ for each flow of the kind:
 *          guard.once(<event key>#flow:<name>) → flow.handle(event, ctx)
 *
 * The event key is `amocrm:<our account id>:<parser key>` (the parser key is
 * `<sha256:body | rid:X-Amocrm-Requestid>:<entity>:<entityId>:<action>:<index>`; the hash when the
 * item names its change time), so the same
 * webhook delivered twice — by amoCRM or by SQS — is recognised, and two accounts never share a
 * key. A failing step deletes its own in-progress record (Powertools), so the retry runs it again
 * while the steps that completed are skipped. A step whose claim was left by a holder that died
 * (or a delivery that may have run before) tells its flow `mayHaveRun`, so it re-checks before writing.
 */
import type { WebhookEvent } from '../amocrm/webhooks/types.ts';
import type { AccountConfig } from '../config/schema.ts';
import { MAX_DETAIL_BYTES, type BusEvent, type EventPublisher } from '../events/bus.ts';
import { DeferError } from '../pipeline/outcome.ts';
import type { Log } from '../common/log.ts';
import { IdempotencyInProgressError, type IdempotencyGuard } from './idempotency.ts';
import { toBusEvent, toTooLargeEvent, type DeliveryMeta } from './events.ts';
import type { FlowRegistry } from './flows.ts';

export interface EventStepDeps {
  guard: IdempotencyGuard;
  /** Undefined when publishing is off (`events.publish: false`). */
  bus: EventPublisher | undefined;
  flows: FlowRegistry;
  log: Log;
  now(): number;
  /** The delivery may have been partly processed before (ProcessorContext.mayHaveRun). */
  mayHaveRun?: boolean;
  /** Called right after the bus accepted the event (also when a later flow then fails). */
  onPublished?(): void;
}

export interface EventStepResult {
  status: 'ran' | 'duplicate';
  /** True when THIS call published the event. */
  published: boolean;
}

/** The stored idempotency key of an event (README.md here). */
export function eventKey(account: string, ev: Pick<WebhookEvent, 'idempotencyKey'>): string {
  return `amocrm:${account}:${ev.idempotencyKey}`;
}

/** assumed: another worker holding an event usually finishes within seconds; the in-progress record expires with its invocation anyway. */
export const IN_PROGRESS_DEFER_SECONDS = 30;

export async function runEventStep(
  ev: WebhookEvent,
  account: AccountConfig,
  meta: DeliveryMeta,
  deps: EventStepDeps,
): Promise<EventStepResult> {
  const key = eventKey(account.id, ev);
  let busEvent: BusEvent = toBusEvent(ev, meta);
  let tooLarge: number | undefined;
  if (deps.bus) {
    // EventBridge refuses an entry over 256 KiB; that will never change on a retry. Parking the
    // message would block every later event of the webhook (and replay would repeat it), so the
    // bus gets a small stand-in (no data) and the flows still get the full event.
    const size = Buffer.byteLength(JSON.stringify(busEvent.detail));
    if (size > MAX_DETAIL_BYTES) {
      tooLarge = size;
      busEvent = toTooLargeEvent(ev, meta, size, MAX_DETAIL_BYTES);
    }
  }
  let published = false;
  try {
    const r = await deps.guard.once(key, async (event) => {
      const bus = deps.bus;
      if (bus) {
        const p = await deps.guard.once(`${key}#publish`, () => bus.publish([busEvent]));
        published = p.status === 'ran';
        if (published) deps.onPublished?.();
        if (published && tooLarge !== undefined) {
          deps.log.warn('amocrm event too large for the bus; published a stand-in', {
            account: account.id,
            kind: ev.kind,
            entityId: ev.entityId ?? null,
            index: ev.index,
            size: tooLarge,
            maxSize: MAX_DETAIL_BYTES,
          });
        }
      }
      for (const flow of deps.flows.for(ev.kind)) {
        const stepKey = `${key}#flow:${flow.name}`;
        await deps.guard.once(stepKey, (step) =>
          flow.handle(ev, {
            account,
            requestId: meta.requestId,
            receivedAt: meta.receivedAt,
            stepKey,
            // A redelivery, or a claim of this event or step left by a holder that died: the flow may have written already.
            mayHaveRun: deps.mayHaveRun === true || event.resumed || step.resumed,
            log: deps.log,
            now: deps.now,
          }),
        );
      }
    });
    return { status: r.status, published };
  } catch (e) {
    // Another worker is on this event right now (an SQS redelivery racing the first): wait, do not count a failure.
    if (e instanceof IdempotencyInProgressError) throw new DeferError('event-in-progress', IN_PROGRESS_DEFER_SECONDS, { cause: e });
    throw e;
  }
}
