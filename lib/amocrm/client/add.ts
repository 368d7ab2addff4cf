/**
 * Adds that are never blindly duplicated (docs/architecture.md#writes-are-not-blindly-retried).
 *
 * amoCRM has no idempotency key, and `request_id` is echoed only in the answer we may have lost.
 * So every item carries a *marker* we control, and after a failure that may have landed
 * (timeout, broken connection, 5xx) the helper *re-checks* before sending anything again:
 *
 * 1. Marker field (reliable; recommended): when the client is given a text custom field per
 *    entity type (`markerFields`, e.g. an API-only field "gateway id"), each added lead / contact /
 *    company gets `<marker>` in it, and the re-check searches `query=<marker>` and keeps only exact
 *    field matches.
 * 2. Fingerprint (no marker field; tasks, notes, tags, list elements): list what was created since
 *    the first send (`filter[created_at]` / `filter[updated_at]` from the send time minus a clock
 *    slack) and match items on every plain field and custom field value we sent. *assumed*: an
 *    identical twin created by someone else inside the window is the only way to be fooled; when
 *    more look-alikes exist than items, the helper refuses to guess (AmoWriteUncertainError, park).
 *
 * Timing: a request we gave up on may still be processed later by amoCRM. Items not found by the
 * re-check are re-sent only once `settleMs` has passed since the lost send (*assumed* 20 s: the
 * time by which amoCRM has surely finished or dropped a request); a 500 answered by amoCRM itself
 * settles at once. If the settle time is too far for this invocation, AmoWriteUncertainError
 * (defer) asks the worker to come back, and the retried message must pass `checkFirst: true`
 * (with the same markers) so the re-check runs before any new POST.
 */
import type { CustomFieldValue } from '../entities.ts';
import type { AmoCore } from './core.ts';
import { AmoServerError, AmoTimeoutError, AmoUnexpectedResponseError, AmoWriteUncertainError, safeRoute } from './errors.ts';
import { decideRetry, type RequestRetryPolicy } from './retry.ts';
import type { AmoResponse } from './transport.ts';
import type { AccountRef } from './types.ts';

export interface AddPolicy {
  /** Wait this long after a lost add before the first re-check. */
  recheckDelayMs: number;
  /** A lost request is surely finished or dropped this long after it was sent. */
  settleMs: number;
  /** Wait for the settle time inline only when it is this close; otherwise defer. */
  maxInlineSettleWaitMs: number;
  /** Slack for amoCRM's clock vs ours when filtering by created_at (seconds). */
  clockSlackSeconds: number;
  /** `checkFirst` looks back this far when markers are not stable (seconds). */
  lookbackSeconds: number;
}

/** *assumed* values: see the module comment. */
export const DEFAULT_ADD_POLICY: AddPolicy = {
  recheckDelayMs: 1_000,
  settleMs: 20_000,
  maxInlineSettleWaitMs: 5_000,
  clockSlackSeconds: 60,
  lookbackSeconds: 2 * 3600,
};

export interface AddOptions {
  /**
   * Re-check before the first POST: this is a redelivery of a message whose add may have landed
   * (the envelope's attempt or deferral count is > 0). Costs one or a few requests.
   */
  checkFirst?: boolean;
  /** One marker per item, stable across redeliveries (derive from the business key). Default random. */
  markers?: string[];
  /** With checkFirst: look back this far (s) for fingerprint matches (default policy.lookbackSeconds). */
  lookbackSeconds?: number;
}

/** What the re-check found for one pending item. */
export type Found<TOut> = { kind: 'found'; result: TOut } | { kind: 'missing' } | { kind: 'ambiguous'; candidates: number };

export interface AddTarget<TIn, TOut> {
  /** POST path, e.g. `/api/v4/leads`. */
  path: string;
  /** Where the answer lists the created items: `_embedded[key]`; undefined when the answer is a bare array (leads/complex). */
  embeddedKey?: string;
  /** Put the marker into an item (`request_id`, and the marker field where configured). */
  mark(item: TIn, marker: string): TIn;
  /** Map an answer item to the result type. */
  result(raw: Record<string, unknown>): TOut;
  /** Find what each pending item became (one answer per item, same order). */
  recheck(pending: Array<{ item: TIn; marker: string }>, createdSinceSec: number): Promise<Array<Found<TOut>>>;
}

export interface AddDeps {
  core: AmoCore;
  account: AccountRef;
  policy: AddPolicy;
  retry?: RequestRetryPolicy;
}

