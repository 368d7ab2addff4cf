/**
 * Fuzzing every inbound route of the route table (lib/routes.ts) through the local runner, with
 * the sandbox as amoCRM and every flow configured (RDESK, forms, 1C, chat). Requests are
 * generated (fast-check): arbitrary bytes, broken UTF-8, empty and over-limit bodies, chunked or
 * sized, any method and content type, right and wrong path tokens, keys and signatures, and
 * structure-aware mutations of the real fixtures (test/fixtures/).
 *
 * Held for every request: no 5xx; a 4xx is JSON with a message. Held after the run, once the
 * queues are drained: every request a queue took is gone from its queue (processed) or parked
 * with a reason (each DLQ message indexed, reason kebab-case); every acknowledged request with a
 * wrong token or signature — an asynchronous rejection — is among the parked; the worker never
 * failed an invocation; /health answers ok.
 *
 * Deterministic: a fixed seed (FUZZ_SEED to change it; fast-check prints seed and path on a
 * failure). FUZZ_RUNS for longer local runs (default keeps the file under 30 s).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_ACCOUNT, SANDBOX_AMO_ACCOUNT_ID, SANDBOX_SECRETS, SANDBOX_SUBDOMAIN } from '../../infra/local/amocrm.ts';
import { LOCAL_CHAT_SECRETS } from '../../infra/local/chat.ts';
import { startTestOnec, type TestOnec } from '../../infra/local/onec/server.ts';
import { localOnecSection, seedLocalOnec } from '../../infra/local/onec/world.ts';
import { signCallbackBody } from '../../lib/amojo/signing.ts';
import { METRIC } from '../../lib/metrics.ts';
import { routeTable } from '../../lib/routes.ts';
import { startWorld, waitFor, type World } from '../e2e/support.ts';
import { sampleCourseForm } from '../onec/support.ts';
import { fixtureBytes, fixtureNames } from '../support/fixtures.ts';
import { brokenUtf8, mutateBytes, mutateForm, mutateJson, send, type RawRequest } from './support.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const RDESK_TOKEN = 'fuzz-rdesk-token-7d2e';
const ONEC_KEY = 'fuzz-onec-key-0123456789';
const FORM = 'fz';
/** Drained within this after the run (retries come back within a second; see retry below). */
// Longer runs need longer: the gateway's own amoCRM budget defers some work (rate-budget), and two
// copies of one webhook event in a batch defer the second (event-in-progress, 30 s).
const DRAIN_MS = Number(process.env.FUZZ_DRAIN_MS ?? Math.max(60_000, RUNS * 60));

const limit = (id: string) => routeTable.routes.find((r) => r.id === id)!.bodyLimitBytes;
const queueOf = (id: string) => {
  const t = routeTable.routes.find((r) => r.id === id)!.target;
  return t.queue;
};

let w: World;
let onec: TestOnec;
const secrets = { hook: '', chatKey: '', channel: '', scopeId: '' };

beforeAll(async () => {
  onec = await startTestOnec({ password: 'pw-1c' });
  w = await startWorld({
    amocrm: {
      printEvents: false,
      rdesk: {
        accounts: [
          { account: SANDBOX_ACCOUNT, token: { secret: 'rdesk/fuzz' }, fields: { booked: { total: 'price' }, mc: { total: 'price' } } },
        ],
      },
      forms: {
        defaultCountry: 'RU',
        list: [
          {
            id: FORM,
            account: 'local',
            lead: { pipeline: 'Продажи' },
            origins: ['https://site.example'],
            throttle: { perMinute: 10_000, perHour: 100_000 },
          },
        ],
      },
      onec: localOnecSection(onec.baseUrl),
      extraSecrets: { 'rdesk/fuzz': RDESK_TOKEN, 'onec/erp-key': ONEC_KEY, 'onec/1c-password': 'pw-1c' },
    },
    // Retries come back within a second: the drain after the run stays short.
    retry: { baseSeconds: 1, capSeconds: 1 },
  });
  // The fuzz is not about amoCRM's budget: valid requests must not wait on it.
  w.sandbox.admin.setLimits({ perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 });
  seedLocalOnec(w.sandbox.admin);
  secrets.hook = await w.amo.secrets.get(SANDBOX_SECRETS.hookToken);
  secrets.chatKey = await w.amo.secrets.get(LOCAL_CHAT_SECRETS.apiKey);
  secrets.channel = await w.amo.secrets.get(LOCAL_CHAT_SECRETS.channel);
  secrets.scopeId = await waitFor(() => w.sandbox.amojo.snapshot().scopes[0]?.scope_id, 'the chat channel connected');
}, 60_000);

