/**
 * POST /forms/{form_id} and its preflight, through the ingress core with in-memory ports: every
 * answer of the table in lib/flows/forms/README.md, what is queued (an envelope whose body parses
 * with submissionSchema) and what is not.
 */
import { describe, expect, it } from 'vitest';
import { envelopeBody } from '../../../lib/envelope.ts';
import { formsSchema } from '../../../lib/flows/forms/config.ts';
import { METRIC } from '../../../lib/metrics.ts';
import { FORM_KEY, harness, multipart } from './support.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const VALID = 'name=%D0%90%D0%BD%D0%BD%D0%B0&phone=8+(999)+123-45-67&email=+Anna%40Example.COM+&agree=on';

describe('accepted posts', () => {
  it('a valid urlencoded post → 202 {status, id}; one envelope of route forms whose body is the submission', async () => {
    const h = harness();
    const a = await h.post({
      sourceIp: '203.0.113.7',
      body: `${VALID}&utm_source=fields&comment=%D0%9F%D0%B5%D1%80%D0%B5%D0%B7%D0%B2%D0%BE%D0%BD%D0%B8%D1%82%D0%B5`,
      headers: {
        ...FORM,
        'user-agent': 'Mozilla/5.0',
        referer: 'https://clinic.example/landing?utm_source=query&utm_medium=cpc&yclid=123',
      },
    });
    expect(a.status).toBe(202);
    expect(a.json).toEqual({ status: 'accepted', id: '00000000-0000-4000-8000-000000000001' });
    expect(h.queued).toHaveLength(1);
    const env = h.queued[0]!;
    expect(env).toMatchObject({
      route: 'forms',
      params: { form_id: 'contact' },
      headers: { 'content-type': 'application/json' },
      requestId: 'req-1',
      sourceIp: '203.0.113.7',
    });
    expect(JSON.parse(envelopeBody(env).toString('utf8'))).toEqual({
      v: 1,
      id: '00000000-0000-4000-8000-000000000001',
      form: 'contact',
      receivedAt: 1_767_225_600_000,
      fields: {
        name: 'Анна',
        phone: '8 (999) 123-45-67',
        email: 'Anna@Example.COM',
        agree: 'on',
        utm_source: 'fields',
        comment: 'Перезвоните',
      },
      contact: { phone: '+79991234567', email: 'anna@example.com', name: 'Анна' },
      // The fields win; the page URL's query fills the rest.
      capture: { utm_source: 'fields', utm_medium: 'cpc', yclid: '123' },
      meta: {
        ip: '203.0.113.7',
        userAgent: 'Mozilla/5.0',
        page: 'https://clinic.example/landing?utm_source=query&utm_medium=cpc&yclid=123',
        referer: 'https://clinic.example/landing?utm_source=query&utm_medium=cpc&yclid=123',
      },
    });
    expect(h.submissions()).toHaveLength(1);
    expect(h.metrics.total(METRIC.formAccepted, { form: 'contact' })).toBe(1);
    // The log names the form and the id, never a value.
    expect(JSON.stringify(h.lines)).not.toMatch(/9991234567|anna@|Анна/i);
  });

  it('a page_url field is the page (and the capture source) before the Referer', async () => {
    const h = harness();
    await h.post({
      body: `${VALID}&page_url=${encodeURIComponent('https://clinic.example/p?gclid=G1&_ym_uid=42')}`,
      headers: { ...FORM, referer: 'https://clinic.example/' },
    });
    expect(h.submissions()[0]).toMatchObject({
      capture: { gclid: 'G1', _ym_uid: '42' },
      meta: { page: 'https://clinic.example/p?gclid=G1&_ym_uid=42', referer: 'https://clinic.example/' },
    });
  });

  it('JSON and multipart posts are the same submission; repeated fields are joined with ", "', async () => {
    const h = harness();
    const json = await h.post({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Анна', phone: '+7 999 123 45 67', agree: true, tags: ['a', 'b'] }),
    });
    const m = multipart(
      [
        ['name', 'Анна'],
        ['phone', '9991234567'],
        ['agree', 'yes'],
        ['tags', 'a'],
        ['tags', ' b '],
      ],
      { name: 'file', filename: 'x.txt', content: 'dropped' },
    );
    const mp = await h.post({ headers: { 'content-type': m.contentType }, body: m.body });
    expect([json.status, mp.status]).toEqual([202, 202]);
    const [s1, s2] = h.submissions();
    expect(s1).toMatchObject({ fields: { name: 'Анна', agree: 'true', tags: 'a, b' }, contact: { phone: '+79991234567' } });
    expect(s2).toMatchObject({ fields: { name: 'Анна', agree: 'yes', tags: 'a, b' }, contact: { phone: '+79991234567' } });
    expect(s2!.fields).not.toHaveProperty('file');
  });

  it('a Tilda-style form: capitalised fields, the contact name from a template', async () => {
    const h = harness();
    const a = await h.post({
      formId: 'tilda',
      body: 'Name=%D0%91%D0%BE%D1%80%D0%B8%D1%81&Phone=%2B7+(999)+123-45-67&tranid=1:2&formid=form1',
    });
    expect(a.status).toBe(202);
    expect(h.submissions()[0]).toMatchObject({ contact: { phone: '+79991234567', name: 'Борис' }, fields: { tranid: '1:2' } });
  });
});

