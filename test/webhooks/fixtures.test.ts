/**
 * Every real body in test/fixtures/amocrm-webhooks/, read as bytes, parsed into exactly the
 * events written out below by reading the bodies (not by running the parser).
 */
import { describe, expect, it } from 'vitest';
import { parseAccountWebhook, type WebhookEvent } from '../../lib/amocrm/webhooks/index.ts';
import { FIXTURES, fixture, httpBuildQuery, ok, sha256hex, type PhpMap } from './support.ts';

const NBSP = '\u00a0';

function only(name: string, headers?: Record<string, string>): { ev: WebhookEvent; sha: string; r: ReturnType<typeof ok> } {
  const bytes = fixture(name);
  const r = ok(parseAccountWebhook(bytes, headers));
  expect(r.events).toHaveLength(1);
  return { ev: r.events[0] as WebhookEvent, sha: sha256hex(bytes), r };
}

describe('fixture files', () => {
  it('are the 15 bodies the README lists, with no trailing newline', () => {
    expect(FIXTURES).toHaveLength(15);
    for (const f of FIXTURES) {
      const b = fixture(f);
      expect(b.at(-1), f).not.toBe(0x0a);
    }
  });

  it('round-trip through the PHP encoder the property test uses (byte for byte)', () => {
    for (const f of FIXTURES) {
      const text = Buffer.from(fixture(f)).toString('utf8');
      const pairs: PhpMap = [...new URLSearchParams(text)].map(([k, v]) => [k, v]);
      expect(httpBuildQuery(pairs), f).toBe(text);
    }
  });

  it('lose nothing: every pair of every body is in an event raw item or the account', () => {
    // Independent decoder: WHATWG URLSearchParams (`+` is a space, %XX UTF-8), then walk the
    // bracket path into the event whose `path` prefixes it.
    for (const f of FIXTURES) {
      const bytes = fixture(f);
      const r = ok(parseAccountWebhook(bytes));
      const text = Buffer.from(bytes).toString('utf8');
      for (const [key, value] of new URLSearchParams(text)) {
        if (key.startsWith('account[')) continue;
        const ev = r.events.find((e) => key.startsWith(e.path + '['));
        expect(ev, `${f}: ${key}`).toBeDefined();
        const rest = key.slice(ev!.path.length);
        const segs = [...rest.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] as string);
        let node: unknown = ev!.raw;
        for (const s of segs) node = (node as Record<string, unknown>)[s];
        expect(node, `${f}: ${key}`).toBe(value);
      }
    }
  });
});

describe('webhook-01 leads[status], 2016, account last, only subdomain', () => {
  it('parses to one lead.status event', () => {
    const { ev, sha, r } = only('webhook-01-status_lead.txt');
    expect(r.account).toEqual({ subdomain: 'test000002' });
    expect(r.requestId).toBeUndefined();
    expect(r.bodySha256).toBe(sha);
    expect(ev).toMatchObject({
      kind: 'lead.status',
      entity: 'lead',
      action: 'status',
      family: 'account',
      account: { subdomain: 'test000002' },
      entityId: 31926520,
      index: 0,
      path: 'leads[status][0]',
      idempotencyKey: `sha256:${sha}:lead:31926520:status:0`,
    });
    expect(ev.data).toEqual({
      id: 31926520,
      name: 'Some test lead',
      status_id: 10216994,
      old_status_id: 10216995,
      price: 1000,
      responsible_user_id: 938348,
      updated_at: 1456820780,
      updated_by: 102525,
      created_by: 102525,
      created_at: 1456808154,
      pipeline_id: 2116,
      account_id: 10216991,
      custom_fields_values: [{ field_id: 1119321, field_name: 'Some text field', values: [{ value: 'some text' }] }],
    });
    expect(ev.raw).toMatchObject({ id: '31926520', last_modified: '1456820780', date_create: '1456808154', modified_user_id: '102525' });
  });
});

