/**
 * The SQS body of an envelope (lib/envelope.ts envelopeMessageBody): plain ASCII whatever the
 * strings hold (SQS refuses U+FFFE/U+FFFF, lone surrogates, most control characters), and it
 * parses back to exactly the value it was made from.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envelopeMessageBody } from '../../lib/envelope.ts';

describe('envelopeMessageBody', () => {
  it('is printable ASCII and round-trips any JSON value (full Unicode strings)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (v) => {
        const body = envelopeMessageBody(v);
        expect(body).toMatch(/^[\x20-\x7e]*$/);
        expect(JSON.parse(body)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { seed: 20261207, numRuns: 200 },
    );
  });

  it('escapes what SQS refuses', () => {
    expect(envelopeMessageBody({ t: '\uffff\ud83d\ude00\u0001é' })).toBe('{"t":"\\uffff\\ud83d\\ude00\\u0001\\u00e9"}');
  });
});
