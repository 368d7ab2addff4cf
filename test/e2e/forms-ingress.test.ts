/**
 * The forms ingress through the local runner over a real socket (the API Gateway stand-in → the
 * forms function as a Lambda proxy event → fauxqs), with the demo form `npm start` serves
 * (infra/local/amocrm.ts DEMO_FORMS; the README's examples post to it). The pollers stay paused,
 * so what the ingress queued is still on the forms queue to be read here.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { envelopeBody, parseEnvelope, type Envelope } from '../../lib/envelope.ts';
import { submissionSchema } from '../../lib/flows/forms/submission.ts';
import { METRIC } from '../../lib/metrics.ts';
import { startWorld, useWorlds, type World } from './support.ts';

useWorlds();

async function drain(w: World): Promise<Envelope[]> {
  const url = w.runner.queues.forms!.url;
  const out: Envelope[] = [];
  for (;;) {
    const r = await w.runner.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!r.Messages?.length) return out;
    out.push(...r.Messages.map((m) => parseEnvelope(m.Body ?? '')));
  }
}

const post = (w: World, body: string | URLSearchParams | FormData, headers: Record<string, string> = {}, form = 'contact') =>
  fetch(`${w.runner.url}/forms/${form}`, { method: 'POST', body, headers });

describe('POST /forms/{form_id} through the local runner', () => {
  it('valid posts (urlencoded, JSON, multipart) → 202 with an id; the forms queue holds one envelope each, a submission inside', async () => {
    const w = await startWorld({ pollers: false });
    const form = new URLSearchParams({ name: 'Анна', phone: '8 (999) 123-45-67', comment: 'Перезвоните', utm_source: 'site' });
    const r1 = await post(w, form, { referer: 'http://localhost:8080/?utm_medium=cpc' });
    expect(r1.status).toBe(202);
    const a1 = (await r1.json()) as { status: string; id: string };
    expect(a1).toEqual({ status: 'accepted', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    const r2 = await post(w, JSON.stringify({ name: 'Борис', email: ' Boris@Example.COM ' }), {
      'content-type': 'application/json',
      origin: 'http://localhost:8080',
    });
    expect(r2.status).toBe(202);
    expect(r2.headers.get('access-control-allow-origin')).toBe('http://localhost:8080');

    const fd = new FormData();
    fd.set('name', 'Вера');
    fd.set('phone', '+7 999 765 43 21');
    fd.set('attachment', new Blob(['not carried']), 'a.txt');
    const r3 = await post(w, fd);
    expect(r3.status).toBe(202);

    const queued = await drain(w);
    expect(queued).toHaveLength(3);
    const subs = queued.map((e) => {
      expect(e).toMatchObject({ route: 'forms', params: { form_id: 'contact' }, headers: { 'content-type': 'application/json' } });
      return submissionSchema.parse(JSON.parse(envelopeBody(e).toString('utf8')));
    });
    const byName = Object.fromEntries(subs.map((s) => [s.fields.name, s]));
    expect(byName['Анна']).toMatchObject({
      id: a1.id,
      form: 'contact',
      contact: { phone: '+79991234567', name: 'Анна' },
      capture: { utm_source: 'site', utm_medium: 'cpc' },
      meta: { ip: '127.0.0.1', page: 'http://localhost:8080/?utm_medium=cpc' },
    });
    expect(byName['Борис']?.contact).toEqual({ email: 'boris@example.com', name: 'Борис' });
    expect(byName['Вера']?.contact.phone).toBe('+79997654321');
    expect(byName['Вера']?.fields).not.toHaveProperty('attachment');
    expect(w.amo.metrics.total(METRIC.formAccepted, { form: 'contact' })).toBe(3);
    // The throttle counted on the runner's table (it fails open, so a broken one would only log).
    expect(w.lines.join('\n')).not.toContain('throttle unavailable');
  });

  it('invalid → 400 with the field errors and the queue stays empty; the probe and the honeypot queue nothing either', async () => {
    const w = await startWorld({ pollers: false });
    const bad = await post(w, new URLSearchParams({ phone: '12', email: 'x@' }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: 'invalid',
      fields: [
        { field: 'name', code: 'required', message: 'required' },
        { field: 'phone', code: 'invalid-phone', message: 'not a valid phone number' },
        { field: 'email', code: 'invalid-email', message: 'not a valid e-mail address' },
      ],
    });
    const badJson = await post(w, JSON.stringify({ name: 'A' }), { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { fields: Array<{ code: string }> }).fields.map((f) => f.code)).toEqual([
      'phone-or-email-required',
      'phone-or-email-required',
    ]);
    expect((await post(w, 'test=test', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(200);
    const spam = await post(w, new URLSearchParams({ name: 'Bot', phone: '89991234567', _gotcha: 'x' }));
    expect(spam.status).toBe(202);
    expect(await drain(w)).toEqual([]);
    expect(w.runner.depth('forms')).toMatchObject({ visible: 0, inFlight: 0, dlq: 0 });
    expect(w.amo.metrics.total(METRIC.formSpam, { form: 'contact' })).toBe(1);
  });

  it('the edge and the function refuse what is not a form post: unknown form 404, wrong type 415, a foreign origin 403; the preflight answers', async () => {
    const w = await startWorld({ pollers: false });
    expect((await post(w, 'name=A&phone=89991234567', { 'content-type': 'application/x-www-form-urlencoded' }, 'nope')).status).toBe(404);
    expect((await post(w, 'name=A', { 'content-type': 'text/plain' })).status).toBe(415);
    const foreign = await post(w, new URLSearchParams({ name: 'A', phone: '89991234567' }), { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    const pre = await fetch(`${w.runner.url}/forms/contact`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:8080',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    const get = await fetch(`${w.runner.url}/forms/contact`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    expect(await drain(w)).toEqual([]);
  });
});