describe('webhook-02 leads[status], 2023, Cyrillic, select with enum, account id and self', () => {
  it('parses to one lead.status event', () => {
    const { ev, r } = only('webhook-02-status_lead-modern-cyrillic.txt');
    expect(r.account).toEqual({ id: 16700680, subdomain: 'unirock', self: 'https://unirock.amocrm.ru' });
    expect(ev.kind).toBe('lead.status');
    expect(ev.family).toBe('account');
    expect(ev.data).toEqual({
      id: 26066553,
      name: 'Тест, удалю сам',
      status_id: 17944873,
      old_status_id: 17944876,
      price: 0,
      responsible_user_id: 2852878,
      updated_by: 2852878,
      created_by: 2852878,
      pipeline_id: 936736,
      account_id: 16700680,
      created_at: 1673858479,
      updated_at: 1673946385,
      custom_fields_values: [
        { field_id: 467289, field_name: 'Менеджер по продажам', values: [{ value: 'Нефедова Алена', enum_id: 917607 }] },
        { field_id: 957901, field_name: 'test_id', values: [{ value: '26066553' }] },
      ],
    });
  });
});

describe('webhook-03 leads[status] to 142, eight custom fields, bare date value, %2B in a URL', () => {
  it('parses every custom field, keeps the literal %2B, and the tag', () => {
    const { ev, r } = only('webhook-03-status_lead-custom_fields.txt');
    expect(r.account).toEqual({ subdomain: 'apfitness' });
    expect(ev.kind).toBe('lead.status');
    expect(ev.data).toEqual({
      id: 10701093,
      name: 'Семинар: Пропитание в фитнесе на результат',
      status_id: 142,
      old_status_id: 20067736,
      price: 22500,
      responsible_user_id: 2079676,
      updated_at: 1539782664,
      updated_by: 2079718,
      created_by: 2076025,
      created_at: 1539782209,
      pipeline_id: 9217056,
      account_id: 17769199,
      _embedded: { tags: [{ id: 80147, name: 'повторное обращение' }] },
      custom_fields_values: [
        { field_id: 66339, field_name: 'Источник', values: [{ value: 'Сайт', enum_id: 139517 }] },
        { field_id: 66349, field_name: 'Интересующая услуга', values: [{ value: 'Пропитание в фитнесе на результат', enum_id: 153667 }] },
        { field_id: 72333, field_name: 'Дата проведения', values: [{ value: '1542067200' }] },
        { field_id: 497267, field_name: 'Заявка оплачена', values: [{ value: '1' }] },
        { field_id: 566027, field_name: 'Подтвердил участие', values: [{ value: '1' }] },
        { field_id: 549619, field_name: 'Отправлено СМС', values: [{ value: '1' }] },
        {
          field_id: 566891,
          field_name: 'Анкета участия',
          values: [
            {
              // `%252B` on the wire is a literal `%2B` in the value: decoded once, never twice.
              value: 'https://forms.amocrm.ru/tvzdtx?dp=Q1zaSQHqO%2BhHArUG1UMtpby%2FFHdWZSZgNIHZ%2BvJ%2FRAgB60%2FhsT%2F4Zwi%2F4qY37M3f',
            },
          ],
        },
        { field_id: 570933, field_name: 'Guid-Service', values: [{ value: 'ab4b290b-9f78-11e6-80e7-0cc47a4b75cc' }] },
      ],
    });
  });
});

describe('webhook-04 Digital Pipeline short form, with the delivery headers', () => {
  const headers = {
    'user-agent': 'amoCRM-Webhooks/3.0',
    'x-amocrm-requestid': '4deb1687-f69f-4f06-930e-95c2947134ca',
    'content-type': 'application/x-www-form-urlencoded',
  };

  it('is family digital-pipeline, keyed by the request id', () => {
    const { ev, r } = only('webhook-04-status_lead-dp-short.txt', headers);
    expect(r.account).toEqual({ id: 30307558, subdomain: 'anyor' });
    expect(r.requestId).toBe('4deb1687-f69f-4f06-930e-95c2947134ca');
    expect(ev).toMatchObject({
      kind: 'lead.status',
      family: 'digital-pipeline',
      entityId: 10754147,
      idempotencyKey: 'rid:4deb1687-f69f-4f06-930e-95c2947134ca:lead:10754147:status:0',
    });
    expect(ev.data).toEqual({
      id: 10754147,
      status_id: 54423922,
      pipeline_id: 6344290,
      old_status_id: 54435014,
      old_pipeline_id: 6344290,
    });
    expect(ev.raw).toEqual({
      id: '10754147',
      status_id: '54423922',
      pipeline_id: '6344290',
      old_status_id: '54435014',
      old_pipeline_id: '6344290',
    });
  });

  it('reads the header case-insensitively (Node and API Gateway spellings)', () => {
    const { ev } = only('webhook-04-status_lead-dp-short.txt', { 'X-Amocrm-Requestid': '4deb1687-f69f-4f06-930e-95c2947134ca' });
    expect(ev.idempotencyKey).toBe('rid:4deb1687-f69f-4f06-930e-95c2947134ca:lead:10754147:status:0');
  });
});

