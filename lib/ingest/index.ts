/**
 * Ingest: what the worker does with inbound requests once they are acked (README.md here).
 * `buildIngestProcessors()` gives the worker's processor map: the amoCRM webhook processor and,
 * when the config names a mirror, the mirror around the mirrored routes.
 */
import type { Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import type { EventPublisher } from '../events/bus.ts';
import type { MirrorRoute } from '../mirror/mirror.ts';
import type { ProcessorMap } from '../pipeline/registry.ts';
import type { IdempotencyGuard } from './idempotency.ts';
import { AMOCRM_HOOK_ROUTE, createAmocrmHookProcessor, hookTokenGate } from './amocrm-hook.ts';
import type { FlowRegistry } from './flows.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import { HookTokenMatcher } from './hook-tokens.ts';
import { mirrorConfigured, type MirrorGate, type MirrorSender } from './mirroring.ts';

export * from './amocrm-hook.ts';
export * from './event-step.ts';
export * from './events.ts';
export * from './flows.ts';
export * from './hook-tokens.ts';
export * from './idempotency.ts';
export * from './metrics.ts';
export * from './mirroring.ts';

export interface IngestDeps {
  config: Config;
  secrets: SecretSource;
  guard: IdempotencyGuard;
  bus: EventPublisher;
  flows?: FlowRegistry;
  metrics?: MetricsSink;
  /** Every route of the table (id, method, path); the mirror sends "as received". */
  routes: readonly MirrorRoute[];
  /** The routes mirrored when `config.mirror.routes` is not given (the queue routes). */
  defaultMirrorRoutes: readonly string[];
  /** Merged over the defaults (tests inject processors); the mirror wraps these too. */
  overrides?: ProcessorMap;
  /** For the mirror's requests (tests inject one). */
  fetch?: typeof fetch;
  /** Replaces the configured mirror sender (tests). */
  mirror?: MirrorSender;
  /** Token checks of other `{token}` routes (e.g. the RDESK routes), for the mirror. */
  gates?: Readonly<Record<string, MirrorGate>>;
}

/**
 * The worker's processor map: the amoCRM webhook processor for `amocrm-hook`, then `overrides`
 * (any other route has none: the pipeline parks its messages `no-processor`); when the config
 * names a mirror, the mirrored routes wrapped (`amocrm-hook` mirrored only when its path token is
 * one of ours; a route without a processor is mirrored, then parked `no-processor`).
 * Throws IngestConfigError when the mirror names routes the table does not have, or a `{token}`
 * route other than `amocrm-hook` (no token check to gate it).
 */
export function buildIngestProcessors(deps: IngestDeps): ProcessorMap {
  // One matcher for the processor and the mirror's gate: one secret cache, one re-read rule.
  const tokens = new HookTokenMatcher({ config: deps.config, secrets: deps.secrets });
  const hook = createAmocrmHookProcessor({
    config: deps.config,
    secrets: deps.secrets,
    tokens,
    guard: deps.guard,
    bus: deps.bus,
    ...(deps.flows ? { flows: deps.flows } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  return mirrorConfigured(
    { [AMOCRM_HOOK_ROUTE]: hook, ...deps.overrides },
    {
      config: deps.config,
      secrets: deps.secrets,
      routes: deps.routes,
      defaultRoutes: deps.defaultMirrorRoutes,
      gates: { ...deps.gates, [AMOCRM_HOOK_ROUTE]: hookTokenGate(tokens) },
      ...(deps.mirror ? { mirror: deps.mirror } : {}),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    },
  );
}