describe('a thank-you page (redirect)', () => {
  const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  it("a browser's plain form post (Accept: text/html) → 303 to the form's redirect; fetch (*/*) → 202 JSON; both queued", async () => {
    const h = harness();
    const nav = await h.post({ formId: 'landing', body: 'phone=89991234567', headers: { ...FORM, accept: HTML } });
    expect(nav).toMatchObject({ status: 303, body: '', headers: { location: 'https://clinic.example/thanks' } });
    expect((await h.post({ formId: 'landing', body: 'phone=89991234567', headers: { ...FORM, accept: '*/*' } })).status).toBe(202);
    // A form without redirect answers the JSON whatever the Accept.
    expect((await h.post({ formId: 'tilda', body: 'Phone=89991234567', headers: { ...FORM, accept: HTML } })).status).toBe(202);
    expect(h.queued).toHaveLength(3);
  });

  it('the config takes only an http(s) URL', () => {
    const form = (redirect: string) => ({ list: [{ id: 'x', account: 'clinic', redirect, lead: { pipeline: 'P' } }] });
    expect(formsSchema.safeParse(form('https://clinic.example/thanks?from=form')).success).toBe(true);
    expect(formsSchema.safeParse(form('javascript:alert(1)')).success).toBe(false);
    expect(formsSchema.safeParse(form('/thanks')).success).toBe(false);
  });

  it('the honeypot is redirected the same way (not queued); a refusal stays JSON', async () => {
    const h = harness();
    const spam = await h.post({ formId: 'landing', body: 'phone=89991234567&_gotcha=x', headers: { ...FORM, accept: HTML } });
    expect(spam).toMatchObject({ status: 303, headers: { location: 'https://clinic.example/thanks' } });
    const bad = await h.post({ formId: 'landing', body: 'phone=1', headers: { ...FORM, accept: HTML } });
    expect(bad).toMatchObject({ status: 400, json: { error: 'invalid' } });
    expect(h.queued).toHaveLength(0);
  });
});

