/**
 * Mirror mode in the worker (the config's mirror target, docs/architecture.md#configuration):
 * every received request of the mirrored routes is sent again, as received, to a second
 * deployment (lib/mirror) — after the ack, in the consumer, concurrently with processing. It
 * never changes the outcome; failures are only counted (`MirrorFailed`) and logged without the
 * URL (it holds the mirror's token).
 *
 * A request is mirrored on its FIRST try only (no `attempt`, no `deferrals`, first receive), so a
 * retried, deferred or replayed message is not sent again (*assumed*: a crash between receive
 * and mirror then loses that mirror copy — best effort by design).
 *
 * Routes with a `{token}` path parameter are different: the mirror sends ITS OWN valid token in
 * place of the received one, so mirroring a request whose token is not ours would turn a forged,
 * unauthenticated request into an authenticated one on the mirror. Such a route is therefore
 * mirrored only after its gate (the route's own token check, e.g. the hook token matcher) said
 * the token belongs to one of our accounts. The gate runs concurrently with processing and the
 * send waits for the gate only, never for the processing; a gate that cannot decide (secret
 * store down) means "not mirrored" — and, on the first try only, that copy is lost (best effort).
 */
import type { Envelope } from '../envelope.ts';
import type { MirrorConfig } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import { createMirror, type Mirror, type MirrorResult, type MirrorRoute } from '../mirror/mirror.ts';
import { parkNoProcessor, type ProcessorMap, type RouteProcessor } from '../pipeline/registry.ts';
import { METRIC } from '../metrics.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import { hasTokenParam, IngestConfigError, mirroredRoutes } from './mirror-routes.ts';

export { IngestConfigError } from './mirror-routes.ts';

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

/**
 * The token check of a route with a `{token}` path parameter: resolves true only when the
 * request's token belongs to one of our accounts. A rejection counts as "not verified".
 */
export type MirrorGate = (env: Envelope) => Promise<boolean>;

export interface WithMirrorOptions {
  mirror: MirrorSender;
  /** The mirrored routes with their method and path template (from the route table). */
  routes: readonly MirrorRoute[];
  /** Route id → its gate; required for every mirrored route whose path has `{token}`. */
  gates?: Readonly<Record<string, MirrorGate>>;
  metrics?: MetricsSink;
}

/** The request's first try: not a retry, a deferral, an SQS redelivery, nor a `dlq replay` (which resets the counters). */
function firstTry(env: Envelope, receiveCount: number): boolean {
  return !env.attempt && !env.deferrals && env.replayedAt === undefined && receiveCount <= 1;
}

/**
 * Wraps the processors of the mirrored routes; the others are returned as they are.
 * Throws IngestConfigError when a mirrored `{token}` route has no gate.
 */
export function withMirror(processors: ProcessorMap, opts: WithMirrorOptions): ProcessorMap {
  const out: Record<string, RouteProcessor | undefined> = { ...processors };
  const ungated = opts.routes.filter((r) => hasTokenParam(r) && !opts.gates?.[r.id]).map((r) => r.id);
  if (ungated.length)
    throw new IngestConfigError(
      `mirrored route(s) with a {token} path parameter need a token check before they are mirrored: ${ungated.join(', ')}`,
    );
  for (const route of opts.routes) {
    // A route whose flow has not landed is still mirrored ("as received"), then parked.
    const inner = processors[route.id] ?? parkNoProcessor;
    const gate = opts.gates?.[route.id];
    out[route.id] = async (env, ctx) => {
      const failed = (reason: string, httpStatus?: number) => {
        opts.metrics?.count(METRIC.mirrorFailed);
        ctx.log.warn('mirror send failed', { route: route.id, reason, ...(httpStatus !== undefined ? { httpStatus } : {}) });
      };
      const send = () =>
        opts.mirror.send(env, route).then(
          (r) => (r.status === 'failed' ? failed(r.reason, r.httpStatus) : undefined),
          () => undefined,
        );
      let mirrored: Promise<void> | undefined;
      if (firstTry(env, ctx.receiveCount)) {
        // A `{token}` route waits for its gate (started now, beside the processing), never for the processing.
        const sent = gate
          ? gate(env).then(
              (ours) => (ours ? send() : ctx.log.debug('not mirrored: the path token is none of ours', { route: route.id })),
              () => failed('token-unverified'),
            )
          : send();
        mirrored = sent.catch(() => undefined); // never lets the mirror change the outcome
      }
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

/**
 * `processors` wrapped by the config's mirror (as they are when it names none): the mirrored
 * routes chosen by `mirroredRoutes` (the config's list, else `defaultRoutes`), each `{token}` one
 * behind its gate in `gates`.
 */
export function mirrorConfigured(
  processors: ProcessorMap,
  deps: {
    config: { mirror?: MirrorConfig | undefined };
    secrets: SecretSource;
    routes: readonly MirrorRoute[];
    defaultRoutes: readonly string[];
    gates: Readonly<Record<string, MirrorGate>>;
    mirror?: MirrorSender;
    fetch?: typeof fetch;
    metrics?: MetricsSink;
  },
): ProcessorMap {
  const cfg = deps.config.mirror;
  if (!cfg) return processors;
  return withMirror(processors, {
    mirror: deps.mirror ?? configuredMirror(cfg, deps.secrets, deps.fetch),
    routes: mirroredRoutes(cfg, deps.routes, deps.defaultRoutes, Object.keys(deps.gates)),
    gates: deps.gates,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
}
