/** The rules engine's pure parts: name resolution (with paths and candidates), matching, planning, due times. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.ts';
import type { WebhookEvent } from '../../lib/amocrm/webhooks/types.ts';
import { matchRules } from '../../lib/rules/match.ts';
import { dueAt, isEmptyPlan, planRule } from '../../lib/rules/plan.ts';
import { RulesConfigError } from '../../lib/rules/resolve.ts';
import { AccountSchema } from '../../lib/amocrm/client/schema.ts';
import { compile, DICT } from './support.ts';

const schema = AccountSchema.from(DICT);

function leadEvent(action: 'status' | 'update' | 'add', data: Record<string, unknown>): WebhookEvent {
  return {
    kind: `lead.${action}`,
    entity: 'lead',
    action,
    family: 'account',
    account: { subdomain: 'sandbox', id: 31000001 },
    entityId: data.id as number,
    data: data as never,
    raw: {},
    index: 0,
    path: `leads[${action}][0]`,
    idempotencyKey: `sha256:x:lead:${String(data.id)}:${action}:0`,
  } as WebhookEvent;
}

const SAMPLE = {
  id: 'new-request-call',
  account: 'local',
  when: { lead: 'status' as const, to: 'Продажи / Новая заявка' },
  then: [{ task: { type: 'Перезвонить', text: 'текст задачи: {{name}}', due: { in: 900 } } }],
};

describe('resolving names against the dictionary', () => {
  it('turns "Pipeline / Status", task types, users, tags and fields into ids', () => {
    const c = compile({
      list: [
        SAMPLE,
        {
          id: 'all-conditions',
          account: 'local',
          when: { lead: 'updated' },
          if: {
            status: ['Записан на приём'],
            pipeline: ['Продажи'],
            tags: { all: ['сайт'], none: [302] },
            fields: [{ field: 'Источник', equals: 'Сайт' }],
            responsible: ['boris@example.test', 'Вера Звонкова'],
          },
          then: [{ addTags: ['новый'] }, { moveTo: 'Продажи / Пришёл' }],
        },
      ],
    });
    expect(c.rules[0]!.to).toEqual({ statusId: 50011, pipelineId: 5001 });
    expect(c.rules[0]!.kinds).toEqual(['lead.status']);
    expect(c.rules[0]!.then[0]).toMatchObject({
      kind: 'task',
      taskTypeId: 3455098,
      due: { kind: 'in', seconds: 900 },
      responsible: { kind: 'current' },
    });
    const r = c.rules[1]!;
    expect(r.if.statuses).toEqual([{ statusId: 50012, pipelineId: 5001 }]);
    expect(r.if.tagsAll).toEqual([301]);
    expect(r.if.responsible).toEqual([1002, 1003]);
    expect(r.then[1]).toEqual({ kind: 'moveTo', to: { statusId: 50013, pipelineId: 5001 } });
  });

  it('fails with every problem, each with the rule path and the closest candidates', () => {
    let err: unknown;
    try {
      compile({
        list: [
          { ...SAMPLE, then: [{ task: { type: 'Перезвонит', text: 'x {{field:Коментарий}}', due: { in: 60 } } }] },
          { id: 'b', account: 'local', when: { lead: 'status', to: 'Успешно реализовано' }, then: [{ setFields: { Источник: 'Почта' } }] },
        ],
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RulesConfigError);
    const issues = (err as RulesConfigError).issues;
    expect(issues).toHaveLength(3);
    expect(issues[0]).toMatch(
      /^rules\.list\[0\] "new-request-call" then\[0\]\.task: unknown task type "Перезвонит" \(closest: "Перезвонить"/,
    );
    expect(issues[1]).toMatch(
      /^rules\.list\[1\] "b" when\.to: status "Успешно реализовано" is ambiguous: .*"Продажи \/ Успешно реализовано".*"Повторные \/ Успешно реализовано"/,
    );
    expect(issues[2]).toMatch(/^rules\.list\[1\] "b" then\[0\]\.setFields\["Источник"\]: .*Почта/);
  });

  it('accepts ids, and refuses ids the dictionary does not have', () => {
    expect(compile({ list: [{ ...SAMPLE, when: { lead: 'status', to: 50012 } }] }).rules[0]!.to).toEqual({
      statusId: 50012,
      pipelineId: 5001,
    });
    expect(() => compile({ list: [{ ...SAMPLE, when: { lead: 'status', to: 99999 } }] })).toThrow(/no status with id 99999/);
  });

  it('the config refuses a rule of an unknown account and duplicate rule ids (shape, before any dictionary)', () => {
    const base = {
      integrations: [{ id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 's' }, redirectUri: 'https://gw.example/cb' }],
      accounts: [{ id: 'local', integration: 'main', subdomain: 'sandbox', domain: 'amocrm.ru' }],
    };
    expect(() => parseConfig({ ...base, rules: { list: [{ ...SAMPLE, account: 'nope' }] } })).toThrow(
      /rules\.list\.0\.account: unknown account "nope"/,
    );
    expect(() => parseConfig({ ...base, rules: { list: [SAMPLE, SAMPLE] } })).toThrow(/duplicate rule id "new-request-call"/);
    expect(parseConfig({ ...base, rules: { list: [SAMPLE] } }).rules?.list).toHaveLength(1);
  });
});

describe('matching', () => {
  const c = compile({
    list: [
      SAMPLE,
      {
        id: 'from-to',
        account: 'local',
        when: { lead: 'status', from: 'Новая заявка', to: 'Записан на приём' },
        then: [{ note: { text: 'x' } }],
      },
      {
        id: 'site-only',
        account: 'local',
        when: { lead: 'updated' },
        if: {
          fields: [
            { field: 'Источник', equals: 'Сайт' },
            { field: 'Комментарий', empty: true },
          ],
          tags: { none: ['повторный'] },
        },
        then: [{ note: { text: 'x' } }],
      },
    ],
  });
  it('fires on the stage change to the named status only, of the rule account', () => {
    const ev = leadEvent('status', { id: 1, status_id: 50011, pipeline_id: 5001, old_status_id: 50010 });
    expect(matchRules(c.rules, 'local', ev).map((r) => r.id)).toEqual(['new-request-call']);
    expect(matchRules(c.rules, 'other', ev)).toEqual([]);
    expect(matchRules(c.rules, 'local', leadEvent('status', { id: 1, status_id: 50011, pipeline_id: 5002 }))).toEqual([]);
    expect(matchRules(c.rules, 'local', leadEvent('update', { id: 1, status_id: 50011, pipeline_id: 5001 })).map((r) => r.id)).toEqual([]);
  });
  it('from → to needs both', () => {
    const to = { id: 1, status_id: 50012, pipeline_id: 5001 };
    expect(matchRules(c.rules, 'local', leadEvent('status', { ...to, old_status_id: 50011 })).map((r) => r.id)).toEqual(['from-to']);
    expect(matchRules(c.rules, 'local', leadEvent('status', { ...to, old_status_id: 50013 }))).toEqual([]);
  });
  it('field equals (select by label value), empty, and tags none', () => {
    const cf = [{ field_id: 7001, values: [{ value: 'Сайт', enum_id: 70011 }] }];
    expect(matchRules(c.rules, 'local', leadEvent('update', { id: 1, custom_fields_values: cf })).map((r) => r.id)).toEqual(['site-only']);
    expect(
      matchRules(
        c.rules,
        'local',
        leadEvent('update', { id: 1, custom_fields_values: [...cf, { field_id: 7004, values: [{ value: 'есть' }] }] }),
      ),
    ).toEqual([]);
    expect(
      matchRules(
        c.rules,
        'local',
        leadEvent('update', { id: 1, custom_fields_values: cf, _embedded: { tags: [{ id: 302, name: 'повторный' }] } }),
      ),
    ).toEqual([]);
  });
});

describe('planning', () => {
  it('the AmoWebhookHandler sample: one task, the type, the text, due = event + 900 s, the current responsible', () => {
    const c = compile({ list: [SAMPLE] });
    const p = planRule(
      c.rules[0]!,
      { id: 8001, name: 'Заявка с сайта', responsible_user_id: 1002, status_id: 50011, pipeline_id: 5001 },
      {
        eventTime: 1_767_225_600_000,
        schema,
        timeZone: 'Europe/Moscow',
      },
    );
    expect(p.tasks).toEqual([
      {
        task: {
          task_type_id: 3455098,
          text: 'текст задачи: Заявка с сайта',
          complete_till: 1_767_225_600 + 900,
          entity_id: 8001,
          entity_type: 'leads',
          responsible_user_id: 1002,
        },
      },
    ]);
  });

  it('writes only what differs from the event: an echo of our own write plans nothing', () => {
    const c = compile({
      list: [
        {
          id: 'fields',
          account: 'local',
          when: { lead: 'updated' },
          then: [
            { setFields: { Источник: 'Сайт', 'Сумма чека': '{{price}}', Комментарий: null } },
            { addTags: ['сайт'] },
            { removeTags: ['повторный'] },
            { moveTo: 'Продажи / Пришёл' },
          ],
        },
      ],
    });
    const rule = c.rules[0]!;
    const ctx = { eventTime: 0, schema, timeZone: 'UTC' };
    const before = planRule(
      rule,
      {
        id: 5,
        price: 1200,
        status_id: 50011,
        pipeline_id: 5001,
        custom_fields_values: [{ field_id: 7004, values: [{ value: 'old' }] }],
        _embedded: { tags: [{ id: 302, name: 'повторный' }] },
      },
      ctx,
    );
    expect(before.patch).toEqual({
      id: 5,
      custom_fields_values: [
        { field_id: 7001, values: [{ enum_id: 70011 }] },
        { field_id: 7003, values: [{ value: '1200' }] },
        { field_id: 7004, values: null },
      ],
      tags_to_add: [{ name: 'сайт' }],
      tags_to_delete: [{ id: 302 }],
      status_id: 50013,
      pipeline_id: 5001,
    });
    // The update webhook after that PATCH shows the written values: nothing more to write.
    const echo = planRule(
      rule,
      {
        id: 5,
        price: 1200,
        status_id: 50013,
        pipeline_id: 5001,
        custom_fields_values: [
          { field_id: 7001, values: [{ value: 'Сайт', enum_id: 70011 }] },
          { field_id: 7003, values: [{ value: '1200' }] },
        ],
        _embedded: { tags: [{ id: 301, name: 'сайт' }] },
      },
      ctx,
    );
    expect(isEmptyPlan(echo)).toBe(true);
  });

  it('due "at HH:MM" is the next such local time in the account time zone', () => {
    // 2026-01-01 08:00 UTC = 11:00 Moscow: 10:00 has passed → tomorrow 10:00 Moscow = 07:00 UTC.
    const t = Date.UTC(2026, 0, 1, 8, 0);
    expect(dueAt({ kind: 'at', hour: 10, minute: 0, days: 0 }, t, 'Europe/Moscow')).toBe(Date.UTC(2026, 0, 2, 7, 0) / 1000);
    expect(dueAt({ kind: 'at', hour: 18, minute: 30, days: 0 }, t, 'Europe/Moscow')).toBe(Date.UTC(2026, 0, 1, 15, 30) / 1000);
    expect(dueAt({ kind: 'at', hour: 9, minute: 0, days: 2 }, t, 'Asia/Yekaterinburg')).toBe(Date.UTC(2026, 0, 3, 4, 0) / 1000);
    expect(dueAt({ kind: 'in', seconds: 900 }, t, 'UTC')).toBe(t / 1000 + 900);
  });
});

describe('contacts and responsibles', () => {
  it('a contact rule: contact.update with a field condition plans a note and a PATCH of the contact', () => {
    const dict = {
      ...DICT,
      customFields: { ...DICT.customFields, contacts: [{ id: 7101, name: 'Город', type: 'text', code: null, enums: null }] },
    };
    const c = compile(
      {
        list: [
          {
            id: 'city',
            account: 'local',
            when: { contact: 'updated' },
            if: { fields: [{ field: 'Город', contains: 'моск' }] },
            then: [{ setFields: { Город: 'Москва' } }, { note: { text: 'город: {{field:Город}}' } }],
          },
        ],
      },
      dict,
    );
    const ev = {
      ...leadEvent('update', { id: 9001 }),
      kind: 'contact.update',
      entity: 'contact',
      data: { id: 9001, type: 'contact', custom_fields_values: [{ field_id: 7101, values: [{ value: 'г. Москва' }] }] },
    } as unknown as WebhookEvent;
    const [rule] = matchRules(c.rules, 'local', ev);
    expect(rule?.id).toBe('city');
    const p = planRule(rule!, ev.data as never, { eventTime: 0, schema: AccountSchema.from(dict), timeZone: 'UTC' });
    expect(p.patch).toEqual({ id: 9001, custom_fields_values: [{ field_id: 7101, values: [{ value: 'Москва' }] }] });
    expect(p.notes).toEqual([{ entity_id: 9001, note_type: 'common', params: { text: 'город: г. Москва' } }]);
  });

  it("responsible 'pipeline' takes the configured user of the lead's pipeline, a fixed user by name", () => {
    const c = compile({
      accounts: { local: { pipelineResponsible: { Повторные: 'Вера Звонкова' } } },
      list: [
        {
          id: 'p',
          account: 'local',
          when: { lead: 'added' },
          then: [{ task: { type: 2, text: 'x', due: { in: 60 }, responsible: 'pipeline' } }],
        },
        {
          id: 'u',
          account: 'local',
          when: { lead: 'added' },
          then: [{ task: { type: 'Встреча', text: 'x', due: { in: 60 }, responsible: { user: 'anna@example.test' } } }],
        },
      ],
    });
    const ctx = { eventTime: 0, schema, timeZone: 'UTC' };
    expect(planRule(c.rules[0]!, { id: 1, pipeline_id: 5002, responsible_user_id: 1002 }, ctx).tasks[0]!.task.responsible_user_id).toBe(
      1003,
    );
    expect(planRule(c.rules[0]!, { id: 1, pipeline_id: 5001, responsible_user_id: 1002 }, ctx).tasks[0]!.task.responsible_user_id).toBe(
      1002,
    );
    expect(planRule(c.rules[1]!, { id: 1, responsible_user_id: 1002 }, ctx).tasks[0]!.task.responsible_user_id).toBe(1001);
    expect(() =>
      compile({
        list: [
          {
            id: 'p',
            account: 'local',
            when: { lead: 'added' },
            then: [{ task: { type: 2, text: 'x', due: { in: 60 }, responsible: 'pipeline' } }],
          },
        ],
      }),
    ).toThrow(/responsible "pipeline" needs rules\.accounts\.local\.pipelineResponsible/);
  });
});
