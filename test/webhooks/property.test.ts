/**
 * Property-based: 10 000 generated bodies in all.
 * - valid webhooks (random entities, actions, custom fields, tags, linked leads, notes, unsorted,
 *   messages, talks, unknown kinds; account first or last) encoded like PHP http_build_query:
 *   parse to exactly the expected events, in body order, losing no pair;
 * - form-shaped garbage (webhook vocabulary in random bracket keys, odd values), random text
 *   and bytes, truncated and bit-flipped valid bodies, over-deep keys, long `[]`
 *   lists, bodies with more pairs than the limit: never throw, never hit the `internal` code,
 *   and every rejection has a code and a message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAccountWebhook, WEBHOOK_QS_OPTIONS, type ParseErrorCode, type ParseResult } from '../../lib/amocrm/webhooks/index.ts';
import { formish, webhook, type Expected } from './generators.ts';
import { FIXTURES, fixture } from './support.ts';

const CODES: ReadonlySet<ParseErrorCode> = new Set([
  'empty-body',
  'not-form',
  'invalid-encoding',
  'limits-exceeded',
  'no-events',
  'invalid-account',
  'invalid-item',
  'internal',
]);

/** The invariant for any input: a result, never a throw, never a parser bug, always explained. */
function checkTotal(r: ParseResult): void {
  if (r.ok) return;
  if (!CODES.has(r.error.code)) throw new Error(`unknown code ${String(r.error.code)}`);
  if (r.error.code === 'internal') throw new Error(`parser bug: ${r.error.message}`);
  if (typeof r.error.message !== 'string' || r.error.message.length === 0) throw new Error(`no message for ${r.error.code}`);
}

