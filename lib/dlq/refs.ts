/**
 * How operators name parked things: `<queue id>/<index id>` for a message the DLQ index knows,
 * `<queue id>/unindexed:<DLQ message id>` for one it does not (moved to the DLQ by SQS's own
 * maxReceiveCount net, or a park whose index write failed). Bare ids (an index id, the message
 * key or a DLQ message id) are accepted too, without the queue.
 */

/** The reason given to a DLQ message that has no index entry. */
export const UNINDEXED = 'unindexed';
const UNINDEXED_PREFIX = 'unindexed:';
/** The route shown for a parked message that is not an envelope (as lib/aws/actions.ts indexes it). */
export const NOT_AN_ENVELOPE = '(not an envelope)';

/** A DLQ tooling error with a message fit for the operator (no tokens, no bodies). */
export class DlqOpsError extends Error {
  override readonly name = 'DlqOpsError';
}

export type ParkedKey = { kind: 'indexed'; id: string } | { kind: 'unindexed'; messageId: string };

export function formatRef(queueId: string, key: ParkedKey): string {
  return `${queueId}/${key.kind === 'indexed' ? key.id : `${UNINDEXED_PREFIX}${key.messageId}`}`;
}

/** Parse what an operator typed: a full ref, or a bare index id, message key or message id. */
export function parseRef(ref: string): { queueId: string | undefined; key: ParkedKey } {
  const slash = ref.indexOf('/');
  const queueId = slash > 0 ? ref.slice(0, slash) : undefined;
  const rest = slash > 0 ? ref.slice(slash + 1) : ref;
  if (rest === '') throw new DlqOpsError(`"${ref}" is not a DLQ id (expected <queue>/<id> as \`dlq list\` prints it)`);
  if (rest.startsWith(UNINDEXED_PREFIX)) return { queueId, key: { kind: 'unindexed', messageId: rest.slice(UNINDEXED_PREFIX.length) } };
  return { queueId, key: { kind: 'indexed', id: rest } };
}

/** When every id names the same queue, only that DLQ needs a pass. */
export function queueOfIds(ids: readonly string[] | undefined): string | undefined {
  if (!ids || ids.length === 0) return undefined;
  const queues = new Set(ids.map((i) => parseRef(i).queueId));
  const [only] = [...queues];
  return queues.size === 1 ? only : undefined;
}
