/** Test wiring for the RDESK flow: a sandbox account with the Здравница lead fields, the processors over a real client. */
import { buildEnvelope, type Envelope } from '../../../lib/envelope.ts';
import { rdeskSchema, type RdeskConfig } from '../../../lib/flows/rdesk/config.ts';
import { createRdeskProcessors, type RdeskDeps } from '../../../lib/flows/rdesk/processor.ts';
import type { MessageInput } from '../../../lib/pipeline/process.ts';
import { processMessage } from '../../../lib/pipeline/process.ts';
import { routeTable } from '../../../lib/routes.ts';
import { silentLog } from '../../../lib/common/log.ts';
import { fixtureBytes } from '../../support/fixtures.ts';
import { fastClient, sandbox, type TestSandbox } from '../../client/support.ts';
import type { AmoClient } from '../../../lib/amocrm/client/client.ts';

export const TOKEN = 'rdesk-secret-token-0001';
export const BOOKED = fixtureBytes('rdesk/booked.json');
export const MC = fixtureBytes('rdesk/mc.json');

/** The old gateway's Здравница field group (names from its lead card), seeded into the sandbox. */
export const FIELDS = [
  { name: 'Статус', type: 'text' },
  { name: 'Дата создания', type: 'date_time' },
  { name: 'Заезд', type: 'date' },
  { name: 'Выезд', type: 'date' },
  { name: 'Кол-во дней', type: 'numeric' },
  { name: 'Оплачено', type: 'numeric' },
  { name: 'ID здравница', type: 'text' },
  { name: 'Номер договора', type: 'numeric' },
  { name: 'Гости', type: 'textarea' },
  { name: 'Биллинг инфо', type: 'textarea' },
  { name: 'Лечение', type: 'textarea' },
  { name: 'Анализы', type: 'textarea' },
  { name: 'Пакеты', type: 'textarea' },
  { name: 'Комплексы', type: 'textarea' },
];

export const MAPPING = {
  booked: {
    status: 'Статус',
    bookedAt: 'Дата создания',
    checkin: 'Заезд',
    checkout: 'Выезд',
    days: 'Кол-во дней',
    total: 'price',
    paid: 'Оплачено',
    rdeskId: 'ID здравница',
    docNum: 'Номер договора',
    guests: 'Гости',
    bills: 'Биллинг инфо',
  },
  mc: {
    createdAt: 'Дата создания',
    rdeskId: 'ID здравница',
    total: 'price',
    paid: 'Оплачено',
    days: 'Кол-во дней',
    treatments: 'Лечение',
    labs: 'Анализы',
    packets: 'Пакеты',
    complexes: 'Комплексы',
  },
} as const;

export function rdeskConfig(over: Record<string, unknown> = {}): RdeskConfig {
  return rdeskSchema.parse({ accounts: [{ account: 'acc1', token: { secret: 'rdesk/acc1' }, fields: MAPPING, ...over }] });
}

export interface World {
  sb: TestSandbox;
  client: AmoClient;
  fieldId: (name: string) => number;
  requests: () => number;
  /** `METHOD route` of every request the client made (route without query values). */
  calls: () => string[];
}

export async function world(
  extraFields: Array<{ name: string; type: string; enums?: string[] }> = [],
  leads: Array<Record<string, unknown>> = [],
): Promise<World> {
  const sb = await sandbox({ fast: true });
  const seeded = sb.admin.seed({ customFields: { leads: [...FIELDS, ...extraFields] }, leads });
  const { client, events } = fastClient(sb);
  const byName = new Map((seeded.customFields.leads ?? []).map((f) => [f.name, f.id]));
  return {
    sb,
    client,
    fieldId: (n) => byName.get(n) as number,
    requests: () => events.filter((e) => e.type === 'request').length,
    calls: () => events.flatMap((e) => (e.type === 'request' ? [`${e.method} ${e.route}`] : [])),
  };
}

export function processors(w: World, config: RdeskConfig, over: Partial<RdeskDeps> = {}) {
  return createRdeskProcessors({
    config,
    secrets: { get: async (name: string) => (name.startsWith('rdesk/') ? TOKEN : Promise.reject(new Error(`no secret ${name}`))) },
    clientFor: () => w.client.forAccount({ clientId: 'client-test', accountKey: 'acc1' }),
    windowMs: 10,
    ...over,
  });
}

let n = 0;
/** An envelope as the edge builds it for an RDESK route. */
export function rdeskEnvelope(route: 'zdrav-booked' | 'zdrav-mc', body: Buffer | string, token = TOKEN, sourceIp = '127.0.0.1'): Envelope {
  return buildEnvelope(
    {
      routeId: route,
      pathParams: { token },
      query: {},
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'rdesk' },
      body: typeof body === 'string' ? Buffer.from(body) : body,
      receivedAt: Date.now(),
      requestId: `req-${++n}-${Math.random().toString(36).slice(2)}`,
      sourceIp,
    },
    ['content-type', 'user-agent'],
  );
}

/** Runs envelopes through the real pipeline concurrently (as one SQS batch), returning each result. */
export async function runBatch(procs: ReturnType<typeof processors>, envs: Envelope[]) {
  const queue = routeTable.queues.find((q) => q.id === 'rdesk')!;
  const routes = new Map(routeTable.routes.map((r) => [r.id, r]));
  return Promise.all(
    envs.map((env, i) => {
      const msg: MessageInput = { messageId: `m-${i}`, body: JSON.stringify(env), receiveCount: 1 };
      return processMessage(msg, {
        queue: { id: queue.id, fifo: queue.fifo, maxAttempts: queue.maxAttempts },
        routes,
        processors: procs.processors,
        log: silentLog,
        now: Date.now,
        random: Math.random,
      });
    }),
  );
}

/** The body of a sample with `lead_id` (and anything else) replaced. */
export function sample(which: 'booked' | 'mc', over: Record<string, unknown>): string {
  const [el] = JSON.parse((which === 'booked' ? BOOKED : MC).toString('utf8')) as Array<Record<string, unknown>>;
  return JSON.stringify([{ ...el, ...over }]);
}