afterAll(async () => {
  await w?.runner.stop();
  await onec?.close();
});

// ---------------------------------------------------------------------------------------------
// Generators

const TARGETS = [
  'amocrm-hook',
  'zdrav-mc',
  'zdrav-booked',
  'amojo-callback',
  'chat-inbound',
  'forms',
  'forms-preflight',
  'oauth-callback',
  'oauth-disconnect',
  'onec',
  'onec-status',
  'onec-managers',
  'unknown',
] as const;
type Target = (typeof TARGETS)[number];

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=windows-1251',
  'multipart/form-data; boundary=xyz',
  'multipart/form-data',
  'text/plain',
  'application/xml',
  ';',
  '',
];

/** A path segment that is not ours: plain, percent-encoded junk, undecodable, long. */
const wrongSegment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
  fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent),
  fc.constantFrom('%ZZ', '%', '%00', '%C3', '..', 'a'.repeat(3000), '%F0%9F%98%80'),
);

/**
 * The real webhooks, their `account` block made the sandbox account's: with the right token they
 * pass the account check and reach the events (the originals would all be parked account-mismatch).
 */
const hookFixtures = fixtureNames('amocrm-webhooks').map((n) =>
  fixtureBytes(`amocrm-webhooks/${n}`)
    .toString('latin1')
    .replace(/(account(?:%5B|\[)subdomain(?:%5D|\])=)[^&]*/g, `$1${SANDBOX_SUBDOMAIN}`)
    .replace(/(account(?:%5B|\[)id(?:%5D|\])=)[^&]*/g, `$1${SANDBOX_AMO_ACCOUNT_ID}`),
);
/**
 * The real amojo callbacks, their times made recent (amojo callbacks over 15 minutes from receipt
 * are parked stale): with the right signature they reach the relay.
 */
const NOW = Math.floor(Date.now() / 1000);
const amojoFixtures = fixtureNames('amojo-webhooks').map((n) => {
  const f = JSON.parse(fixtureBytes(`amojo-webhooks/${n}`).toString('utf8')) as Record<string, unknown>;
  if (typeof f.time === 'number') f.time = NOW;
  const m = f.message as Record<string, unknown> | undefined;
  if (m && typeof m.timestamp === 'number') m.timestamp = NOW;
  if (m && typeof m.msec_timestamp === 'number') m.msec_timestamp = NOW * 1000;
  return f as unknown;
});
const rdesk = { mc: fixtureBytes('rdesk/mc.json'), booked: fixtureBytes('rdesk/booked.json') };
const chatMessage = {
  id: 'm-1',
  conversation_id: 'c-1',
  sender: { id: 'u-1', name: 'Fuzz', phone: '89165550000' },
  message: { type: 'text', text: 'hello' },
};
const formFields = 'name=%D0%90%D0%BD%D0%BD%D0%B0&phone=8+916+555-11-22&email=a%40example.ru&comment=hi';

/** Bodies any route may get. */
function genericBody(target: Target): fc.Arbitrary<Buffer> {
  const lim = target === 'unknown' ? 1024 : limit(target);
  return fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
    brokenUtf8,
    fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v))),
    // At the limit (accepted by size) and one byte over it (413).
    fc.constantFrom(lim, lim + 1).map((n) => Buffer.alloc(n, 0x61)),
  );
}

