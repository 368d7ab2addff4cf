/**
 * What the config says about the contact index (lib/contacts/README.md): the country phones
 * without a code are read in, and the accounts whose contacts are indexed. Light and free of the
 * AWS SDK: the worker reads it before it loads any flow (lib/aws/contacts-runtime.ts re-exports it).
 */
import type { CountryCode } from '../common/phone.ts';
import type { Config } from '../config/schema.ts';

/** The country phones without a code are read in (config `forms.defaultCountry`, checked by the schema; RU without a forms section). */
export function contactsCountry(config: Config): CountryCode {
  return (config.forms?.defaultCountry ?? 'RU') as CountryCode;
}

/** Accounts whose contacts are indexed: the ones the forms write to. */
export function indexedAccounts(config: Config): Set<string> {
  return new Set(config.forms?.list.map((f) => f.account) ?? []);
}
