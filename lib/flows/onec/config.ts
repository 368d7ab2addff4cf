/**
 * The `onec` config section (README.md in this folder): the 1C (or any ERP) exchange. Who may call
 * the inbound API (one key per caller), where catalog elements live in each account and how a 1C
 * course becomes one (name template, price-type rule, field mapping), and where won deals go out
 * (1C's HTTP service, its method names, the fields the returned 1C ids are written to).
 *
 * Field and catalog references are amoCRM ids: 1C callers and the old MZPO code speak ids, and
 * an id cannot become ambiguous when someone renames a field.
 */
import * as z from 'zod';
import { secretRefSchema } from '../../config/secret-ref.ts';

const accountId = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'an account id as in accounts[].id');
const fieldId = z.number().int().positive();
/** A payload key of the 1C request (`short_name`, `duration`, …). */
const payloadKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a payload key is letters, digits and _');

/** One caller of the inbound API (a 1C base, an ERP): its key travels in `X-Api-Key`. */
const callerSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]{0,40}$/),
    key: secretRefSchema,
    /** The caller may also send its key as `secret_key` in the body (the old MZPO API did; drop-in compatibility). Default true. */
    bodyKey: z.boolean().default(true),
  })
  .strict();

/** Where the catalog elements of one account live and which element fields the course fills. */
const catalogAccountSchema = z
  .object({
    account: accountId,
    /** The products list (MZPO: 12463 retail, 5111 corp). */
    catalogId: z.number().int().positive(),
    /** Holds the 1C uid: looked up on upsert, delete and doubles (MZPO: COURSE_UID_1c). */
    uidField: fieldId,
    /** The SKU field (the course prefix, `short_name`). */
    skuField: fieldId.optional(),
    /** The price field (the price the price-type rule picks). */
    priceField: fieldId.optional(),
    /** Other payload keys → element fields (MZPO: `format` → STUDY_FORM, `supplementary_info` → COURSE_DESCR, `duration` → DURATION). Empty values are not written. */
    fields: z.record(payloadKey, fieldId).default({}),
  })
  .strict();

/** Price types are matched by their 1C UID or by their name (`PriceType`). */
const priceTypeSchema = z.string().min(1).max(200);

/** The price-type rule: the first rule whose SKU test holds names the type; empty or zero → the fallback type. */
const priceRuleSchema = z
  .object({
    rules: z
      .array(
        z
          .object({
            /** The SKU (prefix) contains this text. */
            skuContains: z.string().min(1),
            priceType: priceTypeSchema,
          })
          .strict(),
      )
      .default([]),
    /** When no rule matches. */
    default: priceTypeSchema,
    /** When the chosen type has no price (missing or 0). */
    fallback: priceTypeSchema.optional(),
  })
  .strict();

/**
 * The element name: `template` when the SKU qualifies, else `plain`. `{name}`, `{sku}` and any
 * payload key in braces are replaced. MZPO appended ` (<prefix>)` when the prefix had no `-` or was
 * one of a short list.
 */
const namingSchema = z
  .object({
    template: z.string().min(1).max(500).default('{name} ({sku})'),
    plain: z.string().min(1).max(500).default('{name}'),
    /** The template applies when the SKU has no `-` … */
    whenSkuHasNoDash: z.boolean().default(true),
    /** … or is one of these. */
    whenSkuIn: z.array(z.string().min(1)).default([]),
  })
  .strict();

/** Where the returned 1C ids are written (amoCRM field ids per account). */
const exportAccountSchema = z
  .object({
    account: accountId,
    /** Lead field for `lead_id_1C` (MZPO: LEAD1C). */
    leadIdField: fieldId,
    /** Contact field for `client_id_1C` (MZPO: CLIENT_1C): read first, written after EditStudent. */
    contactIdField: fieldId,
    /** Company field for `company_id_1C` (MZPO: COMPANY_ID_1C). */
    companyIdField: fieldId.optional(),
    /** The catalog whose elements are the deal's products, and their uid field (`product_id_1C`). */
    catalogId: z.number().int().positive().optional(),
    productUidField: fieldId.optional(),
    /** Company INN field (sent as `inn`). */
    innField: fieldId.optional(),
    /** The trigger: a lead reaching this status (ids) is exported once. */
    trigger: z.object({ pipelineId: z.number().int().positive().optional(), statusId: z.number().int().positive() }).strict().optional(),
    /** Whom the failure task is for (a user id); default the lead's responsible user. */
    failureTaskUser: z.number().int().positive().optional(),
    /** The failure task's type (default 1, a call; MZPO used a custom type). */
    failureTaskType: z.number().int().positive().default(1),
    /** Deals without products are refused (MZPO retail did). Default true. */
    requireProducts: z.boolean().default(true),
  })
  .strict();

