/**
 * `POST /forms/{form_id}` and its CORS preflight, free of AWS types: a request in, an answer out
 * (lib/aws/forms-http.ts adapts API Gateway's proxy event; functions/forms.ts is the front door).
 *
 * The checks, in this order (cheap and unauthenticated first; each one a different answer):
 *  1. method: OPTIONS is the preflight (below); anything but POST is 405;
 *  2. the form: unknown `{form_id}` → 404;
 *  3. the key: a form with `key` wants `X-Form-Key` equal to the secret (constant time) → else 401;
 *  4. the Origin: a form with `origins` refuses a request whose Origin header is present and not in
 *     the list → 403 (a request without Origin is a server or an old client; the key, if any, covers it);
 *  5. the size: a body over the route's limit → 413 (API Gateway only enforces its own 10 MB);
 *  6. the per-IP throttle (form + hash of the IP, per minute and per hour) → 429 with Retry-After;
 *  7. the body: a content type other than the three → 415; one that does not parse → 400 `malformed`;
 *  8. the probe (Tilda posts `test=test` when a form is connected) → 200, nothing queued;
 *  9. the honeypot filled → answered exactly like an accepted post (202 with an id), counted
 *     FormSpam, not queued;
 * 10. validation (fields + contact) → 400 `invalid` with EVERY bad field, nothing queued;
 * 11. the submission, as an envelope, to the forms queue → 202 `{"status":"accepted","id"}`
 *     (or 303 to the form's `redirect` for a browser's plain form post); a failed send → 503
 *     with Retry-After, counted FormEnqueueFailed (alarmed).
 *
 * Why the honeypot is not a silent drop: nothing was accepted into the pipeline (no message, no
 * promise to the sender that a person will see it); the post is refused at the edge like any other
 * refusal, only its answer is the accepted one so a bot cannot learn which field gave it away. It
 * is counted (FormSpam, by form) and logged, so a form whose real visitors fill it (an autofill
 * that writes into the hidden field) shows up on the dashboard instead of vanishing.
 *
 * Allowed origins get CORS headers on every answer (so a page can read a 400's field list); the
 * preflight answers 204 with them, or 403.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { safeErrorDescription } from '../../../common/errors.ts';
import type { Log } from '../../../common/log.ts';
import type { MetricsSink } from '../../../common/metrics-sink.ts';
import { noMetrics } from '../../../common/metrics-sink.ts';
import type { CountryCode } from '../../../common/phone.ts';
import { resolveSecret, type SecretSource } from '../../../config/secrets.ts';
import { buildEnvelope, type Envelope } from '../../../envelope.ts';
import { METRIC } from '../../../metrics.ts';
import type { FormConfig, FormsConfig } from '../config.ts';
import { SUBMISSION_VERSION, submissionSchema, type Submission } from '../submission.ts';
import { parseFormBody } from './parse.ts';
import { clientKey, formWindows, type FormThrottle } from './throttle.ts';
import { validateSubmission, type FieldError } from './validate.ts';

/** What the edge knows of one request to the forms route. */
export interface FormRequest {
  method: string;
  /** `{form_id}` of the path, decoded. */
  formId: string;
  /** Header names lower-case; a repeated header's last value. */
  headers: Readonly<Record<string, string>>;
  body: Uint8Array;
  sourceIp: string;
  receivedAt: number;
  requestId: string;
}

export interface FormAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Where accepted submissions go: the forms queue (lib/aws/forms-runtime.ts sends to SQS). */
export interface SubmissionQueue {
  send(envelope: Envelope): Promise<void>;
}

export interface FormsIngressDeps {
  /** The config's `forms` section; undefined: no forms (every form id is unknown). */
  forms: FormsConfig | undefined;
  secrets: SecretSource;
  throttle: FormThrottle;
  queue: SubmissionQueue;
  /** The route the envelope names (`forms`) and its body limit (lib/routes.ts). */
  route: { id: string; bodyLimitBytes: number };
  log: Log;
  metrics?: MetricsSink;
  newId?: () => string;
}

/** Seconds a sender is asked to wait after a failed enqueue. *assumed* */
export const ENQUEUE_RETRY_AFTER_SECONDS = 5;
/** How long a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;
/** A field that, when posted, names the page the form was on (else the Referer). */
export const PAGE_URL_FIELD = 'page_url';

const BASE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

type Cors = Record<string, string>;

function answer(status: number, body: unknown, cors: Cors, extra: Record<string, string> = {}): FormAnswer {
  return { status, headers: { ...BASE_HEADERS, ...cors, ...extra }, body: JSON.stringify(body) };
}

