/** The phone normaliser: the ways people write Russian numbers → E.164; what it refuses to guess. */
import { describe, expect, it } from 'vitest';
import { getCountries } from 'libphonenumber-js/max';
import { normalizePhone } from '../../lib/common/phone.ts';
import { PHONE_COUNTRIES } from '../../lib/common/phone-countries.ts';

describe('normalizePhone', () => {
  it.each([
    ['8 (999) 123-45-67', '+79991234567'],
    ['+7 999 123 45 67', '+79991234567'],
    ['9991234567', '+79991234567'],
    ['89991234567', '+79991234567'],
    ['79991234567', '+79991234567'],
    ['+79991234567', '+79991234567'],
    ['8 (495) 123-45-67', '+74951234567'],
    ['8 800 555 35 35', '+78005553535'],
  ])('%s in RU → %s', (text, e164) => {
    expect(normalizePhone(text, 'RU')).toEqual({ ok: true, e164 });
  });

  it('a number with its own country code is read in that country, whatever the default', () => {
    expect(normalizePhone('+1 (212) 555-0100', 'RU')).toEqual({ ok: true, e164: '+12125550100' });
    expect(normalizePhone('+380 44 123 4567', 'RU')).toEqual({ ok: true, e164: '+380441234567' });
  });

  it('the default country decides a number written without a code', () => {
    expect(normalizePhone('044 123 4567', 'UA')).toEqual({ ok: true, e164: '+380441234567' });
  });

  it.each(['123', 'abc', '', '+7 999', '8 (999) 123-45-6'])('%j is not a number: left as it is', (text) => {
    expect(normalizePhone(text, 'RU')).toEqual({ ok: false, value: text, reason: 'invalid' });
  });

  it('a number with an extension is left as it is (E.164 cannot hold the extension)', () => {
    expect(normalizePhone('+7 (495) 123-45-67 доб. 5', 'RU')).toMatchObject({ ok: false, reason: 'extension' });
  });
});

describe('PHONE_COUNTRIES', () => {
  it('is exactly the list libphonenumber-js knows (the config checks a country without loading the library)', () => {
    expect([...PHONE_COUNTRIES].sort()).toEqual([...getCountries()].sort());
  });
});
