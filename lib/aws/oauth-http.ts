/**
 * `GET /oauth/callback` (amoCRM's redirect after consent) and `GET /oauth/disconnect` (amoCRM's
 * "access revoked" hook) as API Gateway proxy events (functions/oauth.ts is the front door):
 * query → lib/amocrm/oauth → a small answer. Every refusal is a JSON 4xx `{error, message}` and
 * stores nothing; the success page names the account, never a token. Responses are `no-store`
 * and send no referrer (the callback URL carries a code).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { OAuthRequestError, type OAuthDisconnect, type OAuthInstall } from '../amocrm/oauth/index.ts';
import type { Log } from '../common/log.ts';

export interface OAuthHandlerDeps {
  install: Pick<OAuthInstall, 'handleCallback'>;
  disconnect: Pick<OAuthDisconnect, 'verifyDisconnect'>;
  log: Log;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function jsonAnswer(status: number, body: Record<string, unknown>): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS },
    body: JSON.stringify(body),
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function connectedPage(account: string, wantsHtml: boolean): APIGatewayProxyResult {
  if (!wantsHtml) return jsonAnswer(200, { status: 'connected', account });
  const body = `<!doctype html><meta charset="utf-8"><title>Connected</title><p>amoCRM account <b>${escapeHtml(account)}</b> is connected to amo-gateway. You can close this window.</p>`;
  return { statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS }, body };
}

type Query = Record<string, string | undefined>;

/** Single-valued query; a parameter given twice with different values is refused (which referer would we trust?). */
function readQuery(event: APIGatewayProxyEvent): Query | OAuthRequestError {
  const out: Query = { ...(event.queryStringParameters ?? {}) };
  for (const [k, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    if (!values || values.length === 0) continue;
    if (new Set(values).size > 1)
      return new OAuthRequestError(400, 'ambiguous_parameter', `query parameter "${k}" is given more than once`);
    out[k] = values[0];
  }
  return out;
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v ?? undefined;
  return undefined;
}

export function createOAuthHandler(deps: OAuthHandlerDeps) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const path = event.resource && !event.resource.includes('{') ? event.resource : event.path;
    const which = path?.endsWith('/oauth/callback') ? 'callback' : path?.endsWith('/oauth/disconnect') ? 'disconnect' : undefined;
    if (!which) return jsonAnswer(404, { error: 'not_found', message: 'no such OAuth route' });
    if (event.httpMethod !== 'GET') return jsonAnswer(405, { error: 'method_not_allowed', message: `${which} takes GET only` });
    const q = readQuery(event);
    try {
      if (q instanceof OAuthRequestError) throw q;
      if (which === 'callback') {
        const res = await deps.install.handleCallback(q);
        deps.log.info('oauth callback: account connected', { account: res.account });
        return connectedPage(res.account, (header(event, 'accept') ?? '').includes('text/html'));
      }
      const res = await deps.disconnect.verifyDisconnect(q);
      deps.log.info('oauth disconnect hook', { account: res.account ?? null, changed: res.changed });
      return jsonAnswer(
        200,
        res.account
          ? { status: 'ok', account: res.account }
          : { status: 'ignored', message: 'the signature is valid but names no account configured here' },
      );
    } catch (e) {
      if (e instanceof OAuthRequestError) {
        deps.log.warn(`oauth ${which} refused`, { status: e.status, error: e.code });
        return jsonAnswer(e.status, { error: e.code, message: e.message });
      }
      deps.log.error(`oauth ${which} failed`, { error: (e as Error).name, message: (e as Error).message });
      return jsonAnswer(500, {
        error: 'internal_error',
        message: 'the request could not be completed; nothing was changed that a retry cannot fix',
      });
    }
  };
}
