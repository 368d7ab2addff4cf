import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../support/fixtures.ts';
import {
  AMOJO_CONTENT_TYPE,
  EMPTY_BODY_MD5,
  contentMd5,
  parseRfc2822Date,
  rfc2822Date,
  signCallbackBody,
  signRequest,
  stringToSign,
  verifyCallbackSignature,
  verifyRequestSignature,
} from '../../lib/amojo/signing.ts';

/** The real bodies (docs/architecture.md#real-payloads); read raw, never trimmed. */
const FIXTURES = FIXTURES_DIR;
const fixture = (rel: string): Buffer => readFileSync(`${FIXTURES}/${rel}`);

// The channel of amoCRM's worked example ([chat-steps], docs/amojo-protocol.md#test-vector; [names] = docs/amojo-protocol.md#sources).
const SECRET = 'f2d7f8704eff95087ed45b23ba99c0b5aac8278e';
const CHANNEL = '344a5002-f8ca-454d-af3d-396180102ac7';
const SCOPE = `${CHANNEL}_52e591f7-c98f-4255-8495-827210138c81`;

describe('official amojo vectors (chat-step-by-step)', () => {
  it('vector #1 (amojo-protocol#test-vector): connect — MD5 and X-Signature match the docs byte for byte', () => {
    const body = JSON.stringify({ account_id: '52e591f7-c98f-4255-8495-827210138c81', title: 'ChatsIntegration', hook_api_version: 'v2' });
    const date = 'Wed, 15 Dec 2021 23:12:55 +0000';
    const at = parseRfc2822Date(date);
    expect(at).toBe(Date.UTC(2021, 11, 15, 23, 12, 55));
    const h = signRequest(SECRET, { method: 'post', path: `/v2/origin/custom/${CHANNEL}/connect`, body, date: at! });
    expect(h).toEqual({
      Date: date,
      'Content-Type': 'application/json',
      'Content-MD5': '2fbcb3c652b61e24e004daddfc73d0ce',
      'X-Signature': '81211856ce0c5095f3e1a90c0a38dc9d736cfd55',
    });
    expect(
      verifyRequestSignature(SECRET, { method: 'POST', path: `/v2/origin/custom/${CHANNEL}/connect`, headers: h, body, now: at! }),
    ).toEqual({ ok: true });
  });

  // The three below are also printed in [chat-steps] (requests with Date/Content-MD5/X-Signature) and
  // were recomputed here; they are not in docs/amojo-protocol.md#test-vector, so they are extra evidence.
  it('chat-step-by-step new_message: the body is PHP json_encode output (escaped "/" and \\u Cyrillic) — the MD5 is over those exact bytes', () => {
    const body = String.raw`{"event_type":"new_message","payload":{"timestamp":1639660529,"msec_timestamp":1639660529379,"msgid":"my_int-5f2836a8ca481","conversation_id":"my_int-d5a421f7f218","sender":{"id":"my_int-1376265f-86df-4c49-a0c3-a4816df41af8","avatar":"https:\/\/images.pexels.com\/photos\/10050979\/pexels-photo-10050979.jpeg?auto=compress&cs=tinysrgb&dpr=2&w=500","profile":{"phone":"+79151112233","email":"example.client@example.com"},"profile_link":"https:\/\/example.com\/profile\/example.client","name":"\u0412\u0430\u0441\u044f \u043a\u043b\u0438\u0435\u043d\u0442"},"message":{"type":"text","text":"\u0421\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435 \u043e\u0442 \u043a\u043b\u0438\u0435\u043d\u0442\u0430"},"silent":false}}`;
    const h = signRequest(SECRET, { method: 'POST', path: `/v2/origin/custom/${SCOPE}`, body, date: Date.UTC(2021, 11, 16, 13, 15, 29) });
    expect(h['Content-MD5']).toBe('223ef85def871bc7cb58aa6f02f0a26e');
    expect(h['X-Signature']).toBe('29b49e9eaf03f13a66ecaff315f2855b31b25eee');
    // The same object re-serialised by JSON.stringify is different bytes: a different MD5.
    expect(contentMd5(JSON.stringify(JSON.parse(body)))).not.toBe('223ef85def871bc7cb58aa6f02f0a26e');
  });

  it('chat-step-by-step delivery_status and DELETE disconnect', () => {
    const ds = JSON.stringify({ msgid: '079e44fb-fc22-476b-9e8a-421b688ec53b', delivery_status: 2, error_code: 905, error: 'Error text' });
    const h1 = signRequest(SECRET, {
      method: 'POST',
      path: `/v2/origin/custom/${SCOPE}/079e44fb-fc22-476b-9e8a-421b688ec53b/delivery_status`,
      body: ds,
      date: Date.UTC(2021, 11, 16, 12, 58, 40),
    });
    expect([h1['Content-MD5'], h1['X-Signature']]).toEqual([
      'a0bbbac729c6341f0a521e2db7a8a236',
      'ca51f810785031385a801f41103244713c1a2352',
    ]);
    const dc = JSON.stringify({ account_id: '52e591f7-c98f-4255-8495-827210138c81' });
    const h2 = signRequest(SECRET, {
      method: 'DELETE',
      path: `/v2/origin/custom/${CHANNEL}/disconnect`,
      body: dc,
      date: Date.UTC(2021, 11, 15, 23, 59, 28),
    });
    expect(h2.Date).toBe('Wed, 15 Dec 2021 23:59:28 +0000');
    expect([h2['Content-MD5'], h2['X-Signature']]).toEqual([
      '271fa2e4fb0ff84a3ef9689027bd1f38',
      'e1678e3b6aa674b5127f4feb448e6200ce0bfc72',
    ]);
  });
});

