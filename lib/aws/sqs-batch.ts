/**
 * The worker's batch loop: SQSEvent in, SQSBatchResponse out (partial batch failure). Each record
 * goes through the pipeline (lib/pipeline/process.ts) and its action is executed; a record is
 * reported in batchItemFailures when its action says so (FIFO defer/retry) or when an SQS or
 * DynamoDB call failed. Standard queues run records side by side (bounded); FIFO queues keep
 * group order (lib/pipeline/fifo.ts). Parks and deferrals are reported to `hooks` once carried
 * out (lib/pipeline/hooks.ts), which is where the worker counts its metrics.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Random, BackoffPolicy } from '../pipeline/backoff.ts';
import type { DeferralPolicy } from '../pipeline/deferral.ts';
import { runFifoBatch } from '../pipeline/fifo.ts';
import { callHook, type PipelineHooks } from '../pipeline/hooks.ts';
import { mapLimit } from '../common/concurrency.ts';
import type { Log } from '../common/log.ts';
import { heldFollowerPark, MAY_HAVE_RUN_ATTRIBUTE, processMessage, type MessageResult, type PipelineConfig } from '../pipeline/process.ts';
import type { FifoLedger } from '../pipeline/fifo-ledger.ts';
import type { ProcessorMap, RoutePolicy } from '../pipeline/registry.ts';
import type { DlqIndex } from '../pipeline/dlq-index.ts';
import { executeAction, holdRecord, type QueueTarget } from './actions.ts';
import { safeErrorDescription } from '../common/errors.ts';
import { WorkerConfigError } from './queues-config.ts';

export interface BatchDeps {
  sqs: SQSClient;
  dlqIndex: DlqIndex;
  queues: readonly QueueTarget[];
  routes: readonly RoutePolicy[];
  /**
   * The route processors, or a queue's processors built at its first batch (the worker's lazy
   * flows). A loader that rejects fails the invocation: the batch goes back to its queue, as a
   * function that cannot start would leave it.
   */
  processors: ProcessorMap | ((queueId: string) => Promise<ProcessorMap>);
  log: Log;
  now: () => number;
  random: Random;
  policy?: BackoffPolicy;
  /** The deferral cap (default DEFAULT_DEFERRAL_POLICY). */
  deferral?: Partial<DeferralPolicy>;
  /** Told of every park and deferral once carried out (metrics). */
  hooks?: PipelineHooks;
  /** Records of a standard-queue batch processed at once. assumed: 10. */
  concurrency?: number;
  /** Counts FIFO retries and deferrals apart (lib/pipeline/fifo-ledger.ts); required when a queue is FIFO. */
  fifoLedger?: FifoLedger;
}

