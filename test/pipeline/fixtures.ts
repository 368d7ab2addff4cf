import { buildEnvelope, type Envelope } from '../../lib/envelope.ts';

/** A real envelope built the way the edge builds it. */
export function envelope(over: Partial<Envelope> = {}, body = '[{"id":1}]', route = 'zdrav-mc'): Envelope {
  const env = buildEnvelope(
    {
      routeId: route,
      pathParams: {},
      query: {},
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'test' },
      body: Buffer.from(body),
      receivedAt: 1_700_000_000_000,
      requestId: 'req-1',
      sourceIp: '127.0.0.1',
    },
    ['content-type', 'user-agent'],
  );
  return { ...env, ...over };
}
