/** lib/dlq without AWS: joining a received message with its index entry, queue picking, the absence rule. */
import { describe, expect, it } from 'vitest';
import {
  absenceProven,
  DlqOpsError,
  NOT_AN_ENVELOPE,
  parkedOf,
  pickQueues,
  queueOfIds,
  selects,
  stripMessage,
  unaccounted,
  UNINDEXED,
  listedOfMessage,
  type DlqMessageInput,
} from '../../lib/dlq/index.ts';
import { buildEnvelope } from '../../lib/envelope.ts';
import type { DlqEntry } from '../../lib/pipeline/dlq-index.ts';

const entry: DlqEntry = {
  queueId: 'rdesk',
  id: '2026-01-15T09:00:00.000Z#m-1',
  parkedAt: '2026-01-15T09:00:00.000Z',
  messageKey: 'm-1',
  route: 'zdrav-mc',
  reason: 'bad-payload',
  lastError: 'no bookings',
  attempts: 1,
  firstSeenAt: '2026-01-15T08:59:00.000Z',
  lastSeenAt: '2026-01-15T09:00:00.000Z',
  requestId: 'req',
  expiresAt: 0,
};

function input(over: Partial<DlqMessageInput> = {}): DlqMessageInput {
  return {
    messageId: 'dlq-1',
    receiptHandle: 'h',
    body: 'not json',
    attrs: {},
    sentAt: 1_768_467_600_000,
    receiveCount: 2,
    groupId: undefined,
    ...over,
  };
}

describe('parkedOf', () => {
  it('joins a message with its entry by the dlq-index-id attribute: the ref, route and reason are the index’s', () => {
    const p = parkedOf('rdesk', input({ attrs: { indexId: entry.id, reason: 'bad-payload' } }), new Map([[entry.id, entry]]));
    expect(p).toMatchObject({
      ref: `rdesk/${entry.id}`,
      route: 'zdrav-mc',
      reason: 'bad-payload',
      parkedAt: Date.parse(entry.parkedAt),
      entry,
      dlqReceiveCount: 2,
    });
    expect(p.envelope).toBeUndefined();
    expect(p.envelopeError).toMatch(/./);
    expect(stripMessage(p)).toEqual({
      ref: p.ref,
      queueId: 'rdesk',
      route: 'zdrav-mc',
      reason: 'bad-payload',
      parkedAt: p.parkedAt,
      key: { kind: 'indexed', id: entry.id },
      entry,
    });
  });

  it('a message without an entry is unindexed: its route from the envelope (or none), parked when SQS got it', () => {
    const env = buildEnvelope(
      {
        routeId: 'amojo-hook',
        pathParams: { scope: 'scope-secret-0123456789' },
        query: {},
        headers: {},
        body: Buffer.from('{}'),
        receivedAt: 1_768_467_000_000,
        requestId: 'r',
        sourceIp: '10.0.0.1',
      },
      [],
    );
    const withEnv = parkedOf(
      'amojo',
      input({ body: JSON.stringify({ ...env, attempt: 3, lastError: 'boom scope-secret-0123456789' }), attrs: { indexId: 'gone' } }),
      new Map(),
    );
    expect(withEnv).toMatchObject({
      ref: 'amojo/unindexed:dlq-1',
      route: 'amojo-hook',
      reason: UNINDEXED,
      parkedAt: 1_768_467_600_000,
      entry: undefined,
    });
    // The path parameter (a per-account secret) is redacted out of the listed last error.
    expect(listedOfMessage(withEnv)).toMatchObject({ attempts: 3, firstSeenAt: 1_768_467_000_000, inDlq: true });
    expect(listedOfMessage(withEnv).lastError).toMatch(/^boom /);
    expect(listedOfMessage(withEnv).lastError).not.toContain('scope-secret-0123456789');
    const raw = parkedOf('amojo', input(), new Map());
    expect(raw.route).toBe(NOT_AN_ENVELOPE);
    expect(selects({ reason: UNINDEXED, ids: ['dlq-1'] }, raw)).toBe(true);
  });
});

describe('queues', () => {
  const queues = [
    { id: 'rdesk', url: 'u1', dlqUrl: 'd1', fifo: false },
    { id: 'amojo', url: 'u2', dlqUrl: 'd2', fifo: false },
  ];
  it('pickQueues: all, the one named, or a clear error', () => {
    expect(pickQueues(queues, undefined)).toEqual(queues);
    expect(pickQueues(queues, 'amojo')).toEqual([queues[1]]);
    expect(() => pickQueues(queues, 'nope')).toThrow(new DlqOpsError('unknown queue "nope" (known: rdesk, amojo)'));
  });
  it('queueOfIds: one DLQ only when every id names the same queue', () => {
    expect(queueOfIds(undefined)).toBeUndefined();
    expect(queueOfIds(['rdesk/a', 'rdesk/b'])).toBe('rdesk');
    expect(queueOfIds(['rdesk/a', 'amojo/b'])).toBeUndefined();
    expect(queueOfIds(['rdesk/a', 'bare'])).toBeUndefined();
  });
});

describe('absence of a message a pass did not see', () => {
  it('is proven only when the DLQ holds nothing the pass cannot account for', () => {
    // The pass holds 3, the DLQ shows 3 in flight and nothing else: every message was seen.
    expect(unaccounted({ visible: 0, inFlight: 3, delayed: 0 }, 3)).toBe(0);
    expect(absenceProven(unaccounted({ visible: 0, inFlight: 3, delayed: 0 }, 3))).toBe(true);
    // Someone else holds 2 (a concurrent show / list --scan): not proven.
    expect(unaccounted({ visible: 0, inFlight: 5, delayed: 0 }, 3)).toBe(2);
    expect(absenceProven(2)).toBe(false);
    // Let go (or newly parked) after the pass looked: visible again, not proven.
    expect(unaccounted({ visible: 1, inFlight: 3, delayed: 0 }, 3)).toBe(1);
    expect(unaccounted({ visible: 0, inFlight: 0, delayed: 1 }, 0)).toBe(1);
    // A count that still shows fewer in flight than the pass holds (lagging) is not "negative others".
    expect(unaccounted({ visible: 0, inFlight: 1, delayed: 0 }, 3)).toBe(0);
    // A depth that could not be read proves nothing.
    expect(unaccounted(undefined, 0)).toBeUndefined();
    expect(absenceProven(undefined)).toBe(false);
  });
});
