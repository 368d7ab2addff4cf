/**
 * Bench: the answer time of EVERY inbound route with 200 requests in flight (issue 18), on the
 * local runner (`--memory`, the sandbox as amoCRM, the worker consuming in the background). Per
 * route: a warm-up, then `--n` requests (default 600) kept 200 at a time; p50 / p95 / p99 / max and
 * the statuses seen. Every body differs (the amoCRM webhooks vary a timestamp or an id: the worker
 * drops a repeated body as a redelivery, bench/ack-latency.ts `varyWebhook`), so the worker does
 * real work behind the acks, as in production.
 *
 * What each route's request is:
 * - `amocrm-hook`: the 15 real webhook fixtures, each copy varied, with its own X-Amocrm-Requestid;
 * - `zdrav-booked`, `zdrav-mc`: the RDESK samples with the lead and amounts varied (path token);
 * - `forms` (POST, a new person each) and `forms-preflight` (OPTIONS from an allowed origin);
 * - `chat-inbound` (API key; 20 conversations) and `amojo-callback` (signed, fresh time);
 * - `onec` (`POST /1c/update_course`, API key, the sample course with its price varied) and
 *   `onec-status` (`GET /1c/requests/{id}` of an accepted request);
 * - `oauth-callback`: a consent redirect with a state we never issued (refused 4xx after the state
 *   lookup — 200 people installing at once is not a real load; the refusal path is what a flood hits);
 * - `oauth-disconnect`: correctly signed for an amoCRM account we do not serve (verified, ignored:
 *   a real disconnect of the sandbox account would stop the other routes' work).
 * Not measured: `onec-managers` (it calls amoCRM by design, throttled to 2/s at the edge).
 *
 *   npx tsx bench/ack-routes.ts [--n 600] [--concurrency 200] [--only amocrm-hook,forms]
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { SANDBOX_ACCOUNT, SANDBOX_SECRETS } from '../infra/local/amocrm.ts';
import { LOCAL_CHAT_SECRETS } from '../infra/local/chat.ts';
import { startTestOnec } from '../infra/local/onec/server.ts';
import { localOnecSection, seedLocalOnec } from '../infra/local/onec/world.ts';
import { disconnectSignature } from '../lib/amocrm/oauth/disconnect.ts';
import { mapLimit } from '../lib/common/concurrency.ts';
import { fixtureBytes } from '../test/support/fixtures.ts';
import { sampleCourseForm } from '../test/onec/support.ts';
import { benchBodies, varyWebhook } from './ack-latency.ts';
import { postAmojoCallback, postChatInbound } from './support/chat-posts.ts';
import { timeRequests } from './support/timed.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};
const RDESK_TOKEN = 'bench-ack-rdesk-token-41d2';
const ONEC_KEY = 'bench-ack-onec-key-0123456789';

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const n = Number(arg('n', '600'));
  const concurrency = Number(arg('concurrency', '200'));
  const only = arg('only', '').split(',').filter(Boolean);
  const { startLocal } = await import('../infra/local/runner.ts');
  const onec = await startTestOnec({ password: 'pw-1c' });
  const runner = await startLocal({
    port: 0,
    quiet: true,
    schedule: false,
    memory: true,
    pollWaitSeconds: 1,
    amocrm: {
      sandbox: true,
      printEvents: false,
      onec: localOnecSection(onec.baseUrl),
      extraSecrets: { 'onec/erp-key': ONEC_KEY, 'onec/1c-password': 'pw-1c', 'rdesk/bench': RDESK_TOKEN },
      rdesk: {
        accounts: [{ account: SANDBOX_ACCOUNT, token: { secret: 'rdesk/bench' }, fields: { booked: { total: 'price' }, mc: {} } }],
      },
      forms: {
        defaultCountry: 'RU',
        list: [
          {
            id: 'ack',
            account: SANDBOX_ACCOUNT,
            lead: { pipeline: 'Продажи' },
            origins: ['https://site.example'],
            throttle: { perMinute: 10_000, perHour: 100_000 },
          },
        ],
      },
    },
  });
  const amo = runner.amo!;
  seedLocalOnec(amo.sandbox!.admin);
  const run = randomUUID().slice(0, 8);
  const hookUrl = await amo.hookUrl();
  const hooks = benchBodies();
  const booked = fixtureBytes('rdesk/booked.json').toString();
  const mc = fixtureBytes('rdesk/mc.json').toString();
  const chatKey = await amo.secrets.get(LOCAL_CHAT_SECRETS.apiKey);
  const chatSecret = await amo.secrets.get(LOCAL_CHAT_SECRETS.channel);
  const integration = amo.config.integrations[0]!;
  const clientSecret = await amo.secrets.get(SANDBOX_SECRETS.clientSecret);
  const accepted: string[] = [];

  const routes: Record<string, (i: number) => Promise<Response>> = {
    'amocrm-hook': (i) =>
      fetch(hookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': 'amoCRM-Webhooks/3.0',
          'x-amocrm-requestid': `${run}-${i}`,
        },
        body: varyWebhook(hooks[i % hooks.length]!, i + 1),
      }),
    'zdrav-booked': (i) =>
      fetch(`${runner.url}/zdrav/booked/${RDESK_TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: booked.replace('"lead_id": "23392663"', `"lead_id": "${23_392_663 + (i % 50)}"`).replace('"paid": 61361', `"paid": ${i}`),
      }),
    'zdrav-mc': (i) =>
      fetch(`${runner.url}/zdrav/mc/${RDESK_TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: mc.replace('"lead_id": 11642589', `"lead_id": ${11_642_589 + (i % 50)}`).replace('"price": 850', `"price": ${850 + i}`),
      }),
    forms: (i) =>
      fetch(`${runner.url}/forms/ack`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', referer: 'https://site.example/' },
        body: new URLSearchParams({
          name: `Ack ${i}`,
          phone: `+7916${String(3_000_000 + i).padStart(7, '0')}`,
          comment: `ack ${run} ${i}`,
        }).toString(),
      }),
    'forms-preflight': () =>
      fetch(`${runner.url}/forms/ack`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://site.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      }),
    'chat-inbound': (i) => postChatInbound(runner.url, chatKey, run, 'ack', i),
    'amojo-callback': (i) => postAmojoCallback(runner.url, 'ack-scope', chatSecret, run, i),
    onec: async (i) => {
      const res = await fetch(`${runner.url}/1c/update_course`, {
        method: 'POST',
        headers: { 'x-api-key': ONEC_KEY, 'content-type': 'application/x-www-form-urlencoded' },
        body: sampleCourseForm({ 'ItemPrices[2][Price]': String(2000 + i) }).toString(),
      });
      const clone = res.clone();
      const j = (await clone.json().catch(() => ({}))) as { request_id?: string };
      if (j.request_id && accepted.length < 1000) accepted.push(j.request_id);
      return res;
    },
    'onec-status': (i) =>
      fetch(`${runner.url}/1c/requests/${accepted[i % Math.max(1, accepted.length)] ?? 'none'}`, { headers: { 'x-api-key': ONEC_KEY } }),
    'oauth-callback': (i) =>
      fetch(
        `${runner.url}/oauth/callback?code=def${run}${i}&state=not-issued-${run}-${i}&referer=${encodeURIComponent(amo.sandbox!.accountHost)}`,
        {
          redirect: 'manual',
        },
      ),
    'oauth-disconnect': (i) => {
      const account = String(900_000_000 + i);
      const q = new URLSearchParams({
        client_uuid: integration.clientId,
        account_id: account,
        signature: disconnectSignature(integration.clientId, account, clientSecret),
      });
      return fetch(`${runner.url}/oauth/disconnect?${q.toString()}`);
    },
  };

  console.log(
    `ack-routes: ${n} requests per route, ${concurrency} in flight (local runner --memory, sandbox, worker consuming); ${cpus().length} cores, Node ${process.version}, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log('  route               p50 ms   p95 ms   p99 ms   max ms   req/s  statuses');
  try {
    for (const [id, send] of Object.entries(routes)) {
      if (only.length && !only.includes(id)) continue;
      await mapLimit(
        Array.from({ length: 20 }, (_, i) => i),
        10,
        async (i) => void (await (await send(100_000 + i)).arrayBuffer()),
      );
      const f = await timeRequests(n, concurrency, send);
      const pad = (x: number, w: number) => String(x).padStart(w);
      const statuses = Object.entries(f.statuses)
        .map(([st, c]) => `${st}×${c}`)
        .join(' ');
      console.log(
        `  ${id.padEnd(18)} ${pad(f.p50, 7)}  ${pad(f.p95, 7)}  ${pad(f.p99, 7)}  ${pad(f.max, 7)}  ${pad(f.perSecond, 6)}  ${statuses}`,
      );
    }
    console.log(
      `  load average at the end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await runner.stop();
    await onec.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