const outboundSchema = z
  .object({
    /** 1C's HTTP service, e.g. `https://1c.example.ru/base/hs/amo/` (the method name is appended). */
    baseUrl: z.string().url(),
    /** Basic auth: the user and the password's secret. */
    username: z.string().min(1),
    password: secretRefSchema,
    /** The 1C method names (the old MZPO ones by default). */
    methods: z
      .object({
        student: z.string().min(1).default('EditStudent'),
        partner: z.string().min(1).default('EditPartner'),
        application: z.string().min(1).default('EditApplication'),
      })
      .strict()
      .default({ student: 'EditStudent', partner: 'EditPartner', application: 'EditApplication' }),
    /** Per request. */
    timeoutMs: z.number().int().min(100).max(60_000).default(15_000),
    /** `organization` in EditApplication (MZPO: "НОЧУ ДПО МЦПО"). */
    organization: z.string().default(''),
    accounts: z.array(exportAccountSchema).min(1),
  })
  .strict();

export const onecSchema = z
  .object({
    callers: z.array(callerSchema).min(1),
    catalog: z
      .object({
        accounts: z.array(catalogAccountSchema).min(1),
        naming: namingSchema.default({ template: '{name} ({sku})', plain: '{name}', whenSkuHasNoDash: true, whenSkuIn: [] }),
        price: priceRuleSchema,
      })
      .strict()
      .optional(),
    /** company + contact + lead and the managers list: the account they go to. */
    corp: z
      .object({
        account: accountId,
        /** Company INN field (MZPO: 69123). */
        innField: fieldId,
        /** Contact position field; default the system POSITION field. */
        positionField: fieldId.optional(),
        /** Where the new lead goes (default: amoCRM's default pipeline). */
        pipelineId: z.number().int().positive().optional(),
        statusId: z.number().int().positive().optional(),
        /** The managers 1C may choose from (user ids); empty = every active user. */
        managers: z.array(z.number().int().positive()).default([]),
      })
      .strict()
      .optional(),
    outbound: outboundSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.callers.forEach((k, i) => {
      if (seen.has(k.id)) ctx.addIssue({ code: 'custom', path: ['callers', i, 'id'], message: `duplicate caller "${k.id}"` });
      seen.add(k.id);
    });
  });

export type OnecConfig = z.output<typeof onecSchema>;
export type OnecCatalogConfig = NonNullable<OnecConfig['catalog']>;
export type OnecCatalogAccount = OnecCatalogConfig['accounts'][number];
export type OnecNaming = OnecCatalogConfig['naming'];
export type OnecPriceRule = OnecCatalogConfig['price'];
export type OnecOutbound = NonNullable<OnecConfig['outbound']>;
export type OnecExportAccount = OnecOutbound['accounts'][number];
export type OnecCorp = NonNullable<OnecConfig['corp']>;

/** MZPO's price-type rule (the old update_course), ready to paste into a config. */
export const MZPO_PRICE_RULE: z.input<typeof priceRuleSchema> = {
  rules: [
    { skuContains: '-Д', priceType: '803fbc13-580c-11eb-86f0-82172a65f31e' },
    { skuContains: '-И', priceType: 'c0a6311b-8d63-11eb-891f-20040ffb909d' },
  ],
  default: '5bba5dc4-580c-11eb-86f0-82172a65f31e',
  fallback: '9e633e6d-3d2d-11eb-86e1-82172a65f31e',
};

/** MZPO's naming rule: ` (<prefix>)` for prefixes without `-` and three named ones. */
export const MZPO_NAMING: z.input<typeof namingSchema> = {
  template: '{name} ({sku})',
  plain: '{name}',
  whenSkuHasNoDash: true,
  whenSkuIn: ['МАС-1', 'КОС-1', 'КЭС-1'],
};

/** Every account id the section names, with its path (the root schema checks them against `accounts`). */
export function onecAccountRefs(c: OnecConfig | undefined): Array<[Array<string | number>, string]> {
  if (!c) return [];
  const out: Array<[Array<string | number>, string]> = [];
  c.catalog?.accounts.forEach((a, i) => out.push([['catalog', 'accounts', i, 'account'], a.account]));
  if (c.corp) out.push([['corp', 'account'], c.corp.account]);
  c.outbound?.accounts.forEach((a, i) => out.push([['outbound', 'accounts', i, 'account'], a.account]));
  return out;
}
