/** The pure parts: retry rule, backoff, chunking, coalescing, custom field codecs, error outcomes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunk, coalesceUpdates, type EntityPatch } from '../../lib/amocrm/client/batching.ts';
import {
  cf,
  decodeField,
  encodeFieldValue,
  mergeFieldWrites,
  readField,
  type FieldDefinition,
} from '../../lib/amocrm/client/custom-fields.ts';
import {
  AccountBlockedError,
  AmoNetworkError,
  AmoRateLimitedError,
  AmoServerError,
  AmoTimeoutError,
  AmoValidationError,
  CustomFieldValueError,
  RateBudgetExhaustedError,
  safeRoute,
} from '../../lib/amocrm/client/errors.ts';
import { backoffMs, decideRetry, DEFAULT_REQUEST_RETRY_POLICY } from '../../lib/amocrm/client/retry.ts';
import { outcomeFromError } from '../../lib/pipeline/outcome.ts';
import type { CustomFieldValue } from '../../lib/amocrm/entities.ts';
import type { TokenSource } from '../../lib/amocrm/client/types.ts';
import type { TokenProvider } from '../../lib/amocrm/oauth/provider.ts';

const info = { method: 'GET', route: '/api/v4/leads' };

describe('retry rule', () => {
  it('reads and idempotent writes retry 5xx, timeouts and network errors up to maxAttempts', () => {
    for (const error of [new AmoServerError({ ...info, status: 502 }), new AmoTimeoutError(info, 1000), new AmoNetworkError(info, true)]) {
      for (const kind of ['read', 'idempotent'] as const) {
        const d = decideRetry({ kind, attempt: 1, rateLimitWaits: 0, error, awaitRateLimit: false, random: () => 0.5 });
        expect(d).toMatchObject({ action: 'retry', verifyFirst: false });
        expect(
          decideRetry({ kind, attempt: DEFAULT_REQUEST_RETRY_POLICY.maxAttempts, rateLimitWaits: 0, error, awaitRateLimit: false }),
        ).toEqual({ action: 'throw' });
      }
    }
  });

  it('an add that may have landed is never retried blindly: verifyFirst', () => {
    for (const error of [new AmoServerError({ ...info, status: 504 }), new AmoTimeoutError(info, 1000), new AmoNetworkError(info, true)]) {
      expect(decideRetry({ kind: 'add', attempt: 1, rateLimitWaits: 0, error, awaitRateLimit: false })).toMatchObject({
        action: 'retry',
        verifyFirst: true,
      });
    }
    // Refused before a byte was sent: did not land, plain retry.
    expect(
      decideRetry({ kind: 'add', attempt: 1, rateLimitWaits: 0, error: new AmoNetworkError(info, false), awaitRateLimit: false }),
    ).toMatchObject({ action: 'retry', verifyFirst: false });
  });

  it('4xx are thrown at once; 429 only waits in awaiting mode, after retry_after', () => {
    const v = new AmoValidationError({ ...info, status: 400 }, []);
    expect(decideRetry({ kind: 'read', attempt: 1, rateLimitWaits: 0, error: v, awaitRateLimit: true })).toEqual({ action: 'throw' });
    const rl = new AmoRateLimitedError({ ...info, status: 429, retryAfterMs: 2_000 });
    expect(decideRetry({ kind: 'read', attempt: 1, rateLimitWaits: 0, error: rl, awaitRateLimit: false })).toEqual({ action: 'throw' });
    const d = decideRetry({ kind: 'add', attempt: 1, rateLimitWaits: 0, error: rl, awaitRateLimit: true, random: () => 0 });
    expect(d).toEqual({ action: 'retry', delayMs: 2_000, verifyFirst: false, reason: 'rate-limited' });
    expect(
      decideRetry({
        kind: 'read',
        attempt: 1,
        rateLimitWaits: DEFAULT_REQUEST_RETRY_POLICY.maxRateLimitWaits,
        error: rl,
        awaitRateLimit: true,
      }),
    ).toEqual({ action: 'throw' });
    expect(decideRetry({ kind: 'read', attempt: 1, rateLimitWaits: 0, error: new Error('x'), awaitRateLimit: true })).toEqual({
      action: 'throw',
    });
  });

  it('backoff: equal jitter within [ceiling/2, ceiling], growing, capped; a server delay wins when longer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const ceiling = Math.min(DEFAULT_REQUEST_RETRY_POLICY.maxDelayMs, DEFAULT_REQUEST_RETRY_POLICY.baseDelayMs * 2 ** (attempt - 1));
        const d = backoffMs(attempt, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(ceiling);
      }),
    );
    expect(backoffMs(1, () => 0, DEFAULT_REQUEST_RETRY_POLICY, 3_000)).toBe(3_000);
    expect(backoffMs(1, () => 0, DEFAULT_REQUEST_RETRY_POLICY, 60_000)).toBe(DEFAULT_REQUEST_RETRY_POLICY.maxDelayMs);
  });
});

describe('error outcomes map onto the pipeline vocabulary', () => {
  it('defer / retry / park with reasons and delays', () => {
    expect(outcomeFromError(new RateBudgetExhaustedError('x.amocrm.ru', 1_200))).toEqual({
      kind: 'defer',
      reason: 'rate-budget',
      delaySeconds: 2,
    });
    expect(outcomeFromError(new AccountBlockedError('x.amocrm.ru', 0, 900_000))).toEqual({
      kind: 'defer',
      reason: 'account-blocked',
      delaySeconds: 900,
    });
    expect(outcomeFromError(new AmoRateLimitedError({ ...info, status: 429, retryAfterMs: 300_000 }))).toEqual({
      kind: 'defer',
      reason: 'amo-rate-limited',
      delaySeconds: 300,
    });
    expect(outcomeFromError(new AmoServerError({ ...info, status: 500 })).kind).toBe('retry');
    const park = outcomeFromError(
      new AmoValidationError({ ...info, status: 400 }, [
        { requestId: '0', errors: [{ code: 'NotSupportedChoice', path: 'custom_fields_values.0.field_id', detail: 'x' }] },
      ]),
    );
    expect(park).toMatchObject({ kind: 'park', reason: 'amo-validation' });
    expect(outcomeFromError(new CustomFieldValueError('bad'))).toMatchObject({ kind: 'park', reason: 'custom-field-value' });
  });

  it('routes keep the shape of the query, never its values', () => {
    expect(safeRoute('/api/v4/contacts?query=%2B79161234567&filter%5Bid%5D%5B0%5D=1&filter%5Bid%5D%5B1%5D=2')).toBe(
      '/api/v4/contacts?query&filter[id][]',
    );
  });
});

describe('ports', () => {
  it('the OAuth TokenProvider (lib/amocrm/oauth) is a TokenSource as is (checked by the compiler)', () => {
    const asSource = (p: TokenProvider): TokenSource => p;
    expect(typeof asSource).toBe('function');
  });
});

describe('batching', () => {
  it('chunks writes by 50 and keeps order', () => {
    const items = Array.from({ length: 123 }, (_, i) => i);
    const parts = chunk(items);
    expect(parts.map((p) => p.length)).toEqual([50, 50, 23]);
    expect(parts.flat()).toEqual(items);
    expect(() => chunk(items, 0)).toThrow(RangeError);
  });

  it('coalesces many updates of one entity into one body: later wins, custom fields merged per field, clears kept', () => {
    const patches: EntityPatch[] = [
      { id: 1, name: 'a', custom_fields_values: [cf.text(10, 'x'), cf.numeric(11, 1)] },
      { id: 2, price: 5 },
      { id: 1, price: 100, custom_fields_values: [cf.text(10, 'y'), cf.clear(12)], tags_to_add: [{ name: 'VIP' }] },
      { id: 1, custom_fields_values: [cf.numeric(11, 2)], tags_to_delete: [{ name: 'vip' }, { id: 7 }] },
      { id: 2, price: 6, tags_to_add: [{ id: 7 }] },
    ];
    const out = coalesceUpdates(patches);
    expect(out).toEqual([
      {
        id: 1,
        name: 'a',
        price: 100,
        custom_fields_values: [
          { field_id: 10, values: [{ value: 'y' }] },
          { field_id: 12, values: null },
          { field_id: 11, values: [{ value: '2' }] },
        ],
        tags_to_delete: [{ name: 'vip' }, { id: 7 }],
      },
      { id: 2, price: 6, tags_to_add: [{ id: 7 }] },
    ]);
  });

  it('coalescing is the same as applying the patches in order (property)', () => {
    const patch = fc.record({
      id: fc.integer({ min: 1, max: 4 }),
      price: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
      cf: fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.option(fc.string({ maxLength: 3 }), { nil: null })), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(patch, { maxLength: 20 }), (ps) => {
        const patches: EntityPatch[] = ps.map((p) => ({
          id: p.id,
          ...(p.price !== undefined ? { price: p.price } : {}),
          ...(p.cf.length ? { custom_fields_values: p.cf.map(([f, v]) => (v === null ? cf.clear(f) : cf.text(f, v))) } : {}),
        }));
        // The model: the final value of every (id, field) after applying in order.
        const model = new Map<string, unknown>();
        for (const p of patches) {
          if (p.price !== undefined) model.set(`${p.id}:price`, p.price);
          for (const w of p.custom_fields_values ?? []) model.set(`${p.id}:cf${'field_id' in w ? w.field_id : ''}`, w.values);
        }
        const got = new Map<string, unknown>();
        const out = coalesceUpdates(patches);
        expect(new Set(out.map((p) => p.id)).size).toBe(out.length);
        for (const p of out) {
          if (p.price !== undefined) got.set(`${p.id}:price`, p.price);
          for (const w of p.custom_fields_values ?? []) got.set(`${p.id}:cf${'field_id' in w ? w.field_id : ''}`, w.values);
        }
        expect(got).toEqual(model);
      }),
    );
  });
});

describe('custom field codecs', () => {
  const select: FieldDefinition = {
    id: 5,
    name: 'Источник',
    type: 'select',
    enums: [
      { id: 51, value: 'Сайт' },
      { id: 52, value: 'Звонок' },
    ],
  };
  const multi: FieldDefinition = {
    id: 6,
    name: 'Услуги',
    type: 'multiselect',
    enums: [
      { id: 61, value: 'A' },
      { id: 62, value: 'B' },
    ],
  };

  it('encodes every type, by label or enum id, and clears with values: null', () => {
    expect(encodeFieldValue({ id: 1, name: 't', type: 'text' }, 'hi')).toEqual({ field_id: 1, values: [{ value: 'hi' }] });
    expect(encodeFieldValue({ id: 2, name: 'n', type: 'numeric' }, 12.5)).toEqual({ field_id: 2, values: [{ value: '12.5' }] });
    expect(encodeFieldValue({ id: 3, name: 'c', type: 'checkbox' }, false)).toEqual({ field_id: 3, values: [{ value: false }] });
    expect(encodeFieldValue({ id: 4, name: 'd', type: 'date' }, new Date('2024-05-01T00:00:00Z'))).toEqual({
      field_id: 4,
      values: [{ value: 1714521600 }],
    });
    expect(encodeFieldValue({ id: 4, name: 'dt', type: 'date_time' }, 1714521600)).toEqual({
      field_id: 4,
      values: [{ value: 1714521600 }],
    });
    expect(encodeFieldValue(select, 'сайт')).toEqual({ field_id: 5, values: [{ enum_id: 51 }] });
    expect(encodeFieldValue(select, { enumId: 52 })).toEqual({ field_id: 5, values: [{ enum_id: 52 }] });
    expect(encodeFieldValue(multi, ['A', { enumId: 62 }])).toEqual({ field_id: 6, values: [{ enum_id: 61 }, { enum_id: 62 }] });
    expect(encodeFieldValue(multi, [])).toEqual({ field_id: 6, values: null });
    expect(encodeFieldValue({ id: 7, name: 'u', type: 'url' }, 'https://x.ru/a?b=%2B')).toEqual({
      field_id: 7,
      values: [{ value: 'https://x.ru/a?b=%2B' }],
    });
    expect(encodeFieldValue({ id: 8, name: 'ta', type: 'textarea' }, 'a\nb')).toEqual({ field_id: 8, values: [{ value: 'a\nb' }] });
    expect(
      encodeFieldValue(
        {
          id: 9,
          name: 'Телефон',
          type: 'multitext',
          code: 'PHONE',
          enums: [
            { id: 1, value: 'WORK' },
            { id: 2, value: 'MOB' },
          ],
        },
        [{ value: '+7 916', enumCode: 'MOB' }, '+7 495'],
      ),
    ).toEqual({
      field_id: 9,
      values: [
        { value: '+7 916', enum_code: 'MOB' },
        { value: '+7 495', enum_code: 'WORK' },
      ],
    });
    for (const t of ['text', 'numeric', 'checkbox', 'date', 'select', 'multiselect', 'url', 'multitext'])
      expect(encodeFieldValue({ id: 1, name: 'x', type: t }, null)).toEqual({ field_id: 1, values: null });
    expect(cf.phone(['+79161234567'])).toEqual({ field_code: 'PHONE', values: [{ value: '+79161234567', enum_code: 'WORK' }] });
    expect(cf.email([{ value: 'a@b.ru', kind: 'PRIV' }])).toEqual({
      field_code: 'EMAIL',
      values: [{ value: 'a@b.ru', enum_code: 'PRIV' }],
    });
  });

  it('refuses values that do not fit, with the options in the message', () => {
    expect(() => encodeFieldValue(select, 'Почта')).toThrow(/no option "Почта" \(options: "Сайт", "Звонок"\)/);
    expect(() => encodeFieldValue({ id: 2, name: 'n', type: 'numeric' }, 'abc')).toThrow(CustomFieldValueError);
    expect(() => encodeFieldValue({ id: 3, name: 'c', type: 'checkbox' }, 'yes')).toThrow(CustomFieldValueError);
    expect(() => encodeFieldValue({ id: 4, name: 'd', type: 'date' }, Date.now())).toThrow(/milliseconds/);
    expect(() => encodeFieldValue({ id: 7, name: 'u', type: 'url' }, 'ftp://x')).toThrow(CustomFieldValueError);
    expect(() =>
      encodeFieldValue({ id: 9, name: 'P', type: 'multitext', enums: [{ id: 1, value: 'WORK' }] }, [{ value: '1', enumCode: 'CELL' }]),
    ).toThrow(/no enum code CELL/);
  });

  it('decodes what amoCRM sends back into JS values', () => {
    // amoCRM also sends `enum_code: null`; entities.ts types it as optional string, so it is left out here.
    const lead: { custom_fields_values: CustomFieldValue[] } = {
      custom_fields_values: [
        { field_id: 2, field_type: 'numeric', values: [{ value: '12.5' }] },
        { field_id: 3, field_type: 'checkbox', values: [{ value: true }] },
        { field_id: 4, field_type: 'date', values: [{ value: 1714521600 }] },
        { field_id: 5, field_type: 'select', values: [{ value: 'Сайт', enum_id: 51 }] },
        {
          field_id: 6,
          field_type: 'multiselect',
          values: [
            { value: 'A', enum_id: 61 },
            { value: 'B', enum_id: 62 },
          ],
        },
        { field_id: 9, field_code: 'PHONE', field_type: 'multitext', values: [{ value: '+7 916', enum_id: 2, enum_code: 'MOB' }] },
      ],
    };
    expect(readField(lead, 2)).toBe(12.5);
    expect(readField(lead, 3)).toBe(true);
    expect(readField(lead, 4)).toEqual(new Date('2024-05-01T00:00:00Z'));
    expect(readField(lead, 5)).toEqual({ enumId: 51, label: 'Сайт' });
    expect(readField(lead, 6)).toEqual([
      { enumId: 61, label: 'A' },
      { enumId: 62, label: 'B' },
    ]);
    expect(readField(lead, { code: 'PHONE' })).toEqual([{ value: '+7 916', enumCode: 'MOB', enumId: 2 }]);
    expect(readField(lead, 99)).toBeUndefined();
    expect(decodeField({ field_id: 1, field_type: 'checkbox', values: [{ value: '1' }] })).toBe(true); // webhook style
  });

  it('merges writes per field, later wins (a clear too)', () => {
    expect(mergeFieldWrites([cf.text(1, 'a'), cf.text(2, 'b')], [cf.clear(1), cf.phone(['1'])])).toEqual([
      { field_id: 2, values: [{ value: 'b' }] },
      { field_id: 1, values: null },
      { field_code: 'PHONE', values: [{ value: '1', enum_code: 'WORK' }] },
    ]);
  });
});
