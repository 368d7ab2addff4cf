/**
 * The one place that talks to amoCRM's token endpoint: `POST <account>/oauth2/access_token`
 * (docs/amocrm-protocol.md#token-endpoint: the account's own host, not www, not under /api/v4). JSON
 * body, as the Kommo recipe sends it. Answers are classified into TokenEndpointError kinds so
 * callers decide without reading bodies. Nothing here logs; errors carry amoCRM's title/hint
 * and never the request body (it holds the secret and the tokens).
 */
import { TokenEndpointError } from './errors.ts';

export type FetchFn = typeof fetch;

export interface TokenEndpointClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export type Grant = { grant_type: 'authorization_code'; code: string } | { grant_type: 'refresh_token'; refresh_token: string };

export interface TokenResponse {
  accessToken: string;
  refreshToken: string;
  /** seconds */
  expiresIn: number;
  tokenType: string;
}

export interface TokenRequestOptions {
  fetch: FetchFn;
  /** The account's base URL, e.g. https://x.amocrm.ru (no trailing slash). */
  baseUrl: string;
  client: TokenEndpointClient;
  grant: Grant;
  timeoutMs: number;
}

interface ProblemJson {
  title?: unknown;
  hint?: unknown;
  detail?: unknown;
  type?: unknown;
  status?: unknown;
}

function describe(status: number, body: string): { text: string; hint: string; title: string; oauthProblem: boolean } {
  let p: ProblemJson = {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) p = parsed as ProblemJson;
  } catch {
    // amoCRM answers some errors (403 block, 429) with HTML (docs/amocrm-protocol.md#blocking, #rate-limits): no detail then.
  }
  const title = typeof p.title === 'string' ? p.title : '';
  const hint = typeof p.hint === 'string' ? p.hint : '';
  const detail = typeof p.detail === 'string' ? p.detail : '';
  const text = [title, hint && `hint: ${hint}`, detail].filter(Boolean).join('; ').slice(0, 300);
  // amoCRM's own OAuth refusals (docs/amocrm-protocol.md#token-endpoint-errors) are
  // problem JSON: `type` …/OAuthProblemJson, `status` = the HTTP status, a `title` and/or `hint`.
  // *assumed*: either the type or the matching status field is enough (Kommo may name the type
  // under its own host); an HTML page, an empty body or a proxy's `{"message":…}` is not it.
  const typed = typeof p.type === 'string' && /OAuthProblemJson/i.test(p.type);
  const oauthProblem = (title !== '' || hint !== '') && (typed || p.status === status);
  return { text: `HTTP ${status}${text ? ` (${text})` : ''}`, hint, title, oauthProblem };
}

export async function requestToken(opts: TokenRequestOptions): Promise<TokenResponse> {
  const url = `${opts.baseUrl}/oauth2/access_token`;
  const host = new URL(url).host;
  let res: Response;
  let body: string;
  try {
    res = await opts.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        client_id: opts.client.clientId,
        client_secret: opts.client.clientSecret,
        redirect_uri: opts.client.redirectUri,
        ...opts.grant,
      }),
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'manual', // a redirect would re-send the secret somewhere we did not check
    });
    body = await res.text();
  } catch (e) {
    throw new TokenEndpointError(
      'transient',
      undefined,
      `token endpoint at ${host} unreachable: ${(e as Error).name}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const what = opts.grant.grant_type === 'refresh_token' ? 'refresh' : 'code exchange';
  if (res.status >= 200 && res.status < 300) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body) as Record<string, unknown>;
    } catch (e) {
      throw new TokenEndpointError(
        'bad-response',
        res.status,
        `token endpoint at ${host} answered ${res.status} with a body that is not JSON`,
        { cause: e },
      );
    }
    const { access_token, refresh_token, expires_in, token_type } = json;
    if (
      typeof access_token !== 'string' ||
      !access_token ||
      typeof refresh_token !== 'string' ||
      !refresh_token ||
      typeof expires_in !== 'number' ||
      !(expires_in > 0)
    ) {
      throw new TokenEndpointError(
        'bad-response',
        res.status,
        `token endpoint at ${host} answered ${res.status} without access_token, refresh_token and expires_in`,
      );
    }
    return {
      accessToken: access_token,
      refreshToken: refresh_token,
      expiresIn: expires_in,
      tokenType: typeof token_type === 'string' ? token_type : 'Bearer',
    };
  }
  const d = describe(res.status, body);
  const msg = `${what} at ${host} refused: ${d.text}`;
  // Only amoCRM's documented refusals kill the grant (the caller marks the account needs-reauth):
  // a 400/401 in its OAuth problem shape.
  if (res.status === 401 && d.oauthProblem) {
    // "Некорректный клиент" = client id / secret / redirect_uri (docs/amocrm-protocol.md#token-endpoint-errors); anything else
    // on a 401 ("Token has been revoked", reused code) means the grant itself is dead.
    if (/Некорректный клиент|invalid[_ ]client/i.test(d.title)) throw new TokenEndpointError('invalid-client', 401, msg);
    throw new TokenEndpointError('revoked', 401, msg);
  }
  if (res.status === 400 && d.oauthProblem) throw new TokenEndpointError('invalid-grant', 400, msg);
  if (res.status === 403) throw new TokenEndpointError('blocked', 403, msg);
  if (res.status === 429) throw new TokenEndpointError('throttled', 429, msg);
  if (res.status >= 300 && res.status < 400)
    throw new TokenEndpointError('bad-response', res.status, `${what} at ${host}: unexpected redirect (not followed)`);
  if (res.status >= 500) throw new TokenEndpointError('transient', res.status, msg);
  // Any other 4xx (404/408/409, a 400/401 without amoCRM's problem body): a proxy, a maintenance
  // page or a renamed subdomain, not a verdict on the grant. Retried; never marks needs-reauth.
  throw new TokenEndpointError('bad-response', res.status, `${what} at ${host}: unexpected answer, not amoCRM's OAuth error: ${d.text}`);
}
