import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import qs from 'qs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../support/fixtures.ts';
import {
  encodeWebhookBody,
  httpBuildQuery,
  leadStatusItem,
  phpUrlencode,
  WebhookDeliverer,
  type LeadForWebhook,
} from '../../infra/local/sandbox/webhook-out.ts';

const FIXTURES = FIXTURES_DIR;
const HOOKS_DIR = `${FIXTURES}/amocrm-webhooks`;
/** Raw bytes as a string; the bodies are ASCII (percent-encoded), read without trimming. */
const hook = (name: string): string => readFileSync(`${HOOKS_DIR}/${name}`, 'latin1');
const QS = { depth: 10, arrayLimit: 250, parameterLimit: 10000 } as const;

/** Decodes a form body into nested Maps, keeping every key's order (qs cannot, for integer keys). */
function decodeOrdered(body: string): Map<string, unknown> {
  const root = new Map<string, unknown>();
  const dec = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
  for (const pair of body.split('&')) {
    const eq = pair.indexOf('=');
    const key = dec(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : dec(pair.slice(eq + 1));
    const parts = (key.match(/^[^[]+|\[[^\]]*\]/g) ?? []).map((p) => p.replace(/^\[|\]$/g, ''));
    let node = root;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) {
        node.set(p, value);
        return;
      }
      let next = node.get(p);
      if (!(next instanceof Map)) {
        next = new Map<string, unknown>();
        node.set(p, next);
      }
      node = next as Map<string, unknown>;
    });
  }
  return root;
}

