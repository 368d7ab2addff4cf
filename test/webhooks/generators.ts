/** fast-check generators of valid amoCRM webhook bodies (PHP http_build_query encoding) with the events they must parse to. */
import fc from 'fast-check';
import type { CustomFieldValue } from '../../lib/amocrm/entities.ts';
import { httpBuildQuery, type PhpMap } from './support.ts';

export const tricky = fc.constantFrom(
  'а',
  'Я',
  'ё',
  '№',
  '₽',
  '\u00a0',
  ' ',
  '  ',
  '+',
  '%',
  '%2B',
  '&',
  '=',
  '[',
  ']',
  '[0]',
  '\n',
  '\r\n',
  '\t',
  '"',
  "'",
  '#',
  '?',
  '/',
  '😀',
  'a',
  'Z',
  '1',
  '.',
  '-',
  '_',
  '~',
  '*',
);
export const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 14 }), fc.string({ unit: tricky, maxLength: 10 }));
const idNum = fc.integer({ min: 1, max: 2_147_483_647 });
const idStr = idNum.map(String);
const unix = fc.integer({ min: 1_000_000_000, max: 2_000_000_000 }).map(String);
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

export interface Expected {
  kind: string;
  entityId: number | string | undefined;
  family: 'account' | 'digital-pipeline';
  /** Parts of `data` to compare with toEqual. */
  data?: Record<string, unknown>;
}
interface Item {
  pairs: PhpMap;
  expected: Expected;
}
interface Group {
  key: string;
  action: string;
  items: Item[];
}

const cfValue = fc.oneof(
  text.map((v) => ({ pairs: v as string | PhpMap, out: { value: v } })),
  fc.record({ value: text, enum: opt(idNum) }).map(({ value, enum: e }) => ({
    pairs: [['value', value], ...(e !== undefined ? ([['enum', String(e)]] as PhpMap) : [])] as PhpMap,
    out: e !== undefined ? { value, enum_id: e } : { value },
  })),
);

const customField = fc
  .record({
    id: idNum,
    name: opt(text),
    code: opt(fc.constantFrom('PHONE', 'EMAIL', 'IM', 'POSITION', 'UTM_SOURCE')),
    values: opt(fc.array(cfValue, { maxLength: 3 })),
  })
  .map((f) => {
    const pairs: PhpMap = [['id', String(f.id)]];
    if (f.name !== undefined) pairs.push(['name', f.name]);
    if (f.values && f.values.length > 0) pairs.push(['values', f.values.map((v, j) => [String(j), v.pairs])]);
    if (f.code !== undefined) pairs.push(['code', f.code]);
    const out: CustomFieldValue = { field_id: f.id, values: (f.values ?? []).map((v) => v.out) };
    if (f.name !== undefined) out.field_name = f.name;
    if (f.code !== undefined) out.field_code = f.code;
    return { pairs, out };
  });

const customFields = opt(fc.array(customField, { minLength: 1, maxLength: 6 }));
const tags = opt(fc.array(fc.record({ id: idNum, name: text }), { minLength: 1, maxLength: 4 }));

function crmExtras(cfs: Array<{ pairs: PhpMap; out: CustomFieldValue }> | undefined, tg: Array<{ id: number; name: string }> | undefined) {
  const pairs: PhpMap = [];
  const data: Record<string, unknown> = {};
  if (cfs) {
    pairs.push(['custom_fields', cfs.map((c, i) => [String(i), c.pairs])]);
    data.custom_fields_values = cfs.map((c) => c.out);
  }
  if (tg) {
    pairs.push([
      'tags',
      tg.map((t, i) => [
        String(i),
        [
          ['id', String(t.id)],
          ['name', t.name],
        ],
      ]),
    ]);
    data._embedded = { tags: tg };
  }
  return { pairs, data };
}

