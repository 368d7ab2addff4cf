/**
 * The three ways an account gets a token (docs/amocrm-protocol.md#oauth, #long-lived-tokens):
 * 1. The consent link: `authLink()` issues a single-use `state` (stored with a TTL) and builds
 *    the consent URL; amoCRM redirects the admin's browser to our callback, `handleCallback()`
 *    checks it and exchanges the code at the account's own host.
 * 2. A pasted code (private integrations show a 20-minute code): `exchangeCode()`.
 * 3. A long-lived token (private integrations, 1 day – 5 years, no refresh token): `saveLongLived()`.
 *
 * The callback is reachable by anyone, so every check that protects the client secret runs
 * BEFORE any outbound request: the client id must be ours, the referer must be a bare host on the
 * allow-list AND the configured host of the account being installed, the state must be one we
 * issued (unless stateless installs are explicitly allowed). A crafted link can at most make us
 * say no.
 */
import { randomBytes } from 'node:crypto';
import { accountHost, hostAllowed } from '../../config/hosts.ts';
import type { AccountConfig, Config, IntegrationConfig } from '../../config/schema.ts';
import type { ResolvedAccount } from '../../config/load.ts';
import type { OAuthStateStore, TokenRecord } from './token-store.ts';
import { OAuthRequestError, TokenEndpointError } from './errors.ts';
import { readTokenClaims } from './jwt.ts';
import type { TokenGrants } from './grants.ts';

export interface CallbackQuery {
  code?: string;
  state?: string;
  referer?: string;
  client_id?: string;
  from_widget?: string;
  error?: string;
  /** Anything else amoCRM adds (platform, …) is ignored. */
  [k: string]: string | undefined;
}

export interface InstallResult {
  account: string;
  via: 'callback' | 'code' | 'long-lived';
  /** The stored record without its tokens. */
  status: TokenRecord['status'];
  accessExpiresAt: number;
}

export interface AuthLink {
  url: string;
  /** epoch ms after which the state is refused */
  stateValidUntil: number;
}

export type ConsentMode = 'post_message' | 'popup';

/** Where an account's admin gives consent: www.<domain>/oauth, or the account's own base URL when overridden (the sandbox). */
export function consentUrl(account: AccountConfig): string {
  return account.baseUrl ? `${account.baseUrl.replace(/\/+$/, '')}/oauth` : `https://www.${account.domain}/oauth`;
}

/** A `referer` is a bare host[:port]: no scheme, path, user info or spaces. */
export function normalizeReferer(raw: string): string | undefined {
  const h = raw.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9.-]{0,252})(:\d{1,5})?$/.test(h) || h.includes('..')) return undefined;
  return h;
}

export class OAuthInstall {
  constructor(
    private readonly lifecycle: TokenGrants,
    private readonly states: OAuthStateStore,
    private readonly random: (n: number) => Buffer = randomBytes,
  ) {}

  private get config(): Config {
    return this.lifecycle.config;
  }

  /** Issues a single-use state for `account` and returns the consent URL to open as an account admin. */
  async authLink(account: string, mode: ConsentMode = 'post_message'): Promise<AuthLink> {
    const r = this.lifecycle.resolve(account);
    const state = this.random(24).toString('base64url');
    const now = this.lifecycle.clock.now();
    const validUntil = now + this.config.oauth.stateTtlSeconds * 1000;
    await this.states.putState(state, { integrationId: r.integration.id, accountId: r.account.id, createdAt: now, validUntil });
    const url = new URL(consentUrl(r.account));
    url.searchParams.set('client_id', r.integration.clientId);
    url.searchParams.set('state', state);
    url.searchParams.set('mode', mode);
    return { url: url.toString(), stateValidUntil: validUntil };
  }

  /** The redirect from amoCRM. Throws OAuthRequestError (with the HTTP status to answer) on anything wrong; nothing is stored then. */
  async handleCallback(q: CallbackQuery): Promise<InstallResult> {
    if (q.error !== undefined) {
      if (q.error === 'access_denied')
        throw new OAuthRequestError(400, 'access_denied', 'the account admin declined access (error=access_denied); nothing was stored');
      throw new OAuthRequestError(400, 'oauth_error', `amoCRM redirected with error "${q.error.slice(0, 60)}"; nothing was stored`);
    }
    if (!q.code) throw new OAuthRequestError(400, 'missing_code', 'the callback has no `code`; open the consent link again');
    // Real codes are a few hundred characters (*assumed* bound); anything huge is not one.
    if (q.code.length > 4096) throw new OAuthRequestError(400, 'invalid_code', 'the `code` is too long to be an authorization code');
    const integration = this.integrationByClientId(q.client_id);
    if (!q.referer) throw new OAuthRequestError(400, 'missing_referer', 'the callback has no `referer` (the account host)');
    const host = normalizeReferer(q.referer);
    if (!host) throw new OAuthRequestError(400, 'invalid_referer', '`referer` must be a bare host such as mycompany.amocrm.ru');
    if (!hostAllowed(host, this.config.oauth.refererAllowList)) {
      throw new OAuthRequestError(
        403,
        'foreign_referer',
        `referer ${host} is not an amoCRM/Kommo account host we accept (oauth.refererAllowList)`,
      );
    }
    const account = await this.accountForCallback(q, integration, host);
    let pair;
    try {
      pair = await this.lifecycle.exchangeCode({ account, integration }, q.code);
    } catch (e) {
      throw this.exchangeFailure(e);
    }
    const rec = await this.lifecycle.saveGrant({ account, integration }, { kind: 'oauth', pair, via: 'callback' });
    return { account: account.id, via: 'callback', status: rec.status, accessExpiresAt: pair.accessExpiresAt };
  }

