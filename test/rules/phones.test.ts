/** The normalizePhones action, pure: what it resolves to, what it plans from a contact event, and when it plans nothing. */
import { describe, expect, it } from 'vitest';
import { AccountSchema, type AccountSchemaJson } from '../../lib/amocrm/client/schema.ts';
import { planRule, isEmptyPlan } from '../../lib/rules/plan.ts';
import { rulesSchema } from '../../lib/rules/config.ts';
import { compile, DICT } from './support.ts';

const PHONE = 7201;
const WITH_PHONE: AccountSchemaJson = {
  ...DICT,
  customFields: {
    ...DICT.customFields,
    contacts: [
      {
        id: PHONE,
        name: 'Телефон',
        type: 'multitext',
        code: 'PHONE',
        enums: [
          { id: 1, value: 'WORK', code: 'WORK' },
          { id: 3, value: 'MOB', code: 'MOB' },
          { id: 5, value: 'HOME', code: 'HOME' },
        ],
      },
    ],
  },
};

const rules = compile(
  { list: [{ id: 'phones', account: 'local', when: { contact: 'updated' }, then: [{ normalizePhones: { defaultCountry: 'RU' } }] }] },
  WITH_PHONE,
);
const ctx = { eventTime: 0, schema: AccountSchema.from(WITH_PHONE), timeZone: 'Europe/Moscow' };
const plan = (values: Array<{ value: string; enum_id?: number; enum_code?: string }>) =>
  planRule(rules.rules[0]!, { id: 9001, custom_fields_values: [{ field_id: PHONE, field_code: 'PHONE', values }] }, ctx);

describe('normalizePhones', () => {
  it('resolves to the PHONE field by its code; the country defaults to RU and must be one libphonenumber knows', () => {
    expect(rules.rules[0]!.then[0]).toMatchObject({ kind: 'normalizePhones', field: { id: PHONE }, defaultCountry: 'RU' });
    expect(
      rulesSchema.parse({ list: [{ id: 'p', account: 'local', when: { contact: 'added' }, then: [{ normalizePhones: {} }] }] }).list[0]!
        .then[0],
    ).toEqual({
      normalizePhones: { defaultCountry: 'RU' },
    });
    expect(() =>
      rulesSchema.parse({
        list: [{ id: 'p', account: 'local', when: { contact: 'added' }, then: [{ normalizePhones: { defaultCountry: 'XX' } }] }],
      }),
    ).toThrow(/two-letter country code/);
  });

  it('is refused on a lead rule at load, with the rule path', () => {
    expect(() =>
      compile({ list: [{ id: 'lead-phones', account: 'local', when: { lead: 'added' }, then: [{ normalizePhones: {} }] }] }, WITH_PHONE),
    ).toThrow(/rules\.list\[0\] "lead-phones" then\[0\]\.normalizePhones: only contact rules/);
  });

  it('writes the whole field in E.164, each value keeping its type', () => {
    const p = plan([
      { value: '8 (999) 123-45-67', enum_id: 1 },
      { value: '+7 916 000-11-22', enum_id: 3 },
    ]);
    expect(p.patch).toEqual({
      id: 9001,
      custom_fields_values: [
        {
          field_id: PHONE,
          values: [
            { value: '+79991234567', enum_id: 1 },
            { value: '+79160001122', enum_id: 3 },
          ],
        },
      ],
    });
    expect(p.phonesLeft).toBeUndefined();
  });

  it('numbers that are the same phone once normalised are one value: the first (and its type) kept', () => {
    const p = plan([
      { value: '8 (999) 123-45-67', enum_id: 1 },
      { value: '+79991234567', enum_id: 3 },
      { value: '9991234567', enum_code: 'HOME' },
    ]);
    expect(p.patch?.custom_fields_values).toEqual([{ field_id: PHONE, values: [{ value: '+79991234567', enum_id: 1 }] }]);
  });

  it('an unparseable value stays as it is, in its place, and is counted', () => {
    const p = plan([
      { value: 'звонить секретарю', enum_id: 1 },
      { value: '89991234567', enum_code: 'MOB' },
    ]);
    expect(p.patch?.custom_fields_values).toEqual([
      {
        field_id: PHONE,
        values: [
          { value: 'звонить секретарю', enum_id: 1 },
          { value: '+79991234567', enum_code: 'MOB' },
        ],
      },
    ]);
    expect(p.phonesLeft).toBe(1);
  });

  it('nothing to write when every value is already E.164 (the echo of our own write), or unparseable, or there is no phone', () => {
    expect(
      isEmptyPlan(
        plan([
          { value: '+79991234567', enum_id: 1 },
          { value: '+79160001122', enum_id: 3 },
        ]),
      ),
    ).toBe(true);
    const bad = plan([{ value: '123', enum_id: 1 }]);
    expect(isEmptyPlan(bad)).toBe(true);
    expect(bad.phonesLeft).toBe(1);
    expect(isEmptyPlan(planRule(rules.rules[0]!, { id: 9001 }, ctx))).toBe(true);
  });
});
