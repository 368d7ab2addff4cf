/**
 * amojo (amoCRM / Kommo Chat API) request signing and callback verification.
 *
 * Pure functions shared by the real client (lib/amojo) and the sandbox (infra/local/sandbox/amojo/signing-check.ts),
 * so both sides are proven against the same official vectors (docs/amojo-protocol.md#test-vector).
 *
 * Requests to amojo (docs/amojo-protocol.md#request-signing, [chat-start] "Авторизация"):
 *   Content-MD5 = lowercase hex MD5 of the exact body bytes (MD5 of "" when there is no body)
 *   X-Signature = lowercase hex HMAC-SHA1(channel secret,
 *                   METHOD \n Content-MD5 \n Content-Type \n Date \n path-without-query)
 *   Date        = RFC 2822, valid for 15 minutes.
 * Callbacks from amojo (docs/amojo-protocol.md#callbacks, [chat-hooks]):
 *   X-Signature = lowercase hex HMAC-SHA1(channel secret, raw body)
 * [names] in brackets are the public sources listed in docs/amojo-protocol.md#sources.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The only Content-Type amojo supports ([chat-start]). It is part of the signed string. */
export const AMOJO_CONTENT_TYPE = 'application/json';

/** "The signature is valid for 15 minutes from this date" ([chat-start]; [kommo-chat-auth]). */
export const SIGNATURE_WINDOW_MS = 15 * 60 * 1000;

/** MD5 of the empty string: the Content-MD5 of a GET ([chat-api] history; [fcritic] tests). */
export const EMPTY_BODY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

export type BodyBytes = string | Uint8Array;

function toBuffer(body: BodyBytes | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  // A string is hashed as its UTF-8 bytes, which is what goes on the wire when it is sent as is.
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Lowercase hex MD5 over the exact bytes (a trailing newline counts). */
export function contentMd5(bytes: BodyBytes = ''): string {
  return createHash('md5').update(toBuffer(bytes)).digest('hex');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * `Wed, 15 Dec 2021 23:12:55 +0000`: PHP `date(DateTimeInterface::RFC2822)` in UTC, the form the docs
 * use (two-digit day, numeric zone). Not `toUTCString()` (`GMT`), which amojo tolerates but the docs
 * do not show (docs/amojo-protocol.md#signing-pitfalls).
 */
export function rfc2822Date(date: Date | number): string {
  const d = typeof date === 'number' ? new Date(date) : date;
  if (Number.isNaN(d.getTime())) throw new RangeError('rfc2822Date: invalid date');
  return (
    `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`
  );
}

const RFC2822_RE =
  /^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-]\d{4}|GMT|UT|UTC)$/;

/**
 * Parses an RFC 2822 date as amojo clients send it: numeric zone (`+0000`, `+0300`) or `GMT`
 * (`toUTCString()`, which working clients send and amojo accepts, docs/amojo-protocol.md#date-window).
 * Returns epoch ms, or undefined when the text is not such a date (a wrong weekday counts as wrong).
 */
export function parseRfc2822Date(text: string): number | undefined {
  const m = RFC2822_RE.exec(text);
  if (!m) return undefined;
  const [, dow, day, mon, year, hh, mm, ss, zone] = m;
  const month = MONTHS.indexOf(mon as (typeof MONTHS)[number]);
  const h = Number(hh),
    mi = Number(mm),
    s = Number(ss),
    dd = Number(day);
  if (h > 23 || mi > 59 || s > 60 || dd < 1 || dd > 31) return undefined;
  let ms = Date.UTC(Number(year), month, dd, h, mi, Math.min(s, 59));
  const check = new Date(ms);
  if (check.getUTCDate() !== dd) return undefined; // 31 Feb and the like
  if (dow !== undefined && DAYS[check.getUTCDay()] !== dow) return undefined;
  if (zone !== undefined && /^[+-]/.test(zone)) {
    const sign = zone.startsWith('-') ? -1 : 1;
    const offMin = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5));
    ms -= sign * offMin * 60_000;
  }
  return ms;
}

