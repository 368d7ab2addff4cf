/**
 * The MZPO-shaped world of the 1C tests: one sandbox serving two accounts (retail and corp, with
 * the old system's account, list and field ids), a REST client per account, and the sample course
 * of the old MZPO API (its `update_course` test dump).
 */
import { startSandbox, type Sandbox, type SandboxAccount } from '../../infra/local/sandbox/index.ts';
import { AmoClient } from '../../lib/amocrm/client/client.ts';
import type { AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import { MemoryBreakerStore } from '../../lib/amocrm/client/breaker-store.ts';
import { MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { MemoryRateBudget } from '../../lib/amocrm/client/rate-budget.ts';
import type { TokenSource } from '../../lib/amocrm/client/types.ts';
import { onecSchema, MZPO_NAMING, MZPO_PRICE_RULE, type OnecConfig } from '../../lib/flows/onec/config.ts';

export const CLIENT_ID = 'client-onec';
export const RETAIL = {
  id: 28395871,
  subdomain: 'mzpoeducationsale',
  catalog: 12463,
  uid: 710407,
  sku: 647993,
  price: 647997,
  descr: 647995,
  duration: 715507,
  form: 715509,
};
export const CORP = {
  id: 19453687,
  subdomain: 'mzpoeducation',
  catalog: 5111,
  uid: 751191,
  sku: 751165,
  price: 751169,
  descr: 751167,
  duration: 751185,
  form: 751187,
};
/** Lead/contact/company fields of the export (retail: LEAD1C, CLIENT_1C; corp ids where the old code had them). */
export const EXPORT_FIELDS = { lead1c: 710399, client1c: 710429, company1c: 748387, inn: 69123 };
export const ADMIN = 8348113;
export const MANAGER = 2375116;
export const PIPELINE = 3338257;
export const STATUS_NEW = 4001;
export const STATUS_WON_TRIGGER = 4002;

export const SAMPLE_UID = 'df5f07f7-5821-11eb-86f0-82172a65f31e';

/** The old MZPO `test.php` dump, as 1C posted it (form fields). */
export function sampleCourseForm(extra: Record<string, string> = {}): URLSearchParams {
  const p = new URLSearchParams();
  p.set('product_id_1C', SAMPLE_UID);
  p.set('name', 'Производственная практика 120/60');
  p.set('short_name', 'ПР');
  p.set('duration', '0');
  const prices: Array<[string, string, string]> = [
    ['Основная цена', '9e633e6d-3d2d-11eb-86e1-82172a65f31e', '6000'],
    ['Скидка 10%', '5bba5dc3-580c-11eb-86f0-82172a65f31e', '5700'],
    ['Зел.цена', '5bba5dc4-580c-11eb-86f0-82172a65f31e', '2500'],
    ['Дист.', '803fbc13-580c-11eb-86f0-82172a65f31e', '5100'],
    ['Инд. цена', '8a93a07d-580c-11eb-86f0-82172a65f31e', '7500'],
    ['Скидка 20%', 'ac09359f-5b2e-11eb-86f0-82172a65f31e', '0'],
    ['Скидка 30%', 'b2d727eb-5b2e-11eb-86f0-82172a65f31e', '0'],
    ['Цена выходного дня', '3734f3f1-8d63-11eb-891f-20040ffb909d', '3125'],
    ['Мини-индивидуал (3-6)', '19494cda-8014-11ec-8931-20040ffb909d', '3750'],
  ];
  prices.forEach(([t, u, v], i) => {
    p.set(`ItemPrices[${i}][PriceType]`, t);
    p.set(`ItemPrices[${i}][UID]`, u);
    p.set(`ItemPrices[${i}][Price]`, v);
  });
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p;
}

/** The `onec` section for this world (callers' keys are secret refs; the test secret source holds them). */
export function onecConfig(outbound?: { baseUrl: string }): OnecConfig {
  const acc = (gw: string, a: typeof RETAIL) => ({
    account: gw,
    catalogId: a.catalog,
    uidField: a.uid,
    skuField: a.sku,
    priceField: a.price,
    fields: { supplementary_info: a.descr, duration: a.duration, format: a.form },
  });
  return onecSchema.parse({
    callers: [{ id: 'erp', key: { secret: 'onec/erp-key' } }],
    catalog: { accounts: [acc('corp', CORP), acc('retail', RETAIL)], naming: MZPO_NAMING, price: MZPO_PRICE_RULE },
    corp: { account: 'corp', innField: EXPORT_FIELDS.inn, managers: [MANAGER] },
    ...(outbound
      ? {
          outbound: {
            baseUrl: outbound.baseUrl,
            username: 'amo',
            password: { secret: 'onec/1c-password' },
            organization: 'НОЧУ ДПО МЦПО',
            accounts: [
              {
                account: 'retail',
                leadIdField: EXPORT_FIELDS.lead1c,
                contactIdField: EXPORT_FIELDS.client1c,
                companyIdField: EXPORT_FIELDS.company1c,
                innField: EXPORT_FIELDS.inn,
                catalogId: RETAIL.catalog,
                productUidField: RETAIL.uid,
                trigger: { pipelineId: PIPELINE, statusId: STATUS_WON_TRIGGER },
                failureTaskUser: ADMIN,
              },
            ],
          },
        }
      : {}),
  });
}

export interface OnecWorld {
  sb: Sandbox;
  retail: SandboxAccount;
  corp: SandboxAccount;
  clientFor: (gwAccount: string) => AmoClientForAccount;
  close(): Promise<void>;
}

function seedAccount(acc: SandboxAccount, a: typeof RETAIL): void {
  acc.admin.seed({
    users: [
      { id: ADMIN, name: 'Кочура Д.', is_admin: true },
      { id: MANAGER, name: 'Киреева А.' },
    ],
    pipelines: [
      {
        id: PIPELINE,
        name: 'Обучение',
        is_main: true,
        statuses: [
          { id: 4000, name: 'Неразобранное', type: 1 },
          { id: STATUS_NEW, name: 'Новая' },
          { id: STATUS_WON_TRIGGER, name: 'Оплачено' },
        ],
      },
    ],
    customFields: {
      leads: [{ id: EXPORT_FIELDS.lead1c, name: 'ID сделки 1С', type: 'text' }],
      contacts: [{ id: EXPORT_FIELDS.client1c, name: 'ID клиента 1С', type: 'text' }],
      companies: [
        { id: EXPORT_FIELDS.company1c, name: 'ID компании 1С', type: 'text' },
        { id: EXPORT_FIELDS.inn, name: 'ИНН', type: 'text' },
      ],
    },
    catalogs: [
      {
        id: a.catalog,
        name: 'Курсы',
        type: 'products',
        fields: [
          { id: a.uid, name: 'UID 1С', type: 'text' },
          { id: a.sku, name: 'Артикул', type: 'text' },
          { id: a.price, name: 'Цена', type: 'price' },
          { id: a.descr, name: 'Описание', type: 'textarea' },
          { id: a.duration, name: 'Продолжительность', type: 'numeric' },
          { id: a.form, name: 'Форма обучения', type: 'text' },
        ],
      },
    ],
  });
}

export async function onecWorld(): Promise<OnecWorld> {
  const sb = await startSandbox({
    integrations: [{ clientId: CLIENT_ID, clientSecret: 'secret-onec', redirectUri: 'https://gw.example/oauth/callback' }],
    account: { id: RETAIL.id, subdomain: RETAIL.subdomain, limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 } },
    extraAccounts: [{ id: CORP.id, subdomain: CORP.subdomain, limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 } }],
  });
  const retail = sb.account(RETAIL.subdomain);
  const corp = sb.account(CORP.subdomain);
  seedAccount(retail, RETAIL);
  seedAccount(corp, CORP);
  const byKey: Record<string, SandboxAccount> = { retail, corp };
  const tokens = new Map(Object.entries(byKey).map(([k, a]) => [k, a.admin.issueLongLivedToken({ clientId: CLIENT_ID }).access_token]));
  const source: TokenSource = {
    getToken: async (ref) => ({ accessToken: tokens.get(ref.accountKey) ?? '', baseUrl: (byKey[ref.accountKey] as SandboxAccount).url }),
    onUnauthorized: async () => {},
  };
  const client = new AmoClient({
    tokens: source,
    budget: new MemoryRateBudget({ perIntegrationPerSecond: 1_000, perAccountPerSecond: null }),
    breaker: new MemoryBreakerStore(),
    cache: new MemoryCacheStore(),
    mode: 'await',
  });
  return {
    sb,
    retail,
    corp,
    clientFor: (gw) => client.forAccount({ clientId: CLIENT_ID, accountKey: gw }),
    close: () => sb.close(),
  };
}
