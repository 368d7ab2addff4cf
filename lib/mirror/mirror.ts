/**
 * Mirror mode (the old nginx `mirror`, as a setting): every received request is sent again, as
 * received, to a second deployment — best effort. It runs after the ack, in the consumer, and
 * never affects processing: errors and timeouts are only counted.
 *
 * "As received" means the exact body bytes and the allow-listed headers of the envelope, to the
 * same route path on the mirror's base URL — except path tokens: a `{token}` path parameter is
 * replaced by the mirror's own token for that route (the two deployments never share secrets).
 * Because that upgrades whatever token was received to a valid one, the caller must send a
 * `{token}` route's request only after checking the received token is one of its own
 * (lib/ingest/mirroring.ts does, with the route's gate).
 */
import type { Envelope } from '../envelope.ts';
import type { Route } from '../routes.ts';

/** What the mirror needs of a route of the table (lib/routes.ts). */
export type MirrorRoute = Pick<Route, 'id' | 'method' | 'path'>;

export interface MirrorOptions {
  /** e.g. `https://abc.execute-api.eu-central-1.amazonaws.com/prod` */
  baseUrl: string;
  /** The mirror's own path token per route id (for routes with a `{token}` parameter). */
  tokens?: Record<string, string>;
  /** Routes to mirror; others are skipped (default: all). */
  routes?: readonly string[];
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export type MirrorResult =
  | { status: 'sent'; httpStatus: number }
  | { status: 'failed'; reason: 'http' | 'timeout' | 'network' | 'no-token'; httpStatus?: number; error?: string }
  | { status: 'skipped' };

export interface MirrorCounters {
  sent: number;
  failed: number;
  skipped: number;
}

/** Headers that are about the hop, not the request. */
const HOP_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding']);

export function mirrorPath(
  route: MirrorRoute,
  params: Record<string, string>,
  tokens: Record<string, string> | undefined,
): string | undefined {
  let missingToken = false;
  const path = route.path.replace(/\{([a-z_][a-z0-9_]*)\}/g, (_m, name: string) => {
    if (name === 'token') {
      const own = tokens?.[route.id];
      if (!own) {
        missingToken = true;
        return '';
      }
      return encodeURIComponent(own);
    }
    return encodeURIComponent(params[name] ?? '');
  });
  return missingToken ? undefined : path;
}

export function createMirror(opts: MirrorOptions) {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const base = opts.baseUrl.replace(/\/+$/, '');
  const counters: MirrorCounters = { sent: 0, failed: 0, skipped: 0 };
  const only = opts.routes ? new Set(opts.routes) : undefined;

  async function send(env: Envelope, route: MirrorRoute): Promise<MirrorResult> {
    if (only && !only.has(route.id)) {
      counters.skipped++;
      return { status: 'skipped' };
    }
    const path = mirrorPath(route, env.params, opts.tokens);
    if (path === undefined) {
      counters.failed++;
      return { status: 'failed', reason: 'no-token' };
    }
    const qs = new URLSearchParams(env.query).toString();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(env.headers)) if (!HOP_HEADERS.has(k)) headers[k] = v;
    headers['x-amo-gateway-mirror'] = '1';
    try {
      const res = await doFetch(`${base}${path}${qs ? `?${qs}` : ''}`, {
        method: route.method,
        headers,
        body: route.method === 'GET' ? undefined : Buffer.from(env.body, 'base64'),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        counters.sent++;
        return { status: 'sent', httpStatus: res.status };
      }
      counters.failed++;
      return { status: 'failed', reason: 'http', httpStatus: res.status };
    } catch (e) {
      counters.failed++;
      const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
      return { status: 'failed', reason: timeout ? 'timeout' : 'network', error: e instanceof Error ? e.message : String(e) };
    }
  }

  return {
    counters,
    /** Never throws and never rejects: mirroring cannot affect processing. */
    send(env: Envelope, route: MirrorRoute): Promise<MirrorResult> {
      return send(env, route).catch((e: unknown) => {
        counters.failed++;
        return { status: 'failed', reason: 'network', error: String(e) } as const;
      });
    },
  };
}

export type Mirror = ReturnType<typeof createMirror>;
