/**
 * OAuth2 as amoCRM does it (docs/amocrm-protocol.md#oauth, #disconnect-hook): the authorize page, the token endpoint
 * (authorization_code, refresh_token), rotation with the grace rule, long-lived tokens, revocation
 * and the signed disconnect hook. Bearer checks for the REST API live here too.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { html, isRecord, json, parseForm, parseJson } from './http-util.ts';
import { oauthBadRequest, oauthInvalidClient, oauthRefreshRejected } from './errors.ts';
import type { SbClock, SbRequest, SbResponse } from './types.ts';

export interface IntegrationConfig {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  disconnectUrl?: string;
}

export interface OAuthOptions {
  clock: SbClock;
  accountId: number;
  accountHost: () => string;
  currentUserId: () => number;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  oldAccessTokenDiesOnRefresh: boolean;
  /**
   * The grace rule on (Kommo: the old refresh token works "until you use the new one") or off (RU
   * `oauth/step-by-step`: "Refresh token можно обменять только один раз"). Read on every refresh so
   * the admin switch applies at once. Absent = on.
   */
  refreshGrace?: () => boolean;
  fetch: typeof fetch;
  log: (line: string) => void;
}

/** An authorization code lasts 20 minutes (docs/amocrm-protocol.md#lifetimes). */
export const CODE_TTL_MS = 20 * 60 * 1000;

interface Code {
  code: string;
  clientId: string;
  userId: number;
  expiresAt: number;
  used: boolean;
}

export interface TokenPair {
  id: string;
  clientId: string;
  userId: number;
  accessToken: string;
  refreshToken: string | null;
  issuedAt: number;
  accessExpiresAt: number;
  refreshExpiresAt: number | null;
  /** The pair has been used (API call with its access token, or refresh with its refresh token). */
  used: boolean;
  accessRevoked: boolean;
  /** active → spent (refreshed once; still usable under the grace rule) → revoked. */
  refreshState: 'active' | 'spent' | 'revoked';
  parentId: string | null;
  childIds: string[];
  longLived: boolean;
  how: 'authorization_code' | 'refresh_token' | 'long_lived';
}

export type Grant = 'authorization_code' | 'refresh_token' | 'other';
export type TokenOutcome =
  | 'ok'
  | 'ok_grace'
  | 'invalid_client'
  | 'bad_request'
  | 'code_expired'
  | 'code_reused'
  | 'code_unknown'
  | 'refresh_revoked'
  | 'refresh_expired'
  | 'refresh_unknown'
  | 'refresh_wrong_client'
  | 'blocked';

export interface TokenCall {
  at: number;
  grant: Grant;
  outcome: TokenOutcome;
  clientId: string | null;
  status: number;
}

export type BearerCheck = { ok: true; pair: TokenPair } | { ok: false; reason: 'missing' | 'unknown' | 'expired' | 'revoked' };