function structuredBody(target: Target): fc.Arbitrary<Buffer> {
  const jsonBuf = (a: fc.Arbitrary<unknown>) => a.map((v) => Buffer.from(JSON.stringify(v) ?? 'null'));
  switch (target) {
    case 'amocrm-hook':
      return fc.constantFrom(...hookFixtures).chain((f) =>
        fc.oneof(
          fc.constant(Buffer.from(f)),
          mutateForm(f).map((s) => Buffer.from(s)),
          mutateBytes(Buffer.from(f)),
        ),
      );
    case 'zdrav-mc':
    case 'zdrav-booked': {
      const base = target === 'zdrav-mc' ? rdesk.mc : rdesk.booked;
      return fc.oneof(fc.constant(base), jsonBuf(mutateJson(JSON.parse(base.toString('utf8')))), mutateBytes(base));
    }
    case 'amojo-callback':
      return fc.constantFrom(...amojoFixtures).chain((f) => fc.oneof(jsonBuf(fc.constant(f)), jsonBuf(mutateJson(f))));
    case 'chat-inbound':
      return fc.oneof(
        jsonBuf(
          fc
            .record({ id: fc.string({ minLength: 1, maxLength: 12 }), conversation_id: fc.string({ minLength: 1, maxLength: 12 }) })
            .map((k) => ({ ...chatMessage, ...k })),
        ),
        jsonBuf(mutateJson(chatMessage)),
      );
    case 'forms':
      return fc.oneof(
        fc.constant(Buffer.from(formFields)),
        mutateForm(formFields).map((s) => Buffer.from(s)),
      );
    case 'onec': {
      const course = sampleCourseForm().toString();
      return fc.oneof(
        fc.constant(Buffer.from(course)),
        mutateForm(course).map((s) => Buffer.from(s)),
        jsonBuf(mutateJson(Object.fromEntries(new URLSearchParams(course)))),
      );
    }
    default:
      return genericBody(target);
  }
}

interface Case {
  target: Target;
  /** Right token / key / signature / channel. */
  right: boolean;
  method: string | null;
  contentType: string | null;
  body: Buffer;
  chunked: boolean;
  segment: string;
  query: string;
  extra: Record<string, string>;
}

const caseArb: fc.Arbitrary<Case> = fc.constantFrom(...TARGETS).chain((target) =>
  fc.record({
    target: fc.constant(target),
    right: fc.boolean(),
    method: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
    contentType: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
    body: fc.oneof({ weight: 3, arbitrary: structuredBody(target) }, { weight: 1, arbitrary: genericBody(target) }),
    chunked: fc.boolean(),
    segment: wrongSegment,
    query: fc.oneof(
      fc.constant(''),
      fc.string({ maxLength: 30 }).map((s) => `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`),
      fc.constantFrom(
        '?%ZZ',
        '?a=1&a=2',
        '?code=x&state=y&referer=z',
        '?client_uuid=x&account_id=1&signature=00',
        '?valueOf=1&constructor=2&__proto__=3&toString=4&hasOwnProperty=5',
        '?state=__proto__&code=constructor',
      ),
    ),
    extra: fc.dictionary(
      fc.constantFrom(
        'origin',
        'referer',
        'accept',
        'user-agent',
        'x-form-key',
        'date',
        'access-control-request-method',
        'x-amocrm-requestid',
        'constructor',
        '__proto__',
        'valueof',
      ),
      fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
      { maxKeys: 3 },
    ),
  }),
);

const OWN: Record<Exclude<Target, 'unknown'>, { method: string; contentType?: string }> = {
  'amocrm-hook': { method: 'POST', contentType: 'application/x-www-form-urlencoded' },
  'zdrav-mc': { method: 'POST', contentType: 'application/json' },
  'zdrav-booked': { method: 'POST', contentType: 'application/json' },
  'amojo-callback': { method: 'POST', contentType: 'application/json' },
  'chat-inbound': { method: 'POST', contentType: 'application/json' },
  forms: { method: 'POST', contentType: 'application/x-www-form-urlencoded' },
  'forms-preflight': { method: 'OPTIONS' },
  'oauth-callback': { method: 'GET' },
  'oauth-disconnect': { method: 'GET' },
  onec: { method: 'POST', contentType: 'application/x-www-form-urlencoded' },
  'onec-status': { method: 'GET' },
  'onec-managers': { method: 'GET' },
};

