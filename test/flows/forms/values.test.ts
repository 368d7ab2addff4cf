/** Submitted strings → field values of every type the client writes, and the templates. */
import { describe, expect, it } from 'vitest';
import type { FieldDefinition } from '../../../lib/amocrm/client/custom-fields.ts';
import { fieldWrite, render } from '../../../lib/flows/forms/values.ts';
import { submission } from './worker-support.ts';

const def = (type: string, extra: Partial<FieldDefinition> = {}): FieldDefinition => ({ id: 1, name: `F ${type}`, type, ...extra });
const value = (d: FieldDefinition, raw: string) => {
  const w = fieldWrite(d, raw);
  return w.ok ? w.write.values : `refused: ${w.why}`;
};

describe('fieldWrite', () => {
  it('converts to each type', () => {
    expect(value(def('text'), ' hi ')).toEqual([{ value: 'hi' }]);
    expect(value(def('textarea'), 'a\nb')).toEqual([{ value: 'a\nb' }]);
    expect(value(def('numeric'), '1 500,50')).toEqual([{ value: '1500.5' }]);
    expect(value(def('checkbox'), 'on')).toEqual([{ value: true }]);
    expect(value(def('checkbox'), 'нет')).toEqual([{ value: false }]);
    expect(value(def('date'), '31.12.2026')).toEqual([{ value: Date.UTC(2026, 11, 31) / 1000 }]);
    expect(value(def('date_time'), '2026-12-31 10:30')).toEqual([{ value: Date.UTC(2026, 11, 31, 10, 30) / 1000 }]);
    expect(value(def('birthday'), '1990-02-03')).toEqual([{ value: Date.UTC(1990, 1, 3) / 1000 }]);
    expect(value(def('url'), 'https://site.example/a')).toEqual([{ value: 'https://site.example/a' }]);
    const enums = [
      { id: 11, value: 'One' },
      { id: 12, value: 'Two' },
    ];
    expect(value(def('select', { enums }), 'two')).toEqual([{ enum_id: 12 }]);
    expect(value(def('radiobutton', { enums }), 'One')).toEqual([{ enum_id: 11 }]);
    expect(value(def('multiselect', { enums }), 'One, Two')).toEqual([{ enum_id: 11 }, { enum_id: 12 }]);
    expect(value(def('multitext', { code: 'PHONE' }), '+79161234567')).toEqual([{ value: '+79161234567', enum_code: 'WORK' }]);
  });

  it('refuses what does not fit (the value is named in the note instead)', () => {
    expect(value(def('numeric'), 'many')).toMatch(/refused: "many" is not a numeric value/);
    expect(value(def('checkbox'), 'maybe')).toMatch(/refused/);
    expect(value(def('date'), '31.02.2026')).toMatch(/refused/);
    expect(value(def('url'), 'not a url')).toMatch(/refused/);
    expect(value(def('select', { enums: [{ id: 1, value: 'A' }] }), 'B')).toMatch(/refused.*no option "B"/);
    expect(value(def('smart_address'), 'x')).toMatch(/refused.*not supported/);
  });
});

describe('render', () => {
  it('fills fields, form, date and contact values; trims what empty values leave', () => {
    const sub = submission('site', { phone: '+79161234567', name: 'Ann' }, { course: 'Yoga' }, { receivedAt: Date.UTC(2026, 0, 2, 22) });
    expect(render('{formName}: {name} ({course}) {date}', sub, 'Site', 'Europe/Moscow')).toBe('Site: Ann (Yoga) 2026-01-03');
    expect(render('{formName}: {missing}', sub, 'Site', 'UTC')).toBe('Site');
    expect(render('{phone} {form}', sub, 'Site', 'UTC')).toBe('+79161234567 site');
  });
});
