/** EventBridge adapter of the EventPublisher port: PutEvents in chunks of 10, failed entries retried once. */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, EventPublishError, serialiseDetail, type BusEvent, type EventPublisher } from '../events/bus.ts';

const PUT_EVENTS_MAX_ENTRIES = 10;

export function createEventBridgePublisher(client: EventBridgeClient, eventBusName: string): EventPublisher {
  return {
    async publish(events: readonly BusEvent[]): Promise<void> {
      const entries: PutEventsRequestEntry[] = events.map((e) => ({
        EventBusName: eventBusName,
        Source: EVENT_SOURCE,
        DetailType: e.detailType,
        Detail: serialiseDetail(e),
        Time: new Date(e.time),
      }));
      for (let i = 0; i < entries.length; i += PUT_EVENTS_MAX_ENTRIES) {
        let pending = entries.slice(i, i + PUT_EVENTS_MAX_ENTRIES);
        for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
          const out = await client.send(new PutEventsCommand({ Entries: pending }));
          if (!out.FailedEntryCount) {
            pending = [];
            break;
          }
          pending = pending.filter((_, idx) => out.Entries?.[idx]?.ErrorCode);
        }
        if (pending.length > 0) throw new EventPublishError(`${pending.length} event(s) were not accepted by EventBridge`);
      }
    },
  };
}

export { EventBridgeClient };