function b64url(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

/** Shows a token in state dumps without giving it away. */
export function fingerprint(token: string): string {
  return `${token.slice(0, 6)}…${token.slice(-4)}`;
}

export class OAuthServer {
  private integrations = new Map<string, IntegrationConfig & { installed: boolean }>();
  private codes = new Map<string, Code>();
  private pairs = new Map<string, TokenPair>();
  private byAccess = new Map<string, string>();
  private byRefresh = new Map<string, string>();
  private calls: TokenCall[] = [];
  private signingKey = randomBytes(32);
  authorizeDecision: 'approve' | 'deny' = 'approve';

  constructor(
    private readonly o: OAuthOptions,
    integrations: IntegrationConfig[],
  ) {
    for (const i of integrations) this.integrations.set(i.clientId, { ...i, installed: true });
  }

  reset(): void {
    this.codes.clear();
    this.pairs.clear();
    this.byAccess.clear();
    this.byRefresh.clear();
    this.calls = [];
    this.authorizeDecision = 'approve';
    for (const i of this.integrations.values()) i.installed = true;
  }

  integrationIds(): string[] {
    return [...this.integrations.keys()];
  }

  integration(clientId: string): (IntegrationConfig & { installed: boolean }) | undefined {
    return this.integrations.get(clientId);
  }

  addIntegration(i: IntegrationConfig): void {
    this.integrations.set(i.clientId, { ...i, installed: true });
  }

  // ---------- authorize page ----------

  /**
   * `GET /oauth?client_id=&state=&mode=` (docs/amocrm-protocol.md#authorize-url): approves at once and redirects to
   * the integration's redirect URI with `code, state, referer, client_id` ("On consent"), or with
   * `error=access_denied` when the admin set the decision to deny ("On refusal").
   */
  authorize(req: SbRequest): SbResponse {
    const clientId = req.query.get('client_id') ?? '';
    const state = req.query.get('state');
    const integ = this.integrations.get(clientId);
    if (!integ) {
      // *assumed*: the real page shows an error page for an unknown integration.
      return html(400, '<!doctype html><title>amoCRM sandbox</title><p>Unknown integration (client_id).</p>');
    }
    const target = new URL(integ.redirectUri);
    if (this.authorizeDecision === 'deny') {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('client_id', clientId);
      if (state !== null) target.searchParams.set('state', state);
      return { status: 302, headers: { location: target.toString() } };
    }
    integ.installed = true;
    const code = this.mintCode(clientId);
    target.searchParams.set('code', code);
    if (state !== null) target.searchParams.set('state', state);
    target.searchParams.set('referer', this.o.accountHost());
    target.searchParams.set('client_id', clientId);
    return { status: 302, headers: { location: target.toString() } };
  }

  mintCode(clientId: string, ttlMs = CODE_TTL_MS): string {
    if (!this.integrations.has(clientId)) throw new Error(`unknown integration ${clientId}`);
    // Real codes are long opaque strings starting with "def502"; the prefix is cosmetic.
    const code = `def50200${randomBytes(48).toString('hex')}`;
    this.codes.set(code, { code, clientId, userId: this.o.currentUserId(), expiresAt: this.o.clock.now() + ttlMs, used: false });
    return code;
  }

  // ---------- token endpoint ----------

  /** `POST /oauth2/access_token`, JSON or form body (docs/amocrm-protocol.md#token-endpoint). */
  token(req: SbRequest): SbResponse {
    const body = this.readBody(req);
    const grantRaw = body ? str(body.grant_type) : undefined;
    const grant: Grant = grantRaw === 'authorization_code' || grantRaw === 'refresh_token' ? grantRaw : 'other';
    const clientId = body ? (str(body.client_id) ?? null) : null;
    const done = (outcome: TokenOutcome, res: SbResponse): SbResponse => {
      this.calls.push({ at: this.o.clock.now(), grant, outcome, clientId, status: res.status });
      this.o.log(`token ${grant} → ${outcome} (${res.status})`);
      return res;
    };
    if (!body || grant === 'other') return done('bad_request', oauthBadRequest('Check the `grant_type` parameter'));
    const integ = clientId ? this.integrations.get(clientId) : undefined;
    // docs/amocrm-protocol.md#token-endpoint-errors: wrong client_id, client_secret or redirect_uri → 401 "Некорректный клиент".
    if (!integ || str(body.client_secret) !== integ.clientSecret || str(body.redirect_uri) !== integ.redirectUri) {
      return done('invalid_client', oauthInvalidClient());
    }
    const now = this.o.clock.now();
    if (grant === 'authorization_code') {
      const codeStr = str(body.code);
      if (!codeStr) return done('bad_request', oauthBadRequest('Check the `code` parameter'));
      const code = this.codes.get(codeStr);
      // docs/amocrm-protocol.md#token-endpoint-errors: an expired or reused code → 400. Hints *assumed* (league/oauth2-server wording).
      if (!code || code.clientId !== integ.clientId) return done('code_unknown', oauthBadRequest('Cannot decrypt the authorization code'));
      if (code.used) return done('code_reused', oauthBadRequest('Authorization code has been revoked'));
      if (now >= code.expiresAt) return done('code_expired', oauthBadRequest('Authorization code has expired'));
      code.used = true;
      integ.installed = true;
      const pair = this.issue(integ.clientId, code.userId, 'authorization_code', null);
      return done('ok', this.tokenResponse(pair));
    }
    const rt = str(body.refresh_token);
    if (!rt) return done('bad_request', oauthBadRequest('Check the `refresh_token` parameter'));
    const pairId = this.byRefresh.get(rt);
    const old = pairId ? this.pairs.get(pairId) : undefined;
    if (!old) return done('refresh_unknown', oauthRefreshRejected('Cannot decrypt the refresh token'));
    if (old.clientId !== integ.clientId) return done('refresh_wrong_client', oauthRefreshRejected('Token is not linked to client'));
    // docs/amocrm-protocol.md#rotation-and-the-grace-rule: reusing an already-used refresh token → 401 "Token has been revoked".
    if (old.refreshState === 'revoked') return done('refresh_revoked', oauthRefreshRejected('Token has been revoked'));
    if (old.refreshExpiresAt !== null && now >= old.refreshExpiresAt)
      return done('refresh_expired', oauthRefreshRejected('Token has expired'));
    const grace = old.refreshState === 'spent';
    // Refreshing with a refresh token is a use of its pair: the pair's parent can no longer be
    // reused (docs/amocrm-protocol.md#rotation-and-the-grace-rule: the old one works "until you use the new one").
    this.markUsed(old);
    // Grace off: the refresh token is spent for good the moment it is exchanged.
    old.refreshState = this.o.refreshGrace?.() === false ? 'revoked' : 'spent';
    if (this.o.oldAccessTokenDiesOnRefresh) old.accessRevoked = true;
    const pair = this.issue(integ.clientId, old.userId, 'refresh_token', old.id);
    old.childIds.push(pair.id);
    return done(grace ? 'ok_grace' : 'ok', this.tokenResponse(pair));
  }

  /** Records a call answered before reaching the token logic (the account is blocked). */
  recordBlocked(req: SbRequest): void {
    const body = this.readBody(req);
    const g = body ? str(body.grant_type) : undefined;
    const grant: Grant = g === 'authorization_code' || g === 'refresh_token' ? g : 'other';
    this.calls.push({
      at: this.o.clock.now(),
      grant,
      outcome: 'blocked',
      clientId: body ? (str(body.client_id) ?? null) : null,
      status: 403,
    });
  }

  private readBody(req: SbRequest): Record<string, unknown> | undefined {
    const ct = req.headers['content-type'] ?? '';
    if (ct.includes('application/x-www-form-urlencoded')) return parseForm(req.body);
    const j = parseJson(req.body);
    if (j.ok && isRecord(j.value)) return j.value;
    if (!ct.includes('json')) {
      const f = parseForm(req.body);
      if (Object.keys(f).length) return f;
    }
    return undefined;
  }

  /** docs/amocrm-protocol.md#token-endpoint: token_type, expires_in, access_token, refresh_token, server_time. */
  private tokenResponse(p: TokenPair): SbResponse {
    return json(200, {
      token_type: 'Bearer',
      expires_in: Math.round((p.accessExpiresAt - p.issuedAt) / 1000),
      access_token: p.accessToken,
      refresh_token: p.refreshToken,
      server_time: Math.floor(p.issuedAt / 1000),
    });
  }

  private issue(clientId: string, userId: number, how: TokenPair['how'], parentId: string | null, longLivedTtlSeconds?: number): TokenPair {
    const now = this.o.clock.now();
    const id = randomUUID();
    const ttl = longLivedTtlSeconds ?? this.o.accessTokenTtlSeconds;
    const accessToken = this.jwt(id, clientId, userId, now, now + ttl * 1000);
    const refreshToken = how === 'long_lived' ? null : `def50200${randomBytes(96).toString('hex')}`;
    const pair: TokenPair = {
      id,
      clientId,
      userId,
      accessToken,
      refreshToken,
      issuedAt: now,
      accessExpiresAt: now + ttl * 1000,
      refreshExpiresAt: refreshToken ? now + this.o.refreshTokenTtlSeconds * 1000 : null,
      used: false,
      accessRevoked: false,
      refreshState: 'active',
      parentId,
      childIds: [],
      longLived: how === 'long_lived',
      how,
    };
    this.pairs.set(id, pair);
    this.byAccess.set(accessToken, id);
    if (refreshToken) this.byRefresh.set(refreshToken, id);
    return pair;
  }

  /**
   * The access token is a JWT carrying the user, integration, scopes and account (docs/amocrm-protocol.md#lifetimes);
   * `api_domain` claim per amocrm-api-php getSharedApiDomain. Signed with a per-server HMAC key: the sandbox
   * looks tokens up, it never trusts the signature alone.
   */
  private jwt(jti: string, clientId: string, userId: number, iat: number, exp: number): string {
    const head = b64url({ typ: 'JWT', alg: 'HS256' });
    const payload = b64url({
      aud: clientId,
      jti,
      iat: Math.floor(iat / 1000),
      nbf: Math.floor(iat / 1000),
      exp: Math.floor(exp / 1000),
      sub: String(userId),
      grant_type: '',
      account_id: this.o.accountId,
      base_domain: 'amocrm.ru',
      version: 2,
      scopes: ['crm', 'notifications'],
      api_domain: this.o.accountHost(),
    });
    const sig = createHmac('sha256', this.signingKey).update(`${head}.${payload}`).digest('base64url');
    return `${head}.${payload}.${sig}`;
  }

  issueLongLived(clientId: string, ttlSeconds: number): TokenPair {
    if (!this.integrations.has(clientId)) throw new Error(`unknown integration ${clientId}`);
    return this.issue(clientId, this.o.currentUserId(), 'long_lived', null, ttlSeconds);
  }

  // ---------- bearer ----------

  checkBearer(header: string | undefined): BearerCheck {
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
    if (!m || !m[1]) return { ok: false, reason: 'missing' };
    const id = this.byAccess.get(m[1]);
    const pair = id ? this.pairs.get(id) : undefined;
    if (!pair) return { ok: false, reason: 'unknown' };
    if (pair.accessRevoked) return { ok: false, reason: 'revoked' };
    if (this.o.clock.now() >= pair.accessExpiresAt) return { ok: false, reason: 'expired' };
    this.markUsed(pair);
    return { ok: true, pair };
  }

  /**
   * The grace rule (docs/amocrm-protocol.md#rotation-and-the-grace-rule, https://developers.kommo.com/docs/oauth-20): "the old refresh token will still be functional and you can
   * use it until you use the new one". On first use of a pair, its parent's refresh token is
   * revoked. Sibling pairs minted from the same parent during the grace window are revoked too
   * (*assumed*: only one successor line survives, which makes racing refreshers visible).
   */
  private markUsed(pair: TokenPair): void {
    if (pair.used) return;
    pair.used = true;
    const parent = pair.parentId ? this.pairs.get(pair.parentId) : undefined;
    if (!parent) return;
    parent.refreshState = 'revoked';
    for (const sid of parent.childIds) {
      if (sid === pair.id) continue;
      const sib = this.pairs.get(sid);
      if (sib && !sib.used) {
        sib.accessRevoked = true;
        sib.refreshState = 'revoked';
      }
    }
  }

  /** docs/amocrm-protocol.md#rotation-and-the-grace-rule: deactivating the installation revokes access; the API then returns 401. */
  revokeAll(clientId?: string): number {
    let n = 0;
    for (const p of this.pairs.values()) {
      if (clientId && p.clientId !== clientId) continue;
      if (!p.accessRevoked || p.refreshState !== 'revoked') n++;
      p.accessRevoked = true;
      p.refreshState = 'revoked';
    }
    return n;
  }

  /**
   * Uninstall: revoke the integration's tokens and send the disconnect hook (docs/amocrm-protocol.md#disconnect-hook): GET
   * `disconnectUrl?client_uuid=…&account_id=…&signature=hex(HMAC-SHA256(client_secret, client_id|account_id))`
   * with `user-agent: amoService-oAuth-Code-Sender/1.0`. Timeout 3 s (*assumed*, like the install hook).
   */
  async uninstall(clientId: string): Promise<{ revoked: number; hook: { url: string; status: number | null; error?: string } | null }> {
    const integ = this.integrations.get(clientId);
    if (!integ) throw new Error(`unknown integration ${clientId}`);
    integ.installed = false;
    const revoked = this.revokeAll(clientId);
    if (!integ.disconnectUrl) return { revoked, hook: null };
    const accountId = String(this.o.accountId);
    const signature = createHmac('sha256', integ.clientSecret).update(`${integ.clientId}|${accountId}`).digest('hex');
    const url = new URL(integ.disconnectUrl);
    url.searchParams.set('client_uuid', integ.clientId);
    url.searchParams.set('account_id', accountId);
    url.searchParams.set('signature', signature);
    try {
      const res = await this.o.fetch(url, {
        method: 'GET',
        headers: { 'user-agent': 'amoService-oAuth-Code-Sender/1.0' },
        signal: AbortSignal.timeout(3000),
      });
      await res.arrayBuffer();
      return { revoked, hook: { url: url.toString(), status: res.status } };
    } catch (e) {
      return { revoked, hook: { url: url.toString(), status: null, error: e instanceof Error ? e.message : String(e) } };
    }
  }

  // ---------- eyes ----------

  tokenCalls(): TokenCall[] {
    return [...this.calls];
  }

  /** Counts by `grant:outcome`, e.g. `refresh_token:ok`. */
  tokenCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.calls) out[`${c.grant}:${c.outcome}`] = (out[`${c.grant}:${c.outcome}`] ?? 0) + 1;
    return out;
  }

  /** Token records for admin views: fingerprints only, never the tokens. */
  tokenRecords(): Array<Record<string, unknown>> {
    const now = this.o.clock.now();
    return [...this.pairs.values()].map((p) => ({
      id: p.id,
      clientId: p.clientId,
      userId: p.userId,
      how: p.how,
      access: fingerprint(p.accessToken),
      refresh: p.refreshToken ? fingerprint(p.refreshToken) : null,
      issuedAt: p.issuedAt,
      accessExpiresAt: p.accessExpiresAt,
      refreshExpiresAt: p.refreshExpiresAt,
      accessState: p.accessRevoked ? 'revoked' : now >= p.accessExpiresAt ? 'expired' : 'valid',
      refreshState: p.refreshToken ? p.refreshState : null,
      used: p.used,
      parentId: p.parentId,
    }));
  }

  pairOf(accessToken: string): TokenPair | undefined {
    const id = this.byAccess.get(accessToken);
    return id ? this.pairs.get(id) : undefined;
  }
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}
