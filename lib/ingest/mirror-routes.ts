/**
 * Which routes the mirror sends (the config's mirror target, lib/ingest/mirroring.ts), checked
 * against the route table. Light on purpose: the worker checks the mirror at cold start, before it
 * loads any flow or the mirror itself (both are built at their queue's first message).
 */
import type { MirrorConfig } from '../config/schema.ts';
import type { MirrorRoute } from '../mirror/mirror.ts';

export class IngestConfigError extends Error {
  override readonly name = 'IngestConfigError';
}

/** Does the route's path carry a secret `{token}` parameter (which the mirror replaces by its own)? */
export function hasTokenParam(route: Pick<MirrorRoute, 'path'>): boolean {
  return route.path.includes('{token}');
}

/**
 * The mirrored routes: `cfg.routes`, else `defaults`. Throws IngestConfigError when the mirror
 * names a route the table does not have, or mirrors a `{token}` route outside `gated` (the routes
 * with a token check to gate the mirror: without one a forged token would reach the mirror
 * authenticated).
 */
export function mirroredRoutes(
  cfg: Pick<MirrorConfig, 'routes' | 'tokens'>,
  table: readonly MirrorRoute[],
  defaults: readonly string[],
  gated: readonly string[],
): MirrorRoute[] {
  const byId = new Map(table.map((r) => [r.id, r]));
  const ids = cfg.routes ?? defaults;
  const unknown = [...ids, ...Object.keys(cfg.tokens ?? {})].filter((id) => !byId.has(id));
  if (unknown.length)
    throw new IngestConfigError(`mirror names route(s) the route table does not have: ${[...new Set(unknown)].join(', ')}`);
  const routes = ids.map((id) => byId.get(id) as MirrorRoute);
  const ungated = routes.filter((r) => hasTokenParam(r) && !gated.includes(r.id)).map((r) => r.id);
  if (ungated.length)
    throw new IngestConfigError(
      `mirrored route(s) with a {token} path parameter need a token check before they are mirrored: ${ungated.join(', ')}`,
    );
  return routes;
}
