/**
 * The way the replaced PHP integration handled a site form (its consumer read one submission at a
 * time): search the contact by the phone AS TYPED and take the first hit; else by the e-mail; else
 * create the contact; read the contact's leads and keep the last open one; else create a lead
 * ("Новая сделка"); add the tags; add the comment as a note; link the contact to the lead. Run here
 * against the sandbox so its call count (and what it gets wrong) is measured, not estimated.
 */
import type { AmoRequest } from '../../lib/amocrm/client/core.ts';
import type { OldRequester } from './old-way.ts';

interface Hit {
  id: number;
  _embedded?: { leads?: Array<{ id: number }> };
}
interface LeadRow {
  id: number;
  status_id?: number;
  pipeline_id?: number;
}

export interface OldWayResult {
  calls: number;
  byStep: Record<string, number>;
}

export async function runOldWay(
  amo: OldRequester,
  posts: ReadonlyArray<{ fields: Record<string, string> }>,
  ids: { pipeline: number; status: number },
): Promise<OldWayResult> {
  const byStep: Record<string, number> = {};
  let calls = 0;
  const call = async <T>(step: string, req: AmoRequest): Promise<T | undefined> => {
    calls++;
    byStep[step] = (byStep[step] ?? 0) + 1;
    const res = await amo.request<T>(req);
    return res.body;
  };
  const search = async (step: string, query: string) => {
    const r = await call<{ _embedded?: { contacts?: Hit[] } }>(step, {
      method: 'GET',
      path: '/api/v4/contacts',
      query: { query, with: 'leads' },
    });
    return r?._embedded?.contacts?.[0];
  };
  for (const { fields } of posts) {
    const phone = fields.phone ?? '';
    const email = fields.email ?? '';
    let contact: Hit | undefined;
    if (phone.length > 5) contact = await search('search phone', phone);
    if (!contact && email) contact = await search('search email', email);
    let contactId = contact?.id;
    if (contactId === undefined) {
      const values = [
        ...(phone ? [{ field_code: 'PHONE', values: [{ value: phone.startsWith('7') ? `+${phone}` : phone, enum_code: 'WORK' }] }] : []),
        ...(email ? [{ field_code: 'EMAIL', values: [{ value: email, enum_code: 'WORK' }] }] : []),
      ];
      const made = await call<{ _embedded: { contacts: Array<{ id: number }> } }>('create contact', {
        method: 'POST',
        path: '/api/v4/contacts',
        body: [{ name: fields.name ?? 'Клиент', custom_fields_values: values }],
      });
      contactId = made!._embedded.contacts[0]!.id;
    }
    let leadId: number | undefined;
    const leadIds = contact?._embedded?.leads?.map((l) => l.id) ?? [];
    if (leadIds.length) {
      const r = await call<{ _embedded?: { leads?: LeadRow[] } }>('get leads', {
        method: 'GET',
        path: '/api/v4/leads',
        query: { filter: { id: leadIds } },
      });
      const open = (r?._embedded?.leads ?? []).filter((l) => l.status_id !== 142 && l.status_id !== 143);
      leadId = open.at(-1)?.id;
    }
    if (leadId === undefined) {
      const made = await call<{ _embedded: { leads: Array<{ id: number }> } }>('create lead', {
        method: 'POST',
        path: '/api/v4/leads',
        body: [{ name: 'Новая сделка', pipeline_id: ids.pipeline, status_id: ids.status }],
      });
      leadId = made!._embedded.leads[0]!.id;
    }
    await call('tags', { method: 'PATCH', path: '/api/v4/leads', body: [{ id: leadId, _embedded: { tags: [{ name: 'Сайт' }] } }] });
    if (fields.comment)
      await call('note', {
        method: 'POST',
        path: '/api/v4/leads/notes',
        body: [{ entity_id: leadId, note_type: 'common', params: { text: fields.comment } }],
      });
    await call('link', {
      method: 'POST',
      path: `/api/v4/leads/${leadId}/link`,
      body: [{ to_entity_id: contactId, to_entity_type: 'contacts' }],
    });
  }
  return { calls, byStep };
}
