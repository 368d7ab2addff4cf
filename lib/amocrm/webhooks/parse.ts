/**
 * parseAccountWebhook: an amoCRM account (or Digital Pipeline) webhook body → typed events.
 *
 * Pure and total: it never throws; every rejection is a ParseResult with a code and a message
 * that names paths, never values. The worker decides what a code means (docs/architecture.md#failure-semantics: an invalid
 * payload is parked at once with its reason).
 */
import { mediaType } from '../../common/media-type.ts';
import { createHash } from 'node:crypto';
import type * as z from '../../common/zod.ts';
import { FormDecodeError, bodyOrder, bodyText, orderKey, parseForm } from './form.ts';
import {
  accountSchema,
  catalogSchema,
  companySchema,
  contactSchema,
  leadSchema,
  messageSchema,
  noteItemSchema,
  talkSchema,
  taskSchema,
  unsortedSchema,
} from './schemas.ts';
import type { ParseError, ParseErrorCode, ParseResult, WebhookAccount, WebhookEvent, WebhookFamily, WebhookHeaders } from './types.ts';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const INDEX = /^(0|[1-9]\d{0,8})$/;

/** What a route produces for one item; `entityId` is read from the typed data. */
interface Route {
  entity: string;
  schema: z.ZodMiniType;
  entityId: (data: Record<string, unknown>) => string | number | undefined;
}

const byId = (d: Record<string, unknown>) => d.id as number | string | undefined;
const byEntityId = (d: Record<string, unknown>) => d.entity_id as number | undefined;

const LEAD_ACTIONS = new Set(['add', 'update', 'delete', 'restore', 'status', 'responsible']);
const CONTACT_ACTIONS = new Set(['add', 'update', 'delete', 'restore', 'responsible']);
const TASK_ACTIONS = new Set(['add', 'update', 'delete', 'responsible']);
const UNSORTED_ACTIONS = new Set(['add', 'update', 'delete']);
const CATALOG_ACTIONS = new Set(['add', 'update', 'delete']);
const TALK_ACTIONS = new Set(['add', 'update']);

/** Which schema reads an item, or why it stays raw. */
function route(key: string, action: string, item: unknown): Route | { raw: string } {
  switch (key) {
    case 'leads':
      if (action === 'note') return { entity: 'lead', schema: noteItemSchema, entityId: byEntityId };
      if (LEAD_ACTIONS.has(action)) return { entity: 'lead', schema: leadSchema, entityId: byId };
      break;
    case 'contacts': {
      // Companies share the `contacts` key; `type` tells them apart ("to avoid problems with
      // backward compatibility", K-WH). Notes carry `type` beside `note`, or element_type inside.
      const rec = isRecord(item) ? item : {};
      let type = rec.type;
      if (action === 'note' && type === undefined && isRecord(rec.note)) {
        type = rec.note.element_type === '1' ? 'contact' : rec.note.element_type === '3' ? 'company' : undefined;
      }
      if (type !== 'contact' && type !== 'company') {
        if (action === 'note' || CONTACT_ACTIONS.has(action)) return { raw: 'contacts item without type=contact|company' };
        break;
      }
      if (action === 'note') return { entity: type, schema: noteItemSchema, entityId: byEntityId };
      if (CONTACT_ACTIONS.has(action)) return { entity: type, schema: type === 'contact' ? contactSchema : companySchema, entityId: byId };
      break;
    }
    case 'task':
      if (TASK_ACTIONS.has(action)) return { entity: 'task', schema: taskSchema, entityId: byId };
      break;
    case 'unsorted':
      if (UNSORTED_ACTIONS.has(action)) return { entity: 'unsorted', schema: unsortedSchema, entityId: (d) => d.uid as string };
      break;
    case 'catalogs':
      if (CATALOG_ACTIONS.has(action)) return { entity: 'catalog', schema: catalogSchema, entityId: byId };
      break;
    case 'message':
      if (action === 'add') return { entity: 'message', schema: messageSchema, entityId: byId };
      break;
    case 'talk':
      if (TALK_ACTIONS.has(action)) return { entity: 'talk', schema: talkSchema, entityId: (d) => d.talk_id as number };
      break;
  }
  return { raw: `no typed kind for ${key}[${action}]` };
}

/** The Digital Pipeline form (webhooks-dp): only these keys, on leads[status] / leads[add]. */
const DP_KEYS = new Set(['id', 'status_id', 'pipeline_id', 'old_status_id', 'old_pipeline_id']);

function familyOf(key: string, action: string, item: unknown): WebhookFamily {
  if (key !== 'leads' || (action !== 'status' && action !== 'add') || !isRecord(item)) return 'account';
  const keys = Object.keys(item);
  return keys.includes('id') && keys.every((k) => DP_KEYS.has(k)) ? 'digital-pipeline' : 'account';
}

