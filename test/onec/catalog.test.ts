/** Catalog upsert / delete / doubles against two sandbox accounts (real sockets), and the pure rules. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBody, parseBracketForm } from '../../lib/flows/onec/body.ts';
import { deleteByUid, elementsByUid, upsertCourse } from '../../lib/flows/onec/catalog.ts';
import { choosePrice, courseSchema, elementName } from '../../lib/flows/onec/course.ts';
import { CORP, onecConfig, onecWorld, RETAIL, SAMPLE_UID, sampleCourseForm, type OnecWorld } from './support.ts';

const cfg = onecConfig().catalog!;
const course = (extra: Record<string, string> = {}) => courseSchema.parse(parseBracketForm(sampleCourseForm(extra).toString()));

describe('the 1C body and the course rules', () => {
  it('form fields with brackets and JSON give the same object', () => {
    const form = parseBracketForm('amo_ids[0][account_id]=19453687&amo_ids[0][entity_id]=1805215&name=X&tags[]=a&tags[]=b');
    expect(form).toEqual({ amo_ids: [{ account_id: '19453687', entity_id: '1805215' }], name: 'X', tags: ['a', 'b'] });
    expect(parseBody('application/json; charset=utf-8', '{"name":"X"}')).toEqual({ name: 'X' });
    expect(() => parseBody('application/json', '[1]')).toThrow(/JSON object/);
    expect(() => parseBody('text/plain', 'x')).toThrow(/unsupported/);
  });

  it('the naming rule: (prefix) for prefixes without "-" and the listed ones; otherwise the plain name', () => {
    expect(elementName(course(), cfg.naming)).toBe('Производственная практика 120/60 (ПР)');
    expect(elementName(course({ short_name: 'МАС-1' }), cfg.naming)).toBe('Производственная практика 120/60 (МАС-1)');
    expect(elementName(course({ short_name: 'ПР-Д' }), cfg.naming)).toBe('Производственная практика 120/60');
    expect(elementName(course({ short_name: '' }), cfg.naming)).toBe('Производственная практика 120/60');
  });

  it('the price rule: -Д → Дист., -И → its type, else Зел.цена; an empty or zero price falls back to Основная цена', () => {
    expect(choosePrice(course(), cfg.price)).toEqual({ price: 2500, priceType: '5bba5dc4-580c-11eb-86f0-82172a65f31e' });
    expect(choosePrice(course({ short_name: 'ПР-Д' }), cfg.price)?.price).toBe(5100);
    // -И's type is not in the sample's list: the fallback.
    expect(choosePrice(course({ short_name: 'ПР-И' }), cfg.price)?.price).toBe(6000);
    expect(choosePrice(course({ 'ItemPrices[2][Price]': '0' }), cfg.price)?.price).toBe(6000);
  });

  it('validation names the fields', () => {
    const r = courseSchema.safeParse({ name: '', amo_ids: [{ account_id: 'x' }] });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['product_id_1C', 'name', 'amo_ids.0.account_id', 'amo_ids.0.entity_id']));
  });
});

describe('catalog elements in two accounts (sandbox)', () => {
  let w: OnecWorld;
  beforeEach(async () => {
    w = await onecWorld();
  });
  afterEach(async () => {
    await w.close();
  });

  it('upsert creates in both accounts with the right price; again updates (no double); amo_ids are honoured first', async () => {
    const first = await upsertCourse(w, cfg, course());
    expect(first.map((r) => [r.account, r.account_id, r.action])).toEqual([
      ['corp', CORP.id, 'created'],
      ['retail', RETAIL.id, 'created'],
    ]);
    for (const [gw, a] of [
      ['corp', CORP],
      ['retail', RETAIL],
    ] as const) {
      const els = await elementsByUid(
        w.clientFor(gw),
        cfg.accounts.find((x) => x.account === gw)!,
        SAMPLE_UID,
      );
      expect(els).toHaveLength(1);
      const cf = Object.fromEntries(els[0]!.custom_fields_values!.map((f) => [f.field_id, f.values[0]?.value]));
      expect(els[0]!.name).toBe('Производственная практика 120/60 (ПР)');
      expect(Number(cf[a.price])).toBe(2500);
      expect(cf[a.sku]).toBe('ПР');
      expect(cf[a.duration]).toBeUndefined(); // duration 0 = unset
    }
    const again = await upsertCourse(w, cfg, course({ name: 'Практика', 'ItemPrices[2][Price]': '2700' }));
    expect(again.map((r) => [r.entity_id, r.action])).toEqual(first.map((r) => [r.entity_id, 'updated']));
    const retailEls = await elementsByUid(w.clientFor('retail'), cfg.accounts[1]!, SAMPLE_UID);
    expect(retailEls).toHaveLength(1);
    expect(retailEls[0]!.name).toBe('Практика (ПР)');

    // amo_ids wins over the uid: a second element with the uid exists, the named one is updated.
    const other = await w
      .clientFor('corp')
      .catalogs.elements(CORP.catalog)
      .add([{ name: 'copy', custom_fields_values: [{ field_id: CORP.uid, values: [{ value: SAMPLE_UID }] }] }]);
    const named = await upsertCourse(
      w,
      cfg,
      course({ 'amo_ids[0][account_id]': String(CORP.id), 'amo_ids[0][entity_id]': String(other[0]!.id) }),
      ['corp'],
    );
    expect(named).toEqual([{ account: 'corp', account_id: CORP.id, entity_id: other[0]!.id, action: 'updated' }]);
  });

  it('delete doubles keeps the oldest; delete removes every element of the uid (legacy v2 delete)', async () => {
    await upsertCourse(w, cfg, course());
    const corp = w.clientFor('corp');
    const els = corp.catalogs.elements(CORP.catalog);
    const uidCf = [{ field_id: CORP.uid, values: [{ value: SAMPLE_UID }] }];
    await els.add([
      { name: 'double 1', custom_fields_values: uidCf },
      { name: 'double 2', custom_fields_values: uidCf },
    ]);
    // An element whose uid merely contains the searched one is not a double.
    await els.add([{ name: 'near', custom_fields_values: [{ field_id: CORP.uid, values: [{ value: `${SAMPLE_UID}-x` }] }] }]);
    const before = await elementsByUid(corp, cfg.accounts[0]!, SAMPLE_UID);
    expect(before).toHaveLength(3);

    const doubles = await deleteByUid(w, cfg, SAMPLE_UID, { keepOne: true });
    expect(doubles[0]).toMatchObject({ account: 'corp', kept: before[0]!.id, deleted: [before[1]!.id, before[2]!.id] });
    expect(doubles[1]).toMatchObject({ account: 'retail', deleted: [] });
    expect(await elementsByUid(corp, cfg.accounts[0]!, SAMPLE_UID)).toHaveLength(1);

    const gone = await deleteByUid(w, cfg, SAMPLE_UID);
    expect(gone.map((r) => r.deleted?.length)).toEqual([1, 1]);
    expect(await elementsByUid(corp, cfg.accounts[0]!, SAMPLE_UID)).toHaveLength(0);
    expect(await elementsByUid(w.clientFor('retail'), cfg.accounts[1]!, SAMPLE_UID)).toHaveLength(0);
    const near = await elementsByUid(corp, cfg.accounts[0]!, `${SAMPLE_UID}-x`);
    expect(near).toHaveLength(1);
  });
});
