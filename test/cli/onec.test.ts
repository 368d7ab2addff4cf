/**
 * `onec export` against a running local gateway (the sandbox as amoCRM) and the test 1C server:
 * exported, the 1C id on the lead, the same key again sends nothing; 1C down → exit 1, a note and
 * a task on the lead.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestOnec, type TestOnec } from '../../infra/local/onec/server.ts';
import { LOCAL_ONEC, LOCAL_ONEC_SECRET_NAMES, localOnecSection, seedLocalOnec } from '../../infra/local/onec/world.ts';
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import { cli } from './support.ts';

describe('onec export', () => {
  let runner: LocalRunner;
  let onec: TestOnec;
  let dir: string;
  let flags: string[];
  const run = (...argv: string[]) => cli([...argv, ...flags], {});

  beforeAll(async () => {
    onec = await startTestOnec({ password: 'pw-1c' });
    runner = await startLocal({
      port: 0,
      memory: true,
      quiet: true,
      schedule: false,
      pollWaitSeconds: 1,
      amocrm: {
        sandbox: true,
        printEvents: false,
        onec: localOnecSection(onec.baseUrl),
        extraSecrets: { [LOCAL_ONEC_SECRET_NAMES.key]: 'k', [LOCAL_ONEC_SECRET_NAMES.password]: 'pw-1c' },
      },
    });
    const sb = runner.amo!.sandbox!;
    seedLocalOnec(sb.admin);
    // The test's own REST calls below bypass the shared budget: room for them beside the CLI's.
    sb.admin.setLimits({ perIntegrationPerSecond: 100, perAccountPerSecond: 100 });
    // A product on leads 8001 and 8002 (through the REST API, as a manager would).
    const token = sb.admin.issueLongLivedToken().access_token;
    const api = (path: string, body: unknown) =>
      fetch(`${sb.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<{ _embedded: { elements: Array<{ id: number }> } }>);
    const el = await api(`/api/v4/catalogs/${LOCAL_ONEC.catalog}/elements`, [
      { name: 'Курс', custom_fields_values: [{ field_id: LOCAL_ONEC.uid, values: [{ value: 'uid-1' }] }] },
    ]);
    const id = el._embedded.elements[0]!.id;
    for (const lead of [8001, 8002])
      await api(`/api/v4/leads/${lead}/link`, [
        { to_entity_id: id, to_entity_type: 'catalog_elements', metadata: { catalog_id: LOCAL_ONEC.catalog, quantity: 1 } },
      ]);
    dir = mkdtempSync(join(tmpdir(), 'amo-onec-'));
    writeFileSync(join(dir, 'amo.config.json'), JSON.stringify(runner.amo!.config));
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ [LOCAL_ONEC_SECRET_NAMES.password]: 'pw-1c' }));
    flags = [
      '--config',
      join(dir, 'amo.config.json'),
      '--dynamodb-endpoint',
      runner.ddbEndpoint,
      '--table',
      runner.tableName,
      '--secrets-file',
      join(dir, 'secrets.json'),
    ];
  });
  afterAll(async () => {
    await runner?.stop();
    await onec?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports once (ids written back); the same key again sends nothing; a bad --lead is a usage error', async () => {
    const r = await run('onec', 'export', '--lead', '8001', '--account', 'local');
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('local: lead 8001 exported to 1C');
    expect(onec.calls.map((c) => c.method)).toEqual(['EditStudent', 'EditApplication']);
    const lead = runner.amo!.sandbox!.admin.lead(8001) as {
      custom_fields_values: Array<{ field_id: number; values: Array<{ value: string }> }>;
    };
    const written = lead.custom_fields_values.find((f) => f.field_id === LOCAL_ONEC.lead1c)?.values[0]?.value;
    expect(r.out.join('\n')).toContain(`lead_id_1C     ${written}`);
    const again = await run('onec', 'export', '--lead', '8001', '--account', 'local');
    expect(again.code).toBe(0);
    expect(again.out[0]).toBe('local: lead 8001 already exported under this key');
    expect(onec.calls).toHaveLength(2);
    expect((await run('onec', 'export', '--lead', 'x', '--account', 'local')).code).toBe(2);
  });

  it('1C down: exit 1, the reason on stderr; the lead has a note and a task', async () => {
    onec.down = true;
    try {
      const r = await run('onec', 'export', '--lead', '8002', '--account', 'local');
      expect(r.code).toBe(1);
      expect(r.err.join('\n')).toMatch(/lead 8002 was not exported: .*HTTP 503/);
      const tasks = runner.amo!.sandbox!.admin.entities('tasks').filter((t) => t.entity_id === 8002);
      expect(tasks).toMatchObject([{ text: 'Ошибка при переносе в 1С', responsible_user_id: LOCAL_ONEC.taskUser }]);
    } finally {
      onec.down = false;
    }
  });
});
