/**
 * The API Gateway stand-in: serves every route of the route table. Queue routes store the
 * request as one envelope on their queue and answer the route's fixed ack (no business work in
 * the ack path); function routes get a REST-API-v1 Lambda proxy event. Refusals are JSON
 * `{"message": …}` and enqueue nothing: 404 unknown path, 405 wrong method (with Allow), 415
 * unsupported content type, 413 body over the route's limit (counted while reading; reading stops
 * at the limit).
 */
import { mediaType } from '../../lib/common/media-type.ts';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildEnvelope, envelopeMessageBody } from '../../lib/envelope.ts';
import { fifoKeys, INVALID_BODY_MESSAGE } from '../../lib/fifo-keys.ts';
import { safeErrorDescription } from '../../lib/common/errors.ts';
import { matchPath, type FunctionDef, type Route, type RouteTable } from '../../lib/routes.ts';
import { apiGatewayEvent, invoke, type LocalInvoke } from './lambda.ts';
import type { LocalLog } from './log.ts';
import type { LocalQueue } from './stand-ins.ts';
import { CONSOLE_PATH } from './console/render.ts';

export const HEALTH_PATH = '/health';

export interface GatewayDeps {
  table: RouteTable;
  sqs: SQSClient;
  queues: Readonly<Record<string, LocalQueue>>;
  functions: ReadonlyMap<string, { def: FunctionDef; handler: LocalInvoke }>;
  /** Resolves once `functions` is filled (the runner listens before it wires); function routes wait for it. */
  ready?: Promise<void>;
  region: string;
  log: LocalLog;
  health(): Promise<{ status: number; body: unknown }>;
  /** The operator's console (infra/local/console/): every request under `/_console`, before the route table. */
  console?: { handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> };
  /**
   * The API keys `edge-api-key` routes accept (API Gateway's usage plan in AWS); none known →
   * every request to such a route is refused 403, as API Gateway refuses one without a key.
   */
  edgeApiKeys?: () => Promise<ReadonlySet<string>>;
}

export interface Gateway {
  server: Server;
  listen(port: number, host: string): Promise<number>;
  /** Stop accepting, let requests in progress finish, close every connection. */
  close(): Promise<void>;
}

/** API Gateway prefers literal segments over `{param}` ones; so does this. */
function specificity(r: Route): number {
  return r.path.split('/').filter((s) => s && !s.startsWith('{')).length;
}

type Read = { kind: 'ok'; body: Buffer } | { kind: 'too-large'; bytes: number } | { kind: 'aborted' };

/** Read at most `limit` bytes; on the first byte over, stop reading and report it. */
function readLimited(req: IncomingMessage, limit: number): Promise<Read> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (r: Read) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        finish({ kind: 'too-large', bytes: size });
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => finish({ kind: 'ok', body: Buffer.concat(chunks, size) });
    const onAbort = () => finish({ kind: 'aborted' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/**
 * Answer before the body has been read: close the connection rather than read the rest (Node
 * would otherwise drain it). The socket is ended after the answer is written, then destroyed if
 * the client keeps sending.
 */
function refuseUnread(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const bodyPending = !req.complete && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0);
  if (!bodyPending) {
    json(res, status, body, headers);
    return;
  }
  res.shouldKeepAlive = false;
  json(res, status, body, { ...headers, connection: 'close' });
  res.once('finish', () => {
    req.socket.end();
    setTimeout(() => req.socket.destroy(), 1000).unref();
  });
}

/** Own properties only: a query name like `__proto__` is kept as a key, not set as the prototype. */
function lastWins(params: URLSearchParams): Record<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of params) out.set(k, v);
  return Object.fromEntries(out);
}

function headerPairs(req: IncomingMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string]);
  return out;
}

/**
 * Raw names as received; for a repeated header (in any case) the LAST value wins, as in API
 * Gateway's `$input.params().header` (the envelope contract: InboundRequest.headers).
 */
