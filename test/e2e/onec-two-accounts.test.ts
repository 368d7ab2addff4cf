/**
 * The 1C catalog exchange in TWO accounts, end to end: the local runner started as
 * `--no-sandbox --config F` would be (in process), with a config naming two sandbox accounts (the
 * MZPO retail and corp accounts, each on its own port) and an `onec` section whose catalog covers
 * both; a long-lived token per account stored through the CLI (`auth long-lived --local`). The
 * sample course over HTTP → 202 → the worker → both accounts hold one element with the right name,
 * SKU and price; again → the same ids, updated; doubles made by hand in one account → one left;
 * delete → gone in both.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import { localEndpointsOf, writeLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { DEFAULT_REFERER_ALLOW_LIST } from '../../lib/config/schema.ts';
import type { SandboxAccount } from '../../infra/local/sandbox/index.ts';
import { CLIENT_ID, CORP, onecConfig, onecWorld, RETAIL, SAMPLE_UID, sampleCourseForm, type OnecWorld } from '../onec/support.ts';
import { waitFor } from './support.ts';

const KEY = 'e2e-onec-two-key-0123456789';
const exec = promisify(execFile);
/** The CLI as an operator runs it, `stdin` piped in (a token given as `-` stays out of argv). */
const cli = (args: string[], stdin: string) => {
  const run = exec(process.execPath, ['--import', 'tsx', 'infra/cli/main.ts', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    timeout: 30_000,
  });
  run.child.stdin?.end(stdin);
  return run;
};

let world: OnecWorld | undefined;
let runner: LocalRunner | undefined;
afterEach(async () => {
  await runner?.stop();
  await world?.close();
  runner = undefined;
  world = undefined;
});

type Element = { id: number; name: string; custom_fields_values?: Array<{ field_id: number; values: Array<{ value: unknown }> }> };

/** The account's elements of the course list, read straight from the sandbox's REST API. */
async function elements(acc: SandboxAccount, a: typeof RETAIL): Promise<Element[]> {
  const token = acc.admin.issueLongLivedToken({ clientId: CLIENT_ID }).access_token;
  const r = await fetch(`${acc.url}/api/v4/catalogs/${a.catalog}/elements`, { headers: { authorization: `Bearer ${token}` } });
  if (r.status === 204) return [];
  return ((await r.json()) as { _embedded: { elements: Element[] } })._embedded.elements;
}
const field = (e: Element, id: number) => e.custom_fields_values?.find((f) => f.field_id === id)?.values[0]?.value;