/** The path that is signed: no scheme, host, query or fragment ([chat-start] "без GET параметров"). */
export function signaturePath(pathOrUrl: string): string {
  let p = pathOrUrl;
  const schemeIdx = p.indexOf('://');
  if (schemeIdx !== -1) {
    const slash = p.indexOf('/', schemeIdx + 3);
    p = slash === -1 ? '/' : p.slice(slash);
  }
  const cut = p.search(/[?#]/);
  return cut === -1 ? p : p.slice(0, cut);
}

export interface StringToSignParts {
  method: string;
  contentMd5: string;
  contentType: string;
  date: string;
  /** The URL path as sent, without query string. */
  path: string;
}

/** The five lines of docs/amojo-protocol.md#the-signed-string, joined by `\n`, no trailing newline. Values go in as sent. */
export function stringToSign(p: StringToSignParts): string {
  return [p.method.toUpperCase(), p.contentMd5, p.contentType, p.date, p.path].join('\n');
}

function hmacSha1Hex(secret: string, data: string | Buffer): string {
  return createHmac('sha1', secret).update(data).digest('hex');
}

export interface SignRequestInput {
  method: string;
  /** Path (a query string or a full URL is accepted; only the path is signed). */
  path: string;
  /** The exact bytes that will be sent. Omit for GET. */
  body?: BodyBytes;
  date: Date | number;
}

// A type alias (not an interface) so it can be passed where a header record is expected.
export type AmojoSignedHeaders = {
  Date: string;
  'Content-Type': string;
  'Content-MD5': string;
  'X-Signature': string;
};

/**
 * Headers for one amojo request. Send the body exactly as passed here: re-serialising it changes
 * the MD5 (docs/amojo-protocol.md#signing-pitfalls). Content-Type is sent without charset because it is signed.
 */
export function signRequest(secret: string, req: SignRequestInput): AmojoSignedHeaders {
  const md5 = contentMd5(req.body ?? '');
  const date = rfc2822Date(req.date);
  const signature = hmacSha1Hex(
    secret,
    stringToSign({
      method: req.method,
      contentMd5: md5,
      contentType: AMOJO_CONTENT_TYPE,
      date,
      path: signaturePath(req.path),
    }),
  );
  return { Date: date, 'Content-Type': AMOJO_CONTENT_TYPE, 'Content-MD5': md5, 'X-Signature': signature };
}

/** Why a signed request was refused. Stable codes: the sandbox puts them in its error bodies. */
export type RequestSignatureFailure =
  | 'missing_header'
  | 'content_type'
  | 'content_md5_malformed'
  | 'content_md5_mismatch'
  | 'date_malformed'
  | 'date_out_of_window'
  | 'signature_malformed'
  | 'signature_mismatch';

export type VerifyResult<R extends string> = { ok: true } | { ok: false; reason: R; detail: string };

export interface VerifyRequestInput {
  method: string;
  /** Path as received; a query string, if present, is dropped before verifying. */
  path: string;
  /** Header lookup is case-insensitive. */
  headers: Readonly<Record<string, string | undefined>>;
  body?: BodyBytes;
  /** Epoch ms to compare Date against. */
  now: number;
  /** Defaults to 15 minutes. */
  windowMs?: number;
}

function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Constant-time comparison of two ASCII hex strings (length leaks, content does not). */
export function safeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX40 = /^[0-9a-f]{40}$/;

/**
 * Checks a request to amojo the way the sandbox enforces it. Order: headers present → Content-Type
 * exactly `application/json` → Content-MD5 over the exact bytes → Date parses and is within the
 * window (either side of `now`) → HMAC-SHA1 over the five lines, compared in constant time.
 *
 * *assumed* (docs silent): all four headers are required (the docs list them as required for every
 * method; the "empty string when missing" rule of [chat-start] is honoured by the signer only); hex
 * must be lowercase as the docs produce it (`strtolower`); the window applies to both past and
 * future dates (clock skew).
 */
export function verifyRequestSignature(secret: string, req: VerifyRequestInput): VerifyResult<RequestSignatureFailure> {
  const date = header(req.headers, 'date');
  const contentType = header(req.headers, 'content-type');
  const md5 = header(req.headers, 'content-md5');
  const signature = header(req.headers, 'x-signature');
  const missing = [
    ['Date', date],
    ['Content-Type', contentType],
    ['Content-MD5', md5],
    ['X-Signature', signature],
  ]
    .filter(([, v]) => v === undefined || v === '')
    .map(([n]) => n);
  if (missing.length > 0 || date === undefined || contentType === undefined || md5 === undefined || signature === undefined) {
    return { ok: false, reason: 'missing_header', detail: `missing header(s): ${missing.join(', ')}` };
  }
  if (contentType !== AMOJO_CONTENT_TYPE) {
    return {
      ok: false,
      reason: 'content_type',
      detail: `Content-Type must be exactly "${AMOJO_CONTENT_TYPE}" (it is signed), got "${contentType}"`,
    };
  }
  if (!HEX32.test(md5)) {
    return { ok: false, reason: 'content_md5_malformed', detail: 'Content-MD5 must be 32 lowercase hex digits' };
  }
  const actualMd5 = contentMd5(req.body ?? '');
  if (!safeEqualHex(md5, actualMd5)) {
    return { ok: false, reason: 'content_md5_mismatch', detail: 'Content-MD5 does not match the MD5 of the body bytes' };
  }
  const at = parseRfc2822Date(date);
  if (at === undefined) {
    return { ok: false, reason: 'date_malformed', detail: `Date is not an RFC 2822 date: "${date}"` };
  }
  const windowMs = req.windowMs ?? SIGNATURE_WINDOW_MS;
  if (Math.abs(req.now - at) > windowMs) {
    return {
      ok: false,
      reason: 'date_out_of_window',
      detail: `Date is ${Math.round((req.now - at) / 1000)} s away from now; the signature is valid for ${windowMs / 60000} min`,
    };
  }
  if (!HEX40.test(signature)) {
    return { ok: false, reason: 'signature_malformed', detail: 'X-Signature must be 40 lowercase hex digits' };
  }
  const expected = hmacSha1Hex(
    secret,
    stringToSign({
      method: req.method,
      contentMd5: md5,
      contentType,
      date,
      path: signaturePath(req.path),
    }),
  );
  if (!safeEqualHex(signature, expected)) {
    return {
      ok: false,
      reason: 'signature_mismatch',
      detail: 'X-Signature does not match (method, Content-MD5, Content-Type, Date, path)',
    };
  }
  return { ok: true };
}

/** `X-Signature` of an amojo → channel callback: HMAC-SHA1 over the raw body ([chat-hooks]). */
export function signCallbackBody(secret: string, rawBody: BodyBytes): string {
  return hmacSha1Hex(secret, toBuffer(rawBody));
}

export type CallbackSignatureFailure = 'missing_header' | 'malformed' | 'mismatch';

export type CallbackVerifyResult =
  | { ok: true; /** `trimmed`: matched only once trailing CR/LF were removed. */ matched: 'raw' | 'trimmed' }
  | { ok: false; reason: CallbackSignatureFailure; detail: string };

/**
 * Verifies an amojo callback over the exact bytes received. Accepts the HMAC of the raw body, or of
 * the body with trailing `\r`/`\n` removed: [fcritic] `trim($body, "\n")` and [amojowrapper]
 * `strip("\r\n")` do so, and a live Kommo capture (fixture amojo-02) was signed without the
 * trailing `\n` it carried (docs/amojo-protocol.md#callbacks; test/fixtures/README.md).
 *
 * *assumed*: the header is compared case-insensitively and with surrounding spaces removed: we are
 * the receiver here, and refusing a real callback loses the message (amojo never retries).
 */
export function verifyCallbackSignature(
  secret: string,
  rawBody: BodyBytes,
  signatureHeader: string | undefined | null,
): CallbackVerifyResult {
  if (signatureHeader === undefined || signatureHeader === null || signatureHeader.trim() === '') {
    return { ok: false, reason: 'missing_header', detail: 'X-Signature header is missing' };
  }
  const got = signatureHeader.trim().toLowerCase();
  if (!HEX40.test(got)) return { ok: false, reason: 'malformed', detail: 'X-Signature must be 40 hex digits' };
  const raw = toBuffer(rawBody);
  if (safeEqualHex(got, hmacSha1Hex(secret, raw))) return { ok: true, matched: 'raw' };
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  if (end !== raw.length && safeEqualHex(got, hmacSha1Hex(secret, raw.subarray(0, end)))) {
    return { ok: true, matched: 'trimmed' };
  }
  return { ok: false, reason: 'mismatch', detail: 'X-Signature does not match the HMAC-SHA1 of the body' };
}