const leadFull = (action: string) =>
  fc
    .record({
      id: idNum,
      name: text,
      status: idNum,
      price: fc.integer({ min: 0, max: 10_000_000 }),
      created: unix,
      cfs: customFields,
      tg: tags,
    })
    .map((l): Item => {
      const extra = crmExtras(l.cfs, l.tg);
      return {
        pairs: [
          ['id', String(l.id)],
          ['name', l.name],
          ['status_id', String(l.status)],
          ['price', String(l.price)],
          ['date_create', l.created],
          ...extra.pairs,
        ],
        expected: {
          kind: `lead.${action}`,
          entityId: l.id,
          family: 'account',
          data: { id: l.id, name: l.name, status_id: l.status, price: l.price, created_at: Number(l.created), ...extra.data },
        },
      };
    });

const leadDpShort = (action: 'status' | 'add') =>
  fc.record({ id: idNum, status: idNum, pipeline: idNum, old: opt(idNum) }).map((l): Item => ({
    pairs: [
      ['id', String(l.id)],
      ['status_id', String(l.status)],
      ['pipeline_id', String(l.pipeline)],
      ...(l.old
        ? ([
            ['old_status_id', String(l.old)],
            ['old_pipeline_id', String(l.pipeline)],
          ] as PhpMap)
        : []),
    ],
    expected: {
      kind: `lead.${action}`,
      entityId: l.id,
      family: 'digital-pipeline',
      data: {
        id: l.id,
        status_id: l.status,
        pipeline_id: l.pipeline,
        ...(l.old ? { old_status_id: l.old, old_pipeline_id: l.pipeline } : {}),
      },
    },
  }));

const contactLike = (action: string) =>
  fc
    .record({
      type: fc.constantFrom('contact', 'company'),
      id: idNum,
      name: text,
      cfs: customFields,
      tg: tags,
      linked: opt(fc.uniqueArray(idNum, { minLength: 1, maxLength: 35 })),
    })
    .map((c): Item => {
      const extra = crmExtras(c.cfs, c.tg);
      const pairs: PhpMap = [['id', String(c.id)], ['name', c.name], ...extra.pairs];
      if (c.linked) pairs.push(['linked_leads_id', c.linked.map((id) => [String(id), [['ID', String(id)]]])]);
      pairs.push(['type', c.type]);
      return {
        pairs,
        expected: {
          kind: `${c.type}.${action}`,
          entityId: c.id,
          family: 'account',
          data: {
            type: c.type,
            id: c.id,
            name: c.name,
            ...extra.data,
            ...(c.linked ? { linked_leads_id: [...c.linked].sort((a, b) => a - b) } : {}),
          },
        },
      };
    });

const task = (action: string) =>
  fc
    .record({ id: idNum, text, status: fc.constantFrom('0', '1'), till: fc.oneof(unix, fc.constant('2017-07-22 23:59:00')) })
    .map((t): Item => ({
      pairs: [
        ['id', String(t.id)],
        ['text', t.text],
        ['status', t.status],
        ['complete_till', t.till],
      ],
      expected: {
        kind: `task.${action}`,
        entityId: t.id,
        family: 'account',
        data: {
          id: t.id,
          text: t.text,
          status: Number(t.status),
          is_completed: t.status === '1',
          ...(/^\d+$/.test(t.till) ? { complete_till: Number(t.till) } : {}),
          dates: {
            complete_till: /^\d+$/.test(t.till) ? { given: t.till, unix: Number(t.till) } : { given: t.till, local: '2017-07-22T23:59:00' },
          },
        },
      },
    }));

const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 8, maxLength: 60 });

