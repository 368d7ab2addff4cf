/**
 * Mirror mode in the worker (DESIGN §3 "mirror target"): every received request of the mirrored
 * routes is sent again, as received, to a second deployment (lib/mirror) — after the ack, in the
 * consumer, concurrently with processing. It never changes the outcome; failures are only
 * counted (`MirrorFailed`) and logged without the URL (it holds the mirror's token).
 *
 * A request is mirrored on its FIRST try only (no `attempt`, no `deferrals`, first receive), so a
 * retried, deferred or replayed message is not sent again (*assumed*: a crash between receive
 * and mirror then loses that mirror copy — best effort by design).
 */
import type { Envelope } from '../envelope.ts';
import type { MirrorConfig } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import { createMirror, type Mirror, type MirrorResult, type MirrorRoute } from '../mirror/mirror.ts';
import type { ProcessorMap, RouteProcessor } from '../pipeline/registry.ts';
import { INGEST_METRIC, type MetricsSink } from './metrics.ts';

export interface MirrorSender {
  send(env: Envelope, route: MirrorRoute): Promise<MirrorResult>;
}

/**
 * The configured mirror: its route tokens are secret references, resolved on first use and
 * cached for the container (a failed resolution is retried on the next request; meanwhile the
 * send fails as `no-token`).
 */
export function configuredMirror(cfg: MirrorConfig, secrets: SecretSource, fetchFn: typeof fetch = globalThis.fetch): MirrorSender {
  let mirror: Mirror | undefined;
  let loading: Promise<Mirror> | undefined;
  const load = () =>
    (loading ??= (async () => {
      try {
        const tokens: Record<string, string> = {};
        for (const [routeId, ref] of Object.entries(cfg.tokens ?? {})) tokens[routeId] = await secrets.get(ref.secret);
        mirror = createMirror({
          baseUrl: cfg.baseUrl,
          tokens,
          ...(cfg.routes ? { routes: cfg.routes } : {}),
          ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
          fetch: fetchFn,
        });
        return mirror;
      } finally {
        loading = undefined;
      }
    })());
  return {
    async send(env, route) {
      try {
        return await (mirror ?? (await load())).send(env, route);
      } catch {
        return { status: 'failed', reason: 'no-token' };
      }
    },
  };
}

export interface WithMirrorOptions {
  mirror: MirrorSender;
  /** The mirrored routes with their method and path template (from the route table). */
  routes: readonly MirrorRoute[];
  metrics?: MetricsSink;
}

function firstTry(env: Envelope, receiveCount: number): boolean {
  return !env.attempt && !env.deferrals && receiveCount <= 1;
}

/** Wraps the processors of the mirrored routes; the others are returned as they are. */
export function withMirror(processors: ProcessorMap, opts: WithMirrorOptions): ProcessorMap {
  const out: Record<string, RouteProcessor | undefined> = { ...processors };
  for (const route of opts.routes) {
    const inner = processors[route.id];
    if (!inner) continue; // no processor: the pipeline parks it, nothing to mirror alongside
    out[route.id] = async (env, ctx) => {
      const mirrored = firstTry(env, ctx.receiveCount)
        ? opts.mirror.send(env, route).then(
            (r) => {
              if (r.status !== 'failed') return;
              opts.metrics?.count(INGEST_METRIC.mirrorFailed);
              ctx.log.warn('mirror send failed', { route: route.id, reason: r.reason, ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}) });
            },
            () => undefined,
          )
        : undefined;
      try {
        return await inner(env, ctx);
      } finally {
        // Lambda freezes the container once the handler returns: wait for the (bounded) send.
        await mirrored;
      }
    };
  }
  return out;
}
