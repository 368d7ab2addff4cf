/**
 * A parsed amoCRM event → the bus event users write EventBridge rules against (README.md here).
 * Detail-type `amocrm.<kind>` (e.g. `amocrm.lead.status`), source `amo-gateway`. The detail
 * carries the typed data, never the request body.
 */
import type { WebhookEvent, WebhookFamily } from '../amocrm/webhooks/types.ts';
import type { BusEvent } from '../events/bus.ts';

export const DETAIL_TYPE_PREFIX = 'amocrm.';

export function detailTypeOf(kind: string): string {
  return `${DETAIL_TYPE_PREFIX}${kind}`;
}

/** The `detail` of every `amocrm.*` event. */
export interface AmocrmEventDetail {
  /** Our account id (the config's `accounts[].id`), not amoCRM's number. */
  account: string;
  /** `lead.status`, `contact.update`, …, or `raw` for items the parser does not type. */
  kind: string;
  /** `lead`, `contact`, `company`, `task`, `unsorted`, `catalog`, `message`, `talk` (the body key for `raw`). */
  entity: string;
  action: string;
  /** `account` (account webhooks) or `digital-pipeline` (the short DP form). */
  family: WebhookFamily;
  /** The entity's id (a number; a string for unsorted uids and message ids); null when the item has none. */
  entityId: number | string | null;
  /**
   * The typed item (lib/amocrm/webhooks/types.ts: REST v4 names, ids and dates as numbers). For
   * `raw` events: the item as decoded (every leaf a string) and `reason` says why it is untyped.
   */
  data: unknown;
  reason?: string;
  /** Position of the event in the webhook body (several events per POST keep body order). */
  index: number;
  /** `<rid:X-Amocrm-Requestid | sha256:body>:<entity>:<entityId>:<action>:<index>`: the same for a redelivery. */
  idempotencyKey: string;
  /** The gateway's request id of the delivery (API Gateway request id; the runner's locally). */
  requestId: string;
  /** amoCRM's `X-Amocrm-Requestid`, when the delivery had one. */
  amocrmRequestId?: string;
  /** Epoch ms the gateway received (acked) the webhook. */
  receivedAt: number;
}

export interface DeliveryMeta {
  account: string;
  requestId: string;
  amocrmRequestId?: string;
  receivedAt: number;
}

export function toBusEvent(ev: WebhookEvent, meta: DeliveryMeta): BusEvent & { detail: AmocrmEventDetail & Record<string, unknown> } {
  const detail: AmocrmEventDetail & Record<string, unknown> = {
    account: meta.account,
    kind: ev.kind,
    entity: ev.entity,
    action: ev.action,
    family: ev.family,
    entityId: ev.entityId ?? null,
    data: ev.kind === 'raw' ? ev.raw : ev.data,
    ...(ev.kind === 'raw' ? { reason: ev.reason } : {}),
    index: ev.index,
    idempotencyKey: ev.idempotencyKey,
    requestId: meta.requestId,
    ...(meta.amocrmRequestId !== undefined ? { amocrmRequestId: meta.amocrmRequestId } : {}),
    receivedAt: meta.receivedAt,
  };
  return { detailType: detailTypeOf(ev.kind), detail, time: meta.receivedAt };
}

/** Detail-type of the stand-in for an event whose detail is over EventBridge's entry limit. */
export const EVENT_TOO_LARGE_DETAIL_TYPE = `${DETAIL_TYPE_PREFIX}event-too-large`;

/** The `detail` of `amocrm.event-too-large`: who, what and how big — never the data. */
export interface EventTooLargeDetail {
  account: string;
  /** The kind of the event it stands for (`lead.note`, …). */
  kind: string;
  entity: string;
  action: string;
  family: WebhookFamily;
  entityId: number | string | null;
  index: number;
  /** The stood-for event's key: a consumer that must see the data can dedupe/fetch on it. */
  idempotencyKey: string;
  /** Bytes of the full event's serialised detail, and the limit it is over. */
  size: number;
  maxSize: number;
  requestId: string;
  amocrmRequestId?: string;
  receivedAt: number;
}

/**
 * The small stand-in published instead of an event too large for the bus (the full event still
 * goes to the flows): consumers learn that it happened without its data.
 */
export function toTooLargeEvent(
  ev: WebhookEvent,
  meta: DeliveryMeta,
  size: number,
  maxSize: number,
): BusEvent & { detail: EventTooLargeDetail & Record<string, unknown> } {
  const detail: EventTooLargeDetail & Record<string, unknown> = {
    account: meta.account,
    kind: ev.kind,
    entity: ev.entity,
    action: ev.action,
    family: ev.family,
    entityId: ev.entityId ?? null,
    index: ev.index,
    idempotencyKey: ev.idempotencyKey,
    size,
    maxSize,
    requestId: meta.requestId,
    ...(meta.amocrmRequestId !== undefined ? { amocrmRequestId: meta.amocrmRequestId } : {}),
    receivedAt: meta.receivedAt,
  };
  return { detailType: EVENT_TOO_LARGE_DETAIL_TYPE, detail, time: meta.receivedAt };
}