interface Candidate {
  key: string;
  action: string;
  /** Item index as in the body (`""` for a scalar action value). */
  idx: string;
  /** Second index when the doc's extra `{"0":{…}}` level was unwrapped. */
  sub: number;
  path: string;
  item: unknown;
}

/** The `entity[action][i]` items of the form, plus top-level pairs that are not containers. */
function collect(form: Record<string, unknown>): { candidates: Candidate[]; extras: Record<string, unknown> } {
  const candidates: Candidate[] = [];
  const extras: Record<string, unknown> = {};
  for (const [key, container] of Object.entries(form)) {
    if (key === 'account') continue;
    if (!isRecord(container)) {
      extras[key] = container;
      continue;
    }
    for (const [action, value] of Object.entries(container)) {
      const base = `${key}[${action}]`;
      const keys = isRecord(value) ? Object.keys(value) : [];
      if (!isRecord(value) || keys.length === 0 || !keys.every((k) => INDEX.test(k))) {
        // `{"entity":{"action":"id"}}` (doc form of deletes), or a block that is not a list.
        candidates.push({ key, action, idx: '', sub: 0, path: base, item: value });
        continue;
      }
      for (const idx of keys.sort((a, b) => Number(a) - Number(b))) {
        const item = value[idx];
        // The doc's task example nests one more `{"0": {…}}` level under the action.
        const inner = isRecord(item) ? Object.keys(item) : [];
        if (isRecord(item) && inner.length > 0 && inner.every((k, i) => k === String(i) && isRecord(item[k]))) {
          inner.forEach((k, i) => candidates.push({ key, action, idx, sub: i, path: `${base}[${idx}][${k}]`, item: item[k] }));
        } else {
          candidates.push({ key, action, idx, sub: 0, path: `${base}[${idx}]`, item });
        }
      }
    }
  }
  return { candidates, extras };
}

function header(headers: WebhookHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name || v === undefined) continue;
    return typeof v === 'string' ? v : v.join(',');
  }
  return undefined;
}

/** A usable request id: printable ASCII, no separators we use in keys, bounded. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * An id as it goes into an idempotency key. String ids (unsorted uid, message id, raw items) come
 * from the body: long or odd ones are replaced by a short hash so keys stay bounded (DynamoDB
 * keys are at most 2 KiB) and unambiguous.
 */
function keyPart(id: string | number | undefined): string {
  if (id === undefined) return '';
  const s = String(id);
  return /^[A-Za-z0-9._-]{0,80}$/.test(s) ? s : `h${createHash('sha256').update(s).digest('hex').slice(0, 24)}`;
}

function fail(code: ParseErrorCode, message: string, path?: string): ParseResult {
  const error: ParseError = path === undefined ? { code, message } : { code, message, path };
  return { ok: false, error };
}

/** A key or path shown in a message: bounded, control characters escaped. */
function show(s: string): string {
  const cut = s.length > 60 ? `${s.slice(0, 60)}…` : s;
  return JSON.stringify(cut);
}

function issuePath(base: string, path: readonly PropertyKey[]): string {
  return base + path.map((p) => `[${String(p)}]`).join('');
}

export function parseAccountWebhook(body: Uint8Array | string, headers?: WebhookHeaders): ParseResult {
  try {
    return parse(body, headers);
  } catch (e) {
    // Never throw to the worker: a bug here must park the message with a reason, not crash a batch.
    const what = e instanceof Error ? `${e.name}: ${e.message}` : 'non-error thrown';
    return fail('internal', `webhook parser failed unexpectedly (${what.slice(0, 200)})`);
  }
}

