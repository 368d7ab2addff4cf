/**
 * Both real RDESK samples (test/fixtures/rdesk) through the worker's pipeline into a sandbox lead:
 * every mapped field and its value, as amoCRM answers them. And: a changed push writes only what
 * changed, a field whose value went empty is cleared, a status into a select goes by its label.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BOOKED, MC, processors, rdeskConfig, rdeskEnvelope, runBatch, sample, world, type World } from './support.ts';

let w: World | undefined;
afterEach(async () => {
  await w?.sb.close();
  w = undefined;
});

/** The lead as amoCRM answers it: price and field name → values. */
async function leadFields(w: World, id: number) {
  const lead = await w.client.forAccount({ clientId: 'client-test', accountKey: 'acc1' }).leads.get(id, { cache: false });
  const fields: Record<string, unknown> = {};
  for (const f of lead?.custom_fields_values ?? []) fields[f.field_name ?? String(f.field_id)] = f.values.map((v) => v.value);
  return { price: lead?.price, fields };
}

const moscowMidnight = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) / 1000 - 3 * 3600;

describe('RDESK samples → lead fields (sandbox)', () => {
  it('booked: every field and value of the real sample', async () => {
    w = await world([], [{ id: 23392663, name: 'Бронь' }]);
    const results = await runBatch(processors(w, rdeskConfig()), [rdeskEnvelope('zdrav-booked', BOOKED)]);
    expect(results.map((r) => [r.outcome, r.action.kind])).toEqual([['ok', 'delete']]);
    const got = await leadFields(w, 23392663);
    expect(got.price).toBe(153887);
    expect(got.fields).toEqual({
      Статус: ['В ожидании'],
      'Дата создания': [Date.UTC(2022, 8, 5, 11, 22, 33) / 1000],
      Заезд: [moscowMidnight(2026, 8, 25)],
      Выезд: [moscowMidnight(2026, 9, 5)],
      'Кол-во дней': ['11'],
      Оплачено: ['61361'],
      'ID здравница': ['88888'],
      'Номер договора': ['33333'],
      Гости: [
        'Фамилия1 Имя1 Отчество2\nДата рождения: \nStay count: 1\nКатегория номера: Стандарт без балкона\nВозрастная группа: Взрослый\nНаправление: Лечение суставов и позвоночника\nUID: 3E024545345345HHD345345345SDF001\nСчет №: 77777\n' +
          '\n' +
          'Фамилия2 Имя2 Отчество2\nДата рождения: \nStay count: 1\nКатегория номера: Стандарт без балкона\nВозрастная группа: Взрослый\nНаправление: Лечение суставов и позвоночника\nUID: 3E09BEA6334535345353453453453451\nСчет №: 77777\n',
      ],
      'Биллинг инфо': ['Счет №: 77777\nСумма: 147966.3\nОплачено: 59000\n'],
    });
  });

  it('mc: every field and value of the real sample (lead_id as a JSON number; times shown in Moscow time)', async () => {
    w = await world([], [{ id: 11642589, name: 'Медцентр' }]);
    const results = await runBatch(processors(w, rdeskConfig()), [rdeskEnvelope('zdrav-mc', MC)]);
    expect(results.map((r) => r.outcome)).toEqual(['ok']);
    const got = await leadFields(w, 11642589);
    // Not cancelled: treatment 850 (paid), packet 4000 (paid), complex 8000 (paid); the cancelled lab (1000) counts nowhere.
    expect(got.price).toBe(12850);
    expect(got.fields).toEqual({
      'Дата создания': [Date.UTC(2020, 8, 14, 12, 18) / 1000],
      'ID здравница': ['185588'],
      Оплачено: ['12850'],
      // Visit days not cancelled: 19.09 (treatment), 20.09, 21.09 (packet), 25.09 (complex).
      'Кол-во дней': ['4'],
      Лечение: ['Консультация кардиолога\nДата: 2020-09-19 13:00\nСтатус: Назначено\nЦена: 850\nОплачено: да\n'],
      Анализы: ['Тиреотропный гормон\nДата: 2020-09-19\nСтатус: Отменено\nЦена: 1000\nОплачено: нет\n'],
      Пакеты: [
        'Check-up\nЦена: 4000\nОплачено: да\n— Грязевые аппликации: 2020-09-20 15:20, Назначено\n— Грязевые аппликации 2.0: 2020-09-21 15:20, Назначено\n',
      ],
      Комплексы: [
        'Комплекс Антистресс\nЦена: 8000\nОплачено: да\n— Массаж ручной: 2020-09-25 17:00, Выполнено\n— Тромбиновое время: 2020-09-25, Назначено\n',
      ],
    });
  });

  it('a later push writes only the fields that changed; an emptied field is cleared; an unchanged push sends no PATCH', async () => {
    w = await world([], [{ id: 23392663, name: 'Бронь' }]);
    const procs = processors(w, rdeskConfig());
    await runBatch(procs, [rdeskEnvelope('zdrav-booked', BOOKED)]);
    const patchesBefore = w.sb.admin.count({ method: 'PATCH' });
    // Paid more, bills gone.
    const changed = sample('booked', { money: { total: 153887, paid: 100000 }, billData: [] });
    expect((await runBatch(procs, [rdeskEnvelope('zdrav-booked', changed)])).map((r) => r.outcome)).toEqual(['ok']);
    expect(w.sb.admin.count({ method: 'PATCH' })).toBe(patchesBefore + 1);
    const got = await leadFields(w, 23392663);
    expect(got.fields['Оплачено']).toEqual(['100000']);
    expect(got.fields['Биллинг инфо']).toBeUndefined();
    expect(got.fields['Статус']).toEqual(['В ожидании']);
    // The same push again: nothing differs, nothing is sent.
    await runBatch(procs, [rdeskEnvelope('zdrav-booked', changed)]);
    expect(w.sb.admin.count({ method: 'PATCH' })).toBe(patchesBefore + 1);
  });

  it('a status mapped to a select field is written as the option with its label', async () => {
    w = await world(
      [{ name: 'Статус брони', type: 'select', enums: ['Забронировано', 'Проживает', 'Выехал', 'Отменено', 'В ожидании'] }],
      [{ id: 23392663, name: 'Бронь' }],
    );
    const cfg = rdeskConfig({ fields: { booked: { status: 'Статус брони' }, mc: {} }, statusLabels: { waiting: 'В ожидании' } });
    await runBatch(processors(w, cfg), [rdeskEnvelope('zdrav-booked', BOOKED)]);
    const lead = await w.client.forAccount({ clientId: 'client-test', accountKey: 'acc1' }).leads.get(23392663, { cache: false });
    const f = lead?.custom_fields_values?.find((x) => x.field_name === 'Статус брони');
    expect(f?.values[0]?.value).toBe('В ожидании');
    expect(f?.values[0]?.enum_id).toBeTypeOf('number');
  });
});
