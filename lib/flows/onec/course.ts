/**
 * A 1C course (`update_course` of the old MZPO API): the payload's shape, the element name
 * (the naming rule), the price (the price-type rule) and the field values an element gets.
 */
import * as z from '../../common/zod.ts';
import type { CustomFieldWrite } from '../../amocrm/client/custom-fields.ts';
import type { OnecCatalogAccount, OnecNaming, OnecPriceRule } from './config.ts';

/** Numbers arrive as strings from form posts; `""` means absent. */
const num = z.preprocess(
  (v) => (v === '' || v === null ? undefined : typeof v === 'string' ? Number(v.trim().replace(',', '.')) : v),
  z.optional(z.number()),
);
const text = z.preprocess(
  (v) => (v === null ? undefined : typeof v === 'number' ? String(v) : v),
  z.optional(z.string().check(z.maxLength(10_000))),
);
export const intId = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
  z.number().check(z.int(), z.positive()),
);

export const uidSchema = z.string().check(z.trim(), z.minLength(1, 'required'), z.maxLength(100));

export const amoIdsSchema = z._default(z.array(z.looseObject({ account_id: intId, entity_id: intId })).check(z.maxLength(20)), []);

export const courseSchema = z.looseObject({
  product_id_1C: uidSchema,
  name: z.string().check(z.trim(), z.minLength(1, 'required'), z.maxLength(255)),
  short_name: text,
  duration: num,
  format: text,
  supplementary_info: text,
  ItemPrices: z._default(z.array(z.looseObject({ PriceType: text, UID: text, Price: num })).check(z.maxLength(100)), []),
  amo_ids: amoIdsSchema,
});
export type Course = z.output<typeof courseSchema>;

export const uidRequestSchema = z.looseObject({ uid: uidSchema });

/** Replaces `{key}` by the payload's value ('' when absent); `{sku}` is `short_name`. */
export function renderTemplate(template: string, values: Record<string, unknown>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, k: string) => {
    const v = values[k];
    return v === undefined || v === null ? '' : String(v);
  });
}

/** The element name by the naming rule. */
export function elementName(course: Course, naming: OnecNaming): string {
  const sku = (course.short_name ?? '').trim();
  const qualifies = sku !== '' && ((naming.whenSkuHasNoDash && !sku.includes('-')) || naming.whenSkuIn.includes(sku));
  const values = { ...course, sku, name: course.name.trim() };
  return renderTemplate(qualifies ? naming.template : naming.plain, values).trim();
}

function priceOf(course: Course, type: string): number | undefined {
  const p = course.ItemPrices.find((x) => x.UID === type || x.PriceType === type);
  return p?.Price;
}

/** The price by the price-type rule: the first matching SKU rule, else the default type; missing or 0 → the fallback type. */
export function choosePrice(course: Course, rule: OnecPriceRule): { price: number; priceType: string } | undefined {
  const sku = course.short_name ?? '';
  const type = rule.rules.find((r) => sku.includes(r.skuContains))?.priceType ?? rule.default;
  const chosen = priceOf(course, type);
  if (chosen !== undefined && chosen !== 0) return { price: chosen, priceType: type };
  if (rule.fallback !== undefined) {
    const fb = priceOf(course, rule.fallback);
    if (fb !== undefined) return { price: fb, priceType: rule.fallback };
  }
  return chosen !== undefined ? { price: chosen, priceType: type } : undefined;
}

/** The element's field values in one account (empty values are left out, never written as blanks). */
export function elementFields(course: Course, acc: OnecCatalogAccount, price: number | undefined): CustomFieldWrite[] {
  const out: CustomFieldWrite[] = [{ field_id: acc.uidField, values: [{ value: course.product_id_1C }] }];
  if (acc.skuField && course.short_name) out.push({ field_id: acc.skuField, values: [{ value: course.short_name }] });
  if (acc.priceField && price !== undefined) out.push({ field_id: acc.priceField, values: [{ value: price }] });
  const rec = course as Record<string, unknown>;
  for (const [key, fieldId] of Object.entries(acc.fields)) {
    const v = rec[key];
    // MZPO wrote DURATION only when set: 0 and '' count as unset.
    if (v === undefined || v === null || v === '' || v === 0) continue;
    if (typeof v !== 'string' && typeof v !== 'number') continue;
    out.push({ field_id: fieldId, values: [{ value: v }] });
  }
  return out;
}