/** Is `origin` one of the form's origins (`*` allows any)? */
export function originAllowed(form: Pick<FormConfig, 'origins'>, origin: string): boolean {
  const o = origin.toLowerCase().replace(/\/+$/, '');
  return form.origins.some((a) => a === '*' || a.toLowerCase() === o);
}

function corsHeaders(form: FormConfig, origin: string | undefined): Cors {
  if (!origin || !originAllowed(form, origin)) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': 'Retry-After' };
}

/** Constant-time equality of two secrets of any length (their SHA-256 digests are compared). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

/**
 * The accepted answer: 202 JSON, or 303 to the form's thank-you page when the request is a
 * browser's plain form navigation (it prefers HTML; `fetch` asks for *\/* and gets the JSON).
 */
function accepted(form: FormConfig, req: FormRequest, id: string, cors: Cors): FormAnswer {
  if (form.redirect && /\btext\/html\b/i.test(req.headers.accept ?? '')) {
    return { status: 303, headers: { location: form.redirect, 'cache-control': 'no-store', ...cors }, body: '' };
  }
  return answer(202, { status: 'accepted', id }, cors);
}

function clip(s: string | undefined, max: number): string | undefined {
  if (s === undefined || s === '') return undefined;
  return s.length > max ? s.slice(0, max) : s;
}

/** Tracking values by capture key: the form's fields first, then the page URL's query. */
export function captureValues(
  form: FormConfig,
  fields: Readonly<Record<string, string>>,
  page: string | undefined,
): Record<string, string> {
  if (form.capture === false) return {};
  let query: URLSearchParams | undefined;
  try {
    query = page ? new URL(page).searchParams : undefined;
  } catch {
    query = undefined;
  }
  const out: Record<string, string> = {};
  for (const key of Object.keys(form.capture)) {
    const v = (fields[key] ?? '').trim() || (query?.get(key) ?? '').trim();
    if (v) out[key] = v.slice(0, 500);
  }
  return out;
}