function parse(body: Uint8Array | string, headers: WebhookHeaders | undefined): ParseResult {
  if (body.length === 0) return fail('empty-body', 'the body is empty');

  let text: string;
  try {
    text = bodyText(body);
  } catch (e) {
    if (e instanceof FormDecodeError) return fail('invalid-encoding', e.message);
    throw e;
  }
  if (text.trim() === '') return fail('empty-body', 'the body holds only whitespace');

  const contentType = header(headers, 'content-type');
  if (contentType !== undefined) {
    const media = mediaType(contentType) ?? '';
    if (media !== 'application/x-www-form-urlencoded') {
      return fail('not-form', `content-type is ${show(media)}, expected application/x-www-form-urlencoded`);
    }
  }
  const head = text.trimStart()[0];
  if (head === '{' || head === '[') return fail('not-form', 'the body looks like JSON, not application/x-www-form-urlencoded');
  if (!text.includes('=')) return fail('not-form', 'the body has no name=value pair');

  let form: Record<string, unknown>;
  try {
    form = parseForm(text);
  } catch (e) {
    if (e instanceof FormDecodeError) {
      return e.kind === 'limits'
        ? fail('limits-exceeded', `the body exceeds the parser limits: ${e.message}`)
        : fail('invalid-encoding', e.message);
    }
    throw e;
  }

  const { candidates, extras } = collect(form);
  if (candidates.length === 0) {
    const keys = Object.keys(form);
    const seen = keys.length === 0 ? 'none' : keys.slice(0, 10).map(show).join(', ') + (keys.length > 10 ? ', …' : '');
    return fail('no-events', `the body holds no entity[action][i] items (top-level keys: ${seen})`);
  }

  const acc = accountSchema.safeParse(form.account ?? {});
  if (!acc.success) {
    const issue = acc.error.issues[0];
    const path = issuePath('account', issue?.path ?? []);
    return fail('invalid-account', `${path}: ${issue?.message ?? 'invalid'}`, path);
  }
  const account: WebhookAccount = acc.data;

  const rid = header(headers, 'x-amocrm-requestid')?.trim();
  const requestId = rid !== undefined && REQUEST_ID.test(rid) ? rid : undefined;
  const bodySha256 = createHash('sha256')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('hex');
  // An event whose item names its change time (`updated_at` / `last_modified`) is the same event
  // in the same bytes, whatever request id carries it: amoCRM's redelivery may come under a new
  // one (not documented either way), and a redelivery that arrives while the first delivery's
  // attempt failed must meet that attempt's records (its first-attempt marks, its markers) or it
  // writes a second time. An item without a time (a Digital Pipeline hook) keys on amoCRM's
  // request id when there is one: two deliveries with the same bytes may be two events; a
  // redelivery of those under a new id is caught one level up, by the delivery fingerprint
  // (lib/ingest/amocrm-hook.ts).
  const shaBase = `sha256:${bodySha256}`;
  const idBase = requestId !== undefined ? `rid:${requestId}` : shaBase;
  const keyBaseOf = (data: Record<string, unknown> | undefined) => (typeof data?.updated_at === 'number' ? shaBase : idBase);

  const order = bodyOrder(text);
  const posOf = (c: Candidate) => order.get(orderKey(c.key, c.action, c.idx)) ?? Number.MAX_SAFE_INTEGER;
  const sorted = candidates
    .map((c, i) => ({ c, i, pos: posOf(c) }))
    .sort((a, b) => a.pos - b.pos || a.c.sub - b.c.sub || a.i - b.i)
    .map((x) => x.c);

  const events: WebhookEvent[] = [];
  for (const [index, c] of sorted.entries()) {
    let item = c.item;
    const r = route(c.key, c.action, item);
    // Doc form of deletes: `leads[delete]=<id>` (only where the entity is unambiguous).
    if (c.idx === '' && typeof item === 'string' && /^\d{1,15}$/.test(item) && c.action === 'delete' && 'schema' in r) {
      item = { id: item };
    } else if (c.idx === '' && 'schema' in r) {
      // A known kind must be a list; a malformed one is parked with its reason, not guessed at.
      return fail('invalid-item', `${c.path}: expected a list of items (${c.path}[0][…])`, c.path);
    }
    const family = familyOf(c.key, c.action, item);
    if ('raw' in r) {
      const rawId = isRecord(c.item) && typeof c.item.id === 'string' ? c.item.id : undefined;
      const ev = {
        kind: 'raw' as const,
        entity: c.key,
        action: c.action,
        family,
        account,
        ...(rawId !== undefined ? { entityId: rawId } : {}),
        data: null,
        raw: c.item,
        index,
        path: c.path,
        reason: r.raw,
        idempotencyKey: `${idBase}:${keyPart(c.key)}:${keyPart(rawId)}:${keyPart(c.action)}:${index}`,
      };
      events.push(ev);
      continue;
    }
    const parsed = r.schema.safeParse(item);
    if (!parsed.success) {
      const issues = parsed.error.issues;
      const first = issues[0];
      const path = issuePath(c.path, first?.path ?? []);
      const more = issues.length > 1 ? ` (and ${issues.length - 1} more issue${issues.length > 2 ? 's' : ''})` : '';
      return fail('invalid-item', `${path}: ${first?.message ?? 'invalid'}${more}`, path);
    }
    const data = parsed.data as Record<string, unknown>;
    const entityId = r.entityId(data);
    // The union member is fixed by (entity, action), which route() and the schemas pair up;
    // TypeScript cannot follow that through the table, hence the cast.
    const ev = {
      kind: `${r.entity}.${c.action}`,
      entity: r.entity,
      action: c.action,
      family,
      account,
      ...(entityId !== undefined ? { entityId } : {}),
      data,
      raw: c.item,
      index,
      path: c.path,
      idempotencyKey: `${keyBaseOf(data)}:${r.entity}:${keyPart(entityId)}:${c.action}:${index}`,
    } as unknown as WebhookEvent;
    events.push(ev);
  }

  return {
    ok: true,
    account,
    events,
    ...(requestId !== undefined ? { requestId } : {}),
    bodySha256,
    ...(Object.keys(extras).length > 0 ? { extras } : {}),
  };
}
