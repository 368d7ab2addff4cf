/** The pure parts of the dlq tools: ids, the replay body, body rendering and redaction, durations, names. */
import { describe, expect, it } from 'vitest';
import { kebabCase } from '../../infra/aws/stack.ts';
import { parseDuration } from '../../infra/cli/commands/dlq.ts';
import {
  formatRef,
  maskParam,
  parseRef,
  renderBody,
  replayBody,
  selects,
  summarizeEnvelope,
  type ParkedItem,
} from '../../lib/dlq/index.ts';
import { stackNamePrefix } from '../../lib/aws/stack-resolve.ts';
import { buildEnvelope, parseEnvelope, type Envelope } from '../../lib/envelope.ts';

function env(body: string | Buffer, contentType: string, params: Record<string, string> = {}): Envelope {
  return buildEnvelope(
    {
      routeId: 'r',
      pathParams: params,
      query: { access_token: 'abcdef0123456789abcdef0123456789' },
      headers: { 'Content-Type': contentType },
      body: Buffer.from(body),
      receivedAt: 1_700_000_000_000,
      requestId: 'req',
      sourceIp: '10.0.0.1',
    },
    ['content-type'],
  );
}

describe('ids', () => {
  it('round-trip indexed and unindexed refs; bare ids have no queue', () => {
    const a = formatRef('rdesk', { kind: 'indexed', id: '2026-01-15T09:00:00.000Z#m-1' });
    expect(a).toBe('rdesk/2026-01-15T09:00:00.000Z#m-1');
    expect(parseRef(a)).toEqual({ queueId: 'rdesk', key: { kind: 'indexed', id: '2026-01-15T09:00:00.000Z#m-1' } });
    const b = formatRef('amojo', { kind: 'unindexed', messageId: 'abc' });
    expect(b).toBe('amojo/unindexed:abc');
    expect(parseRef(b)).toEqual({ queueId: 'amojo', key: { kind: 'unindexed', messageId: 'abc' } });
    expect(parseRef('m-1')).toEqual({ queueId: undefined, key: { kind: 'indexed', id: 'm-1' } });
    expect(() => parseRef('rdesk/')).toThrow(/not a DLQ id/);
  });

  it('selects by queue, route, reason, time window and id (full ref, index id or message key)', () => {
    const entry = {
      queueId: 'rdesk',
      id: '2026-01-15T09:00:00.000Z#m-1',
      parkedAt: '2026-01-15T09:00:00.000Z',
      messageKey: 'm-1',
      route: 'zdrav-mc',
      reason: 'bad-payload',
      lastError: '',
      attempts: 1,
      firstSeenAt: '',
      lastSeenAt: '',
      requestId: '',
      expiresAt: 0,
    };
    const item: ParkedItem = {
      ref: `rdesk/${entry.id}`,
      queueId: 'rdesk',
      route: 'zdrav-mc',
      reason: 'bad-payload',
      parkedAt: Date.parse(entry.parkedAt),
      key: { kind: 'indexed', id: entry.id },
      entry,
    };
    expect(selects({}, item)).toBe(true);
    expect(selects({ queue: 'amojo' }, item)).toBe(false);
    expect(selects({ route: 'zdrav-mc', reason: 'bad-payload' }, item)).toBe(true);
    expect(selects({ reason: 'unindexed' }, item)).toBe(false);
    expect(selects({ since: item.parkedAt }, item)).toBe(true);
    expect(selects({ since: item.parkedAt + 1 }, item)).toBe(false);
    expect(selects({ before: item.parkedAt }, item)).toBe(false);
    for (const id of [item.ref, entry.id, 'm-1', 'rdesk/m-1']) expect(selects({ ids: [id] }, item)).toBe(true);
    for (const id of ['amojo/m-1', 'm-2', 'rdesk/unindexed:m-1']) expect(selects({ ids: [id] }, item)).toBe(false);
  });
});

describe('replayBody', () => {
  it('removes attempt and deferrals, stamps replayedAt, keeps lastError and fields this version does not know', () => {
    const e = env('x', 'text/plain');
    const body = JSON.stringify({ ...e, attempt: 5, deferrals: 2, lastError: 'RetryableError: 503', future: { keep: true } });
    const out = JSON.parse(replayBody({ body, envelope: parseEnvelope(body) }, 1_800_000_000_000));
    expect(out).not.toHaveProperty('attempt');
    expect(out).not.toHaveProperty('deferrals');
    expect(out).toMatchObject({
      replayedAt: 1_800_000_000_000,
      lastError: 'RetryableError: 503',
      future: { keep: true },
      body: e.body,
      route: 'r',
    });
    expect(parseEnvelope(JSON.stringify(out)).attempt).toBeUndefined();
  });

  it('sends a non-envelope back byte for byte', () => {
    expect(replayBody({ body: 'not json', envelope: undefined }, 1)).toBe('not json');
  });
});

describe('renderBody and summarizeEnvelope', () => {
  it('JSON is pretty-printed and redacted (phones, emails, the path token); Cyrillic stays', () => {
    const e = env('{"name":"Иван","phone":"89991234567","email":"a.b@mail.ru","note":"tok-SECRET-42"}', 'application/json; charset=utf-8', {
      token: 'tok-SECRET-42',
    });
    const b = renderBody(e);
    expect(b).toMatchObject({ kind: 'json', redacted: true });
    expect(b.lines).toEqual(['{', '  "name": "Иван",', '  "phone": "[phone]",', '  "email": "[email]",', '  "note": "[redacted]"', '}']);
    expect(renderBody(e, { raw: true }).lines).toEqual([
      '{"name":"Иван","phone":"89991234567","email":"a.b@mail.ru","note":"tok-SECRET-42"}',
    ]);
  });

  it('binary bodies are not printed unless raw (as base64)', () => {
    const e = env(Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'application/octet-stream');
    expect(renderBody(e)).toEqual({ kind: 'binary', lines: ['(4 bytes, not UTF-8 text; --raw prints them as base64)'], redacted: true });
    expect(renderBody(e, { raw: true }).lines).toEqual(['//4AAQ==']);
  });

  it('text that claims to be JSON but is not is shown as redacted text', () => {
    expect(renderBody(env('oops +7 999 123 45 67', 'application/json'))).toEqual({ kind: 'text', lines: ['oops [phone]'], redacted: true });
  });

  it('the summary masks every path parameter and redacts query secrets', () => {
    const s = summarizeEnvelope(env('{}', 'application/json', { token: 'tok-abc-123', scope_id: 's1' }));
    expect(s.params).toEqual({ token: maskParam('tok-abc-123'), scope_id: '[masked, 2 chars]' });
    expect(s.query).toEqual({ access_token: '[token]' });
    expect(s).toMatchObject({
      route: 'r',
      receivedAt: '2023-11-14T22:13:20.000Z',
      attempt: 0,
      deferrals: 0,
      bodyBytes: 2,
      contentType: 'application/json',
    });
    expect(summarizeEnvelope(env('{}', 'application/json', { token: 'tok-abc-123' }), { raw: true }).params).toEqual({
      token: 'tok-abc-123',
    });
  });
});

describe('flags and names', () => {
  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1w')).toBe(604_800_000);
    expect(parseDuration('250ms')).toBe(250);
    for (const bad of ['', '7', 'd', '7 d', '7days', '-1h']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('the stack-name prefix rule is the CDK app’s', () => {
    for (const n of ['AmoGateway', 'AmoGatewayStaging', 'amo-gateway', 'My_Stack2Prod', 'ABCStack'])
      expect(stackNamePrefix(n)).toBe(kebabCase(n));
  });
});
