/**
 * Bench: RDESK pushes through the worker's pipeline (the rdesk queue's batches, all of a batch at
 * once) into the sandbox at its strict 7-per-second limit, behind the client's rate budget.
 * Prints amoCRM calls per push, 429s, whether every lead ends at its newest push, and the old
 * gateway's count for the same pushes (it sent GET /leads/{id} + a PATCH of every field per push).
 * Prints figures; asserts nothing beyond exiting non-zero when a lead ends in the wrong state.
 *
 *   npx tsx bench/rdesk-coalescing.ts [--pushes 2000] [--leads 300]
 */
import { startSandbox } from '../infra/local/sandbox/index.ts';
import { AmoClient } from '../lib/amocrm/client/client.ts';
import { MemoryBreakerStore } from '../lib/amocrm/client/breaker-store.ts';
import { MemoryCacheStore } from '../lib/amocrm/client/cache-store.ts';
import { MemoryRateBudget } from '../lib/amocrm/client/rate-budget.ts';
import type { ClientEvent } from '../lib/amocrm/client/types.ts';
import { silentLog } from '../lib/common/log.ts';
import { buildEnvelope } from '../lib/envelope.ts';
import { rdeskSchema } from '../lib/flows/rdesk/config.ts';
import { createRdeskProcessors } from '../lib/flows/rdesk/processor.ts';
import { processMessage } from '../lib/pipeline/process.ts';
import { routeTable } from '../lib/routes.ts';
import { RDESK_BOOKED_FIELDS } from './support/old-way.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

async function main(): Promise<void> {
  const pushes = arg('pushes', 2000);
  const leadCount = arg('leads', 300);
  const queue = routeTable.queues.find((q) => q.id === 'rdesk')!;
  const batchSize = queue.batchSize;

  const sb = await startSandbox({
    integrations: [{ clientId: 'bench', clientSecret: 'bench-secret', redirectUri: 'https://gw.example/oauth/callback' }],
    log: () => {},
  });
  const fields = ['Статус', 'Оплачено', 'ID здравница', 'Гости', 'Биллинг инфо'].map((name) => ({
    name,
    type: name === 'Оплачено' ? 'numeric' : name === 'Гости' || name === 'Биллинг инфо' ? 'textarea' : 'text',
  }));
  const ids = Array.from({ length: leadCount }, (_, i) => 100_000 + i);
  const seeded = sb.admin.seed({
    customFields: { leads: [...fields, { name: 'Заезд', type: 'date' }, { name: 'Выезд', type: 'date' }] },
    leads: ids.map((id) => ({ id, name: `Бронь ${id}` })),
  });
  const paidField = seeded.customFields.leads!.find((f) => f.name === 'Оплачено')!.id;

  const token = sb.admin.issueLongLivedToken({ clientId: 'bench' }).access_token;
  const events: ClientEvent[] = [];
  const client = new AmoClient({
    tokens: { getToken: async () => ({ accessToken: token, baseUrl: sb.url }), onUnauthorized: async () => {} },
    budget: new MemoryRateBudget(),
    breaker: new MemoryBreakerStore(),
    cache: new MemoryCacheStore(),
    observer: (e) => events.push(e),
    mode: 'await',
  });
  const config = rdeskSchema.parse({
    accounts: [
      {
        account: 'bench',
        token: { secret: 'rdesk/bench' },
        fields: {
          booked: RDESK_BOOKED_FIELDS,
        },
      },
    ],
  });
  const { processors } = createRdeskProcessors({
    config,
    secrets: { get: async () => 'bench-token' },
    clientFor: () => client.forAccount({ clientId: 'bench', accountKey: 'bench' }),
  });

  // Pushes: a random lead each (seeded PRNG); paid grows, so the newest push per lead is known.
  let seed = 42;
  const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const newest = new Map<number, number>();
  const bodies = Array.from({ length: pushes }, (_, i) => {
    const lead = ids[Math.floor(rnd() * ids.length)]!;
    newest.set(lead, i);
    return JSON.stringify([
      {
        status: 'booked',
        bookedAt: '2026-01-10T09:00:00Z',
        checkin: '2026-08-25',
        checkout: '2026-09-05',
        money: { total: 150_000, paid: i },
        id: lead,
        lead_id: String(lead),
        billData: [{ billNum: String(lead), billSum: '150000', billPaidSum: String(i) }],
        extData: { guests: [{ fio: `Гость ${lead}`, stayCount: 1 }] },
      },
    ]);
  });

  const routes = new Map(routeTable.routes.map((r) => [r.id, r]));
  const started = Date.now();
  let notOk = 0;
  for (let b = 0; b < bodies.length; b += batchSize) {
    const batch = bodies.slice(b, b + batchSize).map((body, j) =>
      buildEnvelope(
        {
          routeId: 'zdrav-booked',
          pathParams: { token: 'bench-token' },
          query: {},
          headers: { 'Content-Type': 'application/json' },
          body: Buffer.from(body),
          receivedAt: started + b + j,
          requestId: `bench-${b + j}`,
          sourceIp: '127.0.0.1',
        },
        ['content-type'],
      ),
    );
    const results = await Promise.all(
      batch.map((env, j) =>
        processMessage(
          { messageId: `m-${b + j}`, body: JSON.stringify(env), receiveCount: 1 },
          { queue, routes, processors, log: silentLog, now: Date.now, random: Math.random },
        ),
      ),
    );
    notOk += results.filter((r) => r.outcome !== 'ok').length;
  }
  const seconds = (Date.now() - started) / 1000;

  const calls = events.filter((e) => e.type === 'request');
  const byKind = new Map<string, number>();
  for (const c of calls) if (c.type === 'request') byKind.set(`${c.method} ${c.route}`, (byKind.get(`${c.method} ${c.route}`) ?? 0) + 1);
  const status429 = sb.admin.count({ status: 429 });
  let wrong = 0;
  for (const [lead, i] of newest) {
    const l = sb.admin.lead(lead) as { custom_fields_values?: Array<{ field_id: number; values: Array<{ value: unknown }> }> };
    const paid = l.custom_fields_values?.find((f) => f.field_id === paidField)?.values[0]?.value;
    if (String(paid) !== String(i)) wrong++;
  }
  const oldCalls = pushes * 2;
  console.log(
    `pushes ${pushes} over ${leadCount} leads (${newest.size} touched), batches of ${batchSize} (the rdesk queue's), ${seconds.toFixed(1)} s`,
  );
  console.log(`amoCRM calls: ${calls.length} → ${(calls.length / pushes).toFixed(4)} per push`);
  for (const [k, n] of [...byKind].sort()) console.log(`  ${k}: ${n}`);
  console.log(`429s: ${status429}; pushes not ok: ${notOk}`);
  console.log(`final state: ${newest.size - wrong} of ${newest.size} leads hold their newest push${wrong ? ` — ${wrong} DO NOT` : ''}`);
  console.log(
    `the old way (GET /api/v4/leads/{id} + PATCH of every field, per push): ${oldCalls} calls → 2 per push, ≥ ${Math.ceil(oldCalls / 7)} s at 7/s`,
  );
  await sb.close();
  if (wrong > 0 || status429 > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
