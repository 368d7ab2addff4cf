/** Test wiring for the forms worker: a sandbox account, the processor over a real client, envelopes as the forms function queues them. */
import { randomUUID } from 'node:crypto';
import type { AmoClient, AmoClientForAccount } from '../../../lib/amocrm/client/client.ts';
import type { AmoClientOptions } from '../../../lib/amocrm/client/client.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { silentLog } from '../../../lib/common/log.ts';
import { buildContactIndex } from '../../../lib/contacts/build.ts';
import { createContactFinder } from '../../../lib/contacts/finder.ts';
import type { ContactIndexStore } from '../../../lib/contacts/index-store.ts';
import type { ContactFinder } from '../../../lib/contacts/types.ts';
import { DynamoContactIndex } from '../../../lib/store/contact-index.ts';
import { buildEnvelope, type Envelope } from '../../../lib/envelope.ts';
import { formsSchema, type FormsConfig } from '../../../lib/flows/forms/config.ts';
import { createFormsProcessors, type FormsDeps } from '../../../lib/flows/forms/processor.ts';
import { MemoryFormsState, type FormsStateStore } from '../../../lib/flows/forms/state.ts';
import { SUBMISSION_VERSION, type Submission } from '../../../lib/flows/forms/submission.ts';
import { processMessage, type MessageInput } from '../../../lib/pipeline/process.ts';
import type { RoutePolicy } from '../../../lib/pipeline/registry.ts';
import { routeTable } from '../../../lib/routes.ts';
import { fastClient, sandbox, type TestSandbox } from '../../client/support.ts';

export const ACC = 'acc1';

export interface World {
  sb: TestSandbox;
  client: AmoClient;
  api: () => AmoClientForAccount;
  /** The real contact finder (lib/contacts) over this client and the test's table. */
  finder: ContactFinder;
  index: ContactIndexStore;
  /** Builds the account's contact index (every contact, 250 per page), as the CLI does once. */
  buildIndex: () => Promise<void>;
}

export async function world(
  table: { doc: DynamoDBDocumentClient; tableName: string },
  extra: Partial<AmoClientOptions> = {},
): Promise<World> {
  const sb = await sandbox({ fast: true });
  sb.admin.seed({
    users: [
      { id: 11, name: 'Admin', is_admin: true },
      { id: 12, name: 'Anna' },
      { id: 13, name: 'Boris' },
    ],
    pipelines: [
      {
        id: 100,
        name: 'Sales',
        is_main: true,
        statuses: [
          { id: 1000, name: 'Unsorted', type: 1 },
          { id: 1001, name: 'New' },
          { id: 1002, name: 'Talking' },
        ],
      },
      { id: 200, name: 'Service', statuses: [{ id: 2001, name: 'Open' }] },
      // The burst's excluded pipeline (test/support/form-burst.ts).
      { id: 300, name: 'Партнёры', statuses: [{ id: 3001, name: 'Договор' }] },
    ],
    customFields: {
      leads: [
        {
          id: 301,
          name: 'Course',
          type: 'select',
          enums: [
            { id: 3011, value: 'Massage' },
            { id: 3012, value: 'Yoga' },
          ],
        },
        { id: 302, name: 'Seats', type: 'numeric' },
        { id: 303, name: 'Start', type: 'date' },
        { id: 304, name: 'Agree', type: 'checkbox' },
        { id: 305, name: 'Page', type: 'url' },
        {
          id: 306,
          name: 'Days',
          type: 'multiselect',
          enums: [
            { id: 3061, value: 'Mon' },
            { id: 3062, value: 'Tue' },
          ],
        },
        { id: 307, name: 'utm_source', type: 'text', code: 'UTM_SOURCE' },
      ],
      contacts: [{ id: 401, name: 'City', type: 'text' }],
    },
  });
  const { client } = fastClient(sb, extra);
  const api = () => client.forAccount({ clientId: 'client-test', accountKey: ACC });
  const index = new DynamoContactIndex(table);
  const finder = createContactFinder({ clientFor: api, index, log: silentLog, defaultCountry: 'RU' });
  const buildIndex = async () => {
    await buildContactIndex({ account: ACC, client: api(), index, defaultCountry: 'RU', restart: true });
  };
  return { sb, client, api, finder, index, buildIndex };
}

export function formsConfig(forms: Array<Record<string, unknown>>): FormsConfig {
  return formsSchema.parse({
    list: forms.map((f) => ({ account: ACC, lead: { pipeline: 'Sales' }, ...f })),
  });
}

export function processors(w: World, config: FormsConfig, over: Partial<FormsDeps> = {}) {
  return createFormsProcessors({
    config,
    clientFor: () => w.api(),
    finder: w.finder,
    state: new MemoryFormsState(),
    windowMs: 10,
    timeZone: 'UTC',
    ...over,
  });
}

export function submission(
  form: string,
  contact: Submission['contact'],
  fields: Record<string, string> = {},
  over: Partial<Submission> = {},
): Submission {
  return { v: SUBMISSION_VERSION, id: randomUUID(), form, receivedAt: Date.now(), fields, contact, capture: {}, meta: {}, ...over };
}

let n = 0;
/** An envelope as the forms function queues it (route `forms`). */
export function formEnvelope(sub: Submission | string, over: Partial<Envelope> = {}): Envelope {
  const body = typeof sub === 'string' ? sub : JSON.stringify(sub);
  const env = buildEnvelope(
    {
      routeId: 'forms',
      pathParams: { form_id: typeof sub === 'string' ? 'x' : sub.form },
      query: {},
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from(body),
      receivedAt: Date.now(),
      requestId: `req-${++n}-${Math.random().toString(36).slice(2)}`,
      sourceIp: '127.0.0.1',
    },
    ['content-type'],
  );
  return { ...env, ...over };
}

/** Runs envelopes through the real pipeline concurrently (as one SQS batch). */
export async function runBatch(procs: ReturnType<typeof processors>, envs: Envelope[], receiveCount = 1) {
  const queue = routeTable.queues.find((q) => q.id === 'forms')!;
  const routes = new Map<string, RoutePolicy>(routeTable.routes.map((r) => [r.id, r] as const));
  return Promise.all(
    envs.map((env, i) => {
      const msg: MessageInput = { messageId: `m-${i}`, body: JSON.stringify(env), receiveCount };
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

export type { FormsStateStore };
