/**
 * ONE table of inbound routes, queues, functions and schedules. The CDK app (infra/aws) and the
 * local runner (infra/local) both read it; nothing about routes is written twice.
 *
 * The schema refuses impossible combinations at load time (synth, `npm start`, tests):
 * FIFO with a batching window or a batch over 10, a queue route without a content type, a body
 * limit that cannot fit one SQS message once base64-encoded, dangling queue/function names, …
 */
import * as z from './common/zod.ts';
import { fifoKeysSchema } from './fifo-keys.ts';

/** SQS's maximum message size; the queues are created with it (docs/architecture.md#envelope). */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;
/** Room kept for the envelope's JSON around the base64 body (headers, params, bookkeeping). */
export const ENVELOPE_OVERHEAD_BYTES = 16_384;
/** The largest body that still fits one message after base64 (4/3 growth). */
export const MAX_QUEUED_BODY_BYTES = Math.floor(((SQS_MAX_MESSAGE_BYTES - ENVELOPE_OVERHEAD_BYTES) * 3) / 4);

/** Route, queue, function and schedule ids (the config names routes by it too). */
export const idSchema = z.string().check(z.regex(/^[a-z][a-z0-9-]{1,40}$/, 'ids are lower-case kebab-case'));
const id = idSchema;
const headerName = z.string().check(z.regex(/^[a-z0-9-]+$/, 'header names are lower-case'));
const text = () => z.string().check(z.minLength(1));
/** An integer within [min, max]. */
const int = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));

export const AUTH_KINDS = [
  'none', // nothing to check (documented per route why that is acceptable)
  'path-token', // a per-account secret in the path ({token}); checked by the worker, never at the edge
  'amojo-signature', // X-Signature = HMAC-SHA1(body, channel secret); checked by the worker
  'disconnect-hmac', // amoCRM's disconnect hook: HMAC-SHA256(client_id|account_id)
  'oauth-state', // OAuth redirect: state we issued + referer allow-list
  'api-key', // x-api-key header checked by the function
  'form-policy', // per form (the config's forms section): optional X-Form-Key, Origin allow-list, per-IP throttle; checked by the function
  'edge-api-key', // x-api-key checked at the edge: API Gateway API key + usage plan; the local runner checks the same key
] as const;

/** First path segments no route may use: the local runner's operator console lives there. */
export const RESERVED_PATH_PREFIXES: readonly string[] = ['/_console'];