export function createFormsIngress(deps: FormsIngressDeps) {
  const metrics = deps.metrics ?? noMetrics;
  const newId = deps.newId ?? randomUUID;
  const byId = new Map((deps.forms?.list ?? []).map((f) => [f.id, f]));
  const country = (deps.forms?.defaultCountry ?? 'RU') as CountryCode;
  const log = deps.log;

  const rejected = (reason: string, form: string | undefined, status: number) => {
    metrics.count(METRIC.formRejected, { reason });
    log.info('form post refused', { ...(form ? { form } : {}), reason, status });
  };

  function preflight(form: FormConfig, origin: string | undefined): FormAnswer {
    if (!origin) return { status: 204, headers: { allow: 'POST, OPTIONS', 'cache-control': 'no-store' }, body: '' };
    if (!originAllowed(form, origin)) {
      rejected('origin', form.id, 403);
      return answer(403, { error: 'origin-not-allowed', message: 'this origin may not post to this form' }, {});
    }
    return {
      status: 204,
      headers: {
        ...corsHeaders(form, origin),
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, x-form-key',
        'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
        'cache-control': 'no-store',
      },
      body: '',
    };
  }

  async function keyMatches(form: FormConfig, given: string | undefined): Promise<boolean> {
    if (!form.key) return true;
    if (!given) return false;
    return sameSecret(given, await resolveSecret(deps.secrets, form.key));
  }

  async function post(form: FormConfig, req: FormRequest): Promise<FormAnswer> {
    const origin = req.headers.origin;
    const cors = corsHeaders(form, origin);

    if (!(await keyMatches(form, req.headers['x-form-key']))) {
      rejected('bad-key', form.id, 401);
      return answer(401, { error: 'bad-key', message: 'X-Form-Key is missing or wrong' }, cors);
    }
    if (origin !== undefined && form.origins.length > 0 && !originAllowed(form, origin)) {
      rejected('origin', form.id, 403);
      return answer(403, { error: 'origin-not-allowed', message: 'this origin may not post to this form' }, {});
    }
    if (req.body.byteLength > deps.route.bodyLimitBytes) {
      rejected('too-large', form.id, 413);
      return answer(413, { error: 'too-large', message: `the body is over ${deps.route.bodyLimitBytes} bytes` }, cors);
    }

    try {
      const t = await deps.throttle.hit(form.id, clientKey(form.id, req.sourceIp), formWindows(form.throttle), req.receivedAt);
      if (!t.allowed) {
        metrics.count(METRIC.formThrottled, { form: form.id });
        log.info('form post throttled', { form: form.id, retryAfter: t.retryAfterSeconds });
        return answer(429, { error: 'throttled', message: 'too many posts; try again later', retryAfter: t.retryAfterSeconds }, cors, {
          'retry-after': String(t.retryAfterSeconds),
        });
      }
    } catch (e) {
      // Fail open: a throttle outage must not refuse people's requests; the throttle is a guard, not the gate.
      log.error('form throttle unavailable; post let through', { form: form.id, error: safeErrorDescription(e) });
    }

    const parsed = await parseFormBody(req.headers['content-type'], req.body);
    if (!parsed.ok) {
      if (parsed.kind === 'unsupported') {
        rejected('unsupported-media-type', form.id, 415);
        return answer(415, { error: 'unsupported-media-type', message: parsed.message }, cors);
      }
      rejected('malformed', form.id, 400);
      return answer(400, { error: 'malformed', message: parsed.message }, cors);
    }
    const fields = parsed.fields;

    const probe = fields.get(form.probe.field);
    if (probe && probe.length === 1 && probe[0] === form.probe.value && fields.size === 1) {
      log.info('form probe answered', { form: form.id });
      return answer(200, { status: 'ok' }, cors);
    }

    const id = newId();
    if ((fields.get(form.honeypot) ?? []).some((v) => v.trim() !== '')) {
      metrics.count(METRIC.formSpam, { form: form.id });
      log.info('form post: honeypot filled, not queued', { form: form.id, id });
      return accepted(form, req, id, cors);
    }

    const v = validateSubmission(form, fields, { defaultCountry: country, drop: [form.honeypot] });
    if (!v.ok) {
      rejected('invalid', form.id, 400);
      return answer(400, { error: 'invalid', fields: v.errors satisfies FieldError[] }, cors);
    }

    const referer = req.headers.referer;
    const page = clip(v.value.fields[PAGE_URL_FIELD] || referer, 2000);
    const submission: Submission = submissionSchema.parse({
      v: SUBMISSION_VERSION,
      id,
      form: form.id,
      receivedAt: req.receivedAt,
      fields: v.value.fields,
      contact: v.value.contact,
      capture: captureValues(form, v.value.fields, page),
      meta: {
        ...(clip(req.sourceIp, 64) ? { ip: clip(req.sourceIp, 64) } : {}),
        ...(clip(req.headers['user-agent'], 1000) ? { userAgent: clip(req.headers['user-agent'], 1000) } : {}),
        ...(page ? { page } : {}),
        ...(clip(referer, 2000) ? { referer: clip(referer, 2000) } : {}),
      },
    } satisfies Submission);
    const body = Buffer.from(JSON.stringify(submission));
    if (body.byteLength > deps.route.bodyLimitBytes) {
      // Escaping can grow a body near the limit past it; the worker would park it body-too-large.
      rejected('too-large', form.id, 413);
      return answer(413, { error: 'too-large', message: `the submission is over ${deps.route.bodyLimitBytes} bytes` }, cors);
    }
    const envelope = buildEnvelope(
      {
        routeId: deps.route.id,
        pathParams: { form_id: form.id },
        query: {},
        headers: { 'content-type': 'application/json' },
        body,
        receivedAt: req.receivedAt,
        requestId: req.requestId,
        sourceIp: req.sourceIp,
      },
      ['content-type'],
    );
    try {
      await deps.queue.send(envelope);
    } catch (e) {
      metrics.count(METRIC.formEnqueueFailed);
      log.error('form submission could not be queued', { form: form.id, id, error: safeErrorDescription(e) });
      return answer(503, { error: 'unavailable', message: 'the submission could not be stored; try again' }, cors, {
        'retry-after': String(ENQUEUE_RETRY_AFTER_SECONDS),
      });
    }
    metrics.count(METRIC.formAccepted, { form: form.id });
    log.info('form submission queued', { form: form.id, id });
    return accepted(form, req, id, cors);
  }

  return async function handle(req: FormRequest): Promise<FormAnswer> {
    const method = req.method.toUpperCase();
    if (method !== 'POST' && method !== 'OPTIONS') {
      return answer(405, { error: 'method-not-allowed', message: 'POST (or OPTIONS)' }, {}, { allow: 'POST, OPTIONS' });
    }
    const form = byId.get(req.formId);
    if (!form) {
      rejected('unknown-form', undefined, 404);
      return answer(404, { error: 'unknown-form', message: 'no such form' }, {});
    }
    if (method === 'OPTIONS') return preflight(form, req.headers.origin);
    try {
      return await post(form, req);
    } catch (e) {
      log.error('form post failed', { form: form.id, error: safeErrorDescription(e) });
      return answer(500, { error: 'internal', message: 'the post could not be handled; try again' }, corsHeaders(form, req.headers.origin));
    }
  };
}
