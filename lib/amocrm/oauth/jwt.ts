/**
 * Reads claims from amoCRM's access tokens (JWTs carrying account id, integration id, scopes,
 * `exp`; docs/amocrm-protocol.md#lifetimes) WITHOUT verifying them: the values are only
 * hints (which amoCRM account a token belongs to; a long-lived token's expiry). A token that is
 * not a JWT yields no claims.
 */
export interface AmoTokenClaims {
  accountId?: number;
  /** epoch ms */
  expiresAt?: number;
  /** epoch ms */
  issuedAt?: number;
}

export function readTokenClaims(token: string): AmoTokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return {};
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return {};
  }
  if (!payload || typeof payload !== 'object') return {};
  const p = payload as Record<string, unknown>;
  const num = (v: unknown): number | undefined => {
    const n = typeof v === 'string' ? Number(v) : v;
    return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const out: AmoTokenClaims = {};
  const acc = num(p.account_id);
  if (acc !== undefined) out.accountId = acc;
  const exp = num(p.exp);
  if (exp !== undefined) out.expiresAt = exp * 1000;
  const iat = num(p.iat);
  if (iat !== undefined) out.issuedAt = iat * 1000;
  return out;
}
