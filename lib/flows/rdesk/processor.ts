/**
 * The worker's processors for routes `zdrav-booked` and `zdrav-mc` (README.md in this folder):
 *
 * 1. the path token (`/zdrav/booked/{token}`), constant time, against every RDESK account → else park `bad-token`;
 *    then the account's source-IP allow-list, when it has one → else park `ip-not-allowed`;
 * 2. the body must be a JSON array → else park `invalid-payload`;
 * 3. each element is its own unit, run under the idempotency guard (key: route, the delivery's
 *    request id, element index): a replayed or redelivered message skips the elements already done.
 *    Valid elements are mapped and handed to the account's LeadWriter (coalescing per batch);
 * 4. the message's outcome is the worst of its elements': defer/retry (the done ones are skipped
 *    next time) before park; a parked message's reason is its first failing element's
 *    (`invalid-element`, `lead-not-found`, `bad-mapping`), the error names every failing index.
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { Log } from '../../common/log.ts';
import type { MetricsSink } from '../../common/metrics-sink.ts';
import type { SecretSource } from '../../config/secrets.ts';
import type { IdempotencyGuard } from '../../ingest/idempotency.ts';
import { METRIC } from '../../metrics.ts';
import { ok, outcomeFromError, park, type Outcome } from '../../pipeline/outcome.ts';
import type { ProcessorMap, RouteProcessor } from '../../pipeline/registry.ts';
import type { RdeskConfig } from './config.ts';
import { RDESK_PARK_REASONS } from './fields.ts';
import type { LeadMapStore } from './lead-map.ts';
import type { PushOrderStore } from './push-order.ts';
import { mapBooking, mapMc } from './mapping.ts';
import { parseRdeskBody, type Booking, type McPush, type RdeskKind } from './payload.ts';
import { ipAllowed, RdeskTokenMatcher } from './tokens.ts';
import { LeadWriter } from './writer.ts';

export const RDESK_ROUTES: Readonly<Record<string, RdeskKind>> = { 'zdrav-booked': 'booked', 'zdrav-mc': 'mc' };

export interface RdeskDeps {
  config: RdeskConfig;
  secrets: SecretSource;
  /** The account's amoCRM client (lib/aws/amo-client-runtime.ts `clientFor`). */
  clientFor: (accountId: string) => AmoClientForAccount;
  /** Per-element idempotency (absent: every element runs on every delivery). */
  guard?: IdempotencyGuard;
  /** Stand-in leads (mock-lead-id mode, the `create` policy). */
  leadMap?: LeadMapStore;
  /** Ordering across containers (the table); absent: pushes are ordered within one container only. */
  order?: PushOrderStore;
  /** Writer tuning of the order's lease (tests). */
  orderHoldMs?: number;
  orderWaitMs?: number;
  log?: Log;
  metrics?: MetricsSink;
  /** Writer tuning (tests, bench). */
  windowMs?: number;
  now?: () => number;
}

const SEVERITY: Record<Outcome['kind'], number> = { ok: 0, park: 1, retry: 2, defer: 3 };

export function createRdeskProcessors(deps: RdeskDeps): {
  processors: ProcessorMap;
  writers: ReadonlyMap<string, LeadWriter>;
  gate: (env: { params: Record<string, string> }) => Promise<boolean>;
} {
  const tokens = new RdeskTokenMatcher(deps.config.accounts, deps.secrets, deps.now);
  const writers = new Map(
    deps.config.accounts.map((a) => [
      a.account,
      new LeadWriter({
        account: a,
        client: () => deps.clientFor(a.account),
        ...(deps.leadMap ? { leadMap: deps.leadMap } : {}),
        ...(deps.order ? { order: deps.order } : {}),
        ...(deps.orderHoldMs !== undefined ? { orderHoldMs: deps.orderHoldMs } : {}),
        ...(deps.orderWaitMs !== undefined ? { orderWaitMs: deps.orderWaitMs } : {}),
        ...(deps.log ? { log: deps.log } : {}),
        ...(deps.windowMs !== undefined ? { windowMs: deps.windowMs } : {}),
        ...(deps.now ? { now: deps.now } : {}),
      }),
    ]),
  );

  const processor =
    (kind: RdeskKind): RouteProcessor =>
    async (env, ctx) => {
      const account = await tokens.match(env.params.token);
      if (!account) {
        deps.metrics?.count(METRIC.rdeskBadToken, { route: env.route });
        return park(RDESK_PARK_REASONS.badToken, 'the path token matches no RDESK account');
      }
      if (account.allowIps && !ipAllowed(env.sourceIp, account.allowIps)) {
        return park(RDESK_PARK_REASONS.ipNotAllowed, `source IP is not in rdesk account "${account.account}"'s allow-list`);
      }
      const parsed = parseRdeskBody(kind, ctx.body);
      if (!parsed.ok) return park(RDESK_PARK_REASONS.invalidPayload, parsed.error);
      const writer = writers.get(account.account) as LeadWriter;

      const outcomes = await Promise.all(
        parsed.elements.map(async (el): Promise<Outcome & { index: number }> => {
          if (!el.ok) return { ...park(RDESK_PARK_REASONS.invalidElement, el.error), index: el.index };
          const run = async () => {
            const desired = kind === 'booked' ? mapBooking(el.value as Booking, account) : mapMc(el.value as McPush, account);
            return writer.submit({ kind, desired, arrival: { at: env.receivedAt, id: `${env.requestId}:${el.index}` } });
          };
          try {
            const key = `rdesk:${env.route}:${env.requestId}:${el.index}`;
            const r = deps.guard ? await deps.guard.once(key, run) : { status: 'ran' as const, value: await run() };
            ctx.log.debug('rdesk element', {
              route: env.route,
              index: el.index,
              status: r.status === 'ran' ? r.value.status : 'duplicate',
            });
            return { ...ok(), index: el.index };
          } catch (e) {
            return { ...outcomeFromError(e), index: el.index };
          }
        }),
      );
      const worst = outcomes.reduce((w, o) => (SEVERITY[o.kind] > SEVERITY[w.kind] ? o : w), { ...ok(), index: -1 } as Outcome & {
        index: number;
      });
      if (worst.kind !== 'park') {
        const { index: _i, ...o } = worst;
        return o;
      }
      const parked = outcomes.filter((o) => o.kind === 'park') as Array<Extract<Outcome, { kind: 'park' }> & { index: number }>;
      const first = parked[0] as (typeof parked)[number];
      const detail = parked.map((p) => `[${p.index}] ${p.reason}${p.error ? `: ${p.error}` : ''}`).join('; ');
      const done = outcomes.length - parked.length;
      return park(first.reason, `${parked.length} of ${outcomes.length} element(s) failed (${done} done): ${detail}`.slice(0, 2000));
    };

  const map: Record<string, RouteProcessor> = {};
  for (const [route, kind] of Object.entries(RDESK_ROUTES)) map[route] = processor(kind);
  /** The mirror's gate of the RDESK routes: mirrored only when the path token is one of ours. */
  const gate = async (env: { params: Record<string, string> }) => (await tokens.match(env.params.token)) !== undefined;
  return { processors: map, writers, gate };
}
