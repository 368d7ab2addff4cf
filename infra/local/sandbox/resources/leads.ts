/** `/api/v4/leads` (amoCRM leads-api; docs/amocrm-protocol.md#entity-limits) including `POST /api/v4/leads/complex`. */
import { E, limitPerPage, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import type { OutEvent } from '../events.ts';
import { hal, isRecord } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { Lead } from '../state.ts';
import { readBatch, requestIdOf } from './common.ts';
import { applyEntity, validateEntity, type EntityOp } from './entities.ts';
import { addHandler, getOneHandler, listHandler, patchHandler, patchOneHandler } from './entity-routes.ts';
import { complexExtras, recordUnsorted, type ComplexExtras } from './unsorted.ts';

/** `POST /api/v4/leads/complex`: at most 50 leads per request (docs/amocrm-protocol.md#entity-limits). */
export const COMPLEX_MAX = 50;

/**
 * leads-api complex: "Для добавляемых сущностей (сделка, контакт, компания), можно передать не более
 * 40 значений дополнительных полей" (and per contact/company model: "не более 40 значений"). The
 * refusal is undocumented: 400 `InvalidValue` on the entity's `custom_fields_values` with Symfony's
 * Count wording (*assumed*). "Значений" read pessimistically: every value counts (a field with three
 * phones counts three), not only every field.
 */
export const COMPLEX_MAX_FIELDS = 40;

function valueCount(cfv: unknown[]): number {
  return cfv.reduce<number>((n, f) => n + (isRecord(f) && Array.isArray(f.values) ? Math.max(1, f.values.length) : 1), 0);
}

function tooManyFields(raw: unknown, prefix: string, errs: FieldError[]): void {
  if (isRecord(raw) && Array.isArray(raw.custom_fields_values) && valueCount(raw.custom_fields_values) > COMPLEX_MAX_FIELDS) {
    errs.push(E.invalid(`${prefix}custom_fields_values`, `This collection should contain ${COMPLEX_MAX_FIELDS} elements or less.`));
  }
}

export function leadRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/leads', handler: listHandler('leads') },
    { method: 'POST', template: '/api/v4/leads', handler: addHandler('leads') },
    { method: 'PATCH', template: '/api/v4/leads', handler: patchHandler('leads') },
    { method: 'POST', template: '/api/v4/leads/complex', handler: complex },
    { method: 'GET', template: '/api/v4/leads/{id}', handler: getOneHandler('leads') },
    { method: 'PATCH', template: '/api/v4/leads/{id}', handler: patchOneHandler('leads') },
  ];
}

interface ComplexOp {
  requestId: string;
  lead: EntityOp;
  contact?: EntityOp | { existing: number };
  company?: EntityOp | { existing: number };
  /** `_embedded.metadata` (an Unsorted lead) and `_embedded.source`, see unsorted.ts. */
  extras: ComplexExtras;
}

function nested(
  ctx: RestCtx,
  kind: 'contacts' | 'companies',
  list: unknown,
  index: number,
  errs: FieldError[],
): EntityOp | { existing: number } | undefined {
  if (list === undefined) return undefined;
  const path = `_embedded.${kind}`;
  if (!Array.isArray(list) || list.length > 1) {
    // leads-api complex: "Для одной сделки можно указать не более 1 связанного контакта и 1 связанной компании".
    errs.push(E.invalid(path, 'At most one related entity per lead.'));
    return undefined;
  }
  const x: unknown = list[0];
  if (x === undefined) return undefined;
  tooManyFields(x, `${path}.0.`, errs);
  if (isRecord(x) && typeof x.id === 'number') {
    if (!ctx.state.entityMap(kind).has(x.id)) {
      errs.push(E.notFound(`${path}.0.id`));
      return undefined;
    }
    return { existing: x.id };
  }
  return validateEntity(ctx, kind, 'add', x, index, errs, { prefix: `${path}.0.` });
}

/**
 * leads-api "Комплексное добавление": ≤ 50 leads, each with at most one contact and one company
 * (given by id or as a full model); answer `[{id, contact_id, company_id, request_id:[…], merged}]`.
 * Duplicate control is not simulated: `merged` is always false (*assumed*, it is opt-in per integration).
 */
function complex(ctx: RestCtx) {
  const body = readBatch(ctx, Math.max(ctx.maxEntities, COMPLEX_MAX + 1));
  if (!body.ok) return body.res;
  if (body.value.length > COMPLEX_MAX) return limitPerPage(COMPLEX_MAX); // *assumed*: same 422 shape as the 250 rule
  const ops: ComplexOp[] = [];
  const failed: RequestErrors[] = [];
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    tooManyFields(item, '', errs);
    const lead = validateEntity(ctx, 'leads', 'add', item, i, errs, { embeddedLinks: false });
    const emb = isRecord(item) && isRecord(item._embedded) ? item._embedded : {};
    const contact = nested(ctx, 'contacts', emb.contacts, i, errs);
    const company = nested(ctx, 'companies', emb.companies, i, errs);
    const extras = complexExtras(ctx, item, lead, errs);
    if (lead && errs.length === 0)
      ops.push({ requestId: requestIdOf(item, i), lead, extras, ...(contact ? { contact } : {}), ...(company ? { company } : {}) });
    else failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  const events: OutEvent[] = [];
  const out = ops.map((op) => {
    let companyId: number | null = null;
    let contactId: number | null = null;
    let companyIsNew = false;
    if (op.company) {
      if ('existing' in op.company) companyId = op.company.existing;
      else {
        const r = applyEntity(ctx, op.company);
        companyId = r.entity.id;
        companyIsNew = true;
        events.push(...r.events);
      }
    }
    if (op.contact) {
      if ('existing' in op.contact) contactId = op.contact.existing;
      else {
        // "При создании нового контакта и компании, они будут связаны между собой."
        if (companyIsNew && companyId !== null) op.contact.companyId = companyId;
        const r = applyEntity(ctx, op.contact);
        contactId = r.entity.id;
        events.push(...r.events);
      }
    }
    op.lead.contacts = contactId ? [{ id: contactId, is_main: true }] : [];
    if (companyId) op.lead.companyId = companyId;
    const r = applyEntity(ctx, op.lead);
    events.push(...r.events);
    const lead = r.entity as Lead;
    if (op.extras.source) lead.source_id = op.extras.source.id;
    if (op.extras.metadata) {
      recordUnsorted(ctx, {
        // *assumed*: an Unsorted lead made by complex has no source_uid; its source_name is the source's, else "API".
        source_uid: null,
        source_name: op.extras.source?.name ?? 'API',
        category: op.extras.metadata.category,
        pipeline_id: lead.pipeline_id,
        created_at: lead.created_at,
        metadata: op.extras.metadata.data,
        lead_id: lead.id,
        contact_id: contactId,
        company_id: companyId,
        existing: {
          contact: op.contact !== undefined && 'existing' in op.contact,
          company: op.company !== undefined && 'existing' in op.company,
        },
      });
    }
    return { id: r.entity.id, contact_id: contactId, company_id: companyId, request_id: [op.requestId], merged: false };
  });
  void ctx.hooks.emit(events);
  return hal(200, out);
}
