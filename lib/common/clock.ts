/** Time, injected everywhere so tests move it (and skew it) without module mocks. */

/** Wall clock in epoch ms. */
export interface Clock {
  now(): number;
}

/** A clock that can also wait: the REST client sleeps until its rate-budget slot. */
export interface SleepingClock extends Clock {
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Sleeps in real time, abortable. */
export function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: SleepingClock = { now: () => Date.now(), sleep: realSleep };

/** A clock `offsetMs` ahead of (or behind) another: how tests simulate skew between Lambda instances. */
export function skewedClock(offsetMs: number, base: SleepingClock = systemClock): SleepingClock {
  return { now: () => base.now() + offsetMs, sleep: (ms, s) => base.sleep(ms, s) };
}