describe('contentMd5 / rfc2822Date / stringToSign', () => {
  it('MD5 of the empty body (GET) and of "test" (fcritic/amojo-api-client tests)', () => {
    expect(contentMd5('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(contentMd5(new Uint8Array())).toBe(EMPTY_BODY_MD5);
    expect(contentMd5()).toBe(EMPTY_BODY_MD5);
    expect(contentMd5('test')).toBe('098f6bcd4621d373cade4e832627b4f6');
    expect(contentMd5('test\n')).not.toBe(contentMd5('test')); // a trailing newline counts
    expect(contentMd5(Buffer.from('Тест'))).toBe(contentMd5('Тест'));
  });

  it('formats the date like PHP RFC2822 in UTC, two-digit day', () => {
    expect(rfc2822Date(Date.UTC(2020, 9, 3, 15, 11, 21))).toBe('Sat, 03 Oct 2020 15:11:21 +0000');
    expect(rfc2822Date(new Date(Date.UTC(2024, 1, 29, 0, 0, 5)))).toBe('Thu, 29 Feb 2024 00:00:05 +0000');
    expect(() => rfc2822Date(new Date('nope'))).toThrow(RangeError);
  });

  it('parses +0000, other offsets and GMT; rejects junk and a wrong weekday', () => {
    const t = Date.UTC(2021, 11, 15, 23, 12, 55);
    expect(parseRfc2822Date('Wed, 15 Dec 2021 23:12:55 +0000')).toBe(t);
    expect(parseRfc2822Date('Thu, 16 Dec 2021 02:12:55 +0300')).toBe(t);
    expect(parseRfc2822Date(new Date(t).toUTCString())).toBe(t);
    expect(parseRfc2822Date('15 Dec 2021 23:12:55 +0000')).toBe(t);
    expect(parseRfc2822Date('Mon, 15 Dec 2021 23:12:55 +0000')).toBeUndefined();
    expect(parseRfc2822Date('2021-12-15T23:12:55Z')).toBeUndefined();
    expect(parseRfc2822Date('Wed, 31 Feb 2021 23:12:55 +0000')).toBeUndefined();
  });

  it('joins the five lines with \\n, method upper-cased, no trailing newline', () => {
    expect(stringToSign({ method: 'get', contentMd5: EMPTY_BODY_MD5, contentType: AMOJO_CONTENT_TYPE, date: 'D', path: '/p' })).toBe(
      `GET\n${EMPTY_BODY_MD5}\napplication/json\nD\n/p`,
    );
  });
});

describe('verifyRequestSignature', () => {
  const now = Date.UTC(2026, 0, 10, 12, 0, 0);
  const path = `/v2/origin/custom/${SCOPE}/chats`;
  const body = '{"conversation_id":"c1","user":{"id":"u1","name":"Имя"}}';
  const signed = signRequest(SECRET, { method: 'POST', path, body, date: now });
  const verify = (
    over: Partial<{ method: string; path: string; headers: Record<string, string | undefined>; body: string; now: number; secret: string }>,
  ) =>
    verifyRequestSignature(over.secret ?? SECRET, {
      method: over.method ?? 'POST',
      path: over.path ?? path,
      headers: over.headers ?? { ...signed },
      body: over.body ?? body,
      now: over.now ?? now,
    });
  const reason = (r: ReturnType<typeof verify>): string => (r.ok ? 'ok' : r.reason);

  it('accepts the request as signed, with lower-case header names and a query string on the path', () => {
    const lower = Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), v]));
    expect(verify({ headers: lower })).toEqual({ ok: true });
    expect(verify({ path: `${path}?x=1` })).toEqual({ ok: true });
    expect(verify({ now: now + 15 * 60_000 })).toEqual({ ok: true });
    expect(verify({ now: now - 15 * 60_000 })).toEqual({ ok: true });
  });

  it('signs GET history without its query string', () => {
    const p = `/v2/origin/custom/${SCOPE}/chats/abc/history`;
    const h = signRequest(SECRET, { method: 'GET', path: `${p}?offset=0&limit=50`, date: now });
    expect(h['Content-MD5']).toBe(EMPTY_BODY_MD5);
    expect(verifyRequestSignature(SECRET, { method: 'GET', path: p, headers: { ...h }, now })).toEqual({ ok: true });
  });

  it('refuses each kind of bad request with its own reason', () => {
    expect(reason(verify({ body: `${body}\n` }))).toBe('content_md5_mismatch');
    expect(reason(verify({ now: now + 16 * 60_000 }))).toBe('date_out_of_window');
    expect(reason(verify({ now: now - 16 * 60_000 }))).toBe('date_out_of_window');
    expect(reason(verify({ secret: 'other' }))).toBe('signature_mismatch');
    expect(reason(verify({ path: `${path}x` }))).toBe('signature_mismatch');
    expect(reason(verify({ method: 'PUT' }))).toBe('signature_mismatch');
    expect(reason(verify({ headers: { ...signed, 'Content-Type': 'application/json; charset=utf-8' } }))).toBe('content_type');
    expect(reason(verify({ headers: { ...signed, 'X-Signature': undefined } }))).toBe('missing_header');
    expect(reason(verify({ headers: { ...signed, Date: 'yesterday' } }))).toBe('date_malformed');
    expect(reason(verify({ headers: { ...signed, 'Content-MD5': signed['Content-MD5'].toUpperCase() } }))).toBe('content_md5_malformed');
    expect(reason(verify({ headers: { ...signed, 'X-Signature': signed['X-Signature'].toUpperCase() } }))).toBe('signature_malformed');
  });
});

