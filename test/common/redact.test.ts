import { describe, expect, it } from 'vitest';
import { redact, safeErrorText, truncate } from '../../lib/common/redact.ts';
import { normalizeReason, outcomeFromError, DeferError, PermanentError, RetryableError } from '../../lib/pipeline/outcome.ts';
import { describeError } from '../../lib/common/errors.ts';

describe('redact', () => {
  it('hides emails, phones, bearer and JWT tokens, secret pairs and long opaque strings', () => {
    const text = [
      'user ivan.petrov+crm@mail.example.ru',
      'phone +7 (916) 123-45-67 and 89161234567',
      'Authorization: Bearer abc.DEF-123_x',
      'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_part',
      'url ?code=def50200abc&state=1 access_token=xyz refresh_token: "r1"',
      'opaque 9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc',
    ].join('\n');
    const out = redact(text);
    expect(out).not.toMatch(/ivan|916|8916|abc\.DEF|eyJhbG|def50200|xyz|"r1"|9f8e7d6c/);
    expect(out).toContain('[email]');
    expect(out).toContain('[phone]');
    expect(out).toContain('Bearer [token]');
    expect(out).toContain('code=[redacted]');
    expect(out).toContain('state=1');
  });

  it('keeps what is useful: uuids, small numbers, words, ids', () => {
    const text = 'request 0b6f0a4e-9a34-4c1e-8d6a-3f1b2c4d5e6f lead 123456 status 142 failed: HTTP 503';
    expect(redact(text)).toBe(text);
  });

  it('replaces given secrets (longest first), ignoring ones too short to matter', () => {
    expect(redact('path /hooks/amocrm/tok-abc/x and tok-abcdef', ['tok-abc', 'tok-abcdef', 'ab'])).toBe(
      'path /hooks/amocrm/[redacted]/x and [redacted]',
    );
  });

  it('is stable on its own output', () => {
    const once = redact('mail a@b.co phone +79161234567 Bearer zzz');
    expect(redact(once)).toBe(once);
  });

  it('truncates with an ellipsis', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(safeErrorText('x'.repeat(5000)).length).toBe(1000);
  });
});

describe('outcome errors', () => {
  it('map to outcomes; anything else is a retry', () => {
    expect(outcomeFromError(new DeferError('rate-budget', 3))).toEqual({ kind: 'defer', reason: 'rate-budget', delaySeconds: 3 });
    expect(outcomeFromError(new DeferError('blocked'))).toEqual({ kind: 'defer', reason: 'blocked' });
    expect(outcomeFromError(new RetryableError('HTTP 502'))).toEqual({ kind: 'retry', error: 'RetryableError: HTTP 502' });
    expect(outcomeFromError(new PermanentError('bad-signature', 'X-Signature mismatch'))).toEqual({
      kind: 'park',
      reason: 'bad-signature',
      error: 'PermanentError: X-Signature mismatch',
    });
    expect(outcomeFromError(new TypeError('x is undefined'))).toEqual({ kind: 'retry', error: 'TypeError: x is undefined' });
    expect(outcomeFromError('a string')).toEqual({ kind: 'retry', error: 'a string' });
  });

  it('describeError follows causes', () => {
    const e = new RetryableError('amoCRM unavailable', { cause: new Error('ECONNRESET', { cause: 'socket' }) });
    expect(describeError(e)).toBe('RetryableError: amoCRM unavailable <- Error: ECONNRESET <- socket');
  });

  it('normalizeReason keeps kebab-case and fixes the rest', () => {
    expect(normalizeReason('out-of-attempts')).toBe('out-of-attempts');
    expect(normalizeReason('Bad Signature')).toBe('bad-signature');
    expect(normalizeReason('42 things')).toBe('r-42-things');
    expect(normalizeReason('!!!')).toBe('r-unknown');
  });
});
