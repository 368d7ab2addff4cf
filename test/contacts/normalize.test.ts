/** The keys a person and a contact are compared by (pure). */
import { describe, expect, it } from 'vitest';
import { contactKeys, normalizeEmail, normalizePerson, personKeys } from '../../lib/contacts/normalize.ts';

describe('normalizeEmail', () => {
  it('trims and lower-cases a plausible address', () => {
    expect(normalizeEmail('  Ivan.Petrov+forms@Example.RU ')).toBe('ivan.petrov+forms@example.ru');
    expect(normalizeEmail('a@b.co')).toBe('a@b.co');
    // an internationalised domain is kept (the local part must still be ASCII: what mail servers accept)
    expect(normalizeEmail('Ivan@Пример.РФ')).toBe('ivan@пример.рф');
    expect(normalizeEmail('ivan@xn--e1afmkfd.xn--p1ai')).toBe('ivan@xn--e1afmkfd.xn--p1ai');
  });

  it('refuses what cannot be delivered to', () => {
    for (const bad of [
      '',
      'ivan',
      'ivan@',
      '@example.ru',
      'ivan@example',
      'iv an@example.ru',
      'a@@b.ru',
      'a@b@c.ru',
      'ivan@.ru',
      'ivan@ex..ru',
      'ivan.@example.ru',
      '.ivan@example.ru',
      'ivan@example.r',
      'ivan@-ex.ru',
      `${'a'.repeat(65)}@example.ru`,
    ]) {
      expect(normalizeEmail(bad), bad).toBeUndefined();
    }
  });
});

describe('person and contact keys', () => {
  it('a phone in any of the usual spellings is one key; an invalid one is none', () => {
    for (const p of ['+7 (999) 123-45-67', '8 999 123 45 67', '79991234567', '9991234567', '+79991234567']) {
      expect(personKeys(normalizePerson({ phone: p }, 'RU')), p).toEqual(['phone:+79991234567']);
    }
    expect(personKeys(normalizePerson({ phone: '8 999 123 45 6', email: 'nope' }, 'RU'))).toEqual([]);
    expect(personKeys(normalizePerson({ phone: '+79991234567', email: 'A@B.ru' }, 'RU'))).toEqual(['phone:+79991234567', 'email:a@b.ru']);
  });

  it("a contact's keys are its stored PHONE / EMAIL values normalised, whatever their format, other fields ignored", () => {
    const keys = contactKeys(
      {
        custom_fields_values: [
          {
            field_id: 1,
            field_code: 'PHONE',
            values: [{ value: '+7 (999) 123-45-67' }, { value: '8 999 123 45 67' }, { value: 'не звонить' }],
          },
          { field_id: 2, field_code: 'EMAIL', values: [{ value: ' Ivan@Example.RU' }] },
          { field_id: 3, field_code: null, values: [{ value: '+79035550011' }] },
          { field_id: 4, field_code: 'PHONE', values: [{ value: 79161234567 }] },
        ],
      },
      'RU',
    );
    expect(keys).toEqual(['phone:+79991234567', 'phone:+79161234567', 'email:ivan@example.ru']);
    expect(contactKeys({ custom_fields_values: null }, 'RU')).toEqual([]);
  });
});
