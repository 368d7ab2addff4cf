/**
 * `amo-gateway contacts …` in-process against a running local gateway with the sandbox (`--local`):
 * status before any build, a build with progress lines, status after, a rerun that reads nothing,
 * and `contacts find` printing the verified contact and how it was found.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import { localEndpointsOf, writeLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { cli } from './support.ts';

describe('contacts index build | status, contacts find', () => {
  let runner: LocalRunner;
  let dataDir: string;
  let ids: number[];
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'amo-contacts-'));
    runner = await startLocal({
      port: 0,
      dataDir,
      quiet: true,
      schedule: false,
      pollWaitSeconds: 1,
      amocrm: { sandbox: true, printEvents: false },
    });
    writeLocalEndpoints(dataDir, localEndpointsOf(runner));
    const sb = runner.amo!.sandbox!;
    sb.admin.setSearchMode('literal');
    ids = sb.admin.seed({
      contacts: Array.from({ length: 260 }, (_, i) => ({
        name: `Person ${i}`,
        custom_fields_values: [cf.phone([`+7 (926) 500-${String(1000 + i).slice(0, 2)}-${String(1000 + i).slice(2)}`])],
      })),
    }).contacts as number[];
  });
  afterAll(async () => {
    await runner?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const local = (): string[] => ['--local', '--data-dir', dataDir];

  it('status says "not built" (exit 1); build pages through with progress; status then says built (exit 0); a rerun reads nothing', async () => {
    const before = await cli(['contacts', 'index', 'status', ...local()], {});
    expect(before.code, before.err.join('\n')).toBe(1);
    expect(before.text).toMatch(/^local: no index build yet/);

    const sb = runner.amo!.sandbox!;
    const reads = () => sb.admin.count({ method: 'GET', route: '/api/v4/contacts' });
    const r0 = reads();
    const built = await cli(['contacts', 'index', 'build', ...local()], {});
    expect(built.code, built.err.join('\n')).toBe(0);
    expect(reads() - r0).toBe(2); // the demo account's contacts + 260 → 2 pages
    expect(built.err.filter((l) => /^ {2}page \d+:/.test(l)).length).toBe(2);
    expect(built.text).toMatch(/finished: 2 page\(s\) read now/);

    const after = await cli(['contacts', 'index', 'status', ...local()], {});
    expect(after.code).toBe(0);
    expect(after.text).toMatch(/^local: built, finished \d{4}-/);
    expect(after.text).toMatch(/pages {5}2/);

    const again = await cli(['contacts', 'index', 'build', ...local()], {});
    expect(again.text).toMatch(/already built/);
    expect(reads() - r0).toBe(2);
  });

  it('find: the verified contact, via the index, for a spelling literal search cannot find; none → exit 1; a bad phone → exit 2', async () => {
    const found = await cli(['contacts', 'find', '--phone', '8 926 500 10 07', ...local()], {});
    expect(found.code, found.err.join('\n')).toBe(0);
    expect(found.text).toContain(`contact ${ids[7]} "Person 7" — found via the index, verified`);
    const none = await cli(['contacts', 'find', '--phone', '+79260000000', '--email', 'nobody@example.ru', ...local()], {});
    expect(none.code).toBe(1);
    expect(none.text).toMatch(/no contact carries/);
    const bad = await cli(['contacts', 'find', '--phone', '12', ...local()], {});
    expect(bad.code).toBe(2);
  });
});
