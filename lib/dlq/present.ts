/**
 * Presenting a parked message to a human (pure): path tokens masked, everything else redacted
 * unless raw; and the body a replay sends back to the main queue.
 */
import { mediaType } from '../common/media-type.ts';
import { envelopeBody, envelopeMessageBody, type Envelope } from '../envelope.ts';
import { redact } from '../common/redact.ts';
import type { ParkedMessage } from './parked.ts';

/**
 * The main-queue body of a replayed message: `attempt` and `deferrals` removed and `replayedAt`
 * set (fresh tries and a fresh deferral window: a replayed `deferred-too-long` message must not
 * be parked again at its first deferral), everything else kept (`lastError` as history).
 */
export function replayBody(p: Pick<ParkedMessage, 'body' | 'envelope'>, replayedAt: number): string {
  if (!p.envelope) return p.body; // not an envelope: sent back exactly as it was parked
  const raw = JSON.parse(p.body) as Record<string, unknown>;
  // Work on the raw JSON, not the parsed envelope: fields this version does not know survive.
  const { attempt: _attempt, deferrals: _deferrals, ...rest } = raw;
  return envelopeMessageBody({ ...rest, replayedAt });
}

export interface EnvelopeSummary {
  route: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** ISO. */
  receivedAt: string;
  requestId: string;
  sourceIp: string;
  attempt: number;
  deferrals: number;
  lastError: string | undefined;
  bodyBytes: number;
  contentType: string | undefined;
}

/** Path parameters are per-account secrets (e.g. the amoCRM hook token): never shown, only their length. */
export function maskParam(value: string): string {
  return `[masked, ${value.length} chars]`;
}

export function summarizeEnvelope(env: Envelope, opts: { raw?: boolean } = {}): EnvelopeSummary {
  const secrets = Object.values(env.params);
  const clean = (v: string) => (opts.raw ? v : redact(v, secrets));
  const map = (m: Record<string, string>, f: (v: string) => string) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, f(v)]));
  return {
    route: env.route,
    params: map(env.params, (v) => (opts.raw ? v : maskParam(v))),
    query: map(env.query, clean),
    headers: map(env.headers, clean),
    receivedAt: new Date(env.receivedAt).toISOString(),
    requestId: env.requestId,
    sourceIp: env.sourceIp,
    attempt: env.attempt ?? 0,
    deferrals: env.deferrals ?? 0,
    lastError: env.lastError === undefined ? undefined : clean(env.lastError),
    bodyBytes: envelopeBody(env).length,
    contentType: env.headers['content-type'],
  };
}

export interface RenderedBody {
  kind: 'form' | 'json' | 'text' | 'binary';
  /** Lines to print. */
  lines: string[];
  redacted: boolean;
}

function decodeFormPart(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * The body for a human: form bodies decoded to `key = value` lines (amoCRM's hooks percent-encode
 * every email and phone, so redaction must look at the decoded text), JSON pretty-printed, text
 * as is; phones, emails, tokens and the path tokens redacted. `raw` gives the exact bytes instead
 * (UTF-8 text as is, anything else as base64).
 */
export function renderBody(env: Envelope, opts: { raw?: boolean } = {}): RenderedBody {
  const bytes = envelopeBody(env);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return opts.raw
      ? { kind: 'binary', lines: [bytes.toString('base64')], redacted: false }
      : { kind: 'binary', lines: [`(${bytes.length} bytes, not UTF-8 text; --raw prints them as base64)`], redacted: true };
  }
  const ct = mediaType(env.headers['content-type']) ?? '';
  if (opts.raw)
    return {
      kind: ct.includes('json') ? 'json' : ct === 'application/x-www-form-urlencoded' ? 'form' : 'text',
      lines: [text],
      redacted: false,
    };
  const secrets = Object.values(env.params);
  const clean = (s: string) => redact(s, secrets);
  if (ct === 'application/x-www-form-urlencoded') {
    const lines =
      text === ''
        ? []
        : text.split('&').map((pair) => {
            const eq = pair.indexOf('=');
            const k = decodeFormPart(eq < 0 ? pair : pair.slice(0, eq));
            const v = eq < 0 ? '' : decodeFormPart(pair.slice(eq + 1));
            return clean(`${k} = ${v}`);
          });
    return { kind: 'form', lines, redacted: true };
  }
  if (ct.includes('json')) {
    try {
      return { kind: 'json', lines: clean(JSON.stringify(JSON.parse(text), null, 2)).split('\n'), redacted: true };
    } catch {
      /* declared JSON, is not: show as text */
    }
  }
  return { kind: 'text', lines: clean(text).split('\n'), redacted: true };
}
