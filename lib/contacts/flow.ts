/**
 * Keeping the index fresh from amoCRM's contact webhooks (README.md in this folder, "Freshness"):
 * a contact added, updated, restored or given another responsible → its stored phones / e-mails,
 * normalised, become its index keys (the ones it no longer carries are dropped, unless the event is
 * older than the state applied last); a contact deleted → all its entries go. Companies (which
 * arrive under the same `contacts[…]` key, `type=company`) are not people: ignored.
 *
 * Registered as one flow, `contact-index`, for the accounts that look people up (the forms'
 * accounts today), so it runs under the ingest's per-(event, flow) idempotency step.
 */
import type { CountryCode } from '../common/phone.ts';
import type { FlowRegistry } from '../ingest/flows.ts';
import type { ContactIndexStore } from './index-store.ts';
import { contactKeys } from './normalize.ts';

export const CONTACT_INDEX_FLOW = 'contact-index';
export const CONTACT_INDEX_KINDS = ['contact.add', 'contact.update', 'contact.restore', 'contact.responsible', 'contact.delete'] as const;

export interface ContactIndexFlowDeps {
  index: ContactIndexStore;
  defaultCountry: CountryCode;
  /** Our account ids whose contacts are indexed; the others' events are skipped. */
  accounts: ReadonlySet<string>;
}

export function registerContactIndexFlow(registry: FlowRegistry, deps: ContactIndexFlowDeps): FlowRegistry {
  return registry.on(CONTACT_INDEX_KINDS, CONTACT_INDEX_FLOW, async (ev, ctx) => {
    const account = ctx.account.id;
    if (!deps.accounts.has(account) || ev.kind === 'raw' || ev.entity !== 'contact' || ev.action === 'note') return;
    const c = ev.data;
    if (ev.action === 'delete') {
      await deps.index.forget(account, [c.id]);
      ctx.log.debug('contacts: deleted contact dropped from the index', { account, contactId: c.id });
      return;
    }
    // A body whose fields carry no codes at all cannot tell a phone from any other text: it says
    // nothing about the contact's phones, so it must not drop the ones indexed.
    const fields = c.custom_fields_values ?? [];
    if (fields.length > 0 && fields.every((f) => !f.field_code)) {
      ctx.log.debug('contacts: webhook without field codes, index left as it is', { account, contactId: c.id });
      return;
    }
    const keys = contactKeys(c, deps.defaultCountry);
    const r = await deps.index.replace(account, [
      { contactId: c.id, keys, ...(typeof c.updated_at === 'number' ? { updatedAt: c.updated_at } : {}) },
    ]);
    ctx.log.debug('contacts: index updated from a webhook', { account, contactId: c.id, keys: r.written, removed: r.removed });
  });
}
