/**
 * One message through the pipeline: parse the envelope, find its route and processor, check the
 * body limit, run the processor, decide. No AWS types; the SQS side lives in lib/aws.
 */
import { envelopeBody, EnvelopeError, parseEnvelope, type Envelope } from '../envelope.ts';
import type { Random, BackoffPolicy } from './backoff.ts';
import { decide, parkRaw, type Action, type QueuePolicy } from './decide.ts';
import type { DeferralPolicy } from './deferral.ts';
import type { FifoCounts, FifoLedger } from './fifo-ledger.ts';
import type { Log } from '../common/log.ts';
import { outcomeFromError, park, PARK_REASONS, retry, type Outcome, type OutcomeKind } from './outcome.ts';
import { describeError } from '../common/errors.ts';
import { safeErrorText } from '../common/redact.ts';
import { routeQueueId, type ProcessorMap, type RoutePolicy } from './registry.ts';

export interface MessageInput {
  messageId: string;
  /** The SQS message body (the envelope's JSON). */
  body: string;
  receiveCount: number;
  /** The message carries MAY_HAVE_RUN_ATTRIBUTE (the local journal re-queued it after a crash while it was in flight). */
  recovered?: boolean;
}

/**
 * The SQS message attribute that marks a message which may have been processed before although
 * nothing else says so: the local runner's journal sets it on messages that were in flight when
 * the runner was killed (fauxqs starts afresh, so their receive count is 1 again).
 */
export const MAY_HAVE_RUN_ATTRIBUTE = 'AmoMayHaveRun';

/** ProcessorContext.mayHaveRun: any sign that an earlier delivery of this message may have written something. */
export function mayHaveRun(
  env: Pick<Envelope, 'attempt' | 'deferrals' | 'replayedAt'>,
  msg: Pick<MessageInput, 'receiveCount' | 'recovered'>,
): boolean {
  return (
    msg.receiveCount > 1 || (env.attempt ?? 0) > 0 || (env.deferrals ?? 0) > 0 || env.replayedAt !== undefined || msg.recovered === true
  );
}

export interface PipelineConfig {
  queue: QueuePolicy;
  routes: ReadonlyMap<string, RoutePolicy>;
  processors: ProcessorMap;
  log: Log;
  now: () => number;
  random: Random;
  policy?: BackoffPolicy;
  /** The deferral cap (default DEFAULT_DEFERRAL_POLICY; a queue's own wins). */
  deferral?: Partial<DeferralPolicy>;
  /** Counts a FIFO message's retries and deferrals apart (fifo-ledger.ts); the worker requires it for a FIFO queue. */
  fifoLedger?: FifoLedger;
}

export interface MessageResult {
  action: Action;
  outcome: OutcomeKind;
  /** The route id when the message was an envelope (never its path parameters). */
  route: string | undefined;
  /** Size of the request body (decoded) or, for a non-envelope, of the raw message. */
  bytes: number;
  envelope: Envelope | undefined;
}

