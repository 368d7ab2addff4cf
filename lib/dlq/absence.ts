/**
 * When may a tool conclude that an index entry's message is gone from its DLQ?
 *
 * Reading a DLQ means receiving from it, and a received message is invisible to every other
 * reader until it is let go. A pass that did not see a message has therefore NOT shown that the
 * message is gone: another `dlq show`, `list --scan`, `replay` or `purge` (or one that died
 * mid-scan: its messages come back when its hold runs out) may be holding it right now. Treating
 * that as "stale" made `dlq purge` delete the index entries of live messages.
 *
 * The proof used instead: at the end of a complete pass, while the pass still holds every message
 * it received and did not delete, the DLQ's own counts must show nothing else — no visible or
 * delayed message, and no more in flight than this pass holds. Then every message in the DLQ is
 * one the pass looked at, and an entry (older than the pass) whose message it did not see has no
 * message. Otherwise absence is unproven and the entries are kept.
 *
 * SQS's counts are approximate (eventually consistent, "within about a minute" — [aws-sqs
 * GetQueueAttributes] https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html).
 * *assumed*: the usual error of a just-changed count is to still show messages that were just
 * received or deleted, which makes the check keep entries (one more purge later removes them),
 * never the other way round. fauxqs and the local runner count exactly.
 */

export interface DlqDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

/**
 * Messages in the DLQ that a pass holding `heldByPass` messages cannot account for: visible or
 * delayed ones (it would have received them; they arrived or were let go after it looked), and
 * those in flight beyond its own. `undefined` depth (it could not be read) counts as unknown.
 */
export function unaccounted(depth: DlqDepth | undefined, heldByPass: number): number | undefined {
  if (!depth) return undefined;
  return depth.visible + depth.delayed + Math.max(0, depth.inFlight - heldByPass);
}

/** Absence of a message the pass did not see is proven only when nothing is unaccounted for. */
export function absenceProven(unaccountedCount: number | undefined): boolean {
  return unaccountedCount === 0;
}
