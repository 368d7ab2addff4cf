/**
 * Per-IP throttling of form posts: fixed windows per minute and per hour, counted per form and
 * client. The port is here; the DynamoDB adapter is lib/store/form-throttle.ts, the in-memory one
 * below (tests, a runner without a table).
 *
 * The client is a hash of its IP, never the IP itself: a counter lives at most two hours (its
 * window, then TTL), and nothing in the table names an address. SHA-256 of an IPv4 address could
 * be reversed by trying all 2³² of them, so the hash only keeps addresses out of plain sight
 * (exports, consoles), it is not anonymisation — *assumed* enough for a counter that expires.
 */
import { createHash } from 'node:crypto';

export interface ThrottleWindow {
  /** `minute` or `hour`: part of the key. */
  name: string;
  seconds: number;
  limit: number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface FormThrottle {
  /** Counts one post of `client` to `form` in every window; refused when any window is over its limit. */
  hit(form: string, client: string, windows: readonly ThrottleWindow[], nowMs: number): Promise<ThrottleVerdict>;
}

/** The client key of an IP: hex SHA-256 (truncated to 128 bits) of the form id and the address. */
export function clientKey(form: string, ip: string): string {
  return createHash('sha256').update(`form-throttle\n${form}\n${ip}`).digest('hex').slice(0, 32);
}

/** The throttle windows of a form's config. */
export function formWindows(t: { perMinute: number; perHour: number }): ThrottleWindow[] {
  return [
    { name: 'minute', seconds: 60, limit: t.perMinute },
    { name: 'hour', seconds: 3600, limit: t.perHour },
  ];
}

/** Start of the fixed window holding `nowMs`, epoch seconds. */
export function windowStart(w: ThrottleWindow, nowMs: number): number {
  const s = Math.floor(nowMs / 1000);
  return s - (s % w.seconds);
}

/** The verdict once each window's count (this post included) is known. */
export function verdict(windows: readonly ThrottleWindow[], counts: readonly number[], nowMs: number): ThrottleVerdict {
  let retry = 0;
  windows.forEach((w, i) => {
    if ((counts[i] ?? 0) > w.limit) retry = Math.max(retry, windowStart(w, nowMs) + w.seconds - Math.floor(nowMs / 1000));
  });
  return retry > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, retry) } : { allowed: true };
}

/** Counters in memory (one process only). */
export class MemoryFormThrottle implements FormThrottle {
  private readonly counts = new Map<string, number>();
  async hit(form: string, client: string, windows: readonly ThrottleWindow[], nowMs: number): Promise<ThrottleVerdict> {
    const counts = windows.map((w) => {
      const key = `${form}#${client}#${w.name}#${windowStart(w, nowMs)}`;
      const n = (this.counts.get(key) ?? 0) + 1;
      this.counts.set(key, n);
      return n;
    });
    return verdict(windows, counts, nowMs);
  }
}