export type BatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export function createBatchHandler(deps: BatchDeps): BatchHandler {
  const byArn = new Map(deps.queues.map((q) => [q.arn, q]));
  const routes = new Map(deps.routes.map((r) => [r.id, r]));
  const configs = new Map<string, PipelineConfig>();
  /** The queue's pipeline settings, with its processors (awaited once: a lazy queue's first batch builds them). */
  async function configFor(q: QueueTarget): Promise<PipelineConfig> {
    const known = configs.get(q.id);
    if (known) return known;
    const processors = typeof deps.processors === 'function' ? await deps.processors(q.id) : deps.processors;
    const cfg: PipelineConfig = {
      queue: q,
      routes,
      processors,
      log: deps.log,
      now: deps.now,
      random: deps.random,
      policy: deps.policy,
      deferral: deps.deferral,
      ...(deps.fifoLedger ? { fifoLedger: deps.fifoLedger } : {}),
    };
    configs.set(q.id, cfg);
    return cfg;
  }
  const ledger = deps.fifoLedger;
  if (!ledger && deps.queues.some((q) => q.fifo)) {
    throw new WorkerConfigError(
      `a FIFO queue (${deps.queues
        .filter((q) => q.fifo)
        .map((q) => q.id)
        .join(', ')}) needs the FIFO ledger (fifoLedger)`,
    );
  }
  // The visibility each failed FIFO head was given: its followers get the same (below).
  const heldFor = new WeakMap<SQSRecord, number>();
  const concurrency = deps.concurrency ?? 10;

  async function handleRecord(
    record: SQSRecord,
    target: QueueTarget,
    cfg: PipelineConfig,
    held?: (msg: { messageId: string; body: string; receiveCount: number }) => MessageResult,
  ): Promise<boolean> {
    const started = deps.now();
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    let result: MessageResult | undefined;
    let done = false;
    let failure: unknown;
    try {
      const recovered = record.messageAttributes?.[MAY_HAVE_RUN_ATTRIBUTE] !== undefined;
      const msg = { messageId: record.messageId, body: record.body, receiveCount, recovered };
      result = held ? held(msg) : await processMessage(msg, cfg);
      done = await executeAction(result.action, record, target, deps);
      if (result.action.kind === 'fail') heldFor.set(record, result.action.visibilityTimeoutSeconds);
      // A FIFO message counted in the ledger is done with: forget it (best effort: ids are never
      // reused, so a leftover item is only garbage, and it expires).
      if (target.fifo && ledger && done && receiveCount > 1) await ledger.forget(target.id, record.messageId).catch(() => undefined);
    } catch (e) {
      failure = e;
      done = false;
    }
    if (failure === undefined && result) report(result, target);
    // One line per message: where it came from, how big, what happened. Never the body or the
    // path parameters (route ids only), never an unredacted error.
    const a = result?.action;
    const line: Record<string, unknown> = {
      queue: target.id,
      route: result?.route,
      bytes: result?.bytes ?? Buffer.byteLength(record.body, 'utf8'),
      outcome: result?.outcome,
      action: a?.kind,
      messageId: record.messageId,
      receiveCount,
      ms: deps.now() - started,
    };
    if (result?.envelope?.attempt) line.attempt = result.envelope.attempt;
    if (result?.envelope?.deferrals) line.deferrals = result.envelope.deferrals;
    if ((a?.kind === 'resend' || a?.kind === 'fail') && a.cause === 'defer') {
      line.deferReason = a.deferral.reason;
      line.ageSeconds = a.deferral.ageSeconds;
    }
    if (a?.kind === 'resend') line.delaySeconds = a.delaySeconds;
    if (a?.kind === 'fail') line.visibilitySeconds = a.visibilityTimeoutSeconds;
    if (a?.kind === 'park') {
      line.reason = a.reason;
      line.attempts = a.attempts;
      line.lastError = a.lastError;
    }
    if (failure !== undefined) {
      line.reported = 'failed';
      line.error = safeErrorDescription(failure, result?.envelope ? Object.values(result.envelope.params) : []);
      deps.log.error('message', line);
    } else if (a?.kind === 'park') {
      deps.log.warn('message', line);
    } else {
      if (!done) line.reported = 'failed';
      deps.log.info('message', line);
    }
    return done;
  }

  /** The hooks, for an action that was carried out (not for one whose SQS call failed). */
  function report(result: MessageResult, target: QueueTarget): void {
    const a = result.action;
    const hooks = deps.hooks;
    if (!hooks) return;
    if (a.kind === 'delete') {
      callHook(() => hooks.processed?.({ queue: target.id, route: result.route }));
    } else if (a.kind === 'park') {
      callHook(() => hooks.parked?.({ queue: target.id, route: result.route, reason: a.reason }));
    } else if ((a.kind === 'resend' || a.kind === 'fail') && a.cause === 'defer') {
      const d = a.deferral;
      callHook(() =>
        hooks.deferred?.({
          queue: target.id,
          route: result.route ?? '',
          reason: d.reason,
          ageSeconds: d.ageSeconds,
          deferrals: d.deferrals,
        }),
      );
    }
  }

  return async (event) => {
    try {
      return await handleBatch(event);
    } finally {
      // Once per invocation, whatever happened (e.g. the metrics sink emits its per-batch sums).
      const hooks = deps.hooks;
      if (hooks) callHook(() => hooks.batchDone?.());
    }
  };

  async function handleBatch(event: SQSEvent): Promise<SQSBatchResponse> {
    const failed: string[] = [];
    // Records of one invocation come from one queue, but group by ARN anyway: cheap and safe.
    const byQueue = new Map<string, SQSRecord[]>();
    for (const r of event.Records) {
      const list = byQueue.get(r.eventSourceARN);
      if (list) list.push(r);
      else byQueue.set(r.eventSourceARN, [r]);
    }
    for (const [arn, records] of byQueue) {
      const target = byArn.get(arn);
      if (!target) {
        // A wiring error, not the message's fault: leave it to SQS (redelivery, then the
        // last-resort redrive) rather than parking it in a DLQ we do not know.
        deps.log.error('records from an unknown queue; reported failed', { eventSourceARN: arn, records: records.length });
        failed.push(...records.map((r) => r.messageId));
        continue;
      }
      // Before any record: a queue whose processors cannot be built fails the whole invocation.
      const cfg = await configFor(target);
      if (target.fifo) {
        const bad = await runFifoBatch(
          records,
          (r) => r.attributes.MessageGroupId ?? '',
          (r) => handleRecord(r, target, cfg),
          async (follower, head) => {
            // One receive short of SQS's own redrive: park it here, with its reason.
            const receives = Number(follower.attributes.ApproximateReceiveCount) || 1;
            const max = target.maxReceiveCount;
            if (max !== undefined && receives >= max) return handleRecord(follower, target, cfg, (msg) => heldFollowerPark(msg, max));
            // Otherwise it comes back with its head, in order, after the head's delay.
            const seconds = heldFor.get(head);
            if (seconds !== undefined) await holdRecord(follower, target, seconds, deps);
            return false;
          },
        );
        failed.push(...bad.map((r) => r.messageId));
      } else {
        const results = await mapLimit(records, target.concurrency ?? concurrency, (r) => handleRecord(r, target, cfg));
        records.forEach((r, i) => {
          if (!results[i]) failed.push(r.messageId);
        });
      }
    }
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  }
}
