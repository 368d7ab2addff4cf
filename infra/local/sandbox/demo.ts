/** The demo account `npm run sandbox` starts with: a pipeline with stages, a few fields, users, leads. */
import type { SeedSpec } from './seed.ts';

export const DEMO_INTEGRATION = {
  clientId: 'demo-client-0000-0000-0000-000000000001',
  clientSecret: 'demo-client-secret',
  redirectUri: 'http://127.0.0.1:3000/oauth/callback',
  disconnectUrl: 'http://127.0.0.1:3000/oauth/disconnect',
};

export function demoSeed(): SeedSpec {
  return {
    users: [
      { id: 1001, name: 'Анна Админова', email: 'anna@example.test', is_admin: true },
      { id: 1002, name: 'Борис Продажин', email: 'boris@example.test' },
      { id: 1003, name: 'Вера Звонкова', email: 'vera@example.test' },
    ],
    pipelines: [
      {
        id: 5001,
        name: 'Продажи',
        is_main: true,
        statuses: [
          { id: 50010, name: 'Неразобранное', type: 1, color: '#c1c1c1' },
          { id: 50011, name: 'Новая заявка' },
          { id: 50012, name: 'Записан на приём' },
          { id: 50013, name: 'Пришёл' },
        ],
      },
      {
        id: 5002,
        name: 'Повторные',
        statuses: [
          { id: 50021, name: 'Напомнить' },
          { id: 50022, name: 'Записан' },
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
            { id: 70013, value: 'Чат' },
          ],
        },
        { id: 7002, name: 'Дата визита', type: 'date_time', code: 'VISIT_AT' },
        { id: 7003, name: 'Сумма чека', type: 'numeric', code: 'CHECK_SUM' },
        { id: 7004, name: 'Комментарий', type: 'textarea' },
        { id: 7005, name: 'utm_source', type: 'text', code: 'UTM_SOURCE' },
      ],
      contacts: [{ id: 7101, name: 'Дата рождения', type: 'birthday', code: 'BIRTHDAY' }],
    },
    tags: { leads: ['сайт', 'повторный'] },
    contacts: [
      {
        id: 9001,
        name: 'Иван Петров',
        custom_fields_values: [
          { field_code: 'PHONE', values: [{ value: '+79161234567', enum_code: 'MOB' }] },
          { field_code: 'EMAIL', values: [{ value: 'ivan@example.test', enum_code: 'WORK' }] },
        ],
      },
      {
        id: 9002,
        name: 'Мария Сидорова',
        custom_fields_values: [{ field_code: 'PHONE', values: [{ value: '+79035550011', enum_code: 'WORK' }] }],
      },
    ],
    leads: [
      {
        id: 8001,
        name: 'Заявка с сайта',
        price: 3500,
        status_id: 50011,
        pipeline_id: 5001,
        responsible_user_id: 1002,
        _embedded: { contacts: [{ id: 9001 }], tags: [{ name: 'сайт' }] },
        custom_fields_values: [{ field_id: 7001, values: [{ enum_id: 70011 }] }],
      },
      {
        id: 8002,
        name: 'Звонок',
        price: 0,
        status_id: 50012,
        pipeline_id: 5001,
        responsible_user_id: 1003,
        _embedded: { contacts: [{ id: 9002 }] },
      },
      { id: 8003, name: 'Повторный визит', status_id: 50021, pipeline_id: 5002 },
    ],
  };
}
