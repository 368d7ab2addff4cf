/**
 * Route processors: one async function per route id that turns an envelope into an Outcome.
 * Flows (later issues) register theirs here; every route of the table gets `acknowledge` until
 * then. Processors are given a context, never the SQS record (they stay free of AWS types).
 */
import type { Envelope } from '../envelope.ts';
import type { Route } from '../routes.ts';
import type { Log } from '../shared/log.ts';
import { ok, type Outcome } from './outcome.ts';

/** What the pipeline needs of a route of the table (lib/routes.ts). */
export type RoutePolicy = Pick<Route, 'id' | 'bodyLimitBytes' | 'target'>;

/** The queue a route's messages go to; undefined for function routes. */
export function routeQueueId(route: Pick<Route, 'target'>): string | undefined {
  return route.target.kind === 'queue' ? route.target.queue : undefined;
}

export interface ProcessorContext {
  route: RoutePolicy;
  queueId: string;
  /** The SQS message id of this delivery (changes on every re-send: not an idempotency key). */
  messageId: string;
  /** SQS ApproximateReceiveCount of this delivery. */
  receiveCount: number;
  /** The exact body bytes (decoded once by the pipeline). */
  body: Buffer;
  log: Log;
  now(): number;
}

export type RouteProcessor = (env: Envelope, ctx: ProcessorContext) => Promise<Outcome>;

/** route id → processor; an explicit `undefined` means "no processor" (the message is parked). */
export type ProcessorMap = Readonly<Record<string, RouteProcessor | undefined>>;

/**
 * The issue-1 processor: the pipeline has already checked the envelope and the body limit, so
 * there is nothing left to do but acknowledge. The pipeline logs the one line per message.
 */
export const acknowledge: RouteProcessor = async (env, ctx) => {
  ctx.log.debug('no flow registered yet; acknowledged', { route: env.route });
  return ok();
};

/** Every route gets `acknowledge`, then `overrides` win (an explicit undefined removes one). */
export function buildProcessorMap(routeIds: readonly string[], overrides: ProcessorMap = {}): ProcessorMap {
  const map: Record<string, RouteProcessor | undefined> = {};
  for (const id of routeIds) map[id] = acknowledge;
  for (const [id, p] of Object.entries(overrides)) map[id] = p;
  return map;
}
