/**
 * Shared set-up for the OAuth tests: a real sandbox (real sockets), a fresh DynamoDB Local table,
 * a config pointing at both, and a clock that sandbox and gateway share so tests can move time.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox, type Sandbox } from '../../infra/local/sandbox/index.ts';
import { createOAuth, type OAuth, type LifecycleTiming } from '../../lib/amocrm/oauth/index.ts';
import type { MetricsSink } from '../../lib/common/metrics-sink.ts';
import { parseConfig, type Config, type ConfigInput } from '../../lib/config/index.ts';
import { staticSecretSource } from '../../lib/config/secrets.ts';
import { DynamoTokenStore } from '../../lib/store/token-store.ts';
import type { TokenStore, OAuthStateStore } from '../../lib/amocrm/oauth/token-store.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

export class TestClock {
  constructor(public t = Date.UTC(2026, 0, 15, 9, 0, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Counts what was sent where, so "no request left the building" is an assertion, not a hope. */
export class FetchRecorder {
  readonly calls: Array<{ url: string; method: string }> = [];
  readonly fetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    this.calls.push({ url, method: init?.method ?? 'GET' });
    return globalThis.fetch(input, init);
  };
}

export class MetricsRecorder implements MetricsSink {
  readonly counts: Array<{ name: string; dimensions: Record<string, string>; value: number }> = [];
  count(name: string, dimensions: Record<string, string> = {}, value = 1): void {
    this.counts.push({ name, dimensions, value });
  }
  total(name: string): number {
    return this.counts.filter((c) => c.name === name).reduce((n, c) => n + c.value, 0);
  }
}

export const CLIENT_SECRET_NAME = 'amo-client-secret';

export interface World {
  sb: Sandbox;
  table: TestTable;
  clock: TestClock;
  config: Config;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  fetch: FetchRecorder;
  metrics: MetricsRecorder;
  /** A new engine as a separate Lambda container would have it: own DynamoDB client, own memory. */
  oauth(opts?: { store?: TokenStore & OAuthStateStore; timing?: Partial<LifecycleTiming>; config?: Config }): OAuth;
  newStore(): DynamoTokenStore;
  /** Installs the account with a code minted by the sandbox (the pasted-code way). */
  install(account?: string): Promise<void>;
  /** Sandbox token-endpoint counts by `grant:outcome`. */
  tokenCounts(): Record<string, number>;
  close(): Promise<void>;
}

export interface WorldOptions {
  accessTokenTtlSeconds?: number;
  oldAccessTokenDiesOnRefresh?: boolean;
  oauth?: Partial<NonNullable<ConfigInput['oauth']>>;
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const clock = new TestClock();
  const clientId = randomUUID();
  const clientSecret = `secret-${randomUUID()}`;
  const redirectUri = 'http://127.0.0.1:9/oauth/callback';
  const sb = await startSandbox({
    clock,
    account: { id: 32720107, subdomain: 'clinic' },
    integrations: [{ clientId, clientSecret, redirectUri }],
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds ?? 86_400,
    oldAccessTokenDiesOnRefresh: opts.oldAccessTokenDiesOnRefresh ?? false,
  });
  const table = await createTestTable('oauth');
  const config = parseConfig({
    integrations: [{ id: 'main', clientId, clientSecret: { secret: CLIENT_SECRET_NAME }, redirectUri }],
    accounts: [{ id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru', baseUrl: sb.url }],
    oauth: { refererAllowList: ['*.amocrm.ru', '*.amocrm.com', '*.kommo.com', sb.accountHost], ...opts.oauth },
  });
  const secrets = staticSecretSource({ [CLIENT_SECRET_NAME]: clientSecret });
  const recorder = new FetchRecorder();
  const metrics = new MetricsRecorder();
  const clients: DynamoDBClient[] = [table.client];
  const newStore = () => {
    const client = new DynamoDBClient({
      endpoint: table.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    clients.push(client);
    return new DynamoTokenStore({ doc: DynamoDBDocumentClient.from(client), tableName: table.tableName });
  };
  const world: World = {
    sb,
    table,
    clock,
    config,
    clientId,
    clientSecret,
    redirectUri,
    fetch: recorder,
    metrics,
    newStore,
    oauth: (o = {}) =>
      createOAuth({
        config: o.config ?? config,
        store: o.store ?? newStore(),
        secrets,
        fetch: recorder.fetch,
        clock,
        metrics,
        ...(o.timing ? { timing: o.timing } : {}),
      }),
    install: async (account = 'clinic') => {
      const { code } = sb.admin.mintCode({ clientId });
      await world.oauth().install.exchangeCode(account, code);
    },
    tokenCounts: () => sb.admin.counters().tokenEndpoint,
    close: async () => {
      await sb.close();
      for (const c of clients) c.destroy();
    },
  };
  return world;
}

/** A REST API (v1) proxy event as API Gateway — and the local runner — builds it. */
export function restEvent(
  path: string,
  query: Record<string, string> | URLSearchParams,
  opts: { method?: string; headers?: Record<string, string> } = {},
): APIGatewayProxyEvent {
  const params = query instanceof URLSearchParams ? query : new URLSearchParams(query);
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, v] of params) {
    single[k] = v;
    (multi[k] ??= []).push(v);
  }
  const has = [...params.keys()].length > 0;
  return {
    resource: path,
    path,
    httpMethod: opts.method ?? 'GET',
    headers: opts.headers ?? {},
    multiValueHeaders: {},
    queryStringParameters: has ? single : null,
    multiValueQueryStringParameters: has ? multi : null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  };
}

/** A tiny HTTP front that turns requests into REST v1 events for a handler (what the local runner does), so the sandbox can call us over a real socket. */
export async function serveHandler(
  handler: (e: APIGatewayProxyEvent) => Promise<{ statusCode: number; headers?: Record<string, unknown>; body: string }>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    void handler(restEvent(u.pathname, u.searchParams, { method: req.method ?? 'GET', headers })).then(
      (out) => {
        res.writeHead(out.statusCode, { 'content-type': String(out.headers?.['content-type'] ?? 'application/json') });
        res.end(out.body);
      },
      (e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Calls the sandbox API with a token: 200 means the token works. */
export async function apiStatus(sb: Pick<Sandbox, 'url'>, token: string): Promise<number> {
  const res = await fetch(`${sb.url}/api/v4/account`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}