function lastHeaders(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const byLower = new Map<string, readonly [string, string]>();
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    byLower.delete(lower); // keep the last occurrence's name and position
    byLower.set(lower, [name, value]);
  }
  return Object.fromEntries(byLower.values());
}

function sourceIp(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

export function createGateway(deps: GatewayDeps): Gateway {
  const log = deps.log;
  const routes = [...deps.table.routes].sort((a, b) => specificity(b) - specificity(a));
  let inFlight = 0;
  let idle: (() => void) | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    // Never log the raw path (it holds route tokens): the route id and its template only.
    const done = (status: number, attrs: Record<string, unknown> = {}) =>
      log.line('http', `${method} -> ${status}`, { ...attrs, ms: Date.now() - started });

    if (path === HEALTH_PATH) {
      if (method !== 'GET') {
        refuseUnread(req, res, 405, { message: 'Method Not Allowed', allow: ['GET'] }, { allow: 'GET' });
        return;
      }
      const h = await deps.health();
      json(res, h.status, h.body);
      return;
    }

    if (deps.console && (path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`))) {
      // Not logged per request: an open console polls every 2 s. Its actions log themselves.
      await deps.console.handle(req, res, url);
      return;
    }

    const matches = routes.flatMap((r) => {
      const params = matchPath(r.path, path);
      return params ? [{ route: r, params }] : [];
    });
    if (matches.length === 0) {
      refuseUnread(req, res, 404, { message: 'Not Found' });
      done(404);
      return;
    }
    const hit = matches.find((m) => m.route.method === method);
    if (!hit) {
      const allow = [...new Set(matches.map((m) => m.route.method))];
      refuseUnread(req, res, 405, { message: 'Method Not Allowed', allow }, { allow: allow.join(', ') });
      done(405, { resource: matches[0]?.route.path });
      return;
    }
    const { route, params } = hit;
    const tags = { route: route.id, resource: route.path };

    if (route.auth === 'edge-api-key') {
      // API Gateway checks the key before anything else and answers 403 {"message":"Forbidden"}.
      const key = req.headers['x-api-key'];
      const keys = deps.edgeApiKeys ? await deps.edgeApiKeys() : new Set<string>();
      if (typeof key !== 'string' || !hasKey(keys, key)) {
        refuseUnread(req, res, 403, { message: 'Forbidden' });
        done(403, tags);
        return;
      }
    }

    if (route.contentTypes.length > 0) {
      const media = mediaType(req.headers['content-type']);
      if (!media || !route.contentTypes.includes(media)) {
        refuseUnread(req, res, 415, { message: 'Unsupported Media Type', supported: route.contentTypes });
        done(415, tags);
        return;
      }
    }

    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > route.bodyLimitBytes) {
      refuseUnread(req, res, 413, { message: 'Payload Too Large', limitBytes: route.bodyLimitBytes });
      done(413, { ...tags, declaredBytes: declared });
      return;
    }
    const read = await readLimited(req, route.bodyLimitBytes);
    if (read.kind === 'aborted') {
      res.destroy();
      return;
    }
    if (read.kind === 'too-large') {
      refuseUnread(req, res, 413, { message: 'Payload Too Large', limitBytes: route.bodyLimitBytes });
      done(413, { ...tags, bytesRead: read.bytes });
      return;
    }
    const body = read.body;
    const requestId = randomUUID();
    const pairs = headerPairs(req);

    if (route.target.kind === 'queue') {
      const queue = deps.queues[route.target.queue];
      if (!queue) {
        json(res, 500, { message: `queue "${route.target.queue}" is not running` });
        done(500, tags);
        return;
      }
      try {
        const envelope = buildEnvelope(
          {
            routeId: route.id,
            pathParams: params,
            query: lastWins(url.searchParams),
            headers: lastHeaders(pairs),
            body,
            receivedAt: started,
            requestId,
            sourceIp: sourceIp(req),
          },
          route.headers,
        );
        // A FIFO route's ids from its path and body (lib/fifo-keys.ts); a body without them is
        // refused as API Gateway's request validator refuses it.
        const ids = route.fifo ? fifoKeys(route.fifo, params, body) : undefined;
        if (route.fifo && !ids) {
          json(res, 400, { message: INVALID_BODY_MESSAGE });
          done(400, tags);
          return;
        }
        await deps.sqs.send(
          new SendMessageCommand({
            QueueUrl: queue.url,
            MessageBody: envelopeMessageBody(envelope),
            // assumed: a FIFO queue without keys (the table refuses that for routes) keeps one order per route.
            ...(queue.def.fifo ? { MessageGroupId: ids?.groupId ?? route.id, MessageDeduplicationId: ids?.dedupId ?? requestId } : {}),
          }),
        );
      } catch (e) {
        // As API Gateway's integration response maps an SQS error: a 5xx, so the sender retries.
        json(res, 500, { message: 'Could not store the request; try again' });
        log.pipeline('http').error('enqueue failed', { ...tags, error: safeErrorDescription(e, Object.values(params)) });
        return;
      }
      const ack = route.ack ?? { status: 200, body: '{"status":"ok"}' };
      res.writeHead(ack.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(ack.body)) });
      res.end(ack.body);
      done(ack.status, { ...tags, bytes: body.length, queue: queue.id });
      return;
    }

    if (deps.ready) await deps.ready.catch(() => undefined);
    const fn = deps.functions.get(route.target.function);
    if (!fn) {
      json(res, 502, { message: `function "${route.target.function}" is not wired in infra/local/functions.ts` });
      done(502, tags);
      return;
    }
    const event = apiGatewayEvent({
      route,
      method,
      path,
      pathParams: params,
      query: url.searchParams,
      headerPairs: pairs,
      body,
      requestId,
      receivedAt: started,
      sourceIp: sourceIp(req),
      host: req.headers.host ?? 'localhost',
    });
    let result: unknown;
    try {
      result = await invoke(fn.def, fn.handler, event, deps.region);
    } catch (e) {
      json(res, 502, { message: 'Internal server error' });
      log.pipeline('http').error('function failed', { ...tags, error: safeErrorDescription(e, Object.values(params)) });
      return;
    }
    const r = result as {
      statusCode?: unknown;
      headers?: Record<string, unknown>;
      multiValueHeaders?: Record<string, unknown[]>;
      body?: unknown;
      isBase64Encoded?: unknown;
    } | null;
    if (!r || typeof r.statusCode !== 'number') {
      // API Gateway's answer to a malformed Lambda proxy response.
      json(res, 502, { message: 'Internal server error' });
      log.pipeline('http').error('malformed Lambda proxy response (no numeric statusCode)', tags);
      return;
    }
    for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== undefined) res.setHeader(k, String(v));
    for (const [k, vs] of Object.entries(r.multiValueHeaders ?? {})) if (Array.isArray(vs)) res.setHeader(k, vs.map(String));
    const out =
      typeof r.body === 'string' ? (r.isBase64Encoded === true ? Buffer.from(r.body, 'base64') : Buffer.from(r.body)) : Buffer.alloc(0);
    res.statusCode = r.statusCode;
    res.end(out);
    done(r.statusCode, { ...tags, bytes: body.length, function: fn.def.id });
  }

  const server = createServer((req, res) => {
    inFlight++;
    handle(req, res)
      .catch((e: unknown) => {
        log.pipeline('http').error('unhandled', { error: safeErrorDescription(e) });
        if (!res.headersSent) json(res, 500, { message: 'Internal server error' });
        else res.destroy();
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0) idle?.();
      });
  });
  server.keepAliveTimeout = 5000;

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Constant-time membership: the key is compared with every accepted one in full. */
function hasKey(keys: ReadonlySet<string>, key: string): boolean {
  const given = createHash('sha256').update(key).digest();
  let found = false;
  for (const k of keys) if (timingSafeEqual(given, createHash('sha256').update(k).digest())) found = true;
  return found;
}