const unsorted = (action: string) =>
  fc
    .record({
      uid: hex,
      category: fc.constantFrom('chats', 'forms', 'sip', 'mail'),
      from: text,
      msgs: fc.array(text, { minLength: 1, maxLength: 3 }),
      lead: idNum,
    })
    .map((u): Item => ({
      pairs: [
        ['uid', u.uid],
        ['category', u.category],
        [
          'source_data',
          [
            ['from', u.from],
            ['data', u.msgs.map((m, i) => [String(i), [['text', m]]])],
          ],
        ],
        ['lead_id', String(u.lead)],
      ],
      expected: {
        kind: `unsorted.${action}`,
        entityId: u.uid,
        family: 'account',
        data: { uid: u.uid, category: u.category, lead_id: u.lead, source_data: { from: u.from, data: u.msgs.map((m) => ({ text: m })) } },
      },
    }));

const message = fc.record({ id: fc.uuid(), text, talk: idNum }).map((m): Item => ({
  pairs: [
    ['id', m.id],
    ['text', m.text],
    ['talk_id', String(m.talk)],
    ['type', 'incoming'],
  ],
  expected: { kind: 'message.add', entityId: m.id, family: 'account', data: { id: m.id, text: m.text, talk_id: m.talk, type: 'incoming' } },
}));

const talk = (action: string) =>
  fc.record({ id: idNum, read: fc.constantFrom('0', '1') }).map((t): Item => ({
    pairs: [
      ['talk_id', String(t.id)],
      ['is_read', t.read],
    ],
    expected: { kind: `talk.${action}`, entityId: t.id, family: 'account', data: { talk_id: t.id, is_read: t.read === '1' } },
  }));

const note = (entity: 'leads' | 'contacts') =>
  fc.record({ text, element: idNum, type: fc.constantFrom('contact', 'company') }).map((n): Item => {
    const elementType = entity === 'leads' ? 2 : n.type === 'contact' ? 1 : 3;
    const kindEntity = entity === 'leads' ? 'lead' : n.type;
    return {
      pairs: [
        [
          'note',
          [
            ['text', n.text],
            ['note_type', '4'],
            ['element_type', String(elementType)],
            ['element_id', String(n.element)],
          ],
        ],
        ...(entity === 'contacts' ? ([['type', n.type]] as PhpMap) : []),
      ],
      expected: {
        kind: `${kindEntity}.note`,
        entityId: n.element,
        family: 'account',
        data: { params: { text: n.text }, entity_id: n.element, note_type: 'common' },
      },
    };
  });

const rawItem = fc.record({ id: idStr, text }).map((r): Item => ({
  pairs: [
    ['id', r.id],
    ['text', r.text],
  ],
  expected: { kind: 'raw', entityId: r.id, family: 'account' },
}));

const items = (a: fc.Arbitrary<Item>) => fc.array(a, { minLength: 1, maxLength: 2 });

const group: fc.Arbitrary<Group> = fc.oneof(
  fc
    .constantFrom('add', 'update', 'delete', 'restore', 'responsible')
    .chain((action) => items(leadFull(action)).map((i) => ({ key: 'leads', action, items: i }))),
  fc
    .constantFrom('status', 'add')
    .chain((action) =>
      items(fc.oneof(leadFull(action), leadDpShort(action as 'status' | 'add'))).map((i) => ({ key: 'leads', action, items: i })),
    ),
  fc
    .constantFrom('add', 'update', 'delete', 'restore', 'responsible')
    .chain((action) => items(contactLike(action)).map((i) => ({ key: 'contacts', action, items: i }))),
  fc.constantFrom('add', 'update', 'delete').chain((action) => items(task(action)).map((i) => ({ key: 'task', action, items: i }))),
  fc.constantFrom('add', 'update', 'delete').chain((action) => items(unsorted(action)).map((i) => ({ key: 'unsorted', action, items: i }))),
  items(message).map((i) => ({ key: 'message', action: 'add', items: i })),
  fc.constantFrom('add', 'update').chain((action) => items(talk(action)).map((i) => ({ key: 'talk', action, items: i }))),
  fc
    .constantFrom<'leads' | 'contacts'>('leads', 'contacts')
    .chain((entity) => items(note(entity)).map((i) => ({ key: entity, action: 'note', items: i }))),
  fc
    .tuple(fc.constantFrom('customers', 'outgoing_message', 'widget_event'), fc.constantFrom('add', 'update', 'delete'))
    .chain(([key, action]) => items(rawItem).map((i) => ({ key, action, items: i }))),
);

