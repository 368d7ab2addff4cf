/**
 * Behaviour beyond the fixtures: rejections and their codes, body order across entities, raw
 * kinds, the kinds no fixture covers (notes on contacts/companies, unsorted accept/decline,
 * messages, talks, catalogs), limits, and the request-id/sha256 idempotency keys.
 */
import qs from 'qs';
import { describe, expect, it } from 'vitest';
import { parseAccountWebhook, WEBHOOK_QS_OPTIONS, type WebhookEvent } from '../../lib/amocrm/webhooks/index.ts';
import { err, fixture, httpBuildQuery, ok, php, sha256hex, type PhpMap } from './support.ts';

const ACCOUNT: PhpMap = [
  [
    'account',
    [
      ['subdomain', 'acme'],
      ['id', '777'],
      ['_links', [['self', 'https://acme.amocrm.ru']]],
    ],
  ],
];
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function body(...entries: PhpMap): string {
  return httpBuildQuery([...entries, ...ACCOUNT]);
}

const kinds = (events: WebhookEvent[]) => events.map((e) => e.kind);

describe('rejections are explained, never thrown', () => {
  it.each([
    ['zero bytes', new Uint8Array(0), 'empty-body'],
    ['an empty string', '', 'empty-body'],
    ['only whitespace', ' \r\n\t', 'empty-body'],
    ['a JSON object', '{"leads":{"status":[{"id":"1"}]}}', 'not-form'],
    ['a JSON array after whitespace', '  [1,2]', 'not-form'],
    ['text without a pair', 'hello world', 'not-form'],
    ['bytes that are not UTF-8', new Uint8Array([0x61, 0x3d, 0xff, 0xfe]), 'invalid-encoding'],
    ['a truncated escape', 'leads%5Badd%5D%5B0%5D%5Bid%5D=1&account%5Bsubdomain%5D=a%2', 'invalid-encoding'],
    ['an escape of a non-UTF-8 byte', 'leads[add][0][name]=%FF&leads[add][0][id]=1&account[subdomain]=a', 'invalid-encoding'],
    ['only the account block', 'account%5Bsubdomain%5D=acme&account%5Bid%5D=1', 'no-events'],
    ['unrelated pairs', 'foo=bar&baz=1', 'no-events'],
    ['no account block', 'leads%5Badd%5D%5B0%5D%5Bid%5D=1', 'invalid-account'],
  ] as const)('%s → %s', (_what, input, code) => {
    const e = err(parseAccountWebhook(input));
    expect(e.code).toBe(code);
    expect(e.message.length).toBeGreaterThan(10);
  });

  it('refuses a content-type other than form-urlencoded, accepts one with a charset', () => {
    const b = body(['leads', [['add', [['0', [['id', '1']]]]]]]);
    expect(err(parseAccountWebhook(b, { 'content-type': 'application/json' }))).toMatchObject({ code: 'not-form' });
    expect(ok(parseAccountWebhook(b, { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' })).events).toHaveLength(1);
    expect(ok(parseAccountWebhook(b, FORM)).events).toHaveLength(1);
  });

  it.each([
    ['a subdomain with a dot', [['subdomain', 'evil.example.com']]],
    ['a Cyrillic subdomain', [['subdomain', 'тест']]],
    ['an empty subdomain', [['subdomain', '']]],
    [
      'a non-numeric account id',
      [
        ['subdomain', 'acme'],
        ['id', '12a'],
      ],
    ],
  ] as const)('invalid-account: %s', (_what, acc) => {
    const b = httpBuildQuery([
      ['leads', [['add', [['0', [['id', '1']]]]]]],
      ['account', acc as unknown as PhpMap],
    ]);
    const e = err(parseAccountWebhook(b));
    expect(e.code).toBe('invalid-account');
    expect(e.path).toMatch(/^account\[/);
  });

  it('names the path of a bad field, never its value', () => {
    const phone = '+79161234567';
    const e = err(
      parseAccountWebhook(
        body([
          'contacts',
          [
            [
              'add',
              [
                [
                  '0',
                  [
                    ['id', phone],
                    ['type', 'contact'],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(e).toMatchObject({ code: 'invalid-item', path: 'contacts[add][0][id]' });
    expect(e.message).toContain('contacts[add][0][id]');
    expect(e.message).not.toContain('7916');
  });

  it('points into custom fields', () => {
    const b = body(
      ...php({ leads: { update: { 0: { id: '5', custom_fields: { 0: { id: '9', values: { 0: { value: 'x', enum: 'abc' } } } } } } } }),
    );
    expect(err(parseAccountWebhook(b))).toMatchObject({
      code: 'invalid-item',
      path: 'leads[update][0][custom_fields][0][values][0][enum]',
    });
  });

  it('rejects a repeated leaf instead of picking one of the values', () => {
    const b = `leads[status][0][id]=1&leads[status][0][status_id]=2&leads[status][0][status_id]=3&account[subdomain]=acme`;
    expect(err(parseAccountWebhook(b))).toMatchObject({ code: 'invalid-item', path: 'leads[status][0][status_id]' });
  });

  it('rejects a known kind that is not a list of items', () => {
    expect(err(parseAccountWebhook('leads[status][id]=1&account[subdomain]=acme'))).toMatchObject({
      code: 'invalid-item',
      path: 'leads[status]',
    });
    expect(err(parseAccountWebhook('leads[status]=abc&account[subdomain]=acme'))).toMatchObject({ code: 'invalid-item' });
  });

  it('does not throw on inputs outside the type (called from untyped code)', () => {
    // @ts-expect-error deliberately wrong
    const r = parseAccountWebhook(undefined);
    expect(err(r).code).toBe('internal');
  });
});

describe('limits (architecture#form-urlencoded-parsing)', () => {
  it('accepts 10 nesting groups and more (real unsorted form bodies reach 10)', () => {
    const b = `unsorted[add][0][uid]=u1&unsorted[add][0][data][contacts][0][custom_fields][0][values][0][enum]=5&account[subdomain]=acme`;
    const ev = ok(parseAccountWebhook(b)).events[0];
    expect(ev?.kind).toBe('unsorted.add');
    expect(ev?.data).toMatchObject({ data: { contacts: [{ custom_fields: [{ values: [{ enum: '5' }] }] }] } });
  });

  it('rejects keys deeper than the depth limit instead of folding them', () => {
    const deep = 'leads[add][0]' + '[x]'.repeat(WEBHOOK_QS_OPTIONS.depth) + '=1';
    expect(err(parseAccountWebhook(`${deep}&account[subdomain]=acme`)).code).toBe('limits-exceeded');
  });

  it('rejects more parameters than parameterLimit', () => {
    const n = WEBHOOK_QS_OPTIONS.parameterLimit + 1;
    const b = Array.from({ length: n }, (_, i) => `leads[add][${i}][id]=${i + 1}`).join('&');
    expect(err(parseAccountWebhook(b)).code).toBe('limits-exceeded');
  });

  it('rejects a repeated key beyond arrayLimit', () => {
    const b = Array.from({ length: WEBHOOK_QS_OPTIONS.arrayLimit + 2 }, () => 'x[]=1').join('&') + '&account[subdomain]=acme';
    expect(err(parseAccountWebhook(b)).code).toBe('limits-exceeded');
  });

  it('takes 300 items of one action and 60 custom fields in index order (qs defaults stop at 20)', () => {
    const fields = (n: number): PhpMap =>
      Array.from({ length: n }, (_, i) => [
        String(i),
        [
          ['id', String(1000 + i)],
          ['values', [['0', [['value', `v${i}`]]]]],
        ],
      ]);
    const items: PhpMap = Array.from({ length: 300 }, (_, i) => [
      String(i),
      [
        ['id', String(i + 1)],
        ['custom_fields', fields(i === 299 ? 60 : 3)],
      ],
    ]);
    const r = ok(parseAccountWebhook(body(['leads', [['update', items]]])));
    expect(r.events).toHaveLength(300);
    expect(r.events.map((e) => e.entityId)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(r.events.map((e) => e.path)).toEqual(Array.from({ length: 300 }, (_, i) => `leads[update][${i}]`));
    const cf = (r.events[299]?.data as { custom_fields_values: unknown[] }).custom_fields_values;
    expect(cf).toHaveLength(60);
    expect(cf[20]).toEqual({ field_id: 1020, values: [{ value: 'v20' }] });
    expect(cf[59]).toEqual({ field_id: 1059, values: [{ value: 'v59' }] });
  });

  it('qs defaults really do corrupt real bodies (why the options exist)', () => {
    const text = Buffer.from(fixture('webhook-03-status_lead-custom_fields.txt')).toString('utf8');
    const dflt = qs.parse(text) as { leads: { status: Array<{ custom_fields: Array<{ values: unknown }> }> } };
    // depth 5: the value path is folded into one literal key.
    expect(dflt.leads.status[0]?.custom_fields[0]?.values).toEqual({ '[0][value]': 'Сайт', '[0][enum]': '139517' });
    // parseArrays + arrayLimit + throwOnLimitExceeded rejects a real body keyed by lead ids.
    const t11 = Buffer.from(fixture('webhook-11-update_contact-cyrillic.txt')).toString('utf8');
    expect(() => qs.parse(t11, { ...WEBHOOK_QS_OPTIONS, parseArrays: true })).toThrow(/Array limit/);
    expect(ok(parseAccountWebhook(t11)).events).toHaveLength(1);
  });
});

describe('several events in one POST', () => {
  const b = httpBuildQuery([
    ['leads', [['update', [['0', [['id', '11']]]]]]],
    [
      'contacts',
      [
        [
          'add',
          [
            [
              '0',
              [
                ['id', '21'],
                ['type', 'contact'],
              ],
            ],
          ],
        ],
      ],
    ],
    [
      'leads',
      [
        [
          'status',
          [
            [
              '0',
              [
                ['id', '12'],
                ['status_id', '142'],
                ['pipeline_id', '3'],
                ['name', 'x'],
              ],
            ],
          ],
        ],
      ],
    ],
    ['leads', [['update', [['1', [['id', '13']]]]]]],
    [
      'contacts',
      [
        [
          'add',
          [
            [
              '1',
              [
                ['id', '22'],
                ['type', 'company'],
              ],
            ],
          ],
        ],
      ],
    ],
    ['account', [['subdomain', 'acme']]],
  ]);

  it('come out in body order, each with its own index and key', () => {
    const r = ok(parseAccountWebhook(b, { 'x-amocrm-requestid': 'req-1' }));
    expect(kinds(r.events)).toEqual(['lead.update', 'contact.add', 'lead.status', 'lead.update', 'company.add']);
    expect(r.events.map((e) => e.entityId)).toEqual([11, 21, 12, 13, 22]);
    expect(r.events.map((e) => e.index)).toEqual([0, 1, 2, 3, 4]);
    expect(r.events.map((e) => e.idempotencyKey)).toEqual([
      'rid:req-1:lead:11:update:0',
      'rid:req-1:contact:21:add:1',
      'rid:req-1:lead:12:status:2',
      'rid:req-1:lead:13:update:3',
      'rid:req-1:company:22:add:4',
    ]);
  });

  it('the same events whether the account block comes first or last', () => {
    const items: PhpMap = [
      [
        'leads',
        [
          [
            'add',
            [
              [
                '0',
                [
                  ['id', '1'],
                  ['name', 'a'],
                ],
              ],
              [
                '1',
                [
                  ['id', '2'],
                  ['name', 'b'],
                ],
              ],
            ],
          ],
        ],
      ],
    ];
    const first = httpBuildQuery([...ACCOUNT, ...items]);
    const last = httpBuildQuery([...items, ...ACCOUNT]);
    const a = ok(parseAccountWebhook(first));
    const z = ok(parseAccountWebhook(last));
    expect(a.account).toEqual({ id: 777, subdomain: 'acme', self: 'https://acme.amocrm.ru' });
    expect(z.account).toEqual(a.account);
    const strip = (e: WebhookEvent) => ({ ...e, idempotencyKey: undefined });
    expect(z.events.map(strip)).toEqual(a.events.map(strip));
    // Without a request id the key is the body hash, so the two bodies differ.
    expect(a.events[0]?.idempotencyKey).toBe(`sha256:${sha256hex(first)}:lead:1:add:0`);
    expect(z.events[0]?.idempotencyKey).toBe(`sha256:${sha256hex(last)}:lead:1:add:0`);
  });
});

describe('decoding', () => {
  it('`+` is a space and `%2B` a plus, in keys and values', () => {
    const r = ok(parseAccountWebhook('leads[add][0][id]=1&leads[add][0][name]=a+b%2Bc+%2B7&leads[add][0][x+y]=1&account[subdomain]=acme'));
    expect(r.events[0]?.data).toMatchObject({ name: 'a b+c +7' });
    expect(r.events[0]?.raw).toMatchObject({ 'x y': '1' });
  });

  it('accepts raw (unencoded) brackets and UTF-8 as some clients send them', () => {
    const r = ok(parseAccountWebhook('leads[add][0][id]=1&leads[add][0][name]=Сделка №1&account[subdomain]=acme'));
    expect(r.events[0]?.data).toMatchObject({ name: 'Сделка №1' });
  });

  it('keeps prototype keys out (no pollution)', () => {
    const r = ok(parseAccountWebhook('__proto__[polluted]=1&leads[add][0][id]=1&leads[add][0][constructor][x]=1&account[subdomain]=acme'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(r.events).toHaveLength(1);
  });

  it('keeps stray top-level pairs in extras', () => {
    const r = ok(parseAccountWebhook('foo=bar&leads[add][0][id]=1&account[subdomain]=acme'));
    expect(r.extras).toEqual({ foo: 'bar' });
  });

  it('an empty string means not set for numbers, but stays "" for text', () => {
    const r = ok(parseAccountWebhook('leads[add][0][id]=1&leads[add][0][price]=&leads[add][0][name]=&account[subdomain]=acme'));
    expect(r.events[0]?.data).toEqual({ id: 1, name: '' });
  });

  it('reads a decimal price', () => {
    const r = ok(parseAccountWebhook('leads[add][0][id]=1&leads[add][0][price]=1500.50&account[subdomain]=acme'));
    expect(r.events[0]?.data).toEqual({ id: 1, price: 1500.5 });
  });
});

describe('kinds without a fixture', () => {
  it('Digital Pipeline leads[add] short form', () => {
    const r = ok(
      parseAccountWebhook(
        'leads[add][0][id]=5&leads[add][0][status_id]=6&leads[add][0][pipeline_id]=7&account[id]=1&account[subdomain]=acme',
      ),
    );
    expect(r.events[0]).toMatchObject({ kind: 'lead.add', family: 'digital-pipeline', data: { id: 5, status_id: 6, pipeline_id: 7 } });
  });

  it('restore', () => {
    const r = ok(
      parseAccountWebhook(
        body([
          'leads',
          [
            [
              'restore',
              [
                [
                  '0',
                  [
                    ['id', '9'],
                    ['name', 'back'],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(r.events[0]).toMatchObject({ kind: 'lead.restore', entityId: 9, family: 'account' });
  });

  it('contacts[note] for a company, and for a contact told by element_type', () => {
    const note = (type: string | undefined, elementType: string): PhpMap => [
      [
        'note',
        [
          ['text', 'Позвонить\nзавтра'],
          ['note_type', '4'],
          ['element_type', elementType],
          ['element_id', '300'],
          ['id', '55'],
          ['created_at', '1601242011'],
        ],
      ],
      ...(type ? ([['type', type]] as PhpMap) : []),
    ];
    const r = ok(
      parseAccountWebhook(
        body([
          'contacts',
          [
            [
              'note',
              [
                ['0', note('company', '3')],
                ['1', note(undefined, '1')],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(kinds(r.events)).toEqual(['company.note', 'contact.note']);
    expect(r.events[0]).toMatchObject({ entity: 'company', entityId: 300 });
    expect(r.events[0]?.data).toEqual({
      id: 55,
      entity_id: 300,
      entity_type: 'companies',
      element_type: 3,
      note_type: 'common',
      note_type_id: 4,
      params: { text: 'Позвонить\nзавтра' },
      created_at: 1601242011,
      dates: {},
    });
    expect(r.events[1]?.data).toMatchObject({ entity_type: 'contacts' });
  });

  it('a contacts item without type stays raw, with the reason', () => {
    const r = ok(parseAccountWebhook(body(['contacts', [['delete', [['0', [['id', '42']]]]]]])));
    expect(r.events[0]).toMatchObject({
      kind: 'raw',
      entity: 'contacts',
      action: 'delete',
      entityId: '42',
      data: null,
      raw: { id: '42' },
      reason: 'contacts item without type=contact|company',
    });
  });

  it('an old contacts[delete] with type', () => {
    const r = ok(
      parseAccountWebhook(
        body([
          'contacts',
          [
            [
              'delete',
              [
                [
                  '0',
                  [
                    ['id', '21999540'],
                    ['type', 'contact'],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(r.events[0]).toMatchObject({ kind: 'contact.delete', data: { type: 'contact', id: 21999540 } });
  });

  it('unknown entities and actions are kept as raw events, in order', () => {
    const r = ok(
      parseAccountWebhook(
        body(
          [
            'customers',
            [
              [
                'add',
                [
                  [
                    '0',
                    [
                      ['id', '1'],
                      ['name', 'c'],
                    ],
                  ],
                ],
              ],
            ],
          ],
          ['leads', [['merge', [['0', [['id', '2']]]]]]],
          [
            'outgoing_message',
            [
              [
                'add',
                [
                  [
                    '0',
                    [
                      ['id', 'm1'],
                      ['text', 'hi'],
                    ],
                  ],
                ],
              ],
            ],
          ],
          ['leads', [['add', [['0', [['id', '3']]]]]]],
        ),
      ),
    );
    expect(kinds(r.events)).toEqual(['raw', 'raw', 'raw', 'lead.add']);
    expect(r.events[0]).toMatchObject({
      entity: 'customers',
      action: 'add',
      raw: { id: '1', name: 'c' },
      reason: 'no typed kind for customers[add]',
    });
    expect(r.events[2]).toMatchObject({ entity: 'outgoing_message', entityId: 'm1', path: 'outgoing_message[add][0]' });
  });

  it('unsorted accept and decline arrive as deletes with an action', () => {
    const r = ok(
      parseAccountWebhook(
        body([
          'unsorted',
          [
            [
              'delete',
              [
                [
                  '0',
                  [
                    ['action', 'accept'],
                    ['uid', 'u1'],
                    ['category', 'forms'],
                    ['created_at', '124242341'],
                    [
                      'accept_result',
                      [
                        ['leads', [['0', '2132111']]],
                        ['contacts', [['0', '3454532']]],
                      ],
                    ],
                  ],
                ],
                [
                  '1',
                  [
                    ['action', 'decline'],
                    ['uid', 'u2'],
                    ['category', 'forms'],
                    ['decline_result', [['leads', [['0', '2132112']]]]],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(kinds(r.events)).toEqual(['unsorted.delete', 'unsorted.delete']);
    expect(r.events[0]?.data).toEqual({
      action: 'accept',
      uid: 'u1',
      category: 'forms',
      created_at: 124242341,
      accept_result: { leads: [2132111], contacts: [3454532] },
    });
    expect(r.events[1]).toMatchObject({ entityId: 'u2', data: { action: 'decline', decline_result: { leads: [2132112] } } });
  });

  it('message[add] (incoming chat message)', () => {
    const r = ok(
      parseAccountWebhook(
        httpBuildQuery([
          ...ACCOUNT,
          [
            'message',
            [
              [
                'add',
                [
                  [
                    '0',
                    [
                      ['id', 'a1b2'],
                      ['chat_id', 'c-1'],
                      ['talk_id', '106564'],
                      ['contact_id', '28771643'],
                      ['text', 'Привет!'],
                      ['created_at', '1695484695'],
                      ['element_type', '2'],
                      ['entity_type', 'lead'],
                      ['element_id', '23711835'],
                      ['entity_id', '23711835'],
                      ['type', 'incoming'],
                      [
                        'author',
                        [
                          ['id', 'x-1'],
                          ['type', 'external'],
                          ['name', 'Oleg'],
                          ['avatar_url', 'https://a/b.jpg'],
                        ],
                      ],
                      ['origin', 'telegram'],
                    ],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(r.events[0]).toMatchObject({ kind: 'message.add', entity: 'message', entityId: 'a1b2' });
    expect(r.events[0]?.data).toEqual({
      id: 'a1b2',
      chat_id: 'c-1',
      talk_id: 106564,
      contact_id: 28771643,
      text: 'Привет!',
      created_at: 1695484695,
      element_type: 2,
      entity_type: 'lead',
      element_id: 23711835,
      entity_id: 23711835,
      type: 'incoming',
      author: { id: 'x-1', type: 'external', name: 'Oleg', avatar_url: 'https://a/b.jpg' },
      origin: 'telegram',
    });
  });

  it('talk[add] and talk[update]', () => {
    const r = ok(
      parseAccountWebhook(
        body([
          'talk',
          [
            [
              'add',
              [
                [
                  '0',
                  [
                    ['talk_id', '106564'],
                    ['chat_id', 'c'],
                    ['contact_id', '28771643'],
                    ['entity_id', '23711835'],
                    ['entity_type', 'leads'],
                    ['origin', 'waba'],
                    ['is_read', '0'],
                    ['is_in_work', '1'],
                  ],
                ],
              ],
            ],
            [
              'update',
              [
                [
                  '0',
                  [
                    ['talk_id', '106564'],
                    ['is_read', '1'],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(kinds(r.events)).toEqual(['talk.add', 'talk.update']);
    expect(r.events[0]?.data).toEqual({
      talk_id: 106564,
      chat_id: 'c',
      contact_id: 28771643,
      entity_id: 23711835,
      entity_type: 'leads',
      origin: 'waba',
      is_read: false,
      is_in_work: true,
    });
    expect(r.events[1]).toMatchObject({ entityId: 106564, data: { talk_id: 106564, is_read: true } });
  });

  it('catalogs[add] with structured custom field values', () => {
    const r = ok(
      parseAccountWebhook(
        body([
          'catalogs',
          [
            [
              'add',
              [
                [
                  '0',
                  [
                    ['id', '501'],
                    ['catalog_id', '7'],
                    ['name', 'Счёт №1'],
                    ['type', 'catalog'],
                    [
                      'custom_fields',
                      [
                        [
                          '0',
                          [
                            ['id', '10'],
                            [
                              'values',
                              [
                                [
                                  '0',
                                  [
                                    ['value', 'Оплачен'],
                                    ['enum', '1371080'],
                                  ],
                                ],
                              ],
                            ],
                          ],
                        ],
                        [
                          '1',
                          [
                            ['id', '11'],
                            [
                              'values',
                              [
                                [
                                  '0',
                                  [
                                    [
                                      'value',
                                      [
                                        ['product_id', '9'],
                                        ['unit_price', '100.5'],
                                        ['quantity', '2'],
                                      ],
                                    ],
                                  ],
                                ],
                              ],
                            ],
                          ],
                        ],
                      ],
                    ],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(r.events[0]).toMatchObject({ kind: 'catalog.add', entity: 'catalog', entityId: 501 });
    expect(r.events[0]?.data).toEqual({
      id: 501,
      catalog_id: 7,
      name: 'Счёт №1',
      type: 'catalog',
      custom_fields_values: [
        { field_id: 10, values: [{ value: 'Оплачен', enum_id: 1371080 }] },
        { field_id: 11, values: [{ value: { product_id: '9', unit_price: '100.5', quantity: '2' } }] },
      ],
    });
  });

  it('a multi-value field, in index order', () => {
    const r = ok(
      parseAccountWebhook(
        body([
          'contacts',
          [
            [
              'update',
              [
                [
                  '0',
                  [
                    ['id', '1'],
                    ['type', 'contact'],
                    [
                      'custom_fields',
                      [
                        [
                          '0',
                          [
                            ['id', '5'],
                            ['code', 'PHONE'],
                            [
                              'values',
                              [
                                [
                                  '0',
                                  [
                                    ['value', '+7 916 000-00-01'],
                                    ['enum', '11'],
                                  ],
                                ],
                                [
                                  '1',
                                  [
                                    ['value', '+7 916 000-00-02'],
                                    ['enum', '12'],
                                  ],
                                ],
                                [
                                  '10',
                                  [
                                    ['value', '+7 916 000-00-11'],
                                    ['enum', '13'],
                                  ],
                                ],
                                [
                                  '2',
                                  [
                                    ['value', '+7 916 000-00-03'],
                                    ['enum', '11'],
                                  ],
                                ],
                              ],
                            ],
                          ],
                        ],
                      ],
                    ],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    const cf = (r.events[0]?.data as { custom_fields_values: Array<{ values: Array<{ value: string }> }> }).custom_fields_values[0];
    expect(cf?.values.map((v) => v.value)).toEqual(['+7 916 000-00-01', '+7 916 000-00-02', '+7 916 000-00-03', '+7 916 000-00-11']);
  });

  it('the doc forms: `leads[delete]=<id>` and the extra {"0":{…}} level of the task example', () => {
    const d = ok(parseAccountWebhook('leads[delete]=123&account[subdomain]=acme'));
    expect(d.events[0]).toMatchObject({ kind: 'lead.delete', entityId: 123, data: { id: 123 }, raw: '123', path: 'leads[delete]' });
    const t = ok(
      parseAccountWebhook('task[update][0][0][id]=1&task[update][0][0][text]=a&task[update][0][1][id]=2&account[subdomain]=acme'),
    );
    expect(t.events.map((e) => [e.kind, e.entityId, e.path])).toEqual([
      ['task.update', 1, 'task[update][0][0]'],
      ['task.update', 2, 'task[update][0][1]'],
    ]);
  });

  it('task dates: unix, explicit offset, complete_before, impossible dates', () => {
    const r = ok(
      parseAccountWebhook(
        body([
          'task',
          [
            [
              'add',
              [
                [
                  '0',
                  [
                    ['id', '1'],
                    ['date_create', '1500555000'],
                    ['last_modified', '2017-07-21T19:00:00+03:00'],
                    ['complete_till', '2017-02-30 10:00:00'],
                    ['complete_before', '1500757140'],
                    ['status', '0'],
                  ],
                ],
              ],
            ],
          ],
        ]),
      ),
    );
    expect(r.events[0]?.data).toEqual({
      id: 1,
      status: 0,
      is_completed: false,
      created_at: 1500555000,
      updated_at: 1500652800,
      complete_till: 1500757140,
      complete_before: 1500757140,
      dates: {
        date_create: { given: '1500555000', unix: 1500555000 },
        last_modified: { given: '2017-07-21T19:00:00+03:00', unix: 1500652800 },
        complete_till: { given: '2017-02-30 10:00:00' },
      },
    });
  });
});

describe('idempotency keys', () => {
  const b = body([
    'leads',
    [
      [
        'status',
        [
          [
            '0',
            [
              ['id', '1'],
              ['name', 'n'],
            ],
          ],
          [
            '1',
            [
              ['id', '2'],
              ['name', 'n'],
            ],
          ],
        ],
      ],
    ],
  ]);

  it('use x-amocrm-requestid when present, else the body sha256', () => {
    const withId = ok(parseAccountWebhook(b, { 'x-amocrm-requestid': 'ac0999fe-a56c-434d-b7ba-8cb676f02e26' }));
    expect(withId.requestId).toBe('ac0999fe-a56c-434d-b7ba-8cb676f02e26');
    expect(withId.events.map((e) => e.idempotencyKey)).toEqual([
      'rid:ac0999fe-a56c-434d-b7ba-8cb676f02e26:lead:1:status:0',
      'rid:ac0999fe-a56c-434d-b7ba-8cb676f02e26:lead:2:status:1',
    ]);
    const without = ok(parseAccountWebhook(b));
    expect(without.events[1]?.idempotencyKey).toBe(`sha256:${sha256hex(b)}:lead:2:status:1`);
  });

  it('ignore a malformed request id (falls back to the hash) and join repeated headers', () => {
    const bad = ok(parseAccountWebhook(b, { 'x-amocrm-requestid': 'a b:c' }));
    expect(bad.requestId).toBeUndefined();
    expect(bad.events[0]?.idempotencyKey.startsWith(`sha256:${sha256hex(b)}:`)).toBe(true);
    const repeated = ok(parseAccountWebhook(b, { 'x-amocrm-requestid': ['r1', 'r2'] }));
    expect(repeated.requestId).toBeUndefined();
  });

  it('stay bounded when a string id from the body is long or odd', () => {
    const long = 'x'.repeat(5000);
    const r = ok(
      parseAccountWebhook(
        body(
          [
            'customers',
            [
              [
                'add',
                [
                  ['0', [['id', long]]],
                  ['1', [['id', 'a:b c']]],
                ],
              ],
            ],
          ],
          ['message', [['add', [['0', [['id', long]]]]]]],
        ),
      ),
    );
    for (const e of r.events) expect(e.idempotencyKey.length).toBeLessThan(200);
    expect(r.events[0]?.idempotencyKey).toMatch(/^sha256:[0-9a-f]{64}:customers:h[0-9a-f]{24}:add:0$/);
    expect(r.events[1]?.idempotencyKey).toMatch(/:customers:h[0-9a-f]{24}:add:1$/);
    expect(r.events[2]).toMatchObject({ kind: 'message.add', entityId: long });
  });

  it('are stable for the same delivery and distinct across a body', () => {
    const a = ok(parseAccountWebhook(b)).events.map((e) => e.idempotencyKey);
    const again = ok(parseAccountWebhook(Buffer.from(b))).events.map((e) => e.idempotencyKey);
    expect(again).toEqual(a);
    expect(new Set(a).size).toBe(a.length);
  });
});
