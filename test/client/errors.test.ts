/**
 * Typed errors for every failure amoCRM produces (against the sandbox where it can produce it;
 * an injected fetch for what it cannot: 402, garbage bodies, Retry-After headers), and proof that
 * no error carries the token.
 */
import { createServer, type AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmoClient } from '../../lib/amocrm/client/client.ts';
import type { AmoApiError } from '../../lib/amocrm/client/errors.ts';
import {
  AccountBlockedError,
  AmoAccountBlockedError,
  AmoNetworkError,
  AmoNotFoundError,
  AmoPaymentRequiredError,
  AmoRateLimitedError,
  AmoServerError,
  AmoTimeoutError,
  AmoUnauthorizedError,
  AmoUnexpectedResponseError,
  AmoValidationError,
} from '../../lib/amocrm/client/errors.ts';
import { cf } from '../../lib/amocrm/client/custom-fields.ts';
import type { FetchLike } from '../../lib/amocrm/client/types.ts';
import { outcomeFromError } from '../../lib/pipeline/outcome.ts';
import { MemoryBreakerStore } from '../../lib/amocrm/client/breaker-store.ts';
import { MemoryCacheStore } from '../../lib/amocrm/client/cache-store.ts';
import { MemoryRateBudget } from '../../lib/amocrm/client/rate-budget.ts';
import { ACCOUNT, fastClient, requestsOf, sandbox, type TestSandbox } from './support.ts';