  /** A code pasted by an operator (the integration's "Keys and scopes" tab, valid 20 minutes). */
  async exchangeCode(account: string, code: string): Promise<InstallResult> {
    const r = this.lifecycle.resolve(account);
    if (!code.trim()) throw new OAuthRequestError(400, 'missing_code', 'the code is empty');
    let pair;
    try {
      pair = await this.lifecycle.exchangeCode(r, code.trim());
    } catch (e) {
      throw this.exchangeFailure(e);
    }
    const rec = await this.lifecycle.saveGrant(r, { kind: 'oauth', pair, via: 'code' });
    return { account: r.account.id, via: 'code', status: rec.status, accessExpiresAt: pair.accessExpiresAt };
  }

  /**
   * A long-lived token: stored with kind `long-lived`, never refreshed. Its expiry comes from the
   * token's own `exp` claim, or from `expiresAt` when given (it must be, for a token that is not a JWT).
   */
  async saveLongLived(account: string, token: string, expiresAt?: number): Promise<InstallResult> {
    const r = this.lifecycle.resolve(account);
    const t = token.trim();
    if (!t || /\s/.test(t)) throw new OAuthRequestError(400, 'invalid_token', 'a long-lived token is one line without spaces');
    const claims = readTokenClaims(t);
    const exp = expiresAt ?? claims.expiresAt;
    if (exp === undefined)
      throw new OAuthRequestError(400, 'missing_expiry', 'the token carries no expiry (exp claim); give it explicitly (--expires)');
    const now = this.lifecycle.clock.now();
    if (exp <= now) throw new OAuthRequestError(400, 'token_expired', `the long-lived token expired at ${new Date(exp).toISOString()}`);
    const rec = await this.lifecycle.saveGrant(r, {
      kind: 'long-lived',
      pair: { accessToken: t, accessExpiresAt: exp, issuedAt: claims.issuedAt ?? now },
      via: 'long-lived',
    });
    return { account: r.account.id, via: 'long-lived', status: rec.status, accessExpiresAt: exp };
  }

  private integrationByClientId(clientId: string | undefined): IntegrationConfig {
    if (!clientId) throw new OAuthRequestError(400, 'missing_client_id', 'the callback has no `client_id`');
    const integration = this.config.integrations.find((i) => i.clientId === clientId);
    if (!integration)
      throw new OAuthRequestError(400, 'unknown_client', 'the callback names an integration (client_id) this gateway does not hold');
    return integration;
  }

  /** Which configured account is being installed: from our state, or (stateless, if allowed) from the referer. */
  private async accountForCallback(q: CallbackQuery, integration: IntegrationConfig, host: string): Promise<AccountConfig> {
    if (q.state) {
      const issued = await this.states.takeState(q.state, this.lifecycle.clock.now());
      if (!issued)
        throw new OAuthRequestError(
          400,
          'invalid_state',
          'unknown, expired or already used `state`; open a fresh consent link (`amo-gateway auth link`)',
        );
      const r: ResolvedAccount | undefined = this.tryResolve(issued.accountId);
      if (!r || r.integration.id !== integration.id)
        throw new OAuthRequestError(400, 'state_mismatch', 'the `state` was issued for another integration');
      if (accountHost(r.account) !== host) {
        throw new OAuthRequestError(
          400,
          'state_mismatch',
          `the state was issued for account "${r.account.id}" (${accountHost(r.account)}) but consent came from ${host}; check the account's subdomain in the config`,
        );
      }
      return r.account;
    }
    if (!this.config.oauth.allowStatelessInstall) {
      throw new OAuthRequestError(
        400,
        'missing_state',
        'the callback has no `state`; installs must start from our consent link (oauth.allowStatelessInstall is off)',
      );
    }
    const account = this.config.accounts.find((a) => a.integration === integration.id && accountHost(a) === host);
    if (!account)
      throw new OAuthRequestError(403, 'unknown_account', `no configured account of integration "${integration.id}" has host ${host}`);
    return account;
  }

  private tryResolve(account: string): ResolvedAccount | undefined {
    try {
      return this.lifecycle.resolve(account);
    } catch {
      return undefined;
    }
  }

  private exchangeFailure(e: unknown): Error {
    if (!(e instanceof TokenEndpointError)) return e as Error;
    switch (e.kind) {
      case 'invalid-grant':
      case 'revoked':
        return new OAuthRequestError(
          400,
          'code_rejected',
          `amoCRM refused the authorization code (it lives 20 minutes and works once): ${e.message}`,
          { cause: e },
        );
      case 'invalid-client':
        return new OAuthRequestError(
          502,
          'client_rejected',
          `amoCRM refused our client id / secret / redirect URI; check the integration config: ${e.message}`,
          { cause: e },
        );
      default:
        return new OAuthRequestError(502, 'amocrm_unavailable', `could not exchange the code: ${e.message}`, { cause: e });
    }
  }
}
