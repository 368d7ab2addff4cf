/**
 * The mirror sends a request once, on its first try: not again when the worker retries it, defers
 * it, or when `dlq replay` puts it back (a replay is a new SQS message whose counters are reset).
 */
import { describe, expect, it } from 'vitest';
import { replayBody } from '../../lib/dlq/present.ts';
import { buildEnvelope, parseEnvelope, type Envelope } from '../../lib/envelope.ts';
import { withMirror, type MirrorSender } from '../../lib/ingest/mirroring.ts';
import type { MirrorRoute } from '../../lib/mirror/mirror.ts';
import { captureLog, ctxFor } from './support.ts';

const ROUTE: MirrorRoute = { id: 'zdrav-mc', method: 'POST', path: '/zdrav/mc' };

/** Stands in for the second deployment: records what it was sent. */
class RecordingMirror implements MirrorSender {
  readonly sent: string[] = [];
  async send(env: Envelope) {
    this.sent.push(env.requestId);
    return { status: 'sent' as const, httpStatus: 200 };
  }
}

function push(requestId: string): Envelope {
  return buildEnvelope(
    {
      routeId: ROUTE.id,
      pathParams: {},
      query: {},
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('[{"lead_id":"1"}]'),
      receivedAt: 1_767_225_600_000,
      requestId,
      sourceIp: '203.0.113.7',
    },
    ['content-type'],
  );
}

describe('mirror: first try only', () => {
  it('mirrors the first try; not a retry, a deferral or a replay of the parked message', async () => {
    const mirror = new RecordingMirror();
    const processor = withMirror({}, { mirror, routes: [ROUTE] })[ROUTE.id]!;
    const { log } = captureLog();
    const first = push('gw-1');
    // No flow for the route yet: mirrored as received, then parked no-processor.
    expect(await processor(first, ctxFor(first, log))).toMatchObject({ kind: 'park', reason: 'no-processor' });
    expect(mirror.sent).toEqual(['gw-1']);

    await processor({ ...first, attempt: 1 }, ctxFor(first, log, 2));
    await processor({ ...first, deferrals: 1 }, ctxFor(first, log, 1));
    const replayed = parseEnvelope(replayBody({ body: JSON.stringify(first), envelope: first }, 1_767_300_000_000));
    expect(replayed.attempt).toBeUndefined();
    expect(replayed.deferrals).toBeUndefined();
    await processor(replayed, ctxFor(replayed, log, 1));
    expect(mirror.sent).toEqual(['gw-1']);
  });
});
