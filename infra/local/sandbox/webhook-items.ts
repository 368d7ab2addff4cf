/**
 * Items for outgoing account webhooks, in the shapes of the real captures
 * (test/fixtures/amocrm-webhooks): all values strings, old-style keys (`last_modified`,
 * `modified_user_id`, `date_create`) beside the modern ones. `leadStatusItem` (webhook-out.ts) gives the
 * lead shape; contacts, companies and tasks are built here the same way.
 */
import { leadStatusItem, type LeadForWebhook } from './webhook-out.ts';
import { webhookCustomFields } from './custom-fields.ts';
import type { AccountState, Company, Contact, Lead, Note, Task } from './state.ts';

export function leadForWebhook(state: AccountState, l: Lead): LeadForWebhook {
  return {
    id: l.id,
    name: l.name,
    price: l.price,
    status_id: l.status_id,
    pipeline_id: l.pipeline_id,
    responsible_user_id: l.responsible_user_id,
    created_by: l.created_by,
    updated_by: l.updated_by,
    created_at: l.created_at,
    updated_at: l.updated_at,
    account_id: state.account.id,
    custom_fields_values: l.custom.map((f) => {
      const def = state.fields.get(f.field_id);
      return {
        field_id: f.field_id,
        field_name: def?.name ?? '',
        field_code: def?.code ?? null,
        field_type: def?.type ?? 'text',
        values: f.values.map((v) => ({ value: v.value, enum_id: v.enum_id ?? null })),
      };
    }),
    _embedded: { tags: l.tags.map((id) => ({ id, name: state.tags.leads.get(id)?.name ?? '' })) },
  };
}

/**
 * `leads[add|update|status|responsible]` item. `old_status_id` appears in status events and in
 * updates that changed the stage (webhook-06); `old_responsible_user_id` in responsible events
 * (webhook-08, docs/amocrm-protocol.md#delivery-format).
 */
export function leadItem(
  state: AccountState,
  l: Lead,
  change: { oldStatusId?: number; oldResponsibleUserId?: number } = {},
): Record<string, unknown> {
  const item = leadStatusItem(leadForWebhook(state, l), { oldStatusId: change.oldStatusId ?? l.status_id });
  if (change.oldStatusId === undefined) delete item.old_status_id;
  if (change.oldResponsibleUserId !== undefined) item.old_responsible_user_id = String(change.oldResponsibleUserId);
  return item;
}

/**
 * `leads[delete][i]`: only `id`, `status_id`, `pipeline_id` (the capture webhook-07; amo-docs
 * webhooks-format: deletions carry the id, not the entity). For a manager's deletion (admin).
 */
export function leadDeleteItem(l: Pick<Lead, 'id' | 'status_id' | 'pipeline_id'>): Record<string, unknown> {
  return { id: String(l.id), status_id: String(l.status_id), pipeline_id: String(l.pipeline_id) };
}

function tagsOf(state: AccountState, kind: 'contacts' | 'companies', ids: number[]): Array<Record<string, string>> {
  return ids.map((id) => ({ id: String(id), name: state.tags[kind].get(id)?.name ?? '' }));
}

/** `contacts[add|update|responsible]` with `type=contact` (webhook-09/-10/-11). */
export function contactItem(state: AccountState, c: Contact, change: { oldResponsibleUserId?: number } = {}): Record<string, unknown> {
  const item: Record<string, unknown> = {
    id: String(c.id),
    name: c.name,
    responsible_user_id: String(c.responsible_user_id),
    date_create: String(c.created_at),
    last_modified: String(c.updated_at),
    created_user_id: String(c.created_by),
    modified_user_id: String(c.updated_by),
  };
  const company = c.company_id ? state.companies.get(c.company_id) : undefined;
  if (company) {
    item.company_name = company.name;
    item.linked_company_id = String(company.id);
  }
  item.account_id = String(state.account.id);
  if (c.custom.length) item.custom_fields = webhookCustomFields(state, c.custom);
  if (c.tags.length) item.tags = tagsOf(state, 'contacts', c.tags);
  const leads = [...state.leads.values()].filter((l) => l.contacts.some((x) => x.id === c.id));
  if (leads.length) item.linked_leads_id = new Map(leads.map((l) => [String(l.id), { ID: String(l.id) }]));
  if (change.oldResponsibleUserId !== undefined) item.old_responsible_user_id = String(change.oldResponsibleUserId);
  item.created_at = String(c.created_at);
  item.updated_at = String(c.updated_at);
  item.type = 'contact';
  return item;
}

