/**
 * The 1C exchange on the local sandbox account (`npm start -- --with-1c`, the e2e tests): an
 * `onec` section for the generated config (the MZPO rules, the sandbox's `local` account as the
 * catalog, corp and export account, the test 1C server as 1C), its secrets, and the seed the
 * sandbox needs for it (a "Курсы" list with the uid / SKU / price fields, the 1C id fields on leads,
 * contacts and companies). The demo's own fields are kept.
 */
import type { SandboxAdmin } from '../sandbox/index.ts';
import { demoSeed } from '../sandbox/demo.ts';
import type { ConfigInput } from '../../../lib/config/schema.ts';
import { MZPO_NAMING, MZPO_PRICE_RULE } from '../../../lib/flows/onec/config.ts';

/** The ids the section and the seed share (the old MZPO retail account's, for recognisability). */
export const LOCAL_ONEC = {
  catalog: 12463,
  uid: 710407,
  sku: 647993,
  price: 647997,
  lead1c: 710399,
  client1c: 710429,
  company1c: 748387,
  inn: 69123,
  /** The demo's "Продажи" pipeline and its "Записан на приём" stage: the export trigger. */
  trigger: { pipelineId: 5001, statusId: 50012 },
  /** The demo admin gets the failure tasks. */
  taskUser: 1001,
} as const;

/** The 1C API key of the local sandbox world: published on purpose (offline only, like the demo integration's secret). */
export const LOCAL_ONEC_KEY = 'local-onec-key-not-secret';

export const LOCAL_ONEC_SECRET_NAMES = { key: 'onec/erp-key', password: 'onec/1c-password' } as const;

export function localOnecSection(baseUrl: string, username = 'amo'): NonNullable<ConfigInput['onec']> {
  const F = LOCAL_ONEC;
  return {
    callers: [{ id: 'erp', key: { secret: LOCAL_ONEC_SECRET_NAMES.key } }],
    catalog: {
      accounts: [{ account: 'local', catalogId: F.catalog, uidField: F.uid, skuField: F.sku, priceField: F.price }],
      naming: MZPO_NAMING,
      price: MZPO_PRICE_RULE,
    },
    corp: { account: 'local', innField: F.inn },
    outbound: {
      baseUrl,
      username,
      password: { secret: LOCAL_ONEC_SECRET_NAMES.password },
      timeoutMs: 2000,
      organization: 'НОЧУ ДПО МЦПО',
      accounts: [
        {
          account: 'local',
          leadIdField: F.lead1c,
          contactIdField: F.client1c,
          companyIdField: F.company1c,
          innField: F.inn,
          catalogId: F.catalog,
          productUidField: F.uid,
          trigger: { ...F.trigger },
          failureTaskUser: F.taskUser,
        },
      ],
    },
  };
}

/** The fields and the list the section names, added to the sandbox account (the demo's fields kept). */
export function seedLocalOnec(admin: SandboxAdmin): void {
  const F = LOCAL_ONEC;
  const demo = demoSeed().customFields ?? {};
  admin.seed({
    customFields: {
      leads: [...(demo.leads ?? []), { id: F.lead1c, name: 'ID сделки 1С', type: 'text' }],
      contacts: [...(demo.contacts ?? []), { id: F.client1c, name: 'ID клиента 1С', type: 'text' }],
      companies: [
        ...(demo.companies ?? []),
        { id: F.company1c, name: 'ID компании 1С', type: 'text' },
        { id: F.inn, name: 'ИНН', type: 'text' },
      ],
    },
    catalogs: [
      {
        id: F.catalog,
        name: 'Курсы',
        type: 'products',
        fields: [
          { id: F.uid, name: 'UID 1С', type: 'text' },
          { id: F.sku, name: 'Артикул', type: 'text' },
          { id: F.price, name: 'Цена', type: 'price' },
        ],
      },
    ],
  });
}