function expectNoSecret(e: unknown, secret: string): void {
  const dump = `${inspect(e, { depth: 10, showHidden: true })} ${JSON.stringify(e)} ${String(e)} ${(e as Error).stack ?? ''}`;
  expect(dump).not.toContain(secret);
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('typed errors against the sandbox', () => {
  let sb: TestSandbox;
  beforeAll(async () => {
    sb = await sandbox({ fast: true });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('400 validation → AmoValidationError with the validation details (park)', async () => {
    const { client, tokens } = fastClient(sb);
    const e = await caught(client.forAccount(ACCOUNT).leads.add([{ name: 'x', custom_fields_values: [cf.text(999_999_999, 'v')] }]));
    expect(e).toBeInstanceOf(AmoValidationError);
    const v = e as AmoValidationError;
    expect(v.status).toBe(400);
    expect(v.validationErrors[0]?.errors[0]).toMatchObject({ code: 'NotSupportedChoice', path: 'custom_fields_values.0.field_id' });
    expect(v.message).toContain('NotSupportedChoice at custom_fields_values.0.field_id');
    expect(outcomeFromError(v)).toMatchObject({ kind: 'park', reason: 'amo-validation' });
    expectNoSecret(e, tokens.token);
  });

  it('401 → tells the TokenSource once, tries once more, then AmoUnauthorizedError (defer); no token in it', async () => {
    const { client, tokens, events } = fastClient(sb);
    tokens.token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cm9uZyJ9.c2lnbmF0dXJlLXRoYXQtaXMtd3Jvbmc';
    let calls = 0;
    tokens.onUnauthorized = async () => {
      calls += 1;
      tokens.token = `${tokens.token}x`; // a "refreshed" but still bad token
    };
    const e = await caught(client.forAccount(ACCOUNT).account.get());
    expect(e).toBeInstanceOf(AmoUnauthorizedError);
    expect(calls).toBe(1);
    expect(requestsOf(events).length).toBe(2);
    expect(outcomeFromError(e).kind).toBe('defer');
    expectNoSecret(e, 'c2lnbmF0dXJlLXRoYXQtaXMtd3Jvbmc');
  });

  it('401 then a refreshed token that works: the request goes through and the new token is confirmed used', async () => {
    const { client, tokens } = fastClient(sb);
    const good = tokens.token;
    tokens.token = 'stale-token-value';
    const confirmed: string[] = [];
    tokens.onUnauthorized = async () => {
      tokens.token = good;
    };
    (tokens as { confirmUsed?: (a: unknown, t: string) => Promise<void> }).confirmUsed = async (_a, t) => {
      confirmed.push(t);
    };
    expect((await client.forAccount(ACCOUNT).account.get()).id).toBeGreaterThan(0);
    expect(confirmed).toEqual([good]);
  });

  it('404 → AmoNotFoundError; 204 on a missing id → undefined, not an error', async () => {
    const { client } = fastClient(sb);
    const acc = client.forAccount(ACCOUNT);
    expect(await caught(acc.request({ method: 'GET', path: '/api/v4/nothing-here' }))).toBeInstanceOf(AmoNotFoundError);
    expect(await acc.leads.get(1, { cache: false })).toBeUndefined();
    const none = [];
    for await (const l of acc.leads.list({ query: 'no-such-lead-anywhere' })) none.push(l);
    expect(none).toEqual([]);
  });

  it('5xx: a read is retried with backoff and succeeds; a persistent nginx 503 page → AmoServerError (retry) with the page title', async () => {
    const { client, events } = fastClient(sb, { retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, maxRateLimitWaits: 1 } });
    const acc = client.forAccount(ACCOUNT);
    sb.admin.setFaults([{ path: '/api/v4/account', errorRate: 1, errorStatus: 500, times: 1 }]);
    expect((await acc.account.get()).id).toBeGreaterThan(0);
    expect(requestsOf(events).map((r) => ('status' in r ? r.status : r.error))).toEqual(['AmoServerError 500', 200]);
    sb.admin.setFaults([{ path: '/api/v4/account', errorRate: 1, errorStatus: 503, times: 10 }]);
    const e = await caught(acc.account.get());
    sb.admin.clearFaults();
    expect(e).toBeInstanceOf(AmoServerError);
    expect((e as AmoServerError).bodySnippet).toBe('503 Service Temporarily Unavailable');
    expect(outcomeFromError(e).kind).toBe('retry');
  });

  it('timeouts → AmoTimeoutError after the retries (the sandbox holds the request unanswered)', async () => {
    const { client, events } = fastClient(sb, {
      requestTimeoutMs: 150,
      retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20, maxRateLimitWaits: 1 },
    });
    sb.admin.setFaults([{ path: '/api/v4/users', timeoutRate: 1, times: 2 }]);
    const e = await caught(client.forAccount(ACCOUNT).users.list());
    sb.admin.clearFaults();
    expect(e).toBeInstanceOf(AmoTimeoutError);
    expect((e as AmoTimeoutError).timeoutMs).toBe(150);
    expect(requestsOf(events).filter((r) => r.type === 'request-failed').length).toBe(2);
  });

  it('429 (documented JSON, retry_after) → AmoRateLimitedError (defer) and the shared budget pauses', async () => {
    const strict = await sandbox({ limits: { perIntegrationPerSecond: 2, violationsBeforeBlock: 1000 } });
    try {
      const budget = new MemoryRateBudget({ perIntegrationPerSecond: 1_000, perAccountPerSecond: null });
      const { client, tokens } = fastClient(strict, { budget, mode: 'defer' });
      const acc = client.forAccount(ACCOUNT);
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => acc.account.get()));
      const limited = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
      expect(limited.length).toBeGreaterThan(0);
      const e = limited[0] as AmoRateLimitedError;
      expect(e).toBeInstanceOf(AmoRateLimitedError);
      expect(e.retryAfterMs).toBe(300_000);
      expect(outcomeFromError(e)).toEqual({ kind: 'defer', reason: 'amo-rate-limited', delaySeconds: 300 });
      expectNoSecret(e, tokens.token);
      // Every instance sharing the budget now waits: the next call is deferred without a request.
      const before = strict.admin.count({});
      const next = await caught(acc.account.get());
      expect(next).toMatchObject({ name: 'RateBudgetExhaustedError', reason: 'rate-paused' });
      expect(strict.admin.count({})).toBe(before);
    } finally {
      await strict.close();
    }
  });

  it('429 as an nginx HTML page (what users report) is still AmoRateLimitedError', async () => {
    const strict = await sandbox({ limits: { perIntegrationPerSecond: 1, violationsBeforeBlock: 1000, format429: 'html' } });
    try {
      const { client } = fastClient(strict, { mode: 'defer' });
      const acc = client.forAccount(ACCOUNT);
      const results = await Promise.allSettled([acc.account.get(), acc.account.get(), acc.account.get()]);
      const e = results.map((r) => (r.status === 'rejected' ? (r.reason as unknown) : undefined)).find((x) => x !== undefined);
      expect(e).toBeInstanceOf(AmoRateLimitedError);
      expect((e as AmoRateLimitedError).bodySnippet).toBe('429 Too Many Requests');
    } finally {
      await strict.close();
    }
  });

  it('403 block (nginx HTML) → AmoAccountBlockedError, breaker opens (alarm event), later calls are refused without a request', async () => {
    const blocked = await sandbox({ fast: true });
    try {
      const { client, events } = fastClient(blocked);
      const acc = client.forAccount(ACCOUNT);
      blocked.admin.block();
      const e = await caught(acc.account.get());
      expect(e).toBeInstanceOf(AmoAccountBlockedError);
      expect((e as AmoAccountBlockedError).bodySnippet).toBe('403 Forbidden');
      expect(outcomeFromError(e).kind).toBe('defer');
      expect(events.filter((x) => x.type === 'breaker-opened')).toHaveLength(1);
      const sent = blocked.admin.count({});
      expect(await caught(acc.users.list({ refresh: true }))).toBeInstanceOf(AccountBlockedError);
      expect(blocked.admin.count({})).toBe(sent);
    } finally {
      await blocked.close();
    }
  });
});

