/** The forms ingress with in-memory ports (a recording queue, the memory throttle), for unit tests. */
import { formsSchema, type FormsConfig } from '../../../lib/flows/forms/config.ts';
import { createFormsIngress, type FormAnswer, type FormRequest } from '../../../lib/flows/forms/ingress/ingress.ts';
import { MemoryFormThrottle, type FormThrottle } from '../../../lib/flows/forms/ingress/throttle.ts';
import { envelopeBody, type Envelope } from '../../../lib/envelope.ts';
import { RecordingMetrics } from '../../../lib/ingest/metrics.ts';
import { submissionSchema, type Submission } from '../../../lib/flows/forms/submission.ts';
import { captureLog, TestSecrets } from '../../ingest/support.ts';

export const FORM_KEY = 'form-key-0123456789abcdef';

/** Two forms: `contact` (public, CORS for one origin, declared fields) and `partner` (keyed). */
export function testForms(): FormsConfig {
  return formsSchema.parse({
    defaultCountry: 'RU',
    list: [
      {
        id: 'contact',
        account: 'clinic',
        origins: ['https://clinic.example'],
        fields: {
          name: { required: true, maxLength: 50 },
          phone: { type: 'phone' },
          email: { type: 'email' },
          visits: { type: 'number' },
          date: { type: 'date' },
          site: { type: 'url' },
          agree: { type: 'checkbox', required: true },
        },
        throttle: { perMinute: 3, perHour: 5 },
        lead: { pipeline: 'Продажи' },
      },
      { id: 'partner', account: 'clinic', key: { secret: 'forms/partner' }, lead: { pipeline: 'Продажи' } },
      { id: 'landing', account: 'clinic', redirect: 'https://clinic.example/thanks', lead: { pipeline: 'Продажи' } },
      { id: 'tilda', account: 'clinic', contact: { phone: 'Phone', email: 'Email', name: '{Name}' }, lead: { pipeline: 'Продажи' } },
    ],
  });
}

export interface Harness {
  post(req: Partial<Omit<FormRequest, 'body'>> & { body?: Uint8Array | string }): Promise<FormAnswer & { json: Record<string, unknown> }>;
  queued: Envelope[];
  metrics: RecordingMetrics;
  lines: ReturnType<typeof captureLog>['lines'];
  secrets: TestSecrets;
  queueDown: { value: boolean };
  submissions(): Submission[];
}

/** `null`: no forms section. Each post comes from its own IP unless `sourceIp` is given (the throttle test gives one). */
export function harness(forms: FormsConfig | null = testForms(), throttle: FormThrottle = new MemoryFormThrottle()): Harness {
  const queued: Envelope[] = [];
  const metrics = new RecordingMetrics();
  const { log, lines } = captureLog();
  const secrets = new TestSecrets();
  secrets.values['forms/partner'] = FORM_KEY;
  const queueDown = { value: false };
  let n = 0;
  let ip = 0;
  const ingress = createFormsIngress({
    forms: forms ?? undefined,
    secrets,
    throttle,
    queue: {
      send: async (e) => {
        if (queueDown.value) throw Object.assign(new Error('boom'), { name: 'QueueDoesNotExist' });
        queued.push(e);
      },
    },
    route: { id: 'forms', bodyLimitBytes: 64 * 1024 },
    log,
    metrics,
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  });
  return {
    queued,
    metrics,
    lines,
    secrets,
    queueDown,
    async post(r) {
      const body = r.body === undefined ? new Uint8Array() : typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
      const a = await ingress({
        method: 'POST',
        formId: 'contact',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        sourceIp: `198.51.100.${++ip % 250}`,
        receivedAt: 1_767_225_600_000,
        requestId: 'req-1',
        ...r,
        body,
      });
      return { ...a, json: a.body ? (JSON.parse(a.body) as Record<string, unknown>) : {} };
    },
    submissions: () => queued.map((e) => submissionSchema.parse(JSON.parse(envelopeBody(e).toString('utf8')))),
  };
}

/** A multipart/form-data body with these fields (and optionally one file part). */
export function multipart(fields: Array<[string, string]>, file?: { name: string; filename: string; content: string }) {
  const boundary = '----amoFormBoundary7MA4YWxkTrZu0gW';
  let s = '';
  for (const [k, v] of fields) s += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  if (file)
    s += `--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: text/plain\r\n\r\n${file.content}\r\n`;
  s += `--${boundary}--\r\n`;
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.from(s) };
}