const routeSchema = z
  .object({
    id,
    description: text(),
    /** OPTIONS only for a CORS preflight answered by a function (a queue route cannot answer one). */
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
    /** API Gateway path syntax: literal segments and `{param}` segments. */
    path: z.string().check(z.regex(/^(\/([A-Za-z0-9_-]+|\{[a-z_][a-z0-9_]*\}))+$/, 'path segments are literals or {param}')),
    /** Media types accepted (no parameters); empty for bodiless GETs. */
    contentTypes: z._default(z.array(z.string().check(z.regex(/^[a-z]+\/[a-z0-9.+-]+$/))), []),
    bodyLimitBytes: z.number().check(z.int(), z.positive()),
    target: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('queue'), queue: id }),
      z.object({
        kind: z.literal('function'),
        function: id,
        /**
         * The queue the function feeds with envelopes naming this route (the forms ingress validates,
         * then enqueues): the worker holds such messages to the same rules as a queue route's (wrong
         * queue → parked, no processor → parked), and the CDK app lets the function send there.
         */
        queue: z.optional(id),
      }),
    ]),
    auth: z.enum(AUTH_KINDS),
    /** Request headers kept in the envelope, lower-case. */
    headers: z._default(z.array(headerName), ['content-type', 'user-agent']),
    /** The fixed answer of a direct (queue) route once the message is stored. */
    ack: z.optional(z.object({ status: int(200, 299), body: z.string() })),
    /** A direct route to a FIFO queue: where MessageGroupId and MessageDeduplicationId come from (lib/fifo-keys.ts). */
    fifo: z.optional(fifoKeysSchema),
    /**
     * This route's own API Gateway throttle (requests per second, burst), tighter than the stage's;
     * absent: the stage's. API Gateway only: the local runner does not throttle.
     */
    throttle: z.optional(z.object({ rateLimit: z.number().check(z.positive()), burstLimit: z.number().check(z.int(), z.gte(1)) })),
  })
  .check(
    z.superRefine((r, ctx) => {
      // The local runner serves these itself, before the table (infra/local/http.ts): a route there would never be reached.
      const first = `/${r.path.split('/')[1] ?? ''}`;
      if (r.path === '/health' || RESERVED_PATH_PREFIXES.includes(first))
        ctx.addIssue({
          code: 'custom',
          message: `${r.id}: ${r.path} is reserved (the local runner's /health and ${RESERVED_PATH_PREFIXES.join(', ')})`,
        });
      if (r.fifo) {
        const params = new Set([...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
        for (const p of [...r.fifo.groupId, ...r.fifo.dedupId])
          if ('param' in p && !params.has(p.param))
            ctx.addIssue({ code: 'custom', message: `${r.id}: fifo keys name path parameter "${p.param}" the path lacks` });
      }
      if (r.target.kind === 'queue') {
        if (r.method === 'GET' || r.method === 'OPTIONS')
          ctx.addIssue({ code: 'custom', message: `${r.id}: a queue route needs a body (not ${r.method})` });
        if (r.contentTypes.length === 0)
          ctx.addIssue({ code: 'custom', message: `${r.id}: a queue route must list its content types (anything else gets 415)` });
        if (!r.ack) ctx.addIssue({ code: 'custom', message: `${r.id}: a queue route needs its fixed ack` });
        if (r.bodyLimitBytes > MAX_QUEUED_BODY_BYTES) {
          ctx.addIssue({
            code: 'custom',
            message: `${r.id}: bodyLimitBytes ${r.bodyLimitBytes} cannot fit one SQS message after base64 (max ${MAX_QUEUED_BODY_BYTES})`,
          });
        }
      }
    }),
  );

const queueSchema = z
  .object({
    id,
    description: text(),
    fifo: z._default(z.boolean(), false),
    /** Messages per worker invocation. */
    batchSize: int(1, 10_000),
    /** Seconds SQS waits to fill a batch (standard queues only). */
    batchingWindowSeconds: z._default(int(0, 300), 0),
    /** Failed tries (outcome *retry*) before the worker parks a message in the DLQ. */
    maxAttempts: int(1, 50),
    /** Must cover the consumer's timeout (AWS requires visibility ≥ function timeout). */
    visibilityTimeoutSeconds: int(1, 43_200),
    /** The function that consumes the queue. */
    consumer: id,
    /** Messages of one batch processed at once (standard queues; default 10). A flow that coalesces per batch wants its whole batch. */
    concurrency: z.optional(int(1, 10_000)),
    retentionDays: z._default(int(1, 14), 14),
    /**
     * SQS's own redrive (`maxReceiveCount`), a last-resort net under the worker's parking
     * (default: redriveMaxReceiveCount). On a FIFO queue every deferral is a receive, so the worker
     * reads this figure to park by itself before SQS would (docs/architecture.md#failure-semantics).
     */
    maxReceiveCount: z.optional(int(1, 1000)),
  })
  .check(
    z.superRefine((q, ctx) => {
      if (redriveMaxReceiveCount(q) <= q.maxAttempts)
        ctx.addIssue({
          code: 'custom',
          message: `${q.id}: maxReceiveCount must exceed maxAttempts (the worker parks first; SQS's redrive is a net)`,
        });
      if (q.fifo && q.batchSize > 10) ctx.addIssue({ code: 'custom', message: `${q.id}: a FIFO queue takes batches of at most 10` });
      if (q.fifo && q.batchingWindowSeconds > 0)
        ctx.addIssue({ code: 'custom', message: `${q.id}: a FIFO queue cannot have a batching window` });
      if (!q.fifo && q.batchSize > 10 && q.batchingWindowSeconds === 0) {
        ctx.addIssue({ code: 'custom', message: `${q.id}: batches over 10 need a batching window of at least 1 s` });
      }
    }),
  );

/** The DynamoDB actions a function def may be granted (each one names its partition keys, so `dynamodb:LeadingKeys` holds it). */
export const TABLE_ACTIONS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchGetItem', 'BatchWriteItem', 'Query'] as const;

const functionSchema = z
  .object({
    id,
    description: text(),
    /** Path of the handler file from the repository root; it exports `handler` and `createHandler`. */
    entry: z.string().check(z.regex(/^functions\/[a-z0-9-]+\.ts$/)),
    timeoutSeconds: int(1, 900),
    memoryMb: z._default(int(128, 10_240), 512),
    /**
     * Least privilege: the table items this function may touch, by partition-key prefix (IAM
     * `dynamodb:LeadingKeys`), and what it may do with them. Absent: no table access at all. The
     * prefixes are the ones lib/store/*.ts builds keys with (test/infra/iam.test.ts checks every
     * store prefix has an owner). Queues are derived, not listed: a function may send to the queues
     * its routes feed (`target.queue`) and, as a consumer, to the queues it consumes and their DLQs.
     */
    tableKeyPrefixes: z.optional(
      z
        .array(z.string().check(z.regex(/^[A-Z][A-Z0-9_]*#([A-Z][A-Z0-9_]*#)*$/, 'a key prefix like FORMTHR# or ONEC#REQ#')))
        .check(z.minLength(1)),
    ),
    /**
     * The config sections (top-level keys) whose secret references this function may read: it gets
     * GetSecretValue on exactly those secrets. Absent: every secret under the deployment's prefix
     * (the worker, whose flows read them all).
     */
    secretSections: z.optional(z.array(z.string().check(z.regex(/^[a-z][A-Za-z0-9]*$/, 'a top-level config key')))),
    /** DynamoDB item actions on those prefixes (never Scan: a scan names no leading key, so the condition cannot hold it). */
    tableActions: z.optional(z.array(z.enum(TABLE_ACTIONS)).check(z.minLength(1))),
  })
  .check(
    z.superRefine((f, ctx) => {
      if ((f.tableKeyPrefixes === undefined) !== (f.tableActions === undefined))
        ctx.addIssue({ code: 'custom', message: `${f.id}: tableKeyPrefixes and tableActions go together` });
    }),
  );

const scheduleSchema = z.object({
  id,
  description: text(),
  function: id,
  rateMinutes: int(1, 1440),
});

export const routeTableSchema = z
  .object({
    routes: z.array(routeSchema),
    queues: z.array(queueSchema),
    functions: z.array(functionSchema),
    schedules: z.array(scheduleSchema),
  })
  .check(
    z.superRefine((t, ctx) => {
      const dup = (kind: string, ids: string[]) => {
        const seen = new Set<string>();
        for (const i of ids) {
          if (seen.has(i)) ctx.addIssue({ code: 'custom', message: `duplicate ${kind} "${i}"` });
          seen.add(i);
        }
      };
      dup(
        'route id',
        t.routes.map((r) => r.id),
      );
      dup(
        'route',
        t.routes.map((r) => `${r.method} ${r.path.replace(/\{[^}]+\}/g, '{}')}`),
      );
      dup(
        'queue id',
        t.queues.map((q) => q.id),
      );
      dup(
        'function id',
        t.functions.map((f) => f.id),
      );
      dup(
        'schedule id',
        t.schedules.map((s) => s.id),
      );
      const queues = new Set(t.queues.map((q) => q.id));
      const fns = new Map(t.functions.map((f) => [f.id, f]));
      for (const r of t.routes) {
        if (r.target.kind === 'queue' && !queues.has(r.target.queue))
          ctx.addIssue({ code: 'custom', message: `${r.id}: unknown queue "${r.target.queue}"` });
        if (r.target.kind === 'queue') {
          const fifo = t.queues.find((q) => r.target.kind === 'queue' && q.id === r.target.queue)?.fifo ?? false;
          if (fifo && !r.fifo)
            ctx.addIssue({ code: 'custom', message: `${r.id}: a route to a FIFO queue needs its fifo keys (group and deduplication id)` });
          if (!fifo && r.fifo) ctx.addIssue({ code: 'custom', message: `${r.id}: fifo keys on a route to a standard queue` });
        } else if (r.fifo) ctx.addIssue({ code: 'custom', message: `${r.id}: fifo keys on a function route` });
        if (r.target.kind === 'function' && !fns.has(r.target.function))
          ctx.addIssue({ code: 'custom', message: `${r.id}: unknown function "${r.target.function}"` });
        if (r.target.kind === 'function' && r.target.queue !== undefined && !queues.has(r.target.queue))
          ctx.addIssue({ code: 'custom', message: `${r.id}: unknown queue "${r.target.queue}"` });
      }
      for (const q of t.queues) {
        const fn = fns.get(q.consumer);
        if (!fn) ctx.addIssue({ code: 'custom', message: `${q.id}: unknown consumer "${q.consumer}"` });
        else if (q.visibilityTimeoutSeconds < fn.timeoutSeconds) {
          ctx.addIssue({
            code: 'custom',
            message: `${q.id}: visibility timeout ${q.visibilityTimeoutSeconds}s is shorter than ${fn.id}'s timeout ${fn.timeoutSeconds}s`,
          });
        }
      }
      for (const s of t.schedules) {
        if (!fns.has(s.function)) ctx.addIssue({ code: 'custom', message: `schedule ${s.id}: unknown function "${s.function}"` });
      }
    }),
  );

export type RouteTableInput = z.input<typeof routeTableSchema>;
export type RouteTable = z.output<typeof routeTableSchema>;
export type Route = RouteTable['routes'][number];
export type QueueDef = RouteTable['queues'][number];
export type FunctionDef = RouteTable['functions'][number];
export type ScheduleDef = RouteTable['schedules'][number];

export class RouteTableError extends Error {
  override readonly name = 'RouteTableError';
}

export function defineRouteTable(input: RouteTableInput): RouteTable {
  // Parsed once per process, at import: zod's eval-compiled fast path would cost more to build than it saves (cold starts).
  const parsed = routeTableSchema.safeParse(input, { jitless: true });
  if (!parsed.success) {
    throw new RouteTableError(
      `invalid route table:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}${i.path.length ? ': ' : ''}${i.message}`).join('\n')}`,
    );
  }
  return parsed.data;
}

const KiB = 1024;
const FORM = 'application/x-www-form-urlencoded';
const JSON_CT = 'application/json';
const MULTIPART = 'multipart/form-data';
const OK_ACK = { status: 200, body: '{"status":"ok"}' };

export const routeTable: RouteTable = defineRouteTable({
  routes: [
    {
      id: 'amocrm-hook',
      description: 'amoCRM account webhooks (form-urlencoded, unsigned; the path token identifies the account)',
      method: 'POST',
      path: '/hooks/amocrm/{token}',
      contentTypes: [FORM],
      bodyLimitBytes: 512 * KiB,
      target: { kind: 'queue', queue: 'amocrm-hooks' },
      auth: 'path-token',
      headers: ['content-type', 'user-agent', 'x-amocrm-requestid'],
      ack: OK_ACK,
    },
    {
      id: 'zdrav-mc',
      description: 'RDESK/Zdravnitsa medical-centre pushes (JSON array of bookings)',
      method: 'POST',
      path: '/zdrav/mc/{token}',
      contentTypes: [JSON_CT],
      bodyLimitBytes: 256 * KiB,
      target: { kind: 'queue', queue: 'rdesk' },
      // RDESK's scripts cannot sign (the old gateway, github.com/dyuzha/amo-gate, had no authentication at all): a
      // per-account secret in the path, checked by the worker (lib/flows/rdesk).
      auth: 'path-token',
      headers: ['content-type', 'user-agent'],
      ack: OK_ACK,
    },
    {
      id: 'zdrav-booked',
      description: 'RDESK/Zdravnitsa booking pushes (JSON array of bookings)',
      method: 'POST',
      path: '/zdrav/booked/{token}',
      contentTypes: [JSON_CT],
      bodyLimitBytes: 256 * KiB,
      target: { kind: 'queue', queue: 'rdesk' },
      auth: 'path-token',
      headers: ['content-type', 'user-agent'],
      ack: OK_ACK,
    },
    {
      id: 'amojo-callback',
      description: 'amojo chat callbacks (JSON, X-Signature over the raw body; checked by the worker)',
      method: 'POST',
      path: '/chat/amojo/{scope_id}',
      contentTypes: [JSON_CT],
      bodyLimitBytes: 256 * KiB,
      target: { kind: 'queue', queue: 'amojo' },
      auth: 'amojo-signature',
      headers: ['content-type', 'user-agent', 'x-signature', 'date'],
      ack: OK_ACK,
    },
    {
      id: 'forms',
      description:
        'Site forms (form-urlencoded, multipart fields, JSON): validated by the forms function, then queued (lib/flows/forms/README.md)',
      method: 'POST',
      path: '/forms/{form_id}',
      contentTypes: [FORM, MULTIPART, JSON_CT],
      // A form's text fields; files are not carried (lib/flows/forms/ingress/parse.ts).
      bodyLimitBytes: 64 * KiB,
      target: { kind: 'function', function: 'forms', queue: 'forms' },
      auth: 'form-policy',
      // The envelope the function queues carries only its own content type (the submission holds the rest).
      headers: ['content-type'],
      // Assumed: a site's form posts, far below the stage's; the function also throttles per IP and form.
      throttle: { rateLimit: 20, burstLimit: 40 },
    },
    {
      id: 'forms-preflight',
      description: "CORS preflight of the site forms: 204 with the form's allowed origin, else 403",
      method: 'OPTIONS',
      path: '/forms/{form_id}',
      contentTypes: [],
      bodyLimitBytes: 1 * KiB,
      target: { kind: 'function', function: 'forms' },
      // A preflight carries no data; the answer only tells a browser what the form allows.
      auth: 'none',
      headers: [],
      throttle: { rateLimit: 20, burstLimit: 40 },
    },
    {
      id: 'chat-inbound',
      description:
        "Your messenger's messages and read receipts into amoCRM's chat (JSON contract, lib/amojo/README.md); FIFO per conversation",
      method: 'POST',
      path: '/chat/{channel}/messages',
      contentTypes: [JSON_CT],
      bodyLimitBytes: 64 * KiB,
      target: { kind: 'queue', queue: 'chat-in' },
      auth: 'edge-api-key',
      headers: ['content-type', 'user-agent'],
      ack: OK_ACK,
      // One group per conversation (order holds per chat); SQS drops a repeat of the same event id within 5 min.
      fifo: {
        groupId: [{ param: 'channel' }, { lit: ':' }, { body: 'conversation_id' }],
        dedupId: [{ param: 'channel' }, { lit: ':' }, { body: 'id' }],
      },
    },
    {
      id: 'oauth-callback',
      description: "amoCRM's OAuth redirect after consent: checks state + referer, exchanges the code at the account host, stores the pair",
      method: 'GET',
      path: '/oauth/callback',
      contentTypes: [],
      bodyLimitBytes: 1 * KiB,
      target: { kind: 'function', function: 'oauth' },
      auth: 'oauth-state',
      headers: ['user-agent', 'accept'],
      // Assumed: a person installing the integration; a flood here is never legitimate.
      throttle: { rateLimit: 2, burstLimit: 5 },
    },
    {
      id: 'oauth-disconnect',
      description: "amoCRM's access-revoked hook: HMAC-SHA256(client_id|account_id) verified, account marked disconnected",
      method: 'GET',
      path: '/oauth/disconnect',
      contentTypes: [],
      bodyLimitBytes: 1 * KiB,
      target: { kind: 'function', function: 'oauth' },
      auth: 'disconnect-hmac',
      headers: ['user-agent'],
      throttle: { rateLimit: 2, burstLimit: 5 },
    },
    // The 1C exchange (lib/flows/onec/README.md): validated and queued by the `onec` function.
    {
      id: 'onec',
      description: '1C requests (course upsert / delete / doubles, company + contact + lead): checked, queued, 202 + request id',
      method: 'POST',
      path: '/1c/{op}',
      contentTypes: [FORM, JSON_CT],
      bodyLimitBytes: 256 * KiB,
      target: { kind: 'function', function: 'onec', queue: 'onec' },
      auth: 'api-key',
      headers: ['content-type', 'user-agent', 'x-api-key'],
      // Assumed: one 1C server's exchange (catalog upserts come in bursts; the queue absorbs them).
      throttle: { rateLimit: 20, burstLimit: 40 },
    },
    {
      id: 'onec-status',
      description: "A 1C request's state and, once done, its amoCRM ids per account",
      method: 'GET',
      path: '/1c/requests/{request_id}',
      contentTypes: [],
      bodyLimitBytes: 1 * KiB,
      target: { kind: 'function', function: 'onec' },
      auth: 'api-key',
      headers: ['user-agent', 'x-api-key'],
      throttle: { rateLimit: 10, burstLimit: 20 },
    },
    {
      id: 'onec-managers',
      description: 'The managers 1C may assign (the old getManagers)',
      method: 'GET',
      path: '/1c/managers',
      contentTypes: [],
      bodyLimitBytes: 1 * KiB,
      target: { kind: 'function', function: 'onec' },
      auth: 'api-key',
      headers: ['user-agent', 'x-api-key'],
      // Each call may reach amoCRM (the users list): kept well under the account's rate budget.
      throttle: { rateLimit: 2, burstLimit: 5 },
    },
  ],
  queues: [
    {
      id: 'amocrm-hooks',
      description: 'amoCRM account webhooks awaiting parsing and the flows',
      // The whole batch at once: the rules' writes of every message meet in the batch writer
      // (lib/rules/writer.ts), so one batch of stage moves makes ⌈tasks / 50⌉ task requests.
      batchSize: 250,
      batchingWindowSeconds: 2,
      concurrency: 250,
      maxAttempts: 5,
      visibilityTimeoutSeconds: 180,
      consumer: 'worker',
    },
    {
      id: 'rdesk',
      description: 'RDESK pushes awaiting the field mapping',
      // Large batches, all processed at once: the flow coalesces the pushes of a batch per lead
      // (one read, one PATCH per 50 leads; lib/flows/rdesk/README.md).
      batchSize: 100,
      batchingWindowSeconds: 2,
      concurrency: 100,
      maxAttempts: 5,
      visibilityTimeoutSeconds: 180,
      consumer: 'worker',
    },
    {
      id: 'forms',
      description: 'Site-form submissions (validated by the forms function) awaiting the contact + lead flow',
      // The whole batch at once: the flow looks up a batch's contacts together and writes new
      // contacts + leads through leads/complex, ≤ 50 per request (lib/flows/forms/README.md).
      batchSize: 50,
      batchingWindowSeconds: 2,
      concurrency: 50,
      maxAttempts: 5,
      visibilityTimeoutSeconds: 180,
      consumer: 'worker',
    },
    {
      id: 'amojo',
      description: 'amojo chat callbacks awaiting the relay',
      batchSize: 10,
      maxAttempts: 5,
      visibilityTimeoutSeconds: 180,
      consumer: 'worker',
    },
    {
      id: 'chat-in',
      description: "Your messenger's chat events awaiting amojo (ordered per conversation)",
      fifo: true,
      batchSize: 10,
      maxAttempts: 5,
      visibilityTimeoutSeconds: 180,
      consumer: 'worker',
    },
    {
      id: 'onec',
      description: '1C requests (validated by the onec function) awaiting the catalog or corp operation',
      batchSize: 10,
      maxAttempts: 5,
      visibilityTimeoutSeconds: 180,
      consumer: 'worker',
    },
  ],
  functions: [
    {
      id: 'worker',
      description: 'SQS consumer: envelope → route processor → ok/defer/retry/park',
      entry: 'functions/worker.ts',
      timeoutSeconds: 60,
      memoryMb: 512,
      // Every flow's state: tokens (a refresh when one expires), rate budget + breaker, cache,
      // idempotency, DLQ index, FIFO ledger, rules, forms, contact index, RDESK, chat, 1C.
      tableKeyPrefixes: [
        'TOKEN#',
        'RATE#',
        'CACHE#',
        'IDEM#',
        'DLQ#',
        'FIFO#',
        'RULES#',
        'FORMS#',
        'CIDX#',
        'RDESK#',
        'CHAT#',
        'CHATSCOPE#',
        'CHATCONV#',
        'ONEC#',
      ],
      tableActions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchGetItem', 'BatchWriteItem', 'Query'],
    },
    {
      id: 'token-refresh',
      description: 'Refreshes every OAuth token past half its lifetime, exactly once',
      entry: 'functions/token-refresh.ts',
      timeoutSeconds: 60,
      memoryMb: 256,
      // The tokens and their refresh leases (lib/store/token-store.ts).
      tableKeyPrefixes: ['TOKEN#'],
      tableActions: ['GetItem', 'PutItem', 'DeleteItem'],
      // The integrations' client secrets (the refresh grant).
      secretSections: ['integrations'],
    },
    {
      id: 'forms',
      description: 'Site-form ingress: key, origin, throttle, validation, then the forms queue (202)',
      entry: 'functions/forms.ts',
      // An SQS send gives up at 5 s (lib/aws/forms-runtime.ts); the rest is milliseconds.
      timeoutSeconds: 10,
      memoryMb: 256,
      // Its per-IP throttle counters only (an atomic ADD).
      tableKeyPrefixes: ['FORMTHR#'],
      tableActions: ['UpdateItem'],
      // The forms' keys (X-Form-Key).
      secretSections: ['forms'],
    },
    {
      id: 'oauth',
      description: 'OAuth callback (code exchange) and the disconnect hook',
      entry: 'functions/oauth.ts',
      timeoutSeconds: 15,
      memoryMb: 256,
      // The OAuth state it takes and the token pair it stores (lib/store/token-store.ts).
      tableKeyPrefixes: ['TOKEN#', 'OAUTHSTATE#'],
      tableActions: ['GetItem', 'PutItem', 'DeleteItem'],
      // The client secrets: the code exchange and the disconnect hook's HMAC.
      secretSections: ['integrations'],
    },
    {
      id: 'onec',
      description: 'The 1C API: key check, validation, queueing; request status; managers',
      entry: 'functions/onec.ts',
      timeoutSeconds: 15,
      memoryMb: 256,
      // Its request records; the managers list calls amoCRM: the token, the rate budget + breaker, the cache.
      tableKeyPrefixes: ['ONEC#REQ#', 'TOKEN#', 'RATE#', 'CACHE#'],
      tableActions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
      // The callers' keys; the client secrets for a token refresh on the managers call.
      secretSections: ['onec', 'integrations'],
    },
  ],
  schedules: [{ id: 'token-refresh', description: 'Token refresh at half-life', function: 'token-refresh', rateMinutes: 5 }],
});

/**
 * SQS's redrive count of a queue: its own figure, else 50 for a standard queue (retries are
 * re-sends there, so receives stay few) and SQS's maximum, 1000, for a FIFO queue, where every
 * deferral and every retry is one more receive of the same message (docs/architecture.md#failure-semantics).
 */
export function redriveMaxReceiveCount(q: { fifo: boolean; maxReceiveCount?: number | undefined }): number {
  return q.maxReceiveCount ?? (q.fifo ? 1000 : 50);
}

/** Physical queue name (FIFO queues need the suffix). */
export function queueName(q: Pick<QueueDef, 'id' | 'fifo'>, prefix = 'amo-gateway'): string {
  return `${prefix}-${q.id}${q.fifo ? '.fifo' : ''}`;
}
export function dlqName(q: Pick<QueueDef, 'id' | 'fifo'>, prefix = 'amo-gateway'): string {
  return `${prefix}-${q.id}-dlq${q.fifo ? '.fifo' : ''}`;
}

/** Path template → matcher; `{param}` matches one non-empty segment. */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i] ?? '';
    const got = p[i] ?? '';
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (got === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(got);
      } catch {
        return undefined;
      }
      params[seg.slice(1, -1)] = decoded;
    } else if (seg !== got) {
      return undefined;
    }
  }
  return params;
}