function build(c: Case): RawRequest {
  const own = c.target === 'unknown' ? { method: 'POST', contentType: 'application/json' } : OWN[c.target];
  const method = c.method ?? own.method;
  const headers: Record<string, string> = { ...c.extra };
  const ct = c.contentType ?? own.contentType;
  if (ct !== undefined) headers['content-type'] = ct;
  const tok = (right: string) => (c.right ? encodeURIComponent(right) : c.segment);
  let path: string;
  switch (c.target) {
    case 'amocrm-hook':
      path = `/hooks/amocrm/${tok(secrets.hook)}`;
      break;
    case 'zdrav-mc':
      path = `/zdrav/mc/${tok(RDESK_TOKEN)}`;
      break;
    case 'zdrav-booked':
      path = `/zdrav/booked/${tok(RDESK_TOKEN)}`;
      break;
    case 'amojo-callback':
      path = `/chat/amojo/${tok(secrets.scopeId)}`;
      if (c.right) headers['x-signature'] = signCallbackBody(secrets.channel, c.body);
      else if (c.segment.length % 2 === 0) headers['x-signature'] = signCallbackBody('not-the-secret', c.body);
      break;
    case 'chat-inbound':
      path = `/chat/${c.right ? 'demo' : c.segment}/messages`;
      if (c.right || c.segment.length % 3 === 0) headers['x-api-key'] = secrets.chatKey;
      else if (c.segment.length % 3 === 1) headers['x-api-key'] = 'not-the-key';
      break;
    case 'forms':
    case 'forms-preflight':
      path = `/forms/${c.right ? FORM : c.segment}`;
      break;
    case 'oauth-callback':
      path = '/oauth/callback';
      break;
    case 'oauth-disconnect':
      path = '/oauth/disconnect';
      break;
    case 'onec':
      path = `/1c/${c.right ? 'update_course' : c.segment}`;
      headers['x-api-key'] = c.right || c.segment.length % 2 === 0 ? ONEC_KEY : 'not-the-key';
      break;
    case 'onec-status':
      path = `/1c/requests/${c.segment}`;
      headers['x-api-key'] = c.right ? ONEC_KEY : 'not-the-key';
      break;
    case 'onec-managers':
      path = '/1c/managers';
      headers['x-api-key'] = c.right ? ONEC_KEY : 'not-the-key';
      break;
    default:
      path = `/${c.segment}/${c.segment}`;
  }
  return { method, path: `${path}${c.query}`, headers, body: c.body, chunked: c.chunked };
}

