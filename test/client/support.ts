/** Test wiring for the REST client: a sandbox, a token source over a real sandbox token, clients. */
import { startSandbox, type Sandbox, type SandboxOptions } from '../../infra/local/sandbox/index.ts';
import { AmoClient, type AmoClientOptions } from '../../lib/amocrm/client/client.ts';
import type { AccountRef, ClientEvent, TokenSource } from '../../lib/amocrm/client/types.ts';
import { MemoryBreakerStore } from '../../lib/amocrm/client/breaker-store.ts';
import { MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { MemoryRateBudget } from '../../lib/amocrm/client/rate-budget.ts';

export const CLIENT_ID = 'client-test';
export const ACCOUNT: AccountRef = { clientId: CLIENT_ID, accountKey: 'acc1' };

export interface TestSandbox extends Sandbox {
  /** epoch ms of every REST request the sandbox answered, with its status (from its log). */
  arrivals: Array<{ at: number; line: string; status: number | null }>;
}

/** A sandbox with one integration; `fast` raises its limits so functional tests do not crawl at 7/s. */
export async function sandbox(opts: SandboxOptions & { fast?: boolean } = {}): Promise<TestSandbox> {
  const arrivals: TestSandbox['arrivals'] = [];
  const { fast, ...rest } = opts;
  const sb = await startSandbox({
    integrations: [{ clientId: CLIENT_ID, clientSecret: 'secret-test', redirectUri: 'https://gw.example/oauth/callback' }],
    ...(fast ? { limits: { perIntegrationPerSecond: 1_000, perAccountPerSecond: 1_000, ...rest.limits } } : {}),
    ...rest,
    log: (line) => {
      const m = / (\d{3}) \d+ms$/.exec(line);
      if (line.includes('/api/v4/')) arrivals.push({ at: Date.now(), line, status: m ? Number(m[1]) : null });
    },
  });
  return Object.assign(sb, { arrivals });
}

/** A TokenSource over one long-lived sandbox token (a test double of the port). */
export function tokenSource(sb: Sandbox, clientId = CLIENT_ID): TokenSource & { token: string; unauthorized: number } {
  const t = sb.admin.issueLongLivedToken({ clientId });
  const src = {
    token: t.access_token,
    unauthorized: 0,
    getToken: async () => ({ accessToken: src.token, baseUrl: sb.url }),
    onUnauthorized: async () => {
      src.unauthorized += 1;
    },
  };
  return src;
}

export function fastClient(
  sb: Sandbox,
  extra: Partial<AmoClientOptions> = {},
): { client: AmoClient; events: ClientEvent[]; tokens: ReturnType<typeof tokenSource> } {
  const events: ClientEvent[] = [];
  const tokens = tokenSource(sb);
  const client = new AmoClient({
    tokens,
    budget: new MemoryRateBudget({ perIntegrationPerSecond: 1_000, perAccountPerSecond: null }),
    breaker: new MemoryBreakerStore(),
    cache: new MemoryCacheStore(),
    observer: (e) => events.push(e),
    mode: 'await',
    ...extra,
  });
  return { client, events, tokens };
}

export function requestsOf(events: ClientEvent[]): Array<Extract<ClientEvent, { type: 'request' | 'request-failed' }>> {
  return events.filter(
    (e): e is Extract<ClientEvent, { type: 'request' | 'request-failed' }> => e.type === 'request' || e.type === 'request-failed',
  );
}
