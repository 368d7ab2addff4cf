/**
 * amoCRM's "access revoked" hook (docs/amocrm-protocol.md#disconnect-hook): GET with `client_uuid`, `account_id`,
 * `signature = hex(HMAC-SHA256(key = client_secret, msg = client_id + "|" + account_id))`.
 *
 * The signature is compared in constant time; `client_uuid` must be one of our client ids. Only
 * a valid hook changes anything: the account's token item becomes `disconnected` (its tokens are
 * dead and are dropped). Limitation (amoCRM's design, not ours): the signature has no timestamp or
 * nonce, so a captured hook stays valid forever; the only effect of a replay is marking the
 * account disconnected again, which an operator undoes by re-installing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AccountConfig, IntegrationConfig } from '../../config/schema.ts';
import { OAuthRequestError } from './errors.ts';
import type { TokenGrants } from './grants.ts';
import { silentLog, type Log } from '../../common/log.ts';

export interface DisconnectQuery {
  client_uuid?: string;
  account_id?: string;
  signature?: string;
  [k: string]: string | undefined;
}

export interface DisconnectResult {
  /** Our account id, when the hook named one we know. */
  account?: string;
  /** True when a token item changed to `disconnected`. */
  changed: boolean;
}

export function disconnectSignature(clientId: string, accountId: string, clientSecret: string): string {
  return createHmac('sha256', clientSecret).update(`${clientId}|${accountId}`).digest('hex');
}

/** Constant-time comparison of two hex strings (false when the lengths differ). */
export function signaturesEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given.toLowerCase(), 'utf8');
  const b = Buffer.from(expected.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export class OAuthDisconnect {
  constructor(
    private readonly lifecycle: TokenGrants,
    private readonly log: Log = silentLog,
  ) {}

  async verifyDisconnect(q: DisconnectQuery): Promise<DisconnectResult> {
    const { client_uuid: clientId, account_id: amoAccount, signature } = q;
    if (!clientId || !amoAccount || !signature) {
      throw new OAuthRequestError(401, 'invalid_signature', 'the disconnect hook needs client_uuid, account_id and signature');
    }
    if (!/^\d{1,20}$/.test(amoAccount)) throw new OAuthRequestError(400, 'invalid_account_id', '`account_id` must be a number');
    const integration = this.lifecycle.config.integrations.find((i) => i.clientId === clientId);
    // Same answer as a bad signature: the caller learns nothing about which client ids exist.
    if (!integration || !/^[0-9a-fA-F]{64}$/.test(signature))
      throw new OAuthRequestError(401, 'invalid_signature', 'the disconnect hook signature does not verify');
    const secret = await this.lifecycle.clientSecret({ integration });
    if (!signaturesEqual(signature, disconnectSignature(integration.clientId, amoAccount, secret))) {
      throw new OAuthRequestError(401, 'invalid_signature', 'the disconnect hook signature does not verify');
    }
    const account = await this.findAccount(integration, Number(amoAccount));
    if (!account) {
      // A valid hook for an account we cannot name: the integration may be installed elsewhere too.
      this.log.warn('disconnect hook for an unknown amoCRM account ignored', { clientId: integration.clientId, amoAccountId: amoAccount });
      return { changed: false };
    }
    const changed = await this.lifecycle.markDisconnected({ account, integration }, `disconnect hook (amoCRM account ${amoAccount})`);
    return { account: account.id, changed };
  }

  /**
   * amoCRM names the account by its numeric id: match the config's `accountId`, then the id learnt
   * from the account's token (JWT claim). Only a known id matches: a valid signature proves the
   * hook is amoCRM's for OUR integration, not for one of our accounts (a public integration is
   * installed in accounts we do not serve), so an account whose id is known nowhere is never
   * guessed — set `accountId` in the config for it.
   */
  private async findAccount(integration: IntegrationConfig, amoAccountId: number): Promise<AccountConfig | undefined> {
    const candidates = this.lifecycle.config.accounts.filter((a) => a.integration === integration.id);
    const byConfig = candidates.find((a) => a.accountId === amoAccountId);
    if (byConfig) return byConfig;
    for (const a of candidates) {
      if (a.accountId !== undefined) continue;
      const rec = await this.lifecycle.store.get({ clientId: integration.clientId, accountKey: a.id });
      if (rec?.amoAccountId === amoAccountId) return a;
    }
    return undefined;
  }
}