/** Companies arrive under `contacts[…]` with `type=company` (webhook-12, docs/amocrm-protocol.md#delivery-format). */
export function companyItem(state: AccountState, c: Company, change: { oldResponsibleUserId?: number } = {}): Record<string, unknown> {
  const item: Record<string, unknown> = {
    id: String(c.id),
    name: c.name,
    responsible_user_id: String(c.responsible_user_id),
    date_create: String(c.created_at),
    last_modified: String(c.updated_at),
    created_user_id: String(c.created_by),
    modified_user_id: String(c.updated_by),
    account_id: String(state.account.id),
  };
  if (c.custom.length) item.custom_fields = webhookCustomFields(state, c.custom);
  if (c.tags.length) item.tags = tagsOf(state, 'companies', c.tags);
  if (change.oldResponsibleUserId !== undefined) item.old_responsible_user_id = String(change.oldResponsibleUserId);
  item.created_at = String(c.created_at);
  item.updated_at = String(c.updated_at);
  item.type = 'company';
  return item;
}

/** "YYYY-MM-DD HH:MM:SS" (docs/amocrm-protocol.md#delivery-format, tasks). UTC (*assumed*: real accounts use their own time zone). */
export function phpDate(unix: number): string {
  return new Date(unix * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

const ELEMENT_TYPE: Record<string, string> = { contacts: '1', leads: '2', companies: '3', customers: '12' };

/** `task[add|update]` (webhook-15, docs/amocrm-protocol.md#delivery-format: date_create, last_modified and complete_till as strings, plus a unix complete_before). */
export function taskItem(state: AccountState, t: Task): Record<string, unknown> {
  const item: Record<string, unknown> = { id: String(t.id) };
  if (t.entity_id !== null && t.entity_type) {
    item.element_id = String(t.entity_id);
    item.element_type = ELEMENT_TYPE[t.entity_type] ?? '0';
  }
  Object.assign(item, {
    task_type: String(t.task_type_id),
    date_create: phpDate(t.created_at),
    text: t.text,
    status: t.is_completed ? '1' : '0',
    account_id: String(state.account.id),
    created_user_id: String(t.created_by),
    last_modified: phpDate(t.updated_at),
    responsible_user_id: String(t.responsible_user_id),
    complete_till: phpDate(t.complete_till),
    complete_before: String(t.complete_till),
  });
  if (t.is_completed) {
    item.action_close = '1';
    if (t.result) item.result = { text: t.result.text };
  }
  return item;
}

const NOTE_TYPE_CODE: Record<string, string> = {
  common: '4',
  call_in: '10',
  call_out: '11',
  service_message: '25',
  sms_in: '102',
  sms_out: '103',
};

/** `leads|contacts[note][i][note][…]` (webhook-13, docs/amocrm-protocol.md#delivery-format). Values unquoted (the fixture's quotes are a 2017 artefact). */
export function noteItem(state: AccountState, n: Note): Record<string, unknown> {
  return {
    note: {
      text: typeof n.params.text === 'string' ? n.params.text : '',
      note_type: NOTE_TYPE_CODE[n.note_type] ?? '4',
      element_id: String(n.entity_id),
      element_type: ELEMENT_TYPE[n.entity_type] ?? '2',
      date_create: phpDate(n.created_at),
      timestamp_x: phpDate(n.updated_at),
      account_id: String(state.account.id),
      created_by: String(n.created_by),
      modified_by: String(n.updated_by),
      main_user_id: String(n.responsible_user_id),
      ...(n.entity_type === 'leads' ? {} : { type: n.entity_type === 'companies' ? 'company' : 'contact' }),
    },
  };
}
