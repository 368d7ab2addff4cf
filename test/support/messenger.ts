/**
 * A test messenger's webhook: a real HTTP server that records what the gateway relays (headers,
 * exact body), verifies the relay signature as the README's snippet does, and answers what the
 * test says (200, 503, …; `down()` closes the socket so nothing answers).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyRelay, RELAY_SIGNATURE_HEADER, RELAY_TIMESTAMP_HEADER } from '../../lib/amojo/relay.ts';

export interface Relayed {
  headers: Record<string, string>;
  body: Buffer;
  verified: boolean;
  json: Record<string, unknown>;
  answered: number;
}

export interface TestMessenger {
  url: string;
  secret: string;
  received: Relayed[];
  /** The status the next requests get (default 200). */
  answer(status: number): void;
  close(): Promise<void>;
}

export async function startMessenger(secret = 'test-messenger-secret'): Promise<TestMessenger> {
  const received: Relayed[] = [];
  let status = 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const verified = verifyRelay(secret, headers[RELAY_TIMESTAMP_HEADER], headers[RELAY_SIGNATURE_HEADER], body);
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        /* recorded as is */
      }
      received.push({ headers, body, verified, json, answered: status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    secret,
    received,
    answer: (s) => (status = s),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
