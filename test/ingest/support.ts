/** Shared set-up for the ingest tests: a config with one account per fixture subdomain, envelopes as the edge builds them. */
import { buildEnvelope, type Envelope } from '../../lib/envelope.ts';
import { parseConfig, type Config, type ConfigInput } from '../../lib/config/index.ts';
import type { SecretSource } from '../../lib/config/secrets.ts';
import type { Log } from '../../lib/common/log.ts';
import type { ProcessorContext } from '../../lib/pipeline/registry.ts';

export const HOOK_HEADERS = ['content-type', 'user-agent', 'x-amocrm-requestid'];

/** Subdomain → amoCRM account id (when the fixtures name one) of every fixture's account. */
export const FIXTURE_ACCOUNTS: Record<string, number | undefined> = {
  test000002: undefined,
  unirock: 16700680,
  apfitness: undefined,
  anyor: 30307558,
  etesttask: 32427762,
  example: undefined,
  appgpt: 31257294,
  test: undefined,
};

/** Our account id for a fixture subdomain (ids must start with a letter). */
export const accountIdOf = (sub: string): string => `acc-${sub}`;
/** The hook token value of an account (test secrets). */
export const tokenOf = (sub: string): string => `hook-token-${sub}-7f3a9c2e51b04d88`;

export function fixtureConfig(over: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    integrations: [
      {
        id: 'main',
        clientId: 'client-0000-0000-0001',
        clientSecret: { secret: 'client-secret' },
        redirectUri: 'https://gw.example.com/oauth/callback',
      },
    ],
    accounts: Object.entries(FIXTURE_ACCOUNTS).map(([sub, amoId]) => ({
      id: accountIdOf(sub),
      integration: 'main',
      subdomain: sub,
      domain: 'amocrm.ru' as const,
      ...(amoId !== undefined ? { accountId: amoId } : {}),
      hookToken: { secret: `hooks/${sub}` },
    })),
    ...over,
  });
}

/** A SecretSource over a mutable map that counts its reads (rotation, caching, outages). */
export class TestSecrets implements SecretSource {
  reads = 0;
  down = false;
  readonly values: Record<string, string> = Object.fromEntries(Object.keys(FIXTURE_ACCOUNTS).map((sub) => [`hooks/${sub}`, tokenOf(sub)]));
  async get(name: string): Promise<string> {
    this.reads++;
    if (this.down) throw new Error('secret store unreachable');
    const v = this.values[name];
    if (v === undefined) throw new Error(`no secret ${name}`);
    return v;
  }
}

export function hookEnvelope(
  body: Buffer | string,
  token: string | undefined,
  headers: Record<string, string> = {},
  requestId = 'gw-req-1',
): Envelope {
  return buildEnvelope(
    {
      routeId: 'amocrm-hook',
      pathParams: token === undefined ? {} : { token },
      query: {},
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'amoCRM-Webhooks/3.0', ...headers },
      body: typeof body === 'string' ? Buffer.from(body) : body,
      receivedAt: 1_767_225_600_000,
      requestId,
      sourceIp: '127.0.0.1',
    },
    HOOK_HEADERS,
  );
}

export interface LogLine {
  level: string;
  message: string;
  attrs: Record<string, unknown>;
}

export function captureLog(): { log: Log; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (message: string, attrs: Record<string, unknown> = {}) =>
      void lines.push({ level, message, attrs });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

export function ctxFor(env: Envelope, log: Log, receiveCount = 1): ProcessorContext {
  return {
    route: { id: 'amocrm-hook', bodyLimitBytes: 512 * 1024, target: { kind: 'queue', queue: 'amocrm-hooks' } },
    queueId: 'amocrm-hooks',
    messageId: 'm-1',
    receiveCount,
    mayHaveRun: receiveCount > 1 || (env.attempt ?? 0) > 0 || (env.deferrals ?? 0) > 0,
    body: Buffer.from(env.body, 'base64'),
    log,
    now: () => Date.now(),
  };
}
