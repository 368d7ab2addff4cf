/**
 * amoCRM → 1C: one deal with its contact, company and products goes to 1C's HTTP service (the old
 * MZPO sendLead: EditStudent → EditPartner → EditApplication), the 1C ids come back into the
 * contact, company and lead fields, and a note says so.
 *
 * Never a double export: each 1C id is recorded in the export ledger (keyed by the trigger: lead +
 * status change, or the CLI's key) the moment 1C answers, and a retry reuses what is recorded
 * instead of asking 1C again; ids already in amoCRM's fields are reused too (and `lead_id_1C`
 * sent, so 1C updates its application rather than adding one).
 *
 * Never a silent loss: a failure adds a note on the lead and one open task for the configured user
 * (not one per retry), then the error says retry (1C down, amoCRM transient) or park (1C refused
 * the data, the deal has no products, the lead is gone).
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { CustomFieldValue, Lead } from '../../amocrm/entities.ts';
import { PermanentError, RetryableError } from '../../pipeline/outcome.ts';
import type { OnecExportAccount, OnecOutbound } from './config.ts';
import { OnecHttpClient, OnecRefusedError, OnecUnavailableError } from './onec-client.ts';

/** The 1C ids one export has obtained so far. */
export interface ExportProgress {
  client_id_1C?: string;
  company_id_1C?: string;
  lead_id_1C?: string;
  /** The write-back and the note are done. */
  done?: boolean;
}

/** Where an export's progress survives a retry (DynamoDB in AWS: lib/store/onec-export-ledger.ts). */
export interface ExportLedger {
  get(key: string): Promise<ExportProgress | undefined>;
  put(key: string, progress: ExportProgress): Promise<void>;
}

export class MemoryExportLedger implements ExportLedger {
  readonly items = new Map<string, ExportProgress>();
  async get(key: string) {
    return this.items.get(key);
  }
  async put(key: string, p: ExportProgress) {
    this.items.set(key, { ...p });
  }
}