describe('verifyCallbackSignature (amojo → us)', () => {
  it('worked example: secret 11c08dd7…, body "test-body" (fcritic/amojo-api-client ValidatorWebHooksTest)', () => {
    expect(signCallbackBody('11c08dd7ba836ea9cfc03133b4813d', 'test-body')).toBe('5af67d9a838e1b0a7d86591ae57740d703640b5d');
    expect(verifyCallbackSignature('11c08dd7ba836ea9cfc03133b4813d', 'test-body', '5af67d9a838e1b0a7d86591ae57740d703640b5d')).toEqual({
      ok: true,
      matched: 'raw',
    });
  });

  const secret = '5a44c5dff55f3c15a4cce8d7c4cc27e207c7e189'; // [chat-hooks] example secret
  for (const name of ['amojo-01.json', 'amojo-03.json']) {
    it(`${name}: verified over the raw bytes; a tampered or re-serialised body fails`, () => {
      const raw = fixture(`amojo-webhooks/${name}`);
      const sig = signCallbackBody(secret, raw);
      expect(verifyCallbackSignature(secret, raw, sig)).toEqual({ ok: true, matched: 'raw' });
      expect(verifyCallbackSignature(secret, new Uint8Array(raw), sig.toUpperCase())).toEqual({ ok: true, matched: 'raw' });
      expect(verifyCallbackSignature('wrong', raw, sig)).toMatchObject({ ok: false, reason: 'mismatch' });
      const tampered = Buffer.from(raw);
      const at = tampered.length - 2;
      tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
      expect(verifyCallbackSignature(secret, tampered, sig)).toMatchObject({ ok: false, reason: 'mismatch' });
      if (name === 'amojo-03.json') {
        // Pretty-printed on the wire: re-stringifying the parsed JSON gives other bytes.
        expect(verifyCallbackSignature(secret, JSON.stringify(JSON.parse(raw.toString('utf8'))), sig).ok).toBe(false);
      }
    });
  }

  it('amojo-02.json: carries a trailing \\n that the signature does not cover (live Kommo capture) — accepted as "trimmed"', () => {
    const raw = fixture('amojo-webhooks/amojo-02.json');
    expect(raw[raw.length - 1]).toBe(0x0a);
    const withoutNewline = raw.subarray(0, raw.length - 1);
    const sig = signCallbackBody(secret, withoutNewline);
    expect(verifyCallbackSignature(secret, raw, sig)).toEqual({ ok: true, matched: 'trimmed' });
    expect(verifyCallbackSignature(secret, withoutNewline, sig)).toEqual({ ok: true, matched: 'raw' });
    expect(verifyCallbackSignature(secret, Buffer.concat([withoutNewline, Buffer.from('\r\n')]), sig)).toEqual({
      ok: true,
      matched: 'trimmed',
    });
    // Signed over the bytes with the newline also passes, as "raw".
    expect(verifyCallbackSignature(secret, raw, signCallbackBody(secret, raw))).toEqual({ ok: true, matched: 'raw' });
    // Trimming is only of trailing CR/LF, not of other whitespace.
    expect(verifyCallbackSignature(secret, Buffer.concat([withoutNewline, Buffer.from(' ')]), sig).ok).toBe(false);
  });

  it('missing and malformed headers', () => {
    expect(verifyCallbackSignature(secret, 'x', undefined)).toMatchObject({ ok: false, reason: 'missing_header' });
    expect(verifyCallbackSignature(secret, 'x', '')).toMatchObject({ ok: false, reason: 'missing_header' });
    expect(verifyCallbackSignature(secret, 'x', 'abc')).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