const account = fc.record({
  subdomain: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
  id: opt(idNum),
  self: fc.boolean(),
});

export const webhook = fc
  .record({ groups: fc.array(group, { minLength: 1, maxLength: 3 }), account, accountFirst: fc.boolean() })
  .map(({ groups, account: acc, accountFirst }) => {
    // Items of a repeated (key, action) continue its numbering, as one amoCRM list would.
    const next = new Map<string, number>();
    const map: PhpMap = [];
    const expected: Expected[] = [];
    for (const g of groups) {
      const k = `${g.key}[${g.action}]`;
      const start = next.get(k) ?? 0;
      next.set(k, start + g.items.length);
      map.push([g.key, [[g.action, g.items.map((it, j) => [String(start + j), it.pairs])]]]);
      expected.push(...g.items.map((it) => it.expected));
    }
    const accPairs: PhpMap = [['subdomain', acc.subdomain]];
    if (acc.id !== undefined) accPairs.push(['id', String(acc.id)]);
    if (acc.self) accPairs.push(['_links', [['self', `https://${acc.subdomain}.amocrm.ru`]]]);
    const accEntry: [string, PhpMap] = ['account', accPairs];
    const bodyMap = accountFirst ? [accEntry, ...map] : [...map, accEntry];
    const expectedAccount = {
      subdomain: acc.subdomain,
      ...(acc.id !== undefined ? { id: acc.id } : {}),
      ...(acc.self ? { self: `https://${acc.subdomain}.amocrm.ru` } : {}),
    };
    return { body: httpBuildQuery(bodyMap), expected, expectedAccount };
  });

/** Form-shaped garbage: bracket keys from webhook vocabulary (and junk), odd values, raw or encoded. */
const segment = fc.constantFrom(
  'add',
  'update',
  'status',
  'delete',
  'note',
  'restore',
  '0',
  '1',
  '10',
  '007',
  '-1',
  'id',
  'type',
  'name',
  'custom_fields',
  'values',
  'value',
  'enum',
  'tags',
  'linked_leads_id',
  'ID',
  'subdomain',
  'uid',
  'talk_id',
  'result',
  'note',
  '',
  '[',
  ']',
  '__proto__',
  'constructor',
  'toString',
);
const root = fc.constantFrom(
  'leads',
  'contacts',
  'task',
  'unsorted',
  'catalogs',
  'message',
  'talk',
  'account',
  'customers',
  'x',
  '',
  '[',
  '__proto__',
);
const oddValue = fc.oneof(
  fc.constantFrom(
    '1',
    '0',
    '',
    'contact',
    'company',
    'acme',
    'abc',
    '%',
    '%ZZ',
    '%E2%82',
    '+',
    '2017-01-01 00:00:00',
    '12a',
    '99999999999999999999',
    'accept',
    '[]',
    '=',
  ),
  fc.string({ unit: tricky, maxLength: 6 }),
);
export const formish = fc
  .record({
    pairs: fc.array(fc.record({ root, segs: fc.array(segment, { maxLength: 7 }), value: oddValue, encode: fc.boolean() }), {
      minLength: 1,
      maxLength: 10,
    }),
    // Most real-looking bodies carry an account block, so the item checks are reached too.
    account: fc.constantFrom('account%5Bsubdomain%5D=acme', 'account[subdomain]=acme&account[id]=7', ''),
  })
  .map(({ pairs, account }) =>
    [
      ...pairs.map(({ root: r, segs, value, encode }) => {
        const key = r + segs.map((s) => `[${s}]`).join('');
        return encode ? httpBuildQuery([[key, value]]) : `${key}=${value}`;
      }),
      ...(account ? [account] : []),
    ].join('&'),
  );
