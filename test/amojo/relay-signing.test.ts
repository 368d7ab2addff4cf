/**
 * The relay's signature (lib/amojo/README.md "Relay signing"): what the gateway sends, the check a
 * messenger runs — verifyRelay, and the README's JavaScript snippet itself, taken from the README
 * and run — and the FIFO keys the inbound route is stored under.
 */
import { readFileSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { relaySignature, verifyRelay } from '../../lib/amojo/relay.ts';
import { fifoKeys } from '../../lib/fifo-keys.ts';
import { routeTable } from '../../lib/routes.ts';

const SECRET = 'relay-secret';
const body = Buffer.from('{"id":"m1","message":{"type":"text","text":"Привет"}}', 'utf8');

/** The README's snippet, without its import line, as a function of (crypto, …args). */
function readmeVerifier(): (secret: string, headers: Record<string, string>, raw: Buffer, now?: number) => boolean {
  const readme = readFileSync(new URL('../../lib/amojo/README.md', import.meta.url), 'utf8');
  const block = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('no js snippet in lib/amojo/README.md');
  const code = block.replace(/^import .*$/m, '');
  const make = new Function('createHmac', 'timingSafeEqual', `${code}\nreturn verifyAmoGateway;`) as (
    h: typeof crypto.createHmac,
    t: typeof crypto.timingSafeEqual,
  ) => ReturnType<typeof readmeVerifier>;
  return make(crypto.createHmac, crypto.timingSafeEqual);
}

describe('relay signing', () => {
  const now = 1_765_130_000_000;
  const ts = String(now / 1000);
  const sig = relaySignature(SECRET, ts, body);

  it('v1= hex HMAC-SHA256 over "<timestamp>.<body>"', () => {
    expect(sig).toBe(
      `v1=${crypto
        .createHmac('sha256', SECRET)
        .update(`${ts}.${body.toString('utf8')}`)
        .digest('hex')}`,
    );
  });

  it('verifyRelay and the README snippet accept it and refuse a changed body, secret, timestamp or a stale one', () => {
    const snippet = readmeVerifier();
    const headers = (t: string, s: string) => ({ 'x-amo-gateway-timestamp': t, 'x-amo-gateway-signature': s });
    for (const check of [
      (t: string, s: string, b: Buffer, n: number, secret = SECRET) => verifyRelay(secret, t, s, b, n),
      (t: string, s: string, b: Buffer, n: number, secret = SECRET) => snippet(secret, headers(t, s), b, n),
    ]) {
      expect(check(ts, sig, body, now)).toBe(true);
      expect(check(ts, sig, Buffer.concat([body, Buffer.from(' ')]), now)).toBe(false);
      expect(check(ts, sig, body, now, 'other')).toBe(false);
      expect(check(String(Number(ts) + 1), sig, body, now)).toBe(false);
      expect(check(ts, sig, body, now + 6 * 60_000)).toBe(false);
      expect(check(ts, sig.slice(0, -1), body, now)).toBe(false);
    }
    expect(verifyRelay(SECRET, undefined, sig, body, now)).toBe(false);
    expect(verifyRelay(SECRET, ts, undefined, body, now)).toBe(false);
  });
});

describe('the inbound route FIFO keys', () => {
  const keys = routeTable.routes.find((r) => r.id === 'chat-inbound')?.fifo;
  it('group per conversation, deduplication per event, both under the channel', () => {
    if (!keys) throw new Error('test bug');
    const b = Buffer.from(JSON.stringify({ id: 'e-1', conversation_id: 'c-9', message: { type: 'text', text: 'x' } }));
    expect(fifoKeys(keys, { channel: 'site' }, b)).toEqual({ groupId: 'site:c-9', dedupId: 'site:e-1' });
  });
});
