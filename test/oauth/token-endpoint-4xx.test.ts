/**
 * Which token-endpoint answers kill a grant. Only amoCRM's own refusals (400/401 with its OAuth
 * problem JSON, docs/amocrm-protocol.md#token-endpoint-errors) mean "re-authorize"; a 404/408/409 from a proxy or a maintenance
 * page — or a 400/401 that is an HTML page — is `bad-response`: retried, the account stays active.
 * A tiny local server stands in for what sits in front of amoCRM (the sandbox only injects 5xx).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountNeedsReauthError, TokenEndpointError } from '../../lib/amocrm/oauth/index.ts';
import { requestToken } from '../../lib/amocrm/oauth/token-endpoint.ts';
import { startWorld, type World } from './support.ts';

const DAY = 86_400_000;
const OAUTH_TYPE = 'https://developers.amocrm.ru/v3/errors/OAuthProblemJson';
const MAINTENANCE =
  '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** Answers every request with `answer` (set per test) and counts them. */
let answer: Answer = { status: 404, contentType: 'text/html', body: MAINTENANCE };
let hits = 0;
let server: Server;
let frontUrl = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    hits += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      res.end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  frontUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const notGrantFailures: Array<[string, Answer]> = [
  ['404 nginx page', { status: 404, contentType: 'text/html', body: MAINTENANCE }],
  ['408 empty', { status: 408, contentType: 'text/plain', body: '' }],
  ['409 proxy JSON', { status: 409, contentType: 'application/json', body: '{"message":"Conflict"}' }],
  ['400 HTML maintenance page', { status: 400, contentType: 'text/html', body: '<html><title>Bad Request</title></html>' }],
  [
    '401 HTML from an auth proxy',
    { status: 401, contentType: 'text/html', body: '<html><title>401 Authorization Required</title></html>' },
  ],
];

describe('the token endpoint answers with a 4xx that is not amoCRM’s OAuth refusal', () => {
  it.each(notGrantFailures)('%s during a refresh: bad-response (retry), the account stays active', async (_name, a) => {
    world = await startWorld();
    const w = world;
    await w.install();
    // The account's token endpoint now sits behind something that answers for it.
    const store = w.newStore();
    const rec = (await store.get({ clientId: w.clientId, accountKey: 'clinic' }))!;
    const { version, ...rest } = rec;
    await store.put({ ...rest, baseUrl: frontUrl }, version);
    w.clock.advance(DAY + 1);
    answer = a;
    const before = hits;

    const err = await w
      .oauth()
      .provider.getToken('clinic')
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(AccountNeedsReauthError);
    expect(err).toBeInstanceOf(TokenEndpointError);
    expect(err).toMatchObject({ kind: 'bad-response', status: a.status });
    expect((err as TokenEndpointError).toOutcome().kind).toBe('retry');
    expect(hits - before).toBe(1);
    expect((await w.oauth().lifecycle.read('clinic'))?.status).toBe('active');
    expect(w.metrics.total('AccountNeedsReauth')).toBe(0);
  });
});

describe('amoCRM’s documented refusals still kill the grant', () => {
  const call = async (a: Answer) => {
    answer = a;
    return requestToken({
      fetch: globalThis.fetch,
      baseUrl: frontUrl,
      client: { clientId: 'c', clientSecret: 's', redirectUri: 'https://gw.example/cb' },
      grant: { grant_type: 'refresh_token', refresh_token: 'r' },
      timeoutMs: 2_000,
    }).catch((e: unknown) => e);
  };
  const problem = (status: number, fields: Record<string, unknown>): Answer => ({
    status,
    contentType: 'application/problem+json',
    body: JSON.stringify({ ...fields, type: OAUTH_TYPE, status }),
  });

  it.each([
    [
      '401 "Token has been revoked"',
      'revoked',
      problem(401, {
        hint: 'Token has been revoked',
        title: 'Некорректный запрос',
        detail: 'В запросе отсутствует ряд параметров или параметры невалидны',
      }),
    ],
    [
      '401 "Некорректный клиент"',
      'invalid-client',
      problem(401, { title: 'Некорректный клиент', detail: 'Авторизация клиента не прошла' }),
    ],
    ['400 expired code', 'invalid-grant', problem(400, { hint: 'Authorization code has expired', title: 'Некорректный запрос' })],
  ] as const)('%s → %s', async (_name, kind, a) => {
    expect(await call(a)).toMatchObject({ name: 'TokenEndpointError', kind, status: a.status });
  });
});