describe('webhook-05 leads[add], account block first', () => {
  it('parses to one lead.add event of the account family', () => {
    const { ev, r } = only('webhook-05-add_lead.txt');
    expect(r.account).toEqual({ id: 32427762, subdomain: 'etesttask', self: 'https://etesttask.amocrm.ru' });
    expect(ev).toMatchObject({ kind: 'lead.add', family: 'account', entityId: 32966269, index: 0, path: 'leads[add][0]' });
    expect(ev.data).toEqual({
      id: 32966269,
      name: 'Test',
      status_id: 76789230,
      price: 999,
      responsible_user_id: 10000698,
      updated_by: 10000698,
      created_by: 10000698,
      pipeline_id: 9621010,
      account_id: 32427762,
      created_at: 1748268669,
      updated_at: 1748268669,
    });
  });
});

describe('webhook-06 leads[update] with old_status_id, UTM fields without values, multi-line text', () => {
  it('keeps newlines, NBSP, tabs, runs of spaces and ₽ exactly', () => {
    const { ev, r } = only('webhook-06-update_lead-custom_fields-cyrillic.txt');
    expect(r.account).toEqual({ id: 16700680, subdomain: 'unirock', self: 'https://unirock.amocrm.ru' });
    expect(ev.kind).toBe('lead.update');
    const note = [
      'живет на рязанском проспекте, на столешнице стал облезать камень, хотят новую.',
      'по стоимость демонтажа уточнила у Ромы, озвучила 6к',
      'приедет смотреть образцы',
      '',
      'П-обр столешница',
      '1800*2400*2200мм 630мм',
      'Кромка: 40мм',
      'Бортик: 40мм',
      'Вырезы: ВП, мойка нижнего крепления,смеситель',
      '',
      'Фартук',
      '2400*1400*600мм',
      'Вырезы: три розетки, счетчик ',
      '',
      `Caesarstone Dreamy Marfil 5220  =   188${NBSP}127,70 ₽ \t`,
      `Technistone NOBLE BOTTICINO=    148${NBSP}531,30 ₽ \t`,
      `Vicostone Taj Mahal BQ 9453=   159${NBSP}210,70 ₽ \t`,
      'https://docs.google.com/spreadsheets/d/1IOMjx2knhPjgjzlql4Rf4tYzSi13s5HMxRPRk3Z7yY8/edit?usp=sharing',
    ].join('\n');
    expect(ev.data).toEqual({
      id: 23435433,
      name: 'Никита 79169849777',
      status_id: 17965459,
      old_status_id: 21632815,
      price: 0,
      responsible_user_id: 6499114,
      updated_at: 1627306719,
      updated_by: 6499114,
      created_by: 0,
      created_at: 1621622403,
      pipeline_id: 936736,
      account_id: 16700680,
      _embedded: { tags: [{ id: 440737, name: 'form' }] },
      custom_fields_values: [
        { field_id: 436799, field_name: 'utm_medium', field_code: 'UTM_MEDIUM', values: [] },
        { field_id: 439295, field_name: 'utm_campaign', field_code: 'UTM_CAMPAIGN', values: [] },
        { field_id: 467289, field_name: 'Менеджер по продажам', values: [{ value: 'Влада Рытова', enum_id: 960551 }] },
        { field_id: 473357, field_name: 'Примечание к заказу', values: [{ value: note }] },
        { field_id: 435829, field_name: 'r7k12id', values: [{ value: '6891910591' }] },
        { field_id: 475185, field_name: 'Источник трафика', values: [{ value: 'yandex' }] },
        { field_id: 436839, field_name: 'Ключевое слово', values: [{ value: 'caesarstone 5220' }] },
        { field_id: 482151, field_name: 'Тип устройства', values: [{ value: 'mobile' }] },
      ],
    });
  });
});