export interface ExportDeps {
  client: AmoClientForAccount;
  outbound: OnecOutbound;
  account: OnecExportAccount;
  /** The 1C user's password (resolved from the secret store). */
  password: string;
  ledger: ExportLedger;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface ExportResult {
  leadId: number;
  client_id_1C: string;
  company_id_1C: string;
  lead_id_1C: string;
  /** false when the ledger says this trigger was already exported. */
  exported: boolean;
}

export const PARK_ONEC_REFUSED = 'onec-refused';
export const PARK_ONEC_NO_PRODUCTS = 'onec-no-products';
export const PARK_ONEC_LEAD_GONE = 'onec-lead-gone';

export const NOTE_EXPORTED = 'Сделка перенесена в 1С';
export const NOTE_FAILED = 'Не удалось перенести сделку в 1С';
export const NOTE_NO_PRODUCTS = 'Не удалось перенести сделку: отсутствуют товары!';
export const TASK_TEXT = 'Ошибка при переносе в 1С';

function textOf(values: CustomFieldValue[] | null | undefined, id: number | undefined): string | undefined {
  if (id === undefined) return undefined;
  const v = values?.find((f) => f.field_id === id)?.values[0]?.value;
  return v === undefined || v === null || String(v).trim() === '' ? undefined : String(v).trim();
}
function byCode(values: CustomFieldValue[] | null | undefined, code: string): string[] {
  return (values?.find((f) => f.field_code === code)?.values ?? []).map((v) => String(v.value ?? '')).filter((s) => s !== '');
}

/** Exports one lead; throws RetryableError / PermanentError (after the note and task) on failure. */
export async function exportLead(deps: ExportDeps, leadId: number, key: string): Promise<ExportResult> {
  const known = (await deps.ledger.get(key)) ?? {};
  const lead = await deps.client.leads.get(leadId, { with: ['contacts', 'catalog_elements'], cache: false });
  if (!lead) throw new PermanentError(PARK_ONEC_LEAD_GONE, `lead ${leadId} does not exist (any more)`);
  if (known.done && known.lead_id_1C && known.client_id_1C && known.company_id_1C)
    return { leadId, client_id_1C: known.client_id_1C, company_id_1C: known.company_id_1C, lead_id_1C: known.lead_id_1C, exported: false };
  try {
    return await run(deps, lead, key, known);
  } catch (e) {
    if (e instanceof PermanentError && e.reason === PARK_ONEC_NO_PRODUCTS) {
      await note(deps, lead.id, NOTE_NO_PRODUCTS, `${key}#no-products`);
      throw e;
    }
    try {
      await reportFailure(deps, lead, key, e instanceof Error ? e.message : String(e));
    } catch {
      // amoCRM failing too: the error below still retries or parks the message, nothing is lost.
    }
    if (e instanceof OnecRefusedError) throw new PermanentError(PARK_ONEC_REFUSED, e.message);
    if (e instanceof OnecUnavailableError) throw new RetryableError(e.message);
    throw e;
  }
}

async function run(deps: ExportDeps, lead: Lead, key: string, progress: ExportProgress): Promise<ExportResult> {
  const { client, account: acc, outbound } = deps;
  const onec = new OnecHttpClient({
    baseUrl: outbound.baseUrl,
    username: outbound.username,
    password: deps.password,
    timeoutMs: outbound.timeoutMs,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const accountId = (await client.account.get()).id;
  const amoIds = (id: number) => [{ account_id: accountId, entity_id: id }];

  // Products: the list's elements linked to the deal; product_id_1C is the first one's uid.
  const elements = (lead._embedded?.catalog_elements ?? []).filter(
    (e) => acc.catalogId === undefined || e.metadata?.catalog_id === acc.catalogId,
  );
  let productUid = '';
  if (elements[0] && acc.catalogId !== undefined) {
    const el = await client.catalogs.elements(acc.catalogId).get(elements[0].id);
    productUid = textOf(el?.custom_fields_values, acc.productUidField) ?? '';
  }
  if (acc.requireProducts && (elements.length === 0 || productUid === ''))
    throw new PermanentError(PARK_ONEC_NO_PRODUCTS, `lead ${lead.id} has no product with a 1C uid`);

  // The contact (EditStudent).
  const contactRef = lead._embedded?.contacts?.find((c) => c.is_main) ?? lead._embedded?.contacts?.[0];
  const contact = contactRef ? await client.contacts.get(contactRef.id, { cache: false }) : undefined;
  let clientId = progress.client_id_1C ?? textOf(contact?.custom_fields_values, acc.contactIdField);
  if (!clientId && contact) {
    const phones = byCode(contact.custom_fields_values, 'PHONE');
    clientId = await onec.call(
      outbound.methods.student,
      {
        client_id_1C: '',
        amo_ids: amoIds(contact.id),
        applications: [],
        name: contact.name ?? '',
        email: byCode(contact.custom_fields_values, 'EMAIL')[0] ?? '',
        phone: phones[0] ?? '',
        second_phone: phones[1] ?? '',
        dob: '',
        pass_serie: '',
        pass_number: '',
        pass_dpt_code: '',
        pass_issued_by: '',
        pass_issued_at: '',
        pass_dpt: '',
        snils: '',
        address: '',
        diplomas: [],
        groups: [],
      },
      'client_id_1C',
    );
    progress.client_id_1C = clientId;
    await deps.ledger.put(key, progress);
  }
  if (!clientId) throw new OnecRefusedError(`lead ${lead.id} has no contact to send as the student`);
  if (contact && textOf(contact.custom_fields_values, acc.contactIdField) !== clientId)
    await client.contacts.update([
      { id: contact.id, custom_fields_values: [{ field_id: acc.contactIdField, values: [{ value: clientId }] }] },
    ]);

  // The company (EditPartner), when the deal has one.
  const companyRef = lead._embedded?.companies?.[0];
  let companyId = clientId;
  let corporate = false;
  if (companyRef) {
    corporate = true;
    const company = await client.companies.get(companyRef.id, { cache: false });
    const existing = progress.company_id_1C ?? textOf(company?.custom_fields_values, acc.companyIdField);
    if (existing) companyId = existing;
    else {
      companyId = await onec.call(
        outbound.methods.partner,
        {
          company_id_1C: '',
          amo_ids: amoIds(companyRef.id),
          name: company?.name ?? '',
          email: byCode(company?.custom_fields_values, 'EMAIL')[0] ?? '',
          phone: byCode(company?.custom_fields_values, 'PHONE')[0] ?? '',
          signee: '',
          ogrn: '',
          inn: textOf(company?.custom_fields_values, acc.innField) ?? '',
          acc_no: '',
          kpp: '',
          bik: '',
          address: '',
          post_address: '',
        },
        'company_id_1C',
      );
      progress.company_id_1C = companyId;
      await deps.ledger.put(key, progress);
    }
    if (acc.companyIdField && company && textOf(company.custom_fields_values, acc.companyIdField) !== companyId)
      await client.companies.update([
        { id: company.id, custom_fields_values: [{ field_id: acc.companyIdField, values: [{ value: companyId }] }] },
      ]);
  }
  progress.company_id_1C = companyId;

  // The application (EditApplication).
  let leadId1c = progress.lead_id_1C;
  if (!leadId1c) {
    const user = lead.responsible_user_id !== undefined ? await client.users.get(lead.responsible_user_id) : undefined;
    const org = outbound.organization;
    leadId1c = await onec.call(
      outbound.methods.application,
      {
        lead_id_1C: textOf(lead.custom_fields_values, acc.leadIdField) ?? '',
        amo_ids: amoIds(lead.id),
        product_id_1C: productUid,
        client_id_1C: clientId,
        company_id_1C: companyId,
        organization: org,
        price: lead.price ?? 0,
        is_corporate: corporate,
        lead_status: 'ВРаботе',
        marketing_channel: '',
        marketing_source: '',
        responsible_user: user?.name ?? '',
        author: user?.name ?? '',
        payments: [],
      },
      'lead_id_1C',
    );
    progress.lead_id_1C = leadId1c;
    await deps.ledger.put(key, progress);
  }
  await client.leads.update([{ id: lead.id, custom_fields_values: [{ field_id: acc.leadIdField, values: [{ value: leadId1c }] }] }]);
  await note(deps, lead.id, `${NOTE_EXPORTED}: ${leadId1c}`, `${key}#done`);
  progress.done = true;
  await deps.ledger.put(key, progress);
  return { leadId: lead.id, client_id_1C: clientId, company_id_1C: companyId, lead_id_1C: leadId1c, exported: true };
}

async function note(deps: ExportDeps, leadId: number, text: string, marker: string): Promise<void> {
  await deps.client.notes('leads').add([{ entity_id: leadId, note_type: 'common', params: { text }, request_id: marker }]);
}

/** A note each time (it says why), and one open task for the configured user however often the export fails. */
async function reportFailure(deps: ExportDeps, lead: Lead, key: string, why: string): Promise<void> {
  const now = deps.now ?? Date.now;
  await note(deps, lead.id, `${NOTE_FAILED}: ${why}`, `${key}#fail#${now()}`);
  for await (const t of deps.client.tasks.list({ filter: { entity_type: 'leads', entity_id: [lead.id], is_completed: 0 } })) {
    if (t.text === TASK_TEXT) return;
  }
  const responsible = deps.account.failureTaskUser ?? lead.responsible_user_id;
  const tomorrowNoon = Math.floor(now() / 1000) + 86_400;
  await deps.client.tasks.add([
    {
      text: TASK_TEXT,
      complete_till: tomorrowNoon,
      entity_id: lead.id,
      entity_type: 'leads',
      task_type_id: deps.account.failureTaskType,
      ...(responsible !== undefined ? { responsible_user_id: responsible } : {}),
    },
  ]);
}
