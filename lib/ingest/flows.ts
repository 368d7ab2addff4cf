/**
 * The flow registry: what runs for each typed amoCRM event after it is published. Later issues
 * register their flows here (lib/rules registers one flow per rule; chat relay, …).
 *
 * Each flow runs under its own idempotency step (`<event key>#flow:<name>`), so when one flow of
 * an event fails, the flows (and the publish) already done are skipped on the retry.
 */
import type { WebhookEvent } from '../amocrm/webhooks/types.ts';
import type { AccountConfig } from '../config/schema.ts';
import type { Log } from '../common/log.ts';

export interface FlowContext {
  /** Our account (from the config) the webhook belongs to. */
  account: AccountConfig;
  /** The gateway's request id of the delivery (API Gateway / runner). */
  requestId: string;
  /** Epoch ms the delivery was received (acked). */
  receivedAt: number;
  /**
   * This flow step's idempotency key, unique per (event, flow): usable as amoCRM's `request_id`
   * or as another system's idempotency key.
   */
  stepKey: string;
  /**
   * This step may have run before and died before its completion was recorded (a redelivery, a
   * crashed holder's claim taken over): writes amoCRM cannot deduplicate must re-check first.
   * Absent means false.
   */
  mayHaveRun?: boolean;
  log: Log;
  now(): number;
}

/**
 * Runs the flow's effect for one event. Throw DeferError (rate budget, account blocked),
 * RetryableError (transient) or PermanentError (never succeeds) to choose the outcome; any other
 * error is a retry.
 */
export type FlowHandler = (event: WebhookEvent, ctx: FlowContext) => Promise<void>;

export interface FlowRegistration {
  name: string;
  /** Event kinds (`lead.status`, …) or `*` for every kind. */
  kinds: '*' | readonly string[];
  handle: FlowHandler;
}

const NAME = /^[a-z][a-z0-9-]{0,40}$/;

export class FlowRegistry {
  private readonly flows: FlowRegistration[] = [];

  /** Registers `handle` for `kinds` under a unique kebab-case `name` (part of its idempotency keys: keep it stable). */
  on(kinds: '*' | string | readonly string[], name: string, handle: FlowHandler): this {
    if (!NAME.test(name)) throw new Error(`flow name "${name}" must be kebab-case (a-z, 0-9, -), starting with a letter`);
    if (this.flows.some((f) => f.name === name)) throw new Error(`a flow named "${name}" is already registered`);
    this.flows.push({ name, kinds: kinds === '*' ? '*' : typeof kinds === 'string' ? [kinds] : [...kinds], handle });
    return this;
  }

  /** The flows for `kind`, in registration order. */
  for(kind: string): readonly FlowRegistration[] {
    return this.flows.filter((f) => f.kinds === '*' || f.kinds.includes(kind));
  }

  get size(): number {
    return this.flows.length;
  }
}