/** Every leaf path of a qs-parsed body, with array indices kept (they are part of the shape). */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (v !== null && typeof v === 'object') {
    return Object.entries(v).flatMap(([k, c]) => keyPaths(c, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

describe('PHP urlencode', () => {
  it('keeps only A-Za-z0-9-_. ; space → +; uppercase %XX of UTF-8 bytes', () => {
    expect(phpUrlencode('aZ09-_. ')).toBe('aZ09-_.+');
    expect(phpUrlencode('[]:/*~+%')).toBe('%5B%5D%3A%2F%2A%7E%2B%25');
    expect(phpUrlencode('Тест ₽\n\u00a0')).toBe('%D0%A2%D0%B5%D1%81%D1%82+%E2%82%BD%0A%C2%A0');
  });

  it('http_build_query: nested arrays/objects, booleans as 1/0, null skipped, empty containers emit nothing', () => {
    expect(httpBuildQuery({ a: { b: [{ c: 1 }, { c: true, d: false, e: null }], f: [] }, g: 'x y' })).toBe(
      'a%5Bb%5D%5B0%5D%5Bc%5D=1&a%5Bb%5D%5B1%5D%5Bc%5D=1&a%5Bb%5D%5B1%5D%5Bd%5D=0&g=x+y',
    );
  });
});

describe('round trip against the real captures', () => {
  it('encodeWebhookBody(decoded webhook-02, account last) reproduces its 1601 bytes exactly', () => {
    const raw = hook('webhook-02-status_lead-modern-cyrillic.txt');
    const parsed = qs.parse(raw, QS) as { leads: { status: Array<Record<string, unknown>> }; account: { id: string; subdomain: string } };
    const events = parsed.leads.status.map((item) => ({ entity: 'leads' as const, action: 'status', item }));
    const body = encodeWebhookBody(
      { id: Number(parsed.account.id), subdomain: parsed.account.subdomain, host: 'unirock.amocrm.ru' },
      events,
      { accountFirst: false },
    );
    expect(body.length).toBe(1601);
    expect(body).toBe(raw);
  });

  it('webhook-05 (account first, the default) and webhook-06 (multi-line, NBSP, ₽, fields without values) too', () => {
    const raw5 = hook('webhook-05-add_lead.txt');
    const p5 = qs.parse(raw5, QS) as { leads: { add: Array<Record<string, unknown>> } };
    expect(
      encodeWebhookBody(
        { id: 32427762, subdomain: 'etesttask', host: 'etesttask.amocrm.ru' },
        p5.leads.add.map((item) => ({ entity: 'leads', action: 'add', item })),
      ),
    ).toBe(raw5);
    const raw6 = hook('webhook-06-update_lead-custom_fields-cyrillic.txt');
    const p6 = qs.parse(raw6, QS) as { leads: { update: Array<Record<string, unknown>> } };
    expect(
      encodeWebhookBody(
        { id: 16700680, subdomain: 'unirock', host: 'https://unirock.amocrm.ru' },
        p6.leads.update.map((item) => ({ entity: 'leads', action: 'update', item })),
        { accountFirst: false },
      ),
    ).toBe(raw6);
  });

  const files = readdirSync(HOOKS_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  it(`all ${files.length} account-webhook fixtures re-encode byte for byte (order-keeping decode)`, () => {
    expect(files.length).toBe(15);
    for (const f of files) expect(httpBuildQuery(decodeOrdered(hook(f))), f).toBe(hook(f));
  });

  it('via qs every fixture but webhook-11 re-encodes; webhook-11 differs only in the order of its integer-keyed map', () => {
    for (const f of files) {
      const raw = hook(f);
      const out = httpBuildQuery(qs.parse(raw, QS) as Record<string, unknown>);
      if (f.startsWith('webhook-11')) {
        expect(out).not.toBe(raw);
        expect(out.split('&').sort()).toEqual(raw.split('&').sort());
      } else {
        expect(out, f).toBe(raw);
      }
    }
  });
});

describe('leadStatusItem: a lead stage change parses like the real ones', () => {
  const lead: LeadForWebhook = {
    id: 26066553,
    name: 'Тест, удалю сам',
    price: null,
    status_id: 17944873,
    pipeline_id: 936736,
    responsible_user_id: 2852878,
    created_by: 2852878,
    updated_by: 2852878,
    created_at: 1673858479,
    updated_at: 1673946385,
    account_id: 16700680,
    custom_fields_values: [
      {
        field_id: 467289,
        field_name: 'Менеджер по продажам',
        field_code: null,
        field_type: 'select',
        values: [{ value: 'Нефедова Алена', enum_id: 917607 }],
      },
      { field_id: 957901, field_name: 'test_id', field_code: null, field_type: 'numeric', values: [{ value: 26066553 }] },
    ],
  };
  const account = { id: 16700680, subdomain: 'unirock', host: 'unirock.amocrm.ru' };

  it('same keys, same nesting, same order as webhook-02; reproduces it byte for byte with the same data', () => {
    const ours = encodeWebhookBody(
      account,
      [{ entity: 'leads', action: 'status', item: leadStatusItem(lead, { oldStatusId: 17944876 }) }],
      { accountFirst: false },
    );
    const fixture = hook('webhook-02-status_lead-modern-cyrillic.txt');
    expect(keyPaths(qs.parse(ours, QS))).toEqual(keyPaths(qs.parse(fixture, QS)));
    expect(ours).toBe(fixture);
    const parsed = qs.parse(ours, QS) as { leads: { status: Array<{ custom_fields: unknown[]; price: string }> } };
    expect(Array.isArray(parsed.leads.status)).toBe(true);
    expect(Array.isArray(parsed.leads.status[0]?.custom_fields)).toBe(true);
    expect(parsed.leads.status[0]?.price).toBe('0');
  });

  it("covers webhook-01's (2016) keys; the extra ones are the modern additions only", () => {
    const ours = keyPaths(
      qs.parse(encodeWebhookBody(account, [{ entity: 'leads', action: 'status', item: leadStatusItem(lead, { oldStatusId: 1 }) }]), QS),
    );
    const old = keyPaths(qs.parse(hook('webhook-01-status_lead.txt'), QS));
    expect(old.filter((k) => !ours.includes(k))).toEqual([]);
    expect(ours.filter((k) => !old.includes(k)).sort()).toEqual([
      'account._links.self',
      'account.id',
      'leads.status.0.created_at',
      'leads.status.0.custom_fields.0.values.0.enum',
      'leads.status.0.custom_fields.1.id',
      'leads.status.0.custom_fields.1.name',
      'leads.status.0.custom_fields.1.values.0.value',
      'leads.status.0.updated_at',
    ]);
  });

  it('tags, date fields ([values][0]=<unix>), checkboxes "1", coded fields without values, several leads in one body', () => {
    const rich: LeadForWebhook = {
      ...lead,
      price: 22500,
      _embedded: { tags: [{ id: 80147, name: 'повторное обращение' }] },
      custom_fields_values: [
        { field_id: 72333, field_name: 'Дата проведения', field_type: 'date', values: [{ value: 1542067200 }] },
        { field_id: 497267, field_name: 'Заявка оплачена', field_type: 'checkbox', values: [{ value: true }] },
        { field_id: 436799, field_name: 'utm_medium', field_code: 'UTM_MEDIUM', field_type: 'tracking_data', values: [] },
      ],
    };
    const body = encodeWebhookBody(account, [
      { entity: 'leads', action: 'status', item: leadStatusItem(rich, { oldStatusId: 20067736, modifiedUserId: 42 }) },
      { entity: 'leads', action: 'status', item: leadStatusItem({ ...lead, id: 2 }, { oldStatusId: 3 }) },
    ]);
    expect(
      body.startsWith(
        'account%5Bsubdomain%5D=unirock&account%5Bid%5D=16700680&account%5B_links%5D%5Bself%5D=https%3A%2F%2Funirock.amocrm.ru&leads%5Bstatus%5D%5B0%5D%5Bid%5D=26066553&',
      ),
    ).toBe(true);
    const p = qs.parse(body, QS) as { leads: { status: Array<Record<string, unknown>> } };
    const [first, second] = p.leads.status;
    expect(second?.id).toBe('2');
    expect(first).toMatchObject({
      price: '22500',
      old_status_id: '20067736',
      modified_user_id: '42',
      tags: [{ id: '80147', name: 'повторное обращение' }],
      custom_fields: [
        { id: '72333', name: 'Дата проведения', values: ['1542067200'] },
        { id: '497267', name: 'Заявка оплачена', values: [{ value: '1' }] },
        { id: '436799', name: 'utm_medium', code: 'UTM_MEDIUM' },
      ],
    });
    expect(Object.keys(first ?? {})).toEqual([
      'id',
      'name',
      'status_id',
      'old_status_id',
      'price',
      'responsible_user_id',
      'last_modified',
      'modified_user_id',
      'created_user_id',
      'date_create',
      'pipeline_id',
      'tags',
      'account_id',
      'custom_fields',
      'created_at',
      'updated_at',
    ]);
  });
});

describe('WebhookDeliverer over a real socket', () => {
  interface Seen {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: Buffer;
  }
  const seen: Seen[] = [];
  let mode: { status: number; delayMs?: number } = { status: 200 };
  let server: Server;
  let base = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        const answer = (): void => {
          res.writeHead(mode.status, { Location: '/elsewhere' });
          res.end('ok');
        };
        if (mode.delayMs) setTimeout(answer, mode.delayMs);
        else answer();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('POSTs the exact bytes with the headers real deliveries carry', async () => {
    const clock = { now: () => 1_700_000_000_000 };
    const d = new WebhookDeliverer({ clock });
    const body = encodeWebhookBody({ id: 1, subdomain: 'sb', host: 'sb.amocrm.ru' }, [
      { entity: 'leads', action: 'status', item: { id: '5', name: 'Тест' } },
    ]);
    mode = { status: 200 };
    seen.length = 0;
    const r = await d.deliver({ id: 7, destination: `${base}/hooks/amocrm/SECRET-TOKEN` }, body);
    expect(r).toEqual({ status: 200, ok: true, disabled: false });
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.method).toBe('POST');
    expect(s.url).toBe('/hooks/amocrm/SECRET-TOKEN');
    expect(s.body.toString('latin1')).toBe(body);
    expect(s.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(s.headers['user-agent']).toBe('amoCRM-Webhooks/3.0');
    expect(s.headers['accept-encoding']).toBe('gzip');
    expect(s.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(s.headers['x-amocrm-requestid']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const rec = d.records();
    expect(rec).toHaveLength(1);
    expect(rec[0]).toMatchObject({
      at: 1_700_000_000_000,
      webhookId: 7,
      status: 200,
      ok: true,
      requestId: s.headers['x-amocrm-requestid'],
    });
  });

  it('a new request id per delivery; 204 is a success; 302, 500, a late answer and a dead port are not', async () => {
    const d = new WebhookDeliverer({ clock: { now: () => 0 }, timeoutMs: 600 });
    const dest = { id: 1, destination: `${base}/h` };
    seen.length = 0;
    mode = { status: 204 };
    expect((await d.deliver(dest, 'a=1')).ok).toBe(true);
    expect((await d.deliver(dest, 'a=1')).ok).toBe(true);
    expect(seen[0]?.headers['x-amocrm-requestid']).not.toBe(seen[1]?.headers['x-amocrm-requestid']);
    mode = { status: 302 };
    expect(await d.deliver(dest, 'a=1')).toEqual({ status: 302, ok: false, error: 'HTTP 302', disabled: false });
    expect(seen.filter((s) => s.url === '/elsewhere')).toHaveLength(0); // redirects are not followed
    mode = { status: 500 };
    expect(await d.deliver(dest, 'a=1')).toMatchObject({ status: 500, ok: false });
    mode = { status: 200, delayMs: 1500 };
    expect(await d.deliver(dest, 'a=1')).toEqual({ status: null, ok: false, error: 'no answer within 600 ms', disabled: false });
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    expect(await d.deliver({ id: 2, destination: `http://127.0.0.1:${deadPort}/h` }, 'a=1')).toMatchObject({
      status: null,
      ok: false,
      error: expect.stringMatching(/^network error/),
    });
    mode = { status: 200 };
  });

  it('disables after more than 100 invalid responses in 2 h with the last one invalid; old failures age out; enable() resets', async () => {
    let now = Date.UTC(2026, 0, 1);
    const clock = { now: () => now };
    const d = new WebhookDeliverer({ clock });
    const dest = { id: 3, destination: `${base}/flaky` };
    const minute = 60_000;

    // 60 failures, then 2 h + 1 min later another 60: never more than 100 inside any 2 h window.
    mode = { status: 500 };
    for (let i = 0; i < 60; i++) await d.deliver(dest, 'x=1');
    now += 121 * minute;
    for (let i = 0; i < 60; i++) {
      await d.deliver(dest, 'x=1');
      now += 1000;
    }
    expect(d.isDisabled(dest.destination)).toBe(false);
    expect(d.failuresInWindow(dest.destination)).toBe(60);

    // 40 more: exactly 100 in the window — "more than 100" is not met yet.
    for (let i = 0; i < 40; i++) await d.deliver(dest, 'x=1');
    expect(d.failuresInWindow(dest.destination)).toBe(100);
    expect(d.isDisabled(dest.destination)).toBe(false);

    // A success does not disable (the last one must be invalid) and does not clear the count.
    mode = { status: 200 };
    expect(await d.deliver(dest, 'x=1')).toMatchObject({ ok: true, disabled: false });

    // The 101st failure in the window, and it is the last: disabled.
    mode = { status: 503 };
    expect(await d.deliver(dest, 'x=1')).toMatchObject({ ok: false, status: 503, disabled: true });
    expect(d.isDisabled(dest.destination)).toBe(true);
    expect(d.records().at(-1)?.disabledNow).toBe(true);

    // Disabled: nothing is sent.
    seen.length = 0;
    expect(await d.deliver(dest, 'x=1')).toEqual({ status: null, ok: false, error: 'webhook disabled', disabled: true });
    expect(seen).toHaveLength(0);
    // Another destination is unaffected.
    mode = { status: 200 };
    expect(await d.deliver({ id: 4, destination: `${base}/other` }, 'x=1')).toMatchObject({ ok: true, disabled: false });

    d.enable(dest.destination);
    expect(d.isDisabled(dest.destination)).toBe(false);
    expect(await d.deliver(dest, 'x=1')).toMatchObject({ ok: true, disabled: false });
    expect(seen.filter((s) => s.url === '/flaky')).toHaveLength(1);
  });

  it('thresholds are knobs', async () => {
    let now = 0;
    const d = new WebhookDeliverer({ clock: { now: () => now }, disableAfterFailures: 2, failureWindowMs: 10_000 });
    const dest = { id: 5, destination: `${base}/knob` };
    mode = { status: 400 };
    await d.deliver(dest, 'x=1');
    await d.deliver(dest, 'x=1');
    now = 10_001; // the first two are now outside the window
    expect((await d.deliver(dest, 'x=1')).disabled).toBe(false);
    await d.deliver(dest, 'x=1');
    expect((await d.deliver(dest, 'x=1')).disabled).toBe(true);
    mode = { status: 200 };
  });
});