export function randomMarker(): string {
  return `gw${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0')}`;
}

/** Needs the settle wait: the request may still be being processed by amoCRM. */
function mayStillLand(e: unknown): boolean {
  if (e instanceof AmoTimeoutError) return true;
  if (e instanceof AmoServerError) return e.status !== 500; // 502/503/504 come from the front proxy; the backend may go on
  if (e instanceof AmoUnexpectedResponseError) return true;
  return true; // network errors that may have landed
}

/** Adds `items` in the order given (chunked by the caller), never sending an item twice unless the re-check proves it absent. */
export async function addChunk<TIn, TOut>(
  deps: AddDeps,
  target: AddTarget<TIn, TOut>,
  items: TIn[],
  markers: string[],
  opts: AddOptions = {},
): Promise<TOut[]> {
  const { core, account, policy } = deps;
  const clock = core.clock;
  const marked = items.map((it, i) => target.mark(it, markers[i]!));
  const results: Array<TOut | undefined> = new Array(items.length);
  let pending = items.map((_, i) => i);

  const applyFound = (found: Array<Found<TOut>>, idx: number[], what: string): number[] => {
    const missing: number[] = [];
    found.forEach((f, j) => {
      const i = idx[j]!;
      if (f.kind === 'found') results[i] = f.result;
      else if (f.kind === 'ambiguous') {
        throw new AmoWriteUncertainError(
          { method: 'POST', route: safeRoute(target.path) },
          'park',
          `${what}: ${f.candidates} look-alike entities match item ${i}; refusing to guess`,
        );
      } else missing.push(i);
    });
    return missing;
  };

  if (opts.checkFirst) {
    const since = Math.floor(clock.now() / 1000) - (opts.lookbackSeconds ?? policy.lookbackSeconds);
    const found = await target.recheck(
      pending.map((i) => ({ item: items[i]!, marker: markers[i]! })),
      since,
    );
    pending = applyFound(found, pending, 'check-first');
  }

  let attempt = 0;
  while (pending.length) {
    attempt += 1;
    const sentAt = clock.now();
    try {
      const res: AmoResponse<unknown> = await core.request(account, {
        method: 'POST',
        path: target.path,
        body: pending.map((i) => marked[i]),
        kind: 'add',
      });
      const list = (
        target.embeddedKey ? (res.body as { _embedded?: Record<string, unknown[]> } | undefined)?._embedded?.[target.embeddedKey] : res.body
      ) as Array<Record<string, unknown>> | undefined;
      const byMarker = new Map<string, Record<string, unknown>>();
      for (const raw of list ?? []) {
        const rid = Array.isArray(raw.request_id) ? raw.request_id[0] : raw.request_id;
        if (rid !== undefined) byMarker.set(String(rid), raw);
      }
      pending.forEach((i, j) => {
        const raw = byMarker.get(markers[i]!) ?? list?.[j];
        if (raw) results[i] = target.result(raw);
      });
      pending = pending.filter((i) => results[i] === undefined);
      if (pending.length) {
        throw new AmoUnexpectedResponseError(
          { method: 'POST', route: safeRoute(target.path), status: res.status },
          `answer lists ${list?.length ?? 0} of ${pending.length} items`,
        );
      }
    } catch (e) {
      const d = decideRetry({
        kind: 'add',
        attempt,
        rateLimitWaits: 0,
        error: e,
        awaitRateLimit: false,
        ...(deps.retry ? { policy: deps.retry } : {}),
        random: core.random,
      });
      if (d.action === 'throw') throw e;
      if (!d.verifyFirst) {
        // Refused before sending (connection refused): safe to send again.
        await clock.sleep(d.delayMs);
        continue;
      }
      const settleAt = sentAt + (mayStillLand(e) ? policy.settleMs : 0);
      await clock.sleep(Math.max(d.delayMs, policy.recheckDelayMs));
      const since = Math.floor(sentAt / 1000) - policy.clockSlackSeconds;
      let resent = false;
      for (;;) {
        const before = pending.length;
        const found = await target.recheck(
          pending.map((i) => ({ item: items[i]!, marker: markers[i]! })),
          since,
        );
        pending = applyFound(found, pending, 're-check');
        core.observer({ type: 'add-verified', route: target.path, found: before - pending.length, resent: 0 });
        if (!pending.length) break;
        const wait = settleAt - clock.now();
        if (wait <= 0) {
          resent = true;
          break;
        }
        if (wait > policy.maxInlineSettleWaitMs) {
          throw new AmoWriteUncertainError(
            { method: 'POST', route: safeRoute(target.path), retryAfterMs: wait, cause: e },
            'defer',
            `${pending.length} item(s) not found yet; the lost request may still land — retry with checkFirst after ${Math.ceil(wait / 1000)} s`,
          );
        }
        await clock.sleep(wait);
      }
      if (resent) core.observer({ type: 'add-verified', route: target.path, found: 0, resent: pending.length });
    }
  }
  return results as TOut[];
}

