/**
 * The 1C API's front door (the `onec` function): authenticate, validate synchronously, queue, and
 * answer — 202 with a request id, 400 naming the fields, 401 on a bad key — plus the two reads
 * that answer at once: a request's status (its amoCRM ids once done) and the managers list.
 *
 * Auth: each caller has its own key (a secret), sent in `X-Api-Key`; the old MZPO API's
 * `secret_key` in the body is accepted too unless the caller's `bodyKey` is false. Keys are
 * compared in constant time (SHA-256 of both, then timingSafeEqual, against every caller).
 * No key or body value is ever logged or echoed.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type * as z from '../../common/zod.ts';
import type { SecretSource } from '../../config/secrets.ts';
import { noMetrics, type MetricsSink } from '../../common/metrics-sink.ts';
import { METRIC } from '../../metrics.ts';
import { BodyError, parseBody, type BodyValue } from './body.ts';
import type { OnecConfig } from './config.ts';
import { corpLeadSchema } from './corp.ts';
import { courseSchema, uidRequestSchema } from './course.ts';
import { JOB_VERSION, LEGACY_OPERATIONS, ONEC_OPERATIONS, type OnecJob, type OnecOperation, type OnecRequestStore } from './job.ts';

export type OnecRoute = { kind: 'operation'; op: string } | { kind: 'status'; id: string } | { kind: 'managers' };

export interface OnecHttpRequest {
  /** Lower-case names. */
  headers: Readonly<Record<string, string | undefined>>;
  body: string;
}

export interface OnecAnswer {
  status: number;
  body: unknown;
}

export interface OnecIngressDeps {
  config: OnecConfig;
  secrets: SecretSource;
  requests: OnecRequestStore;
  enqueue(job: OnecJob): Promise<void>;
  /** The managers list (a read of the corp account's users); absent = 404. */
  managers?: () => Promise<unknown>;
  newId?: () => string;
  now?: () => number;
  metrics?: MetricsSink;
}

const SCHEMAS: Record<OnecOperation, z.ZodMiniType> = {
  course: courseSchema,
  'course-delete': uidRequestSchema,
  'course-doubles': uidRequestSchema,
  'corp-lead': corpLeadSchema,
};

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The caller whose key this is (every caller compared, in constant time each), or undefined. */
async function callerOf(
  cfg: OnecConfig,
  secrets: SecretSource,
  header: string | undefined,
  bodyKey: string | undefined,
): Promise<string | undefined> {
  let found: string | undefined;
  const h = header ? digest(header) : undefined;
  const b = bodyKey ? digest(bodyKey) : undefined;
  for (const c of cfg.callers) {
    const key = digest(await secrets.get(c.key.secret));
    const viaHeader = h !== undefined && timingSafeEqual(h, key);
    const viaBody = c.bodyKey && b !== undefined && timingSafeEqual(b, key);
    if ((viaHeader || viaBody) && found === undefined) found = c.id;
  }
  return found;
}

export function resolveOperation(op: string): OnecOperation | undefined {
  return (ONEC_OPERATIONS as readonly string[]).includes(op) ? (op as OnecOperation) : LEGACY_OPERATIONS[op];
}

function configured(cfg: OnecConfig, op: OnecOperation): boolean {
  return op === 'corp-lead' ? cfg.corp !== undefined : cfg.catalog !== undefined;
}

/** `{ "amo_ids.0.entity_id": "Required", … }` */
function fieldErrors(issues: readonly z.core.$ZodIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of issues) {
    const k = i.path.join('.') || '(body)';
    out[k] ??= i.message;
  }
  return out;
}

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const denied: OnecAnswer = { status: 401, body: { error: 'unauthorized', message: 'Access denied!' } };

export async function handleOnec(route: OnecRoute, req: OnecHttpRequest, deps: OnecIngressDeps): Promise<OnecAnswer> {
  const metrics = deps.metrics ?? noMetrics;
  const cfg = deps.config;
  const header = req.headers['x-api-key'];

  if (route.kind !== 'operation') {
    const caller = await callerOf(cfg, deps.secrets, header, undefined);
    if (!caller) {
      metrics.count(METRIC.onecBadKey);
      return denied;
    }
    if (route.kind === 'managers') {
      if (!cfg.corp) return { status: 404, body: { error: 'not_configured', message: 'no onec.corp section' } };
      if (!deps.managers) return { status: 503, body: { error: 'unavailable', message: 'amoCRM is not reachable from this function' } };
      return { status: 200, body: await deps.managers() };
    }
    // Our ids are UUIDs (the 202 hands them out): anything else is unknown without a lookup — a
    // key over DynamoDB's 2048 bytes would fail the read and be answered 503 "try again".
    const rec = REQUEST_ID.test(route.id) ? await deps.requests.get(route.id) : undefined;
    // Another caller's request is not ours to show: the same answer as an unknown id.
    if (!rec || rec.caller !== caller) return { status: 404, body: { error: 'not_found', message: 'no such request' } };
    return {
      status: 200,
      body: {
        request_id: rec.id,
        operation: rec.op,
        status: rec.state,
        received_at: new Date(rec.receivedAt).toISOString(),
        ...(rec.finishedAt !== undefined ? { finished_at: new Date(rec.finishedAt).toISOString() } : {}),
        ...(rec.result ?? {}),
        ...(rec.error !== undefined ? { error: rec.error } : {}),
      },
    };
  }

  let payload: Record<string, BodyValue>;
  try {
    payload = parseBody(req.headers['content-type'], req.body);
  } catch (e) {
    // Unparseable: authenticate by the header alone before saying anything about the body.
    if (!(await callerOf(cfg, deps.secrets, header, undefined))) {
      metrics.count(METRIC.onecBadKey);
      return denied;
    }
    return { status: 400, body: { error: 'invalid_body', message: e instanceof BodyError ? e.message : 'unreadable body' } };
  }
  const bodyKey = typeof payload.secret_key === 'string' ? payload.secret_key : undefined;
  delete payload.secret_key;
  const caller = await callerOf(cfg, deps.secrets, header, bodyKey);
  if (!caller) {
    metrics.count(METRIC.onecBadKey);
    return denied;
  }
  const op = resolveOperation(route.op);
  if (!op || !configured(cfg, op)) return { status: 404, body: { error: 'unknown_operation', message: `no operation "${route.op}" here` } };
  const parsed = SCHEMAS[op].safeParse(payload);
  if (!parsed.success) return { status: 400, body: { error: 'invalid', fields: fieldErrors(parsed.error.issues) } };

  const id = (deps.newId ?? randomUUID)();
  const receivedAt = (deps.now ?? Date.now)();
  await deps.requests.put({ id, caller, op, state: 'queued', receivedAt });
  await deps.enqueue({ v: JOB_VERSION, id, caller, op, receivedAt, payload });
  metrics.count(METRIC.onecRequests, { operation: op });
  return { status: 202, body: { request_id: id, status: 'queued', status_url: `/1c/requests/${id}` } };
}
