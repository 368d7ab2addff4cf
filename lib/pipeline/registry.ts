/**
 * Route processors: one async function per route id that turns an envelope into an Outcome.
 * Flows (later issues) register theirs here. A queue route without a processor is NOT
 * acknowledged: the pipeline parks its messages with reason `no-processor` (a test walks every
 * queue route of the table through the worker to hold this). Processors are given a context,
 * never the SQS record (they stay free of AWS types).
 */
import type { Envelope } from '../envelope.ts';
import type { Route } from '../routes.ts';
import type { Log } from '../common/log.ts';
import { park, PARK_REASONS, type Outcome } from './outcome.ts';

/** What the pipeline needs of a route of the table (lib/routes.ts). */
export type RoutePolicy = Pick<Route, 'id' | 'bodyLimitBytes' | 'target'>;

/** The queue a route's messages go to: a queue route's, or the one its function feeds; undefined for a function route that feeds none. */
export function routeQueueId(route: Pick<Route, 'target'>): string | undefined {
  return route.target.queue;
}

export interface ProcessorContext {
  route: RoutePolicy;
  queueId: string;
  /** The SQS message id of this delivery (changes on every re-send: not an idempotency key). */
  messageId: string;
  /** SQS ApproximateReceiveCount of this delivery. */
  receiveCount: number;
  /**
   * This message may have been partly processed before (its effects may have landed): SQS
   * delivered it more than once (a worker that died mid-batch: timeout, OOM, a killed runner),
   * the envelope says it was retried, deferred or replayed, or the local journal re-queued it
   * after a crash while it was in flight. Writes that amoCRM cannot deduplicate must re-check
   * first (`checkFirst`) when this is true (docs/architecture.md#failure-semantics).
   */
  mayHaveRun: boolean;
  /** The exact body bytes (decoded once by the pipeline). */
  body: Buffer;
  log: Log;
  now(): number;
}

export type RouteProcessor = (env: Envelope, ctx: ProcessorContext) => Promise<Outcome>;

/** route id → processor; an explicit `undefined` means "no processor" (the message is parked). */
export type ProcessorMap = Readonly<Record<string, RouteProcessor | undefined>>;

/** The routes of `routeIds` that have no processor in `map` (their messages are parked `no-processor`). */
export function routesWithoutProcessor(routeIds: readonly string[], map: ProcessorMap): string[] {
  return routeIds.filter((id) => !map[id]);
}

/**
 * Parks with `no-processor`, as the pipeline does for a route missing from the map: for a wrapper
 * (the mirror) that must run on a route whose flow has not landed, without acknowledging it.
 */
export const parkNoProcessor: RouteProcessor = async (env) =>
  park(PARK_REASONS.noProcessor, `no processor registered for route "${env.route}"`);