describe('webhook-07 leads[delete] (id, status_id, pipeline_id), account first', () => {
  it('is an account-family delete, not the DP short form', () => {
    const { ev, r } = only('webhook-07-delete_lead.txt');
    expect(r.account).toEqual({ id: 16700680, subdomain: 'unirock', self: 'https://unirock.amocrm.ru' });
    expect(ev).toMatchObject({ kind: 'lead.delete', family: 'account', entityId: 30052055 });
    expect(ev.data).toEqual({ id: 30052055, status_id: 17944873, pipeline_id: 936736 });
  });
});

describe('webhook-08 leads[responsible]', () => {
  it('carries old_responsible_user_id', () => {
    const { ev, sha } = only('webhook-08-responsible_lead.txt');
    expect(ev).toMatchObject({ kind: 'lead.responsible', idempotencyKey: `sha256:${sha}:lead:31926520:responsible:0` });
    expect(ev.data).toEqual({
      id: 31926520,
      name: 'Some test lead',
      status_id: 10216994,
      price: 10000,
      responsible_user_id: 938348,
      old_responsible_user_id: 102525,
      updated_at: 1456822527,
      updated_by: 102525,
      created_by: 102525,
      created_at: 1456808154,
      pipeline_id: 2116,
      account_id: 10216991,
      custom_fields_values: [{ field_id: 1119321, field_name: 'Some text field', values: [{ value: 'some text' }] }],
    });
  });
});

describe('webhook-09 contacts[add] type=contact', () => {
  it('parses to contact.add', () => {
    const { ev, r } = only('webhook-09-add_contact.txt');
    expect(r.account).toEqual({ id: 32427762, subdomain: 'etesttask', self: 'https://etesttask.amocrm.ru' });
    expect(ev).toMatchObject({ kind: 'contact.add', entity: 'contact', action: 'add', entityId: 37054081, path: 'contacts[add][0]' });
    expect(ev.data).toEqual({
      type: 'contact',
      id: 37054081,
      name: 'Абиба абибович',
      responsible_user_id: 10000698,
      created_at: 1748289231,
      updated_at: 1748289231,
      created_by: 10000698,
      updated_by: 10000698,
      account_id: 32427762,
    });
  });
});

describe('webhook-10 contacts[update] with PHONE/EMAIL/POSITION', () => {
  it('maps enum and code', () => {
    const { ev } = only('webhook-10-update_contact.txt');
    expect(ev.kind).toBe('contact.update');
    expect(ev.data).toEqual({
      type: 'contact',
      id: 37054081,
      name: 'Абиба абибович',
      responsible_user_id: 10000698,
      old_responsible_user_id: 10000698,
      created_at: 1748289231,
      updated_at: 1748292937,
      created_by: 10000698,
      updated_by: 10000698,
      account_id: 32427762,
      custom_fields_values: [
        { field_id: 735647, field_name: 'Должность', field_code: 'POSITION', values: [{ value: '555' }] },
        { field_id: 735649, field_name: 'Телефон', field_code: 'PHONE', values: [{ value: '333', enum_id: 718321 }] },
        { field_id: 735651, field_name: 'Email', field_code: 'EMAIL', values: [{ value: '444', enum_id: 718333 }] },
      ],
    });
  });
});

