/**
 * company + contact + lead from 1C (the old MZPO corpLead): the company by its INN (exactly: a
 * `query` hit counts only when its INN field equals the INN), else a new one; the contact by a
 * verified phone or e-mail (lib/contacts' finder), else a new one, linked to the company, its
 * position set; then a new lead with both and the responsible manager.
 */
import * as z from '../../common/zod.ts';
import { intId } from './course.ts';
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { CustomFieldWrite } from '../../amocrm/client/custom-fields.ts';
import type { CountryCode } from '../../common/phone.ts';
import { normalizePerson, type ContactFinder } from '../../contacts/index.ts';
import type { OnecCorp } from './config.ts';

const opt = z.preprocess((v) => (v === '' || v === null ? undefined : v), z.optional(z.string().check(z.trim(), z.maxLength(255))));
const required = () => z.string().check(z.trim(), z.minLength(1, 'required'), z.maxLength(255));

export const corpLeadSchema = z
  .looseObject({
    inn: z.string().check(z.trim(), z.regex(/^\d{10}(\d{2})?$/, 'an INN is 10 or 12 digits')),
    company: required(),
    name: required(),
    phone: opt,
    email: opt,
    post: opt,
    manager_id: z.optional(intId),
  })
  .check(
    z.superRefine((v, ctx) => {
      if (!v.phone && !v.email) ctx.addIssue({ code: 'custom', path: ['phone'], message: 'a phone or an e-mail is required' });
    }),
  );
export type CorpLead = z.output<typeof corpLeadSchema>;

export interface CorpDeps {
  clientFor: (accountId: string) => AmoClientForAccount;
  finder: ContactFinder;
  defaultCountry: CountryCode;
}

export interface CorpResult {
  account: string;
  account_id: number;
  company_id: number;
  contact_id: number;
  lead_id: number;
  company_created: boolean;
  contact_created: boolean;
}

/** What a try has made so far: a retry reuses it (a crash after the lead's add does not add a second lead). */
export interface CorpProgress {
  company_id?: number;
  contact_id?: number;
  lead_id?: number;
}

/**
 * `key` (the request id) marks the adds; `progress` is what an earlier try recorded and `save`
 * records each id as soon as amoCRM gave it.
 */
export async function corpLead(
  deps: CorpDeps,
  cfg: OnecCorp,
  req: CorpLead,
  key: string,
  progress: CorpProgress = {},
  save: (p: CorpProgress) => Promise<void> = async () => {},
): Promise<CorpResult> {
  const client = deps.clientFor(cfg.account);
  const account_id = (await client.account.get()).id;

  let companyId: number | undefined = progress.company_id;
  for await (const c of companyId === undefined ? client.companies.search(req.inn) : []) {
    const inn = c.custom_fields_values?.find((f) => f.field_id === cfg.innField)?.values[0]?.value;
    if (String(inn ?? '').trim() === req.inn) {
      companyId = c.id;
      break;
    }
  }
  const companyCreated = companyId === undefined;
  if (companyId === undefined) {
    const [added] = await client.companies.add([
      { name: req.company, custom_fields_values: [{ field_id: cfg.innField, values: [{ value: req.inn }] }], request_id: `${key}#company` },
    ]);
    if (!added) throw new Error('the company add answered nothing');
    companyId = added.id;
    await save({ ...progress, company_id: companyId });
  }

  const person = normalizePerson(
    { ...(req.phone ? { phone: req.phone } : {}), ...(req.email ? { email: req.email } : {}) },
    deps.defaultCountry,
  );
  const [match] = progress.contact_id !== undefined ? [undefined] : await deps.finder.find(cfg.account, [person]);
  const position: CustomFieldWrite[] = req.post
    ? [
        cfg.positionField
          ? { field_id: cfg.positionField, values: [{ value: req.post }] }
          : { field_code: 'POSITION', values: [{ value: req.post }] },
      ]
    : [];
  let contactId: number;
  if (progress.contact_id !== undefined) contactId = progress.contact_id;
  else if (match) {
    contactId = match.contactId;
    if (position.length) await client.contacts.update([{ id: contactId, custom_fields_values: position }]);
  } else {
    const cf: CustomFieldWrite[] = [...position];
    if (person.phone) cf.push({ field_code: 'PHONE', values: [{ value: person.phone, enum_code: 'WORK' }] });
    if (person.email) cf.push({ field_code: 'EMAIL', values: [{ value: person.email, enum_code: 'WORK' }] });
    const [added] = await client.contacts.add([
      {
        name: req.name,
        custom_fields_values: cf,
        ...(req.manager_id ? { responsible_user_id: req.manager_id } : {}),
        request_id: `${key}#contact`,
      },
    ]);
    if (!added) throw new Error('the contact add answered nothing');
    contactId = added.id;
    await save({ ...progress, company_id: companyId, contact_id: contactId });
    await deps.finder.remember(cfg.account, contactId, person);
  }
  await client.links('contacts').link(contactId, [{ to_entity_id: companyId, to_entity_type: 'companies' }]);

  const company = companyId;
  const leadId = progress.lead_id ?? (await addLead());
  async function addLead(): Promise<number> {
    const [lead] = await client.leads.add([
      {
        name: req.company,
        ...(cfg.pipelineId ? { pipeline_id: cfg.pipelineId } : {}),
        ...(cfg.statusId ? { status_id: cfg.statusId } : {}),
        ...(req.manager_id ? { responsible_user_id: req.manager_id } : {}),
        _embedded: { contacts: [{ id: contactId, is_main: true }], companies: [{ id: company }] },
        request_id: `${key}#lead`,
      },
    ]);
    if (!lead) throw new Error('the lead add answered nothing');
    await save({ company_id: company, contact_id: contactId, lead_id: lead.id });
    return lead.id;
  }
  return {
    account: cfg.account,
    account_id,
    company_id: companyId,
    contact_id: contactId,
    lead_id: leadId,
    company_created: companyCreated && progress.company_id === undefined,
    contact_created: !match && progress.contact_id === undefined,
  };
}

/** The managers 1C may assign (the old getManagers: `[{name, id, email}]`). */
export async function managers(client: AmoClientForAccount, cfg: OnecCorp): Promise<Array<{ id: number; name: string; email: string }>> {
  const users = await client.users.list();
  return users
    .filter((u) => (cfg.managers.length ? cfg.managers.includes(u.id) : u.rights?.is_active !== false))
    .map((u) => ({ id: u.id, name: u.name, email: u.email }));
}