describe('the 1C catalog exchange in two accounts through the local runner (--no-sandbox)', () => {
  it('course → one element per account with the right price; again → updated, same ids; doubles → one; delete → gone in both', async () => {
    world = await onecWorld();
    const w = world;
    const dir = mkdtempSync(join(tmpdir(), 'amo-onec2-'));
    const configFile = join(dir, 'amo.config.json');
    const account = (id: string, acc: SandboxAccount, a: typeof RETAIL) => ({
      id,
      integration: 'mzpo',
      subdomain: a.subdomain,
      domain: 'amocrm.ru',
      baseUrl: acc.url,
      accountId: a.id,
    });
    writeFileSync(
      configFile,
      JSON.stringify({
        integrations: [
          { id: 'mzpo', clientId: CLIENT_ID, clientSecret: { secret: 'client-secret' }, redirectUri: 'https://gw.example/oauth/callback' },
        ],
        accounts: [account('retail', w.retail, RETAIL), account('corp', w.corp, CORP)],
        oauth: { refererAllowList: [...DEFAULT_REFERER_ALLOW_LIST, w.retail.accountHost, w.corp.accountHost] },
        onec: onecConfig(),
      }),
    );
    const secretsFile = join(dir, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ 'client-secret': 'secret-onec', 'onec/erp-key': KEY }));
    runner = await startLocal({
      port: 0,
      dataDir: dir,
      quiet: true,
      pollWaitSeconds: 1,
      schedule: false,
      amocrm: { sandbox: false, configFile, secretsFile },
    });
    const url = runner.url;
    // What `npm start` does once up: the CLI's `--local` finds this run's endpoints here.
    writeLocalEndpoints(dir, localEndpointsOf(runner));
    // A long-lived token per account, as an operator stores it for a running local gateway.
    await Promise.all(
      (
        [
          ['retail', w.retail],
          ['corp', w.corp],
        ] as const
      ).map(([id, acc]) =>
        cli(
          ['auth', 'long-lived', '-', '--local', '--data-dir', dir, '--config', configFile, '--account', id],
          acc.admin.issueLongLivedToken({ clientId: CLIENT_ID }).access_token,
        ),
      ),
    );
    expect(await runner.amo!.accountStates()).toEqual({ retail: 'connected', corp: 'connected' });

    const call = async (path: string, body: string, type = 'application/x-www-form-urlencoded') => {
      const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': type }, body });
      expect(r.status).toBe(202);
      const id = String(((await r.json()) as { request_id: unknown }).request_id);
      return waitFor(
        async () => {
          const s = (await (await fetch(`${url}/1c/requests/${id}`, { headers: { 'x-api-key': KEY } })).json()) as Record<string, unknown>;
          return s.status === 'done' ? s : undefined;
        },
        `request ${id} done`,
        15_000,
      );
    };
    type Result = { account: string; account_id: number; entity_id: number; action: string };

    // The sample course → created in both accounts (the catalog's order: corp, then retail).
    const first = await call('/1c/course', sampleCourseForm().toString());
    const created = first.accounts as Result[];
    expect(created.map((r) => [r.account, r.account_id, r.action])).toEqual([
      ['corp', CORP.id, 'created'],
      ['retail', RETAIL.id, 'created'],
    ]);
    const ids = { corp: created[0]!.entity_id, retail: created[1]!.entity_id };
    for (const [acc, a, gw] of [
      [w.corp, CORP, 'corp'],
      [w.retail, RETAIL, 'retail'],
    ] as const) {
      const els = await elements(acc, a);
      expect(els.map((e) => e.id)).toEqual([ids[gw]]);
      expect(els[0]!.name).toBe('Производственная практика 120/60 (ПР)');
      expect(field(els[0]!, a.uid)).toBe(SAMPLE_UID);
      expect(field(els[0]!, a.sku)).toBe('ПР');
      // The price rule: no -Д / -И suffix → "Зел.цена".
      expect(Number(field(els[0]!, a.price))).toBe(2500);
    }

    // Again, with a new name and price → the same elements, updated; no second one.
    const again = await call('/1c/course', sampleCourseForm({ name: 'Практика', 'ItemPrices[2][Price]': '2700' }).toString());
    expect((again.accounts as Result[]).map((r) => [r.account, r.entity_id, r.action])).toEqual([
      ['corp', ids.corp, 'updated'],
      ['retail', ids.retail, 'updated'],
    ]);
    for (const [acc, a] of [
      [w.corp, CORP],
      [w.retail, RETAIL],
    ] as const) {
      const els = await elements(acc, a);
      expect(els).toHaveLength(1);
      expect(els[0]!.name).toBe('Практика (ПР)');
      expect(Number(field(els[0]!, a.price))).toBe(2700);
    }

    // Doubles made by hand in the retail account → one left there (the oldest); corp untouched.
    const made = await w
      .clientFor('retail')
      .catalogs.elements(RETAIL.catalog)
      .add([
        { name: 'double 1', custom_fields_values: [{ field_id: RETAIL.uid, values: [{ value: SAMPLE_UID }] }] },
        { name: 'double 2', custom_fields_values: [{ field_id: RETAIL.uid, values: [{ value: SAMPLE_UID }] }] },
      ]);
    expect(await elements(w.retail, RETAIL)).toHaveLength(3);
    const doubles = await call('/1c/course-doubles', JSON.stringify({ uid: SAMPLE_UID }), 'application/json');
    expect(doubles.accounts).toEqual([
      expect.objectContaining({ account: 'corp', kept: ids.corp, deleted: [] }),
      expect.objectContaining({ account: 'retail', kept: ids.retail, deleted: made.map((e) => e.id) }),
    ]);
    expect((await elements(w.retail, RETAIL)).map((e) => e.id)).toEqual([ids.retail]);
    expect((await elements(w.corp, CORP)).map((e) => e.id)).toEqual([ids.corp]);

    // Delete → gone in both accounts.
    await call('/1c/course-delete', `uid=${SAMPLE_UID}`);
    expect(await elements(w.corp, CORP)).toEqual([]);
    expect(await elements(w.retail, RETAIL)).toEqual([]);
  }, 40_000);
});
