/**
 * amoCRM query strings (lib/amocrm/client/transport.ts buildQuery): exactly what qs.stringify
 * made with the options the client used before (`encodeValuesOnly`, `skipNulls`,
 * `arrayFormat: 'indices'`) — for any query the resources can build — written without qs.
 */
import fc from 'fast-check';
import qs from 'qs';
import { describe, expect, it } from 'vitest';
import { buildQuery } from '../../lib/amocrm/client/transport.ts';

function viaQs(query: Record<string, unknown>): string {
  const q: Record<string, unknown> = { ...query };
  if (Array.isArray(q.with)) q.with = (q.with as unknown[]).join(',');
  const s = qs.stringify(q, { encodeValuesOnly: true, skipNulls: true, arrayFormat: 'indices' });
  return s ? `?${s}` : '';
}

const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
const leaf = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
}));

describe('buildQuery', () => {
  it('is what qs.stringify made, for any nesting of objects, arrays, strings, numbers, booleans, dates, nulls', () => {
    fc.assert(
      fc.property(
        fc.dictionary(key, value, { maxKeys: 5 }),
        fc.option(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), { nil: undefined }),
        (q, withParts) => {
          const query = withParts === undefined ? q : { ...q, with: withParts };
          expect(buildQuery(query)).toBe(viaQs(query));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('amoCRM examples: filters by index, `with` joined by commas (encoded, as qs did), reserved characters encoded', () => {
    expect(buildQuery(undefined)).toBe('');
    expect(buildQuery({ filter: { id: [1, 2] }, with: ['contacts', 'source'], page: 2, x: null })).toBe(
      '?filter[id][0]=1&filter[id][1]=2&with=contacts%2Csource&page=2',
    );
    expect(buildQuery({ query: "Иван (O'Neil)!*", order: { updated_at: 'desc' } })).toBe(
      `?query=${encodeURIComponent('Иван')}%20%28O%27Neil%29%21%2A&order[updated_at]=desc`,
    );
    expect(buildQuery({ filter: { statuses: [{ pipeline_id: 7, status_id: 142 }] } })).toBe(
      '?filter[statuses][0][pipeline_id]=7&filter[statuses][0][status_id]=142',
    );
    // A lone surrogate is no character: sent as U+FFFD, never a thrown URIError.
    expect(buildQuery({ query: 'a\uD800' })).toBe('?query=a%EF%BF%BD');
  });
});