/** An asynchronous rejection the worker must park: the route acks before it knows. */
function mustPark(c: Case): boolean {
  return (
    !c.right && (c.target === 'amocrm-hook' || c.target === 'zdrav-mc' || c.target === 'zdrav-booked' || c.target === 'amojo-callback')
  );
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing every inbound route through the local runner', () => {
  const queued = new Map<string, number>(); // route → requests a queue took
  const parkExpected = new Map<string, number>(); // route → of those, asynchronous rejections
  const statuses = new Map<number, number>();
  const shapes = new Set<string>();

  // Found by this fuzz: a path token decoding to a character SQS refuses (U+FFFF; fauxqs also
  // refused an emoji) made the enqueue fail, answered 500. The envelope is now sent ASCII-escaped
  // (lib/envelope.ts envelopeMessageBody), as API Gateway's template writes it.
  it('a token or query holding characters SQS refuses is acknowledged and parked bad-token, not 500', async () => {
    const before = (await w.runner.dlqIndex.list({ route: 'zdrav-mc' })).length;
    for (const bad of ['%EF%BF%BF', '%F0%9F%98%80', 'ok%EF%BF%BE']) {
      const res = await send(w.runner.url, {
        method: 'POST',
        path: `/zdrav/mc/${bad}?q=${bad}`,
        headers: { 'content-type': 'application/json' },
        body: rdesk.mc,
        chunked: false,
      });
      expect(res.status, bad).toBe(200);
    }
    const parked = await waitFor(async () => {
      const l = (await w.runner.dlqIndex.list({ route: 'zdrav-mc' })).slice(before);
      return l.length >= 3 ? l : undefined;
    }, 'three parked');
    expect(parked.map((e) => e.reason)).toEqual(['bad-token', 'bad-token', 'bad-token']);
  });

  // Found by this fuzz: a query or header named like an Object.prototype member (`valueOf`,
  // `constructor`) crashed the local Lambda event builder (`mqs[k].push is not a function`) → 500.
  it('query and header names like valueOf / constructor / __proto__ reach the functions as plain keys', async () => {
    const get = (method: string, path: string, headers: Record<string, string> = {}) =>
      send(w.runner.url, { method, path, headers, body: Buffer.alloc(0), chunked: false });
    const pre = await get('OPTIONS', `/forms/${FORM}?valueOf=valueOf&constructor=1&__proto__=2`, {
      origin: 'https://site.example',
      'access-control-request-method': 'POST',
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://site.example');
    const dis = await get('GET', '/oauth/disconnect?constructor=x&toString=y&client_uuid=x&account_id=1&signature=00', {
      constructor: 'x',
    });
    expect(dis.status).toBe(401);
    const mgr = await get('GET', '/1c/managers?hasOwnProperty=1', { 'x-api-key': ONEC_KEY, valueof: '1' });
    expect(mgr.status).toBe(200);
  });

  // Found by this fuzz: a status request id over DynamoDB's key size failed the read → 503.
  it('a 1C status id that cannot be one of ours is 404, whatever its length', async () => {
    for (const id of ['a'.repeat(3000), 'x', encodeURIComponent('ё'.repeat(1500))]) {
      const res = await send(w.runner.url, {
        method: 'GET',
        path: `/1c/requests/${id}`,
        headers: { 'x-api-key': ONEC_KEY },
        body: Buffer.alloc(0),
        chunked: false,
      });
      expect(res.status, id.slice(0, 10)).toBe(404);
    }
  });

  /** One request and what must hold of its answer; counts what the queues took. */
  async function probe(c: Case): Promise<void> {
    const req = build(c);
    const res = await send(w.runner.url, req);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const where = `${req.method} ${c.target} -> ${res.status} ${res.body.toString('utf8').slice(0, 200)}`;
    expect(res.status, where).toBeGreaterThanOrEqual(200);
    expect(res.status, where).toBeLessThan(500);
    if (res.status >= 400 && req.method !== 'HEAD') {
      expect(String(res.headers['content-type']), where).toMatch(/^application\/json/);
      // `message` (API Gateway's and our functions' shape) or the forms contract's `error` code.
      const j = JSON.parse(res.body.toString('utf8')) as { message?: unknown; error?: unknown };
      const said = typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : '';
      expect(said, where).not.toBe('');
      shapes.add(`${c.target} ${res.status} ${Object.keys(j).sort().join(',')}`);
    }
    // Which answers mean "a queue has it": a queue route's ack, a queueing function's 202.
    const r = routeTable.routes.find((x) => x.id === c.target);
    const feedsQueue = r && queueOf(r.id) !== undefined && req.method === r.method;
    if (feedsQueue && res.status >= 200 && res.status < 300 && (r.target.kind === 'queue' || res.status === 202)) {
      queued.set(r.id, (queued.get(r.id) ?? 0) + 1);
      if (mustPark(c)) parkExpected.set(r.id, (parkExpected.get(r.id) ?? 0) + 1);
    }
  }

  const before = new Set<string>(); // DLQ entries parked before the run (the tests above)
  let parkedMetricBefore = 0;

  it(
    `no 5xx, every refusal a JSON 4xx with a message (seed ${SEED}, ${RUNS} runs)`,
    async () => {
      for (const e of await w.runner.dlqIndex.list()) before.add(`${e.queueId}/${e.id}`);
      parkedMetricBefore = w.amo.metrics.total(METRIC.parked);
      await fc.assert(fc.asyncProperty(caseArb, probe), { seed: SEED, numRuns: RUNS, endOnFailure: true });
    },
    Math.max(120_000, RUNS * 100),
  );

  it(
    `the same under concurrency: bursts of up to 12 requests at once (seed ${SEED + 1}, ${Math.ceil(RUNS / 8)} bursts)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(caseArb, { minLength: 1, maxLength: 12 }), async (cs) => {
          await Promise.all(cs.map(probe));
        }),
        { seed: SEED + 1, numRuns: Math.ceil(RUNS / 8), endOnFailure: true },
      );
    },
    Math.max(120_000, RUNS * 100),
  );

  it(
    'after the run: every queued request processed or parked with a reason; the worker never threw; /health ok',
    async () => {
      const queues = routeTable.queues.map((q) => q.id);
      await waitFor(
        () =>
          queues.every((q) => {
            const d = w.runner.depth(q);
            return d.visible + d.delayed + d.inFlight === 0;
          }),
        'every queue drained',
        DRAIN_MS,
        100,
      ).catch((e: unknown) => {
        // What is still there, and what the worker said about it (no secrets: the log redacts).
        const depths = Object.fromEntries(queues.map((q) => [q, w.runner.depth(q)]));
        const said = w.lines.filter((l) => / ERROR |outcome=(defer|retry)/.test(l)).slice(-30);
        throw new Error(`${String(e)}\n${JSON.stringify(depths)}\n${said.join('\n')}`);
      });
      const all = await w.runner.dlqIndex.list();
      const parked = all.filter((e) => !before.has(`${e.queueId}/${e.id}`));
      for (const q of queues) {
        const entries = all.filter((e) => e.queueId === q);
        expect(w.runner.depth(q).dlq, `${q}: every DLQ message indexed`).toBe(entries.length);
      }
      for (const e of parked) {
        expect(e.reason).toMatch(/^[a-z][a-z0-9-]{0,63}$/);
        expect(e.route).not.toBe('');
      }
      // Every park of the run went through the pipeline's hook and was indexed; none failed to index.
      expect(w.amo.metrics.total(METRIC.parked) - parkedMetricBefore).toBe(parked.length);
      expect(w.amo.metrics.total(METRIC.dlqIndexFailed)).toBe(0);
      for (const route of new Set([...queued.keys(), ...parked.map((e) => e.route)])) {
        const got = parked.filter((e) => e.route === route).length;
        const n = parkExpected.get(route) ?? 0;
        // At least the asynchronous rejections; never more than the route's queue took (no phantom
        // or double park).
        expect(got, `${route}: ${n} acknowledged with a wrong token/signature must be parked`).toBeGreaterThanOrEqual(n);
        expect(got, `${route}: parked at most once per queued request`).toBeLessThanOrEqual(queued.get(route) ?? 0);
      }
      // The worker never threw (a FIFO queue's retries and deferrals are batch item failures, not these).
      expect(w.lines.filter((l) => /invocation failed|receive failed/.test(l))).toEqual([]);
      const h = await send(w.runner.url, { method: 'GET', path: '/health', headers: {}, body: Buffer.alloc(0), chunked: false });
      expect(h.status).toBe(200);
      expect((JSON.parse(h.body.toString('utf8')) as { status: string }).status).toBe('ok');
      expect(w.lines.filter((l) => /unhandled|^\S+ http\s+ERROR/i.test(l))).toEqual([]);
      // What the run covered (printed for the record; the counts depend only on the seed).
      console.log(
        JSON.stringify({
          seed: SEED,
          runs: RUNS,
          statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
          queued: Object.fromEntries(queued),
          parkExpected: Object.fromEntries(parkExpected),
          shapes: [...shapes].sort(),
          parked: parked.reduce<Record<string, number>>(
            (m, e) => ((m[`${e.route}:${e.reason}`] = (m[`${e.route}:${e.reason}`] ?? 0) + 1), m),
            {},
          ),
        }),
      );
    },
    DRAIN_MS + 30_000,
  );
});