/** Deep equality (JSON-like values), thrown as an error fast-check can shrink on. */
function same(actual: unknown, expected: unknown, what: string): void {
  if (!deepEqual(actual, expected)) throw new Error(`${what}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
}

/** `expected` is a subset of `actual` (objects: listed keys; arrays: same length, element-wise). */
function contains(actual: unknown, expected: unknown, what: string): void {
  if (!isSubset(actual, expected)) throw new Error(`${what}: got ${JSON.stringify(actual)}, want at least ${JSON.stringify(expected)}`);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return isSubset(a, b) && isSubset(b, a);
}

function isSubset(a: unknown, b: unknown): boolean {
  if (b === null || typeof b !== 'object') return a === b;
  if (a === null || typeof a !== 'object') return false;
  if (Array.isArray(b)) return Array.isArray(a) && a.length === b.length && b.every((v, i) => isSubset(a[i], v));
  const ao = a as Record<string, unknown>;
  return Object.entries(b).every(([k, v]) => (v === undefined ? ao[k] === undefined : isSubset(ao[k], v)));
}

// ---------- the properties ----------

describe('parseAccountWebhook on generated bodies (10 000 in all)', () => {
  it('valid webhooks round-trip to the expected events, in body order, losing no pair (2 000)', () => {
    fc.assert(
      fc.property(webhook, fc.boolean(), ({ body, expected, expectedAccount }, asBytes) => {
        const r = parseAccountWebhook(asBytes ? new TextEncoder().encode(body) : body, {
          'content-type': 'application/x-www-form-urlencoded',
        });
        if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
        // Plain checks, not expect(): 3 000 runs of vitest matchers cost more than the parser.
        same(r.account, expectedAccount, 'account');
        same(r.events.length, expected.length, 'event count');
        r.events.forEach((ev, i) => {
          const want = expected[i] as Expected;
          same(ev.kind, want.kind, `kind[${i}]`);
          same(ev.entityId, want.entityId, `entityId[${i}]`);
          same(ev.family, want.family, `family[${i}]`);
          same(ev.index, i, `index[${i}]`);
          if (want.data) contains(ev.data, want.data, `data[${i}]`);
        });
        same(new Set(r.events.map((e) => e.idempotencyKey)).size, r.events.length, 'distinct keys');
        // Nothing lost: every pair (decoded independently) sits in its event's raw item.
        for (const [key, value] of new URLSearchParams(body)) {
          if (key.startsWith('account[')) continue;
          const ev = r.events.find((e) => key.startsWith(e.path + '['));
          if (!ev) throw new Error(`no event holds ${key}`);
          let node: unknown = ev.raw;
          for (const m of key.slice(ev.path.length).matchAll(/\[([^\]]*)\]/g)) node = (node as Record<string, unknown>)[m[1] as string];
          same(node, value, key);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('form-shaped garbage never throws and every rejection is explained (4 000)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(formish, (s) => {
        const r = parseAccountWebhook(s);
        checkTotal(r);
        seen.add(r.ok ? 'ok' : r.error.code);
      }),
      { numRuns: 4_000 },
    );
    // The generator reaches deep into the parser, not only the early rejections.
    for (const code of ['ok', 'invalid-item', 'invalid-account', 'no-events', 'invalid-encoding']) expect(seen).toContain(code);
  });

  it('random text never throws (1 000)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 })), (s) =>
        checkTotal(parseAccountWebhook(s)),
      ),
      { numRuns: 1_000 },
    );
  });

  it('garbage bytes never throw (1 000)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), (bytes, contentType) =>
        checkTotal(
          parseAccountWebhook(
            bytes,
            contentType === undefined ? undefined : { 'content-type': contentType, 'x-amocrm-requestid': contentType },
          ),
        ),
      ),
      { numRuns: 1_000 },
    );
  });

  it('truncated or corrupted valid bodies never throw (1 500)', () => {
    // Real fixtures plus a fixed pool of generated webhooks: cutting and flipping is the point here,
    // not generating new shapes (the first property does that).
    const pool = [...FIXTURES.map(fixture), ...fc.sample(webhook, { numRuns: 60, seed: 42 }).map((w) => new TextEncoder().encode(w.body))];
    fc.assert(
      fc.property(fc.constantFrom(...pool), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (bytes, cut, at, byte) => {
        checkTotal(parseAccountWebhook(bytes.slice(0, cut % (bytes.length + 1))));
        const flipped = bytes.slice();
        flipped[at % flipped.length] = byte;
        checkTotal(parseAccountWebhook(flipped));
      }),
      { numRuns: 1_500 },
    );
  });

  it('keys deeper than the limit are rejected as limits-exceeded, others are not (408)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (depth) => {
        // leads[add][0] is 2 groups; add depth-2 more under the item.
        const key = 'leads[add][0]' + '[x]'.repeat(Math.max(0, depth - 2));
        const r = parseAccountWebhook(`leads[add][0][id]=1&${key}=v&account[subdomain]=acme`);
        checkTotal(r);
        if (depth > WEBHOOK_QS_OPTIONS.depth) expect(!r.ok && r.error.code).toBe('limits-exceeded');
        else expect(!r.ok && r.error.code).not.toBe('limits-exceeded');
      }),
      { numRuns: 408 },
    );
  });

  it('repeated `[]` keys beyond arrayLimit are rejected (80)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), (n) => {
        const r = parseAccountWebhook(`${'x[]=1&'.repeat(n)}leads[add][0][id]=1&account[subdomain]=acme`);
        checkTotal(r);
        expect(r.ok).toBe(n <= WEBHOOK_QS_OPTIONS.arrayLimit);
      }),
      { numRuns: 80 },
    );
  });

  it('huge item lists: every item an event up to parameterLimit, then limits-exceeded (12)', () => {
    const limit = WEBHOOK_QS_OPTIONS.parameterLimit;
    fc.assert(
      fc.property(
        fc.oneof(
          { arbitrary: fc.integer({ min: 1, max: 3_000 }), weight: 4 },
          { arbitrary: fc.integer({ min: limit - 3, max: limit + 3 }), weight: 1 },
        ),
        (n) => {
          const pairs = Array.from({ length: n }, (_, i) => `leads%5Bupdate%5D%5B${i}%5D%5Bid%5D=${i + 1}`);
          const r = parseAccountWebhook(`${pairs.join('&')}&account%5Bsubdomain%5D=acme`);
          checkTotal(r);
          if (n + 1 <= limit) {
            expect(r.ok && r.events.length).toBe(n);
            expect(r.ok && r.events.at(-1)?.entityId).toBe(n);
          } else {
            expect(!r.ok && r.error.code).toBe('limits-exceeded');
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