describe('webhook-11 contacts[update], 12 custom fields, tags, 32 linked leads', () => {
  it('turns the linked_leads_id map into 32 ids', () => {
    const { ev, r } = only('webhook-11-update_contact-cyrillic.txt');
    expect(r.account).toEqual({ subdomain: 'apfitness' });
    expect(ev.kind).toBe('contact.update');
    const linked = [
      9982719, 9982767, 9982773, 9990367, 9967531, 10060679, 10062661, 10062733, 10063603, 10063703, 10103287, 10106003, 10124239, 10191357,
      10224941, 10224973, 10225387, 10225429, 10225567, 10235219, 10235245, 10235441, 10235461, 10238191, 10238645, 10208297, 10291589,
      10342245, 10345597, 10362151, 10374575, 10438403,
    ];
    expect(linked).toHaveLength(32);
    expect(ev.data).toEqual({
      type: 'contact',
      id: 22309159,
      name: 'Иджян Илья Юрьевич',
      responsible_user_id: 2079718,
      created_at: 1529344388,
      updated_at: 1538066975,
      updated_by: 2079718,
      company_name: 'АССОЦИАЦИЯ ПРОФЕССИОНАЛОВ ФИТНЕСА',
      linked_company_id: 22797025,
      linked_leads_id: [...linked].sort((a, b) => a - b),
      _embedded: {
        tags: [
          { id: 72289, name: 'Заявка с сайта' },
          { id: 176263, name: 'callback' },
        ],
      },
      custom_fields_values: [
        { field_id: 54667, field_name: 'Телефон', field_code: 'PHONE', values: [{ value: '89031453455', enum_id: 114611 }] },
        { field_id: 54665, field_name: 'Должность', field_code: 'POSITION', values: [{ value: 'Deveoper' }] },
        { field_id: 54669, field_name: 'Email', field_code: 'EMAIL', values: [{ value: 'kloder3@gmail.com', enum_id: 114621 }] },
        { field_id: 54673, field_name: 'Мгн. сообщения', field_code: 'IM', values: [{ value: 'kloder1', enum_id: 114625 }] },
        { field_id: 548465, field_name: 'Откуда узнал о FPA', values: [{ value: 'По рекомендации', enum_id: 1143911 }] },
        { field_id: 72337, field_name: 'Город', values: [{ value: 'Москва' }] },
        { field_id: 565515, field_name: 'Дата рождения', values: [{ value: '02.02.1978' }] },
        { field_id: 565517, field_name: 'Образование', values: [{ value: 'Высшее' }] },
        { field_id: 565519, field_name: 'Опыт занятия спортом', values: [{ value: '3 года' }] },
        { field_id: 565521, field_name: '№ подгруппы (по желанию)', values: [{ value: '23' }] },
        { field_id: 565525, field_name: 'Место жительства', values: [{ value: 'Avtozavod' }] },
        { field_id: 571611, field_name: 'Guid', values: [{ value: '7f31a3bb-b2b8-11e8-8103-0cc47a4b75cc' }] },
      ],
    });
    // The raw item keeps the map exactly as sent.
    const raw = ev.raw as { linked_leads_id: Record<string, { ID: string }> };
    expect(Object.keys(raw.linked_leads_id)).toHaveLength(32);
    expect(raw.linked_leads_id['9967531']).toEqual({ ID: '9967531' });
  });
});

describe('webhook-12 contacts[add] type=company', () => {
  it('is a company.add although it arrives under contacts', () => {
    const { ev, sha } = only('webhook-12-add_company.txt');
    expect(ev).toMatchObject({
      kind: 'company.add',
      entity: 'company',
      action: 'add',
      entityId: 1110,
      path: 'contacts[add][0]',
      idempotencyKey: `sha256:${sha}:company:1110:add:0`,
    });
    expect(ev.data).toEqual({
      type: 'company',
      id: 1110,
      name: 'dsf',
      responsible_user_id: 102525,
      created_at: 1456824655,
      updated_at: 1456824655,
      created_by: 102525,
      updated_by: 102525,
    });
  });
});

describe('webhook-13 leads[note], nested [note][…], quoted values of an old dump', () => {
  it('reads the note one level down and keeps the quotes as sent', () => {
    const { ev, r } = only('webhook-13-note_lead.txt');
    expect(r.account).toEqual({ subdomain: 'example' });
    expect(ev).toMatchObject({ kind: 'lead.note', entity: 'lead', action: 'note', entityId: 8001508, path: 'leads[note][0]' });
    expect(ev.data).toEqual({
      entity_id: 8001508,
      entity_type: 'leads',
      element_type: 2,
      note_type: 'common',
      note_type_id: 4,
      params: { text: "'Note to lead'" },
      attachment: "''",
      group_id: 0,
      account_id: 13352718,
      created_by: 151516,
      updated_by: 151516,
      responsible_user_id: 1234095,
      // Quoted, so not a date string: kept as given, nothing parsed.
      dates: { date_create: { given: "'2017-01-09 13:01:18'" }, timestamp_x: { given: "'2017-01-09 13:01:19'" } },
    });
  });
});

