/**
 * What the batch loop tells its host about each message's fate, as calls rather than log lines,
 * so counting (lib/ingest/metrics.ts pipelineMetrics) does not depend on a log line's shape.
 * Every hook is optional and is called only once the action has been carried out (a park whose
 * DLQ send failed is reported failed and comes back: it is reported when it lands). A hook that
 * throws is ignored: observing must never change what happens to a message.
 */

export interface ParkedEvent {
  queue: string;
  /** undefined when the message was not an envelope. */
  route: string | undefined;
  reason: string;
}

export interface DeferredEvent {
  queue: string;
  route: string;
  reason: string;
  /** Seconds since the edge received the message. */
  ageSeconds: number;
  /** This deferral's number (FIFO: from the FIFO ledger). */
  deferrals: number;
}

export interface ProcessedEvent {
  queue: string;
  route: string | undefined;
}

export interface DlqIndexFailedEvent {
  queue: string;
  reason: string;
}

export interface PipelineHooks {
  /** The message is done with and deleted (its processor answered ok). */
  processed?(e: ProcessedEvent): void;
  /** The message is in its DLQ. */
  parked?(e: ParkedEvent): void;
  /** The message was deferred: re-sent with a delay (standard) or left to come back (FIFO). */
  deferred?(e: DeferredEvent): void;
  /** A parked message's DLQ index write failed (it is in the DLQ, unindexed). */
  dlqIndexFailed?(e: DlqIndexFailedEvent): void;
  /** The batch (one invocation) is over, every message reported: e.g. emit what was summed per invocation. */
  batchDone?(): void;
}

/** Calls `f`, swallowing what it throws (see the module comment). */
export function callHook(f: () => void): void {
  try {
    f();
  } catch {
    /* an observer's failure is its own */
  }
}
