/** Error description, one way for every log line and `lastError` (redact it before it leaves: redact.ts). */
import { safeErrorText } from './redact.ts';

/** `Name: message` plus the chain of causes, one level per `<-`. Not yet redacted. */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (cur instanceof Error) {
      parts.push(cur.message ? `${cur.name}: ${cur.message}` : cur.name);
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join(' <- ');
}

/** describeError, redacted and truncated: the form an error leaves the process in (logs, `lastError`). */
export function safeErrorDescription(e: unknown, secrets: readonly string[] = [], max?: number): string {
  return safeErrorText(describeError(e), secrets, max);
}