// ---- fingerprint matching ----------------------------------------------------------------------

function normCfValues(values: unknown): string[] {
  if (!Array.isArray(values)) return [];
  return values
    .map((v: unknown) => {
      const o = (v ?? {}) as { value?: unknown; enum_id?: unknown; enum_code?: unknown };
      if (o.enum_id !== undefined && o.value === undefined) return `enum:${o.enum_id}`;
      if (typeof o.value === 'boolean') return `bool:${o.value}`;
      if (typeof o.value === 'number' || (typeof o.value === 'string' && /^-?\d+(\.\d+)?$/.test(o.value))) return `num:${Number(o.value)}`;
      return `str:${String(o.value ?? '')}`;
    })
    .sort();
}

/** Does `got` (read back) carry every plain field and custom field value `sent` had? */
export function matchesSent(sent: Record<string, unknown>, got: Record<string, unknown>, ignore: readonly string[] = []): boolean {
  for (const [k, v] of Object.entries(sent)) {
    if (k === 'request_id' || k === '_embedded' || k === 'custom_fields_values' || k === 'tags_to_add' || ignore.includes(k)) continue;
    if (v === null || v === undefined) continue;
    if (typeof v === 'object' && !Array.isArray(v)) {
      const g = got[k];
      if (!g || typeof g !== 'object' || !matchesSent(v as Record<string, unknown>, g as Record<string, unknown>)) return false;
      continue;
    }
    if (Array.isArray(v)) continue;
    if (got[k] !== v && String(got[k]) !== String(v)) return false;
  }
  const cfs = sent.custom_fields_values;
  if (Array.isArray(cfs)) {
    const gotCfs = (got.custom_fields_values ?? []) as CustomFieldValue[];
    for (const w of cfs as Array<{ field_id?: number; field_code?: string; values: unknown }>) {
      if (w.values === null) continue;
      const g = gotCfs.find((x) => (w.field_id !== undefined ? x.field_id === w.field_id : x.field_code === w.field_code));
      if (!g) return false;
      const want = normCfValues(w.values);
      // Enum values come back with both the id and the label; compare on what was sent.
      const have = Array.isArray(g.values)
        ? g.values
            .map((x) =>
              want.some((s) => s.startsWith('enum:')) && x.enum_id !== undefined
                ? `enum:${x.enum_id}`
                : (normCfValues([{ value: x.value }])[0] ?? ''),
            )
            .sort()
        : [];
      const haveSet = new Set(have);
      if (!want.every((s) => haveSet.has(s) || (s.startsWith('str:') && have.some((h) => h === `num:${Number(s.slice(4))}`)))) return false;
    }
  }
  return true;
}

/**
 * Assign candidates to pending items by fingerprint. Items with identical fingerprints form a
 * group: as many candidates as items → all found (in id order); fewer → the rest missing; more →
 * ambiguous.
 */
export function assignByFingerprint<TCand extends { id: number }>(
  pending: Array<Record<string, unknown>>,
  candidates: TCand[],
  matches: (sent: Record<string, unknown>, cand: TCand) => boolean,
): Array<Found<TCand>> {
  const out: Array<Found<TCand>> = pending.map(() => ({ kind: 'missing' }));
  const used = new Set<number>();
  const groups = new Map<string, number[]>();
  pending.forEach((p, i) => {
    const key = JSON.stringify(p, (k, v: unknown) => (k === 'request_id' ? undefined : v));
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const idx of groups.values()) {
    const sample = pending[idx[0]!]!;
    const cands = candidates.filter((c) => !used.has(c.id) && matches(sample, c)).sort((a, b) => a.id - b.id);
    if (cands.length > idx.length) {
      for (const i of idx) out[i] = { kind: 'ambiguous', candidates: cands.length };
      continue;
    }
    cands.forEach((c, j) => {
      used.add(c.id);
      out[idx[j]!] = { kind: 'found', result: c };
    });
  }
  return out;
}