export async function processMessage(msg: MessageInput, cfg: PipelineConfig): Promise<MessageResult> {
  let env: Envelope;
  try {
    env = parseEnvelope(msg.body);
  } catch (e) {
    const error = e instanceof EnvelopeError ? e.message : describeError(e);
    return {
      action: parkRaw(PARK_REASONS.badEnvelope, error, msg.receiveCount),
      outcome: 'park',
      route: undefined,
      bytes: Buffer.byteLength(msg.body, 'utf8'),
      envelope: undefined,
    };
  }

  const body = envelopeBody(env);
  const result = async (outcome: Outcome): Promise<MessageResult> => ({
    action: decide({
      envelope: env,
      outcome,
      queue: cfg.queue,
      receiveCount: msg.receiveCount,
      random: cfg.random,
      now: cfg.now(),
      ...(cfg.policy ? { policy: cfg.policy } : {}),
      ...(cfg.deferral ? { deferral: cfg.deferral } : {}),
      ...(cfg.queue.fifo && cfg.fifoLedger ? { fifoCounts: await fifoCounts(cfg.fifoLedger, cfg.queue.id, msg, outcome) } : {}),
    }),
    outcome: outcome.kind,
    route: env.route,
    bytes: body.length,
    envelope: env,
  });

  const route = cfg.routes.get(env.route);
  if (!route) return result(park(PARK_REASONS.unknownRoute, `route "${env.route}" is not in the route table`));
  const routeQueue = routeQueueId(route);
  if (routeQueue !== undefined && routeQueue !== cfg.queue.id) {
    return result(park(PARK_REASONS.wrongQueue, `route "${route.id}" belongs to queue "${routeQueue}", not "${cfg.queue.id}"`));
  }
  // API Gateway only enforces its own 10 MB, so the route's limit is enforced here (docs/architecture.md#envelope).
  if (body.length > route.bodyLimitBytes) {
    return result(park(PARK_REASONS.bodyTooLarge, `body of ${body.length} bytes exceeds the route limit of ${route.bodyLimitBytes}`));
  }
  // No processor, no delete: a route whose flow has not landed parks its messages (visible in
  // `dlq list`, alarmed) until one is deployed and they are replayed.
  const processor = cfg.processors[env.route];
  if (!processor) return result(park(PARK_REASONS.noProcessor, `no processor registered for route "${env.route}"`));

  let outcome: Outcome;
  try {
    outcome = await processor(env, {
      route,
      queueId: cfg.queue.id,
      messageId: msg.messageId,
      receiveCount: msg.receiveCount,
      mayHaveRun: mayHaveRun(env, msg),
      body,
      log: cfg.log,
      now: cfg.now,
    });
  } catch (e) {
    outcome = outcomeFromError(e);
  }
  if (!isOutcome(outcome)) outcome = retry(`processor for route "${env.route}" returned no outcome`);
  return result(outcome);
}

/**
 * A FIFO follower held behind its group's failed head that SQS would move to the DLQ on its next
 * receive (receive count = the queue's maxReceiveCount): parked `receive-limit` by the worker, with
 * its reason, instead (docs/architecture.md#failure-semantics). Never processed: order forbids it.
 */
export function heldFollowerPark(msg: MessageInput, maxReceiveCount: number): MessageResult {
  const why = `held behind its group's failed head for ${msg.receiveCount} receives (the queue's maxReceiveCount ${maxReceiveCount}): SQS would move it to the DLQ without a reason on the next one`;
  let env: Envelope;
  try {
    env = parseEnvelope(msg.body);
  } catch {
    const action = parkRaw(PARK_REASONS.receiveLimit, why, msg.receiveCount);
    return { action, outcome: 'park', route: undefined, bytes: Buffer.byteLength(msg.body, 'utf8'), envelope: undefined };
  }
  const lastError = safeErrorText(why, Object.values(env.params));
  return {
    action: { kind: 'park', reason: PARK_REASONS.receiveLimit, lastError, attempts: env.attempt ?? 0, envelope: { ...env, lastError } },
    outcome: 'park',
    route: env.route,
    bytes: envelopeBody(env).length,
    envelope: env,
  };
}

/**
 * The ledger's counts for the decision: a retry or deferral is counted first (a failure to count
 * throws, and the record is reported failed as it is); a park reads what was counted (nothing to
 * read on a first receive).
 */
async function fifoCounts(ledger: FifoLedger, queueId: string, msg: MessageInput, outcome: Outcome): Promise<FifoCounts> {
  if (outcome.kind === 'retry') return ledger.add(queueId, msg.messageId, 'attempts');
  if (outcome.kind === 'defer') return ledger.add(queueId, msg.messageId, 'deferrals');
  if (outcome.kind === 'park' && msg.receiveCount > 1) return ledger.get(queueId, msg.messageId);
  return { attempts: 0, deferrals: 0 };
}

const KINDS: ReadonlySet<string> = new Set<OutcomeKind>(['ok', 'defer', 'retry', 'park']);

/** Processors are typed, but a JS one (or a forgotten `return`) must not crash the batch. */
function isOutcome(o: unknown): o is Outcome {
  return typeof o === 'object' && o !== null && KINDS.has((o as { kind?: unknown }).kind as string);
}