describe('the checks, in order', () => {
  it('an unknown form → 404, nothing queued; a runner without a forms section knows no form', async () => {
    const h = harness();
    expect(await h.post({ formId: 'nope', body: VALID })).toMatchObject({ status: 404, json: { error: 'unknown-form' } });
    expect(h.metrics.total(METRIC.formRejected, { reason: 'unknown-form' })).toBe(1);
    const none = harness(null);
    expect((await none.post({ body: VALID })).status).toBe(404);
    expect([...h.queued, ...none.queued]).toHaveLength(0);
  });

  it('a keyed form: no key or a wrong one → 401 (before anything else of the post is read); the right key → 202', async () => {
    const h = harness();
    const body = 'phone=89991234567';
    expect(await h.post({ formId: 'partner', body })).toMatchObject({ status: 401, json: { error: 'bad-key' } });
    expect((await h.post({ formId: 'partner', body, headers: { ...FORM, 'x-form-key': `${FORM_KEY}x` } })).status).toBe(401);
    expect((await h.post({ formId: 'partner', body: 'garbage=%', headers: { ...FORM, 'x-form-key': 'short' } })).status).toBe(401);
    expect((await h.post({ formId: 'partner', body, headers: { ...FORM, 'x-form-key': FORM_KEY } })).status).toBe(202);
    expect(h.queued).toHaveLength(1);
    expect(h.metrics.total(METRIC.formRejected, { reason: 'bad-key' })).toBe(3);
  });

  it('Origin: a listed one gets CORS headers; another → 403; none (server, old client) passes; a form without origins takes any', async () => {
    const h = harness();
    const ok = await h.post({ body: VALID, headers: { ...FORM, origin: 'https://clinic.example' } });
    expect(ok.status).toBe(202);
    expect(ok.headers).toMatchObject({ 'access-control-allow-origin': 'https://clinic.example', vary: 'Origin' });
    const bad = await h.post({ body: VALID, headers: { ...FORM, origin: 'https://evil.example' } });
    expect(bad).toMatchObject({ status: 403, json: { error: 'origin-not-allowed' } });
    expect(bad.headers).not.toHaveProperty('access-control-allow-origin');
    expect((await h.post({ body: VALID })).headers).not.toHaveProperty('access-control-allow-origin');
    expect((await h.post({ formId: 'tilda', body: 'Phone=89991234567', headers: { ...FORM, origin: 'https://any.example' } })).status).toBe(
      202,
    );
    expect(h.queued).toHaveLength(3);
    expect(h.metrics.total(METRIC.formRejected, { reason: 'origin' })).toBe(1);
  });

  it('the preflight: 204 with CORS headers for a listed origin, 403 for another or a form without origins, 404 for an unknown form', async () => {
    const h = harness();
    const pre = (formId: string, origin?: string) =>
      h.post({ method: 'OPTIONS', formId, headers: { ...(origin ? { origin } : {}), 'access-control-request-method': 'POST' } });
    const ok = await pre('contact', 'https://clinic.example');
    expect(ok.status).toBe(204);
    expect(ok.body).toBe('');
    expect(ok.headers).toMatchObject({
      'access-control-allow-origin': 'https://clinic.example',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type, x-form-key',
      'access-control-max-age': '600',
    });
    expect((await pre('contact', 'https://evil.example')).status).toBe(403);
    expect((await pre('tilda', 'https://clinic.example')).status).toBe(403);
    expect((await pre('nope', 'https://clinic.example')).status).toBe(404);
    expect(h.queued).toHaveLength(0);
  });

  it('the per-IP throttle: over perMinute → 429 with Retry-After until the minute ends; another IP is not affected', async () => {
    const h = harness();
    const at = 1_767_225_600_000 + 15_000; // 15 s into a minute (and an hour)
    const sourceIp = '203.0.113.7';
    for (let i = 0; i < 3; i++) expect((await h.post({ body: VALID, receivedAt: at, sourceIp })).status).toBe(202);
    const t = await h.post({ body: VALID, receivedAt: at, sourceIp });
    expect(t).toMatchObject({ status: 429, json: { error: 'throttled', retryAfter: 45 } });
    expect(t.headers['retry-after']).toBe('45');
    expect((await h.post({ body: VALID, receivedAt: at, sourceIp: '198.51.100.1' })).status).toBe(202);
    // The next minute: allowed again, until the hour's 5 are spent (the refused 4th counted too).
    expect((await h.post({ body: VALID, receivedAt: at + 60_000, sourceIp })).status).toBe(202);
    const hour = await h.post({ body: VALID, receivedAt: at + 120_000, sourceIp });
    expect(hour.status).toBe(429);
    expect(Number(hour.headers['retry-after'])).toBe(3600 - 135);
    expect(h.queued).toHaveLength(5);
    expect(h.metrics.total(METRIC.formThrottled, { form: 'contact' })).toBe(2);
  });

  it('a body over the route limit → 413; a content type not taken → 415; a malformed body → 400 malformed', async () => {
    const h = harness();
    expect((await h.post({ body: `name=${'x'.repeat(64 * 1024)}` })).status).toBe(413);
    expect(await h.post({ body: VALID, headers: { 'content-type': 'text/plain' } })).toMatchObject({
      status: 415,
      json: { error: 'unsupported-media-type' },
    });
    expect(await h.post({ body: '{"a":{}}', headers: { 'content-type': 'application/json' } })).toMatchObject({
      status: 400,
      json: { error: 'malformed' },
    });
    expect(h.queued).toHaveLength(0);
  });

  it("Tilda's probe (test=test alone) → 200, nothing queued; test=test among other fields is an ordinary post", async () => {
    const h = harness();
    expect(await h.post({ formId: 'tilda', body: 'test=test' })).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(h.queued).toHaveLength(0);
    expect((await h.post({ formId: 'tilda', body: 'test=test&Phone=89991234567' })).status).toBe(202);
    expect(h.queued).toHaveLength(1);
  });

  it('the honeypot filled → answered exactly like an accepted post (202 with an id), counted FormSpam, not queued', async () => {
    const h = harness();
    const spam = await h.post({ body: `${VALID}&_gotcha=http://spam.example` });
    const real = await h.post({ body: VALID });
    expect(spam.status).toBe(real.status);
    expect(Object.keys(spam.json)).toEqual(Object.keys(real.json));
    expect(spam.json).toEqual({ status: 'accepted', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(spam.headers).toEqual(real.headers);
    expect(h.queued).toHaveLength(1);
    expect(h.metrics.total(METRIC.formSpam, { form: 'contact' })).toBe(1);
    // An empty honeypot is a real post, and the field is not kept.
    await h.post({ body: `${VALID}&_gotcha=` });
    expect(h.submissions()[1]!.fields).not.toHaveProperty('_gotcha');
  });

  it('invalid → 400 listing EVERY bad field, nothing queued', async () => {
    const h = harness();
    const a = await h.post({
      body: 'phone=12345&email=anna%40&visits=many&date=31.02.2026&site=ftp%3A%2F%2Fx&agree=maybe',
    });
    expect(a.status).toBe(400);
    expect(a.json).toEqual({
      error: 'invalid',
      fields: [
        { field: 'name', code: 'required', message: 'required' },
        { field: 'phone', code: 'invalid-phone', message: 'not a valid phone number' },
        { field: 'email', code: 'invalid-email', message: 'not a valid e-mail address' },
        { field: 'visits', code: 'invalid-number', message: 'not a number' },
        { field: 'date', code: 'invalid-date', message: 'not a date (YYYY-MM-DD or DD.MM.YYYY)' },
        { field: 'site', code: 'invalid-url', message: 'not an http(s) URL' },
        { field: 'agree', code: 'invalid-checkbox', message: 'not a checkbox value (on, yes, 1, …)' },
      ],
    });
    expect(h.queued).toHaveLength(0);
    expect(h.metrics.total(METRIC.formRejected, { reason: 'invalid' })).toBe(1);
  });

  it('400 for: neither phone nor e-mail, a phone with an extension, a value over maxLength, a missing required checkbox', async () => {
    const h = harness();
    const none = await h.post({ body: 'name=%D0%90&agree=on' });
    expect(none.json.fields).toEqual([
      { field: 'phone', code: 'phone-or-email-required', message: 'give a phone number or an e-mail address' },
      { field: 'email', code: 'phone-or-email-required', message: 'give a phone number or an e-mail address' },
    ]);
    const ext = await h.post({ body: `name=A&agree=on&phone=${encodeURIComponent('+7 999 123-45-67 доб. 5')}` });
    expect(ext.json.fields).toEqual([{ field: 'phone', code: 'phone-extension', message: expect.any(String) }]);
    const long = await h.post({ body: `name=${'я'.repeat(51)}&email=a%40b.ru` });
    expect(long.json.fields).toEqual([
      { field: 'name', code: 'too-long', message: 'at most 50 characters' },
      { field: 'agree', code: 'required', message: 'required' },
    ]);
    // 50 Cyrillic letters are 50 characters (100 bytes): accepted.
    expect((await h.post({ body: `name=${'я'.repeat(50)}&email=a%40b.ru&agree=1` })).status).toBe(202);
    expect(h.queued).toHaveLength(1);
  });

  it('the forms queue failing → 503 with Retry-After, counted FormEnqueueFailed', async () => {
    const h = harness();
    h.queueDown.value = true;
    const a = await h.post({ body: VALID, headers: { ...FORM, origin: 'https://clinic.example' } });
    expect(a).toMatchObject({ status: 503, json: { error: 'unavailable' } });
    expect(a.headers).toMatchObject({ 'retry-after': '5', 'access-control-allow-origin': 'https://clinic.example' });
    expect(h.metrics.total(METRIC.formEnqueueFailed)).toBe(1);
    expect(h.metrics.total(METRIC.formAccepted)).toBe(0);
  });

  it('a throttle that cannot be reached lets posts through (logged): it guards, it must not lose requests', async () => {
    const down = { hit: async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' })) };
    const h = harness(undefined, down);
    expect((await h.post({ body: VALID })).status).toBe(202);
    expect(h.queued).toHaveLength(1);
    expect(h.lines.some((l) => l.level === 'error' && l.message.includes('throttle unavailable'))).toBe(true);
  });

  it("a keyed form whose secret cannot be read → 500, nothing queued, the secret's value never logged", async () => {
    const h = harness();
    h.secrets.down = true;
    const a = await h.post({ formId: 'partner', body: 'phone=89991234567', headers: { ...FORM, 'x-form-key': FORM_KEY } });
    expect(a).toMatchObject({ status: 500, json: { error: 'internal' } });
    expect(h.queued).toHaveLength(0);
    expect(JSON.stringify(h.lines)).not.toContain(FORM_KEY);
  });

  it('other methods → 405 with Allow', async () => {
    const h = harness();
    expect(await h.post({ method: 'GET' })).toMatchObject({ status: 405, headers: { allow: 'POST, OPTIONS' } });
  });
});