describe('typed errors for what the sandbox does not produce (injected fetch)', () => {
  const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJ0ZXN0IjoidG9rZW4ifQ.c2VjcmV0LXNpZ25hdHVyZS0xMjM0NTY3ODkw';
  function clientWith(fetchFn: FetchLike, extra: { requestTimeoutMs?: number } = {}) {
    return new AmoClient({
      tokens: { getToken: async () => ({ accessToken: TOKEN, baseUrl: 'https://acme.amocrm.ru' }), onUnauthorized: async () => {} },
      budget: new MemoryRateBudget({ perIntegrationPerSecond: 1_000, perAccountPerSecond: null }),
      breaker: new MemoryBreakerStore(),
      cache: new MemoryCacheStore(),
      fetch: fetchFn,
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRateLimitWaits: 0 },
      ...extra,
    }).forAccount(ACCOUNT);
  }
  const respond =
    (status: number, body: string, headers: Record<string, string> = {}): FetchLike =>
    async () =>
      new Response(status === 204 ? null : body, { status, headers });

  it('402 → AmoPaymentRequiredError (park)', async () => {
    const e = await caught(
      clientWith(
        respond(402, '{"title":"Payment Required","status":402,"detail":"Account is not paid"}', {
          'content-type': 'application/problem+json',
        }),
      ).account.get(),
    );
    expect(e).toBeInstanceOf(AmoPaymentRequiredError);
    expect(outcomeFromError(e)).toMatchObject({ kind: 'park', reason: 'amo-payment-required' });
    expectNoSecret(e, 'c2VjcmV0LXNpZ25hdHVyZS0xMjM0NTY3ODkw');
  });

  it('HTML on a 200 → AmoUnexpectedResponseError (retry) with the title; broken JSON too', async () => {
    const e = await caught(
      clientWith(
        respond(200, '<html><head><title>Технические работы</title></head><body>…</body></html>', { 'content-type': 'text/html' }),
      ).account.get(),
    );
    expect(e).toBeInstanceOf(AmoUnexpectedResponseError);
    expect((e as AmoUnexpectedResponseError).bodySnippet).toBe('Технические работы');
    expect(outcomeFromError(e).kind).toBe('retry');
    expect(await caught(clientWith(respond(200, '{"id": 1,', { 'content-type': 'application/hal+json' })).account.get())).toBeInstanceOf(
      AmoUnexpectedResponseError,
    );
  });

  it('429 with a Retry-After header (seconds) sets retryAfterMs', async () => {
    const e = await caught(clientWith(respond(429, '', { 'retry-after': '7' })).account.get());
    expect(e).toMatchObject({ name: 'AmoRateLimitedError', retryAfterMs: 7_000 });
  });

  it('a 500 problem+json keeps title/detail but no token; 405 parks', async () => {
    const e = await caught(
      clientWith(
        respond(500, '{"title":"ErrInternalServer","status":500,"detail":"boom","trace_id":"t1"}', {
          'content-type': 'application/problem+json',
        }),
      ).account.get(),
    );
    expect(e).toBeInstanceOf(AmoServerError);
    expect((e as AmoApiError).problem).toMatchObject({ title: 'ErrInternalServer', detail: 'boom' });
    const m = await caught(
      clientWith(respond(405, '{"title":"Method Not Allowed","status":405}', { 'content-type': 'application/problem+json' })).account.get(),
    );
    expect(outcomeFromError(m).kind).toBe('park');
  });

  it('connection refused → AmoNetworkError, known not to have landed', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const real: FetchLike = (_input, init) => fetch(`http://127.0.0.1:${port}/api/v4/account`, init);
    const e = await caught(clientWith(real).account.get());
    expect(e).toBeInstanceOf(AmoNetworkError);
    expect((e as AmoNetworkError).mayHaveLanded).toBe(false);
    expectNoSecret(e, 'c2VjcmV0LXNpZ25hdHVyZS0xMjM0NTY3ODkw');
  });

  it('an upstream error echoing the Authorization header still yields no token in the error', async () => {
    const echo: FetchLike = async (_input, init) => {
      const auth = (init.headers as Record<string, string>).authorization ?? '';
      return new Response(JSON.stringify({ title: 'Bad Request', status: 400, detail: `header was ${auth}` }), {
        status: 400,
        headers: { 'content-type': 'application/problem+json' },
      });
    };
    const e = await caught(clientWith(echo).account.get());
    expect(e).toBeInstanceOf(AmoValidationError);
    expectNoSecret(e, 'c2VjcmV0LXNpZ25hdHVyZS0xMjM0NTY3ODkw');
  });
});
