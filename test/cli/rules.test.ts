/** `rules check` and `rules explain`: names resolved against a dictionary file, no amoCRM call, no table. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DICT } from '../rules/support.ts';
import { cli } from './support.ts';
import { fixtureBytes } from '../support/fixtures.ts';

function files(rules: unknown[]): { config: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rules-cli-'));
  writeFileSync(join(dir, 'local.json'), JSON.stringify(DICT));
  const config = join(dir, 'amo.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      integrations: [{ id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 's' }, redirectUri: 'https://gw.example/cb' }],
      accounts: [{ id: 'local', integration: 'main', subdomain: 'sandbox', domain: 'amocrm.ru' }],
      rules: { accounts: { local: { dictionary: join(dir, 'local.json') } }, list: rules },
    }),
  );
  return { config, dir };
}

const SAMPLE = {
  id: 'booked-call',
  account: 'local',
  when: { lead: 'status', to: 'Продажи / Записан на приём' },
  then: [{ task: { type: 'Перезвонить', text: 'Подтвердить: {{name}}', due: { in: 900 } } }, { addTags: ['записан'] }],
};

describe('amo-gateway rules', () => {
  it('check prints the rule table with ids', async () => {
    const { config } = files([SAMPLE]);
    const r = await cli(['rules', 'check', '--config', config], {});
    expect(r.code).toBe(0);
    expect(r.text).toContain('1 rule(s) resolve');
    expect(r.text).toContain('booked-call  [local]  when lead.status * → 5001/50012');
    expect(r.text).toContain('→ task type 3455098 "Подтвердить: {{name}}" due in 900 s for current');
  });

  it('check fails on an unknown name with the rule path and the candidates', async () => {
    const { config } = files([{ ...SAMPLE, when: { lead: 'status', to: 'Продажи / Записан на прием' } }]);
    const r = await cli(['rules', 'check', '--config', config], {});
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(
      /rules\.list\[0\] "booked-call" when\.to: unknown status of pipeline "Продажи" "Записан на прием" \(closest: "Записан на приём"/,
    );
  });

  it('explain shows what an event would write, and "no rule fires" otherwise', async () => {
    const { config, dir } = files([SAMPLE]);
    const hit = join(dir, 'hit.json');
    writeFileSync(
      hit,
      JSON.stringify({
        kind: 'lead.status',
        entityId: 8001,
        data: { id: 8001, name: 'Заявка', status_id: 50012, pipeline_id: 5001, responsible_user_id: 1002 },
      }),
    );
    const r = await cli(['rules', 'explain', hit, '--config', config], {});
    expect(r.code).toBe(0);
    expect(r.text).toContain('lead.status #8001 [local]: booked-call');
    expect(r.text).toMatch(
      /booked-call: POST \/api\/v4\/tasks \{"task_type_id":3455098,"text":"Подтвердить: Заявка","complete_till":\d+,"entity_id":8001,"entity_type":"leads","responsible_user_id":1002\}/,
    );
    expect(r.text).toContain('booked-call: PATCH /api/v4/leads {"id":8001,"tags_to_add":[{"name":"записан"}]}');
    const miss = join(dir, 'miss.json');
    writeFileSync(miss, JSON.stringify({ kind: 'lead.status', data: { id: 8002, status_id: 50013, pipeline_id: 5001 } }));
    expect((await cli(['rules', 'explain', miss, '--config', config], {})).text).toContain('no rule fires (no amoCRM call)');
  });

  it('explain reads a webhook body as amoCRM posts it (form-encoded)', async () => {
    const { config } = files([SAMPLE]);
    const body = fixtureBytes('amocrm-webhooks/webhook-01-status_lead.txt');
    const { dir } = files([]);
    const file = join(dir, 'hook.txt');
    writeFileSync(file, body);
    const r = await cli(['rules', 'explain', file, '--config', config, '--account', 'local'], {});
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/^lead\.status #\d+ \[local\]: no rule fires \(no amoCRM call\)$/m);
  });

  it('explain names a transfer (what it does in the other account) instead of saying there is nothing to write', async () => {
    const { dir } = files([]);
    const corp = {
      ...DICT,
      account: { id: 31000002, name: 'Corp', subdomain: 'corp' },
      pipelines: [{ id: 6001, name: 'Корпорат', is_main: true, statuses: [{ id: 60011, name: 'Новая заявка', sort: 10 }] }],
      customFields: {
        leads: [{ id: 8001, name: 'ID розничной сделки', type: 'text', code: null, enums: null }],
        contacts: [],
        companies: [],
      },
    };
    writeFileSync(join(dir, 'corp.json'), JSON.stringify(corp));
    const config = join(dir, 'two.json');
    writeFileSync(
      config,
      JSON.stringify({
        integrations: [{ id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 's' }, redirectUri: 'https://gw.example/cb' }],
        accounts: [
          { id: 'local', integration: 'main', subdomain: 'sandbox', domain: 'amocrm.ru' },
          { id: 'corp', integration: 'main', subdomain: 'corp', domain: 'amocrm.ru' },
        ],
        rules: {
          accounts: { local: { dictionary: join(dir, 'local.json') }, corp: { dictionary: join(dir, 'corp.json') } },
          list: [
            {
              id: 'ret2corp',
              account: 'local',
              when: { lead: 'status', to: 'Продажи / Записан на приём' },
              then: [{ transfer: { to: 'corp', status: 'Корпорат / Новая заявка', linkField: 'ID розничной сделки' } }],
            },
          ],
        },
      }),
    );
    const hit = join(dir, 'hit.json');
    writeFileSync(hit, JSON.stringify({ kind: 'lead.status', entityId: 8001, data: { id: 8001, status_id: 50012, pipeline_id: 5001 } }));
    const r = await cli(['rules', 'explain', hit, '--config', config, '--account', 'local'], {});
    expect(r.code).toBe(0);
    expect(r.text).toMatch(
      /ret2corp: transfer to corp 6001\/60011 \(link ID розничной сделки#8001\) — reads and writes account corp at run time/,
    );
    expect(r.text).not.toContain('nothing to write');
  });
});
