/**
 * `amo-gateway schema pull` in-process against a running local gateway (`startLocal` with the
 * sandbox, persisted in a temporary data dir, its endpoints file written as `npm start` does):
 * `--local` finds DynamoDB, the generated config and secrets; the file matches the sandbox's
 * demo account; the calls went through the shared DynamoDB rate budget.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_FILES } from '../../infra/cli/target.ts';
import { SANDBOX_CONFIG_FILE, SECRETS_FILE } from '../../infra/local/amocrm.ts';
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import { demoSeed } from '../../infra/local/sandbox/demo.ts';
import { loadSchemaFile, type AccountSchemaJson } from '../../lib/amocrm/client/schema.ts';
import { localEndpointsOf, writeLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { DynamoRateBudget } from '../../lib/store/rate-budget.ts';
import { cli } from './support.ts';

describe('schema pull', () => {
  let runner: LocalRunner;
  let dataDir: string;
  let outDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'amo-schema-data-'));
    outDir = mkdtempSync(join(tmpdir(), 'amo-schema-out-'));
    runner = await startLocal({
      port: 0,
      dataDir,
      quiet: true,
      schedule: false,
      pollWaitSeconds: 1,
      amocrm: { sandbox: true, printEvents: false },
    });
    writeLocalEndpoints(dataDir, localEndpointsOf(runner));
  });
  afterAll(async () => {
    await runner?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  it('the local file names agree with the runner', () => {
    expect(LOCAL_FILES).toEqual({ sandboxConfig: SANDBOX_CONFIG_FILE, secrets: SECRETS_FILE });
  });

  it("--local writes the sandbox account's dictionary (progress, summary); `--out -` at the same time prints it alone", async () => {
    const out = join(outDir, 'nested', 'local.json');
    const sb = runner.amo!.sandbox!;
    const before = sb.admin.count({});
    // Two CLI runs at once (as two operators would): separate processes' worth of budget owners,
    // one shared budget in the runner's table — amoCRM never refuses either of them.
    const [r, piped] = await Promise.all([
      cli(['schema', 'pull', '--local', '--data-dir', dataDir, '--out', out], {}),
      cli(['schema', 'pull', '--local', '--data-dir', dataDir, '--out', '-', '--quiet'], {}),
    ]);
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(piped.code, piped.err.join('\n')).toBe(0);
    expect(sb.admin.count({ status: 429 })).toBe(0);

    const json = JSON.parse(readFileSync(out, 'utf8')) as AccountSchemaJson;
    const seed = demoSeed();
    expect(json.account).toEqual({ id: 31_000_001, name: 'Local sandbox', subdomain: 'sandbox' });
    // Pipelines and their seeded stages, by id (the built-in won/lost stages come along).
    expect(json.pipelines.map((p) => [p.id, p.name, p.is_main])).toEqual(seed.pipelines!.map((p) => [p.id, p.name, p.is_main ?? false]));
    for (const p of seed.pipelines!) {
      const got = json.pipelines.find((x) => x.id === p.id)!;
      expect(got.statuses.map((s) => [s.id, s.name])).toEqual(expect.arrayContaining(p.statuses!.map((s) => [s.id, s.name])));
      expect(got.statuses.map((s) => s.id)).toEqual(expect.arrayContaining([142, 143]));
    }
    const source = json.customFields.leads.find((f) => f.id === 7001);
    expect(source).toMatchObject({ name: 'Источник', type: 'select', code: 'SOURCE' });
    expect(source?.enums?.map((e) => [e.id, e.value])).toEqual([
      [70011, 'Сайт'],
      [70012, 'Звонок'],
      [70013, 'Чат'],
    ]);
    expect(json.customFields.leads.map((f) => f.id)).toEqual(expect.arrayContaining([7001, 7002, 7003, 7004, 7005]));
    expect(json.customFields.contacts.map((f) => f.code)).toEqual(expect.arrayContaining(['PHONE', 'EMAIL', 'BIRTHDAY']));
    expect(json.tags.leads.map((t) => t.name).sort()).toEqual(['повторный', 'сайт']);
    expect(json.users.map((u) => [u.id, u.name, u.email])).toEqual(seed.users!.map((u) => [u.id, u.name, u.email]));

    // The typed lookups read it as written.
    const schema = await loadSchemaFile(out);
    expect(schema.status('Продажи', 'Записан на приём')).toEqual({ pipelineId: 5001, statusId: 50012 });
    expect(schema.enumId('leads', 'Источник', 'Чат')).toBe(70013);

    // Progress on stderr (one line per request), the summary on stdout.
    const requests = (sb.admin.count({}) - before) / 2;
    expect(r.err[0]).toMatch(
      new RegExp(
        `^pulling the dictionary of local \\(${sb.accountHost.replace(/\./g, '\\.')}; budget and breaker in table amo-gateway at http://`,
      ),
    );
    expect(r.err.filter((l) => /^ {2}GET \/api\/v4\/\S+ → \d{3} \(\d+ ms\)$/.test(l))).toHaveLength(requests);
    expect(r.out[0]).toBe(`wrote ${out}: account "Local sandbox" (sandbox, id 31000001), ${requests} requests`);
    expect(r.text).toMatch(/pipelines +2 \(\d+ statuses\)/);
    expect(r.text).toMatch(/custom fields +leads 5, contacts \d+, companies \d+ \(\d+ options\)/);
    expect(r.text).toMatch(/tags +leads 2, contacts 0, companies 0/);
    expect(r.text).toMatch(/users +3/);

    // `--out -`: stdout is the JSON alone (same content bar the time stamp); --quiet: no progress.
    const printed = JSON.parse(piped.text) as AccountSchemaJson;
    expect({ ...printed, pulledAt: '' }).toEqual({ ...json, pulledAt: '' });
    expect(piped.err.some((l) => l.startsWith('  GET '))).toBe(false);
    expect(piped.err.join('\n')).toMatch(/pulled account "Local sandbox"[\s\S]*users +3/);

    // Spent from the shared budget in the runner's table: the host's ring for the integration exists.
    const state = await new DynamoRateBudget({ doc: runner.doc, tableName: runner.tableName }).read(sb.accountHost);
    expect(Object.keys(state.rings)).toContain(runner.amo!.config.integrations[0]!.clientId);
  });

  it('usage errors: unknown account, --local without a runner', async () => {
    const unknown = await cli(['schema', 'pull', '--local', '--data-dir', dataDir, '--account', 'nope', '--out', '-'], {});
    expect(unknown.code).toBe(2);
    expect(unknown.err.at(-1)).toMatch(/unknown account "nope" \(configured: local\)/);
    const empty = mkdtempSync(join(tmpdir(), 'amo-schema-none-'));
    const none = await cli(['schema', 'pull', '--local', '--data-dir', empty], {});
    expect(none.code).toBe(2);
    expect(none.err.at(-1)).toMatch(/endpoints\.json: is the local runner \(npm start\) running/);
    rmSync(empty, { recursive: true, force: true });
  });
});
