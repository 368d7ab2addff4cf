/** The cross-account actions' config against two dictionaries, and the phone / e-mail keys of the verified contact match. */
import { describe, expect, it } from 'vitest';
import { AccountSchema, type AccountSchemaJson } from '../../lib/amocrm/client/schema.ts';
import { rulesSchema, type RulesConfigInput } from '../../lib/rules/config.ts';
import { resolveRules, RulesConfigError } from '../../lib/rules/resolve.ts';
import { contactValues, emailKey, phoneKey } from '../../lib/rules/transfer.ts';
import { DICT } from './support.ts';

const CORP: AccountSchemaJson = {
  ...DICT,
  account: { id: 31000002, name: 'Corp', subdomain: 'corp' },
  pipelines: [{ id: 6001, name: 'Корпорат', is_main: true, statuses: [{ id: 60011, name: 'Новая заявка', sort: 10 }] }],
  customFields: {
    leads: [
      { id: 8001, name: 'ID розничной сделки', type: 'text', code: null, enums: null },
      { id: 8002, name: 'Комментарий', type: 'textarea', code: null, enums: null },
      { id: 8003, name: 'Тип', type: 'select', code: null, enums: [{ id: 1, value: 'a' }] },
    ],
    contacts: [],
    companies: [],
  },
};

const compile = (then: unknown[], extra: Partial<RulesConfigInput> = {}) => {
  const schemas: Record<string, AccountSchema> = { clinic: AccountSchema.from(DICT), corp: AccountSchema.from(CORP) };
  return resolveRules(
    rulesSchema.parse({ list: [{ id: 'ret2corp', account: 'clinic', when: { lead: 'status' }, then }], ...extra }),
    (a) => schemas[a] ?? new Error('no file'),
  );
};

const transfer = (over: Record<string, unknown> = {}) => ({
  transfer: {
    to: 'corp',
    status: 'Корпорат / Новая заявка',
    fields: { Комментарий: 'Комментарий' },
    linkField: 'ID розничной сделки',
    backLinkField: 'Сумма чека',
    tags: ['из розницы'],
    moveSourceTo: 'Продажи / Пришёл',
    ...over,
  },
});

describe('transfer / syncBack config', () => {
  it('resolves the source names against the rule account and the target names against the target account', () => {
    const c = compile([transfer()]);
    expect(c.rules[0]!.then[0]).toMatchObject({
      kind: 'transfer',
      to: 'corp',
      status: { statusId: 60011, pipelineId: 6001 },
      reuseOpen: true,
      fields: [{ from: { id: 7004 }, to: { id: 8002 } }],
      linkField: { id: 8001 },
      backLinkField: { id: 7003 },
      moveSourceTo: { statusId: 50013, pipelineId: 5001 },
    });
    expect([...c.accounts.keys()]).toEqual(['clinic', 'corp']);
  });

  it('fails with the rule path: an unknown target field, a link field that cannot hold an id, the own account, no target dictionary', () => {
    const issues = (then: unknown[]) => {
      try {
        compile(then);
        return [];
      } catch (e) {
        expect(e).toBeInstanceOf(RulesConfigError);
        return (e as RulesConfigError).issues;
      }
    };
    expect(issues([transfer({ linkField: 'ID розничной' })])[0]).toMatch(/rules.list\[0\] "ret2corp" then\[0\].transfer: .*ID розничной/);
    expect(issues([transfer({ linkField: 'Тип' })])[0]).toMatch(/linkField: field "Тип" is select/);
    expect(issues([transfer({ to: 'clinic' })])[0]).toMatch(/own account/);
    expect(issues([transfer({ to: 'retail2' })])[0]).toMatch(/no dictionary for account "retail2"/);
    expect(issues([{ syncBack: { to: 'corp', linkField: 'Источник' } }])[0]).toMatch(/then\[0\].syncBack: .*select/);
  });
});

describe('the verified match keys', () => {
  it('phones compare by their last 10 digits, e-mails ignoring case; contactValues reads PHONE / EMAIL', () => {
    expect(['8 (999) 123-45-67', '+7 999 1234567', '79991234567'].map(phoneKey)).toEqual(['9991234567', '9991234567', '9991234567']);
    expect(phoneKey('12-34')).toBeUndefined();
    expect(emailKey(' Petr@Example.TEST ')).toBe('petr@example.test');
    expect(emailKey('not an email')).toBeUndefined();
    const c = {
      custom_fields_values: [
        { field_id: 1, field_code: 'PHONE', values: [{ value: '+79991234567' }, { value: '' }] },
        { field_id: 2, field_code: 'EMAIL', values: [{ value: 'a@b.c' }] },
      ],
    };
    expect(contactValues(c, 'PHONE')).toEqual(['+79991234567']);
    expect(contactValues(c, 'EMAIL')).toEqual(['a@b.c']);
  });
});
