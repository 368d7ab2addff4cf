/**
 * Redaction for anything that leaves the process as text: log lines, `lastError` in the DLQ
 * index and in parked envelopes. Bodies and path tokens are never logged in the first place;
 * this catches what slips into error messages (an upstream error echoing an email, a URL with a
 * token, a phone number in a validation message).
 */

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
/** 10–15 digits with the usual separators, optionally led by "+": Russian and international phones. */
const PHONE = /\+?\d(?:[\s().-]*\d){9,14}/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
/** key=value pairs whose key names a secret (query strings, form bodies, "token: abc"). */
const SECRET_PAIR =
  /\b(access_token|refresh_token|token|secret|client_secret|password|code|api[_-]?key|x-api-key|signature)(["']?\s*[=:]\s*["']?)([^\s&"',;]+)/gi;
/** Long opaque strings (hex or base64url of 32+ chars) that mix letters and digits. */
const OPAQUE = /[A-Za-z0-9_-]{32,}/g;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const MAX_ERROR_CHARS = 1000;

/**
 * Replace emails, phones, bearer/JWT tokens, secret-looking key=value pairs, long opaque strings
 * and every given secret (e.g. the envelope's path parameters) by placeholders.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Exact secrets first, longest first, so a token that contains another is replaced whole.
  for (const s of [...secrets].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('[redacted]');
  }
  out = out.replace(BEARER, (_m, kind: string) => `${kind} [token]`);
  out = out.replace(JWT, '[token]');
  out = out.replace(SECRET_PAIR, (_m, key: string, sep: string) => `${key}${sep}[redacted]`);
  out = out.replace(EMAIL, '[email]');
  out = out.replace(OPAQUE, (m) => (UUID.test(m) || !/\d/.test(m) || !/[A-Za-z]/.test(m) ? m : '[token]'));
  out = out.replace(PHONE, '[phone]');
  return out;
}

export function truncate(text: string, max = MAX_ERROR_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Redact then truncate: the form `lastError` is stored in. */
export function safeErrorText(text: string, secrets: readonly string[] = [], max = MAX_ERROR_CHARS): string {
  return truncate(redact(text, secrets), max);
}