describe('webhook-14 unsorted[add] from a Telegram chat', () => {
  it('keeps source_data whole, with its data list as an array', () => {
    const { ev, sha, r } = only('webhook-14-unsorted_add-chats.txt');
    expect(r.account).toEqual({ id: 31257294, subdomain: 'appgpt', self: 'https://appgpt.amocrm.ru' });
    const uid = '00b625866db8641999f48766d61d4d0663c12aa38b9bcb4d2866b0c49605';
    expect(ev).toMatchObject({
      kind: 'unsorted.add',
      entity: 'unsorted',
      entityId: uid,
      idempotencyKey: `sha256:${sha}:unsorted:${uid}:add:0`,
    });
    expect(ev.data).toEqual({
      uid,
      source: 'telegram:29e8f8c6-7557-5f5f-8642-2789ef3f3a13',
      source_uid: 'amojo:telegram:54caee02-e383-46d8-a9b7-1fb43f07cffe',
      category: 'chats',
      source_data: {
        from: 'Oleg',
        name: 'Oleg',
        to: '29e8f8c6-7557-5f5f-8642-2789ef3f3a13',
        date: '1695484695',
        service: 'telegram',
        site: 'Telegram',
        client: {
          name: 'Oleg',
          id: '1398715343',
          picture: 'https://amojo.amocrm.ru/attachments/profiles/1db2f5cc-aea4-4f96-8d4f-a256ead5b7b0/RKCPe-file-1_128x128.jpg',
        },
        origin: { provider: 'amojo', chat_id: '54caee02-e383-46d8-a9b7-1fb43f07cffe' },
        data: [{ id: '3175b0e9-852b-47f5-b501-61e6e681e014', manager: '0', date: '1695484695', text: 'v' }],
        source_uid: 'amojo:telegram:54caee02-e383-46d8-a9b7-1fb43f07cffe',
        source: 'telegram:29e8f8c6-7557-5f5f-8642-2789ef3f3a13',
        source_name: 'AICHATTESTBOT',
      },
      date_create: 1695484695,
      data: { contacts: [{ id: '93589657' }] },
      pipeline_id: 7173574,
      account_id: 31257294,
      source_id: 22594646,
      lead_id: 28455371,
      created_at: 1695484695,
    });
  });
});

describe('webhook-15 task[update] closed with a result (doc example)', () => {
  it('keeps the date strings as given and parses what is unambiguous', () => {
    const { ev, r } = only('webhook-15-task_update-doc-example.txt');
    expect(r.account).toEqual({ subdomain: 'test' });
    expect(ev).toMatchObject({ kind: 'task.update', entity: 'task', action: 'update', entityId: 11122233, path: 'task[update][0]' });
    expect(ev.data).toEqual({
      id: 11122233,
      entity_id: 33322211,
      entity_type: 'leads',
      element_type: 2,
      task_type_id: 1,
      text: 'Follow-up',
      status: 1,
      is_completed: true,
      action_close: true,
      account_id: 77711122,
      created_by: 123123,
      responsible_user_id: 123123,
      result: { id: 155155155, text: 'Success' },
      // Naive local times in the account's zone: no unix value is invented for them.
      dates: {
        date_create: { given: '2017-07-20 15:00:00', local: '2017-07-20T15:00:00' },
        last_modified: { given: '2017-07-21 19:00:00', local: '2017-07-21T19:00:00' },
        complete_till: { given: '2017-07-22 23:59:00', local: '2017-07-22T23:59:00' },
      },
    });
  });
});

describe('string bodies', () => {
  it('parse the same as the bytes', () => {
    for (const f of FIXTURES) {
      const bytes = fixture(f);
      const fromBytes = ok(parseAccountWebhook(bytes));
      const fromString = ok(parseAccountWebhook(Buffer.from(bytes).toString('utf8')));
      expect(fromString, f).toEqual(fromBytes);
    }
  });
});
