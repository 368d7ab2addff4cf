/**
 * Phone numbers → E.164 ("+79991234567"), with libphonenumber-js (Google's libphonenumber
 * metadata). Pure: the rules' `normalizePhones` action uses it, and the forms flow can later.
 *
 * A number written without its country code ("8 (999) 123-45-67", "9991234567") is read in the
 * default country; one with "+" in its own. A text that is not a valid number of any country
 * (too short, letters, a valid length but no such range) is not guessed at: `ok: false`, and the
 * caller leaves it as it is. So does a number with an extension ("доб. 5", "ext. 5"): E.164 cannot
 * hold it.
 *
 * The `max` metadata (≈ 150 KB) checks the number ranges of each country, not only lengths: with
 * the default `min` metadata "8 (999) 123-45-6" (a digit short) passed as +78999123456.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

export type { CountryCode };

export type PhoneResult = { ok: true; e164: string } | { ok: false; value: string; reason: 'invalid' | 'extension' };

/** The E.164 form of `text`, read in `defaultCountry` when it carries no country code. */
export function normalizePhone(text: string, defaultCountry: CountryCode): PhoneResult {
  const p = parsePhoneNumberFromString(text, { defaultCountry, extract: false });
  if (!p || !p.isValid()) return { ok: false, value: text, reason: 'invalid' };
  // E.164 has no extension: "… доб. 5" would lose it, so such a value stays as it is.
  if (p.ext) return { ok: false, value: text, reason: 'extension' };
  return { ok: true, e164: p.number };
}
