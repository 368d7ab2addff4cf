/** Shared set-up for the rules tests: a dictionary shaped like the sandbox's demo account, rules compiled against it. */
import { AccountSchema, type AccountSchemaJson } from '../../lib/amocrm/client/schema.ts';
import { rulesSchema, type RulesConfigInput } from '../../lib/rules/config.ts';
import { resolveRules, type CompiledRules } from '../../lib/rules/resolve.ts';

export const DICT: AccountSchemaJson = {
  version: 1,
  pulledAt: '2026-01-01T00:00:00.000Z',
  account: { id: 31000001, name: 'Demo', subdomain: 'sandbox' },
  pipelines: [
    {
      id: 5001,
      name: 'Продажи',
      is_main: true,
      statuses: [
        { id: 50010, name: 'Неразобранное', sort: 10 },
        { id: 50011, name: 'Новая заявка', sort: 20 },
        { id: 50012, name: 'Записан на приём', sort: 30 },
        { id: 50013, name: 'Пришёл', sort: 40 },
        { id: 142, name: 'Успешно реализовано', sort: 10000 },
        { id: 143, name: 'Закрыто и не реализовано', sort: 11000 },
      ],
    },
    {
      id: 5002,
      name: 'Повторные',
      is_main: false,
      statuses: [
        { id: 50021, name: 'Напомнить', sort: 10 },
        { id: 50022, name: 'Записан', sort: 20 },
        { id: 142, name: 'Успешно реализовано', sort: 10000 },
        { id: 143, name: 'Закрыто и не реализовано', sort: 11000 },
      ],
    },
  ],
  customFields: {
    leads: [
      {
        id: 7001,
        name: 'Источник',
        type: 'select',
        code: 'SOURCE',
        enums: [
          { id: 70011, value: 'Сайт' },
          { id: 70012, value: 'Звонок' },
        ],
      },
      { id: 7003, name: 'Сумма чека', type: 'numeric', code: 'CHECK_SUM', enums: null },
      { id: 7004, name: 'Комментарий', type: 'textarea', code: null, enums: null },
    ],
    contacts: [],
    companies: [],
  },
  tags: {
    leads: [
      { id: 301, name: 'сайт' },
      { id: 302, name: 'повторный' },
    ],
    contacts: [],
    companies: [],
  },
  taskTypes: [
    { id: 1, name: 'Связаться', code: 'FOLLOW_UP' },
    { id: 2, name: 'Встреча', code: 'MEETING' },
    { id: 3455098, name: 'Перезвонить', code: null },
  ],
  users: [
    { id: 1001, name: 'Анна Админова', email: 'anna@example.test' },
    { id: 1002, name: 'Борис Продажин', email: 'boris@example.test' },
    { id: 1003, name: 'Вера Звонкова', email: 'vera@example.test' },
  ],
};

export function compile(input: RulesConfigInput, dict: AccountSchemaJson = DICT): CompiledRules {
  const schema = AccountSchema.from(dict);
  return resolveRules(rulesSchema.parse(input), () => schema);
}
