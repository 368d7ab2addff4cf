/** pull-schema against the sandbox, the JSON file, and the typed lookups with their errors. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchemaLookupError } from '../../lib/amocrm/client/errors.ts';
import { AccountSchema, loadSchemaFile, pullSchemaToFile, type AccountSchemaJson } from '../../lib/amocrm/client/schema.ts';
import { ACCOUNT, fastClient, sandbox, type TestSandbox } from './support.ts';

describe('pull-schema', () => {
  let sb: TestSandbox;
  let dir: string;
  let json: AccountSchemaJson;
  let schema: AccountSchema;
  let seeded: ReturnType<TestSandbox['admin']['seed']>;

  beforeAll(async () => {
    sb = await sandbox({ fast: true });
    seeded = sb.admin.seed({
      users: [
        { name: 'Анна Смирнова', email: 'anna@example.ru', is_admin: true },
        { name: 'Олег', email: 'oleg@example.ru' },
      ],
      pipelines: [
        { name: 'Воронка', is_main: true, statuses: [{ name: 'Первичный контакт' }, { name: 'Переговоры' }] },
        { name: 'Клиника', statuses: [{ name: 'Записан' }, { name: 'Пришёл' }] },
      ],
      customFields: {
        leads: [
          { name: 'Источник', type: 'select', enums: ['Сайт', 'Звонок'] },
          { name: 'Сумма', type: 'numeric' },
        ],
      },
      tags: { leads: ['VIP'], contacts: ['Постоянный'] },
      taskTypes: [{ id: 1, name: 'Связаться' }, { id: 2, name: 'Встреча' }, { name: 'Отправить КП' }],
    });
    dir = await mkdtemp(join(tmpdir(), 'schema-'));
    const { client } = fastClient(sb);
    json = await pullSchemaToFile(client.forAccount(ACCOUNT), join(dir, 'acc1.json'));
    schema = await loadSchemaFile(join(dir, 'acc1.json'));
  });
  afterAll(async () => {
    await sb.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the whole dictionary as stable, readable JSON', async () => {
    const text = await readFile(join(dir, 'acc1.json'), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(json);
    expect(json.pipelines.map((p) => p.name)).toEqual(['Воронка', 'Клиника']);
    expect(json.pipelines[0]!.statuses.map((s) => s.name)).toEqual(
      expect.arrayContaining(['Первичный контакт', 'Переговоры', 'Успешно реализовано', 'Закрыто и не реализовано']),
    );
    expect(json.customFields.contacts.map((f) => f.code)).toEqual(expect.arrayContaining(['PHONE', 'EMAIL']));
    expect(json.tags.leads.map((t) => t.name)).toEqual(['VIP']);
    expect(json.users.map((u) => u.name)).toEqual(['Анна Смирнова', 'Олег']);
  });

  it('names things: statuses, fields, options, users, task types, tags', () => {
    const p = seeded.pipelines[1]!;
    expect(schema.status('Клиника', 'Пришёл')).toEqual({ pipelineId: p.id, statusId: p.statuses.find((s) => s.name === 'Пришёл')!.id });
    expect(schema.status('воронка', 'Успешно реализовано').statusId).toBe(142);
    expect(schema.enumId('leads', 'Источник', 'Звонок')).toBe(seeded.customFields.leads![0]!.enums![1]!.id);
    expect(schema.value('leads', 'Источник', 'Сайт')).toEqual({
      field_id: seeded.customFields.leads![0]!.id,
      values: [{ enum_id: seeded.customFields.leads![0]!.enums![0]!.id }],
    });
    expect(schema.value('leads', 'Сумма', null)).toEqual({ field_id: seeded.customFields.leads![1]!.id, values: null });
    expect(schema.fieldByCode('contacts', 'PHONE').type).toBe('multitext');
    expect(schema.user('oleg@example.ru')).toBe(seeded.users[1]);
    expect(schema.user('Анна Смирнова')).toBe(seeded.users[0]);
    expect(schema.taskType('Отправить КП')).toBeGreaterThan(2);
    expect(schema.taskType('Call')).toBe(1);
    expect(schema.tag('contacts', 'Постоянный')).toBe(seeded.tags.contacts![0]);
  });

  it('unknown names fail clearly, with the closest names', () => {
    expect(() => schema.status('Воронка', 'Переговор')).toThrow(SchemaLookupError);
    expect(() => schema.status('Воронка', 'Переговор')).toThrow(/unknown status of pipeline "Воронка" "Переговор" \(closest: "Переговоры"/);
    expect(() => schema.pipeline('Продажи')).toThrow(/unknown pipeline "Продажи"/);
    expect(() => schema.value('leads', 'Источник', 'Почта')).toThrow(/no option "Почта"/);
    expect(() => schema.enumId('leads', 'Сумма', 'x')).toThrow(/has no options/);
    expect(() => AccountSchema.from({ version: 1 })).toThrow(/schema file is not valid/);
  });
});
