/**
 * TokenStore: where OAuth token pairs live, and the lease that lets exactly one caller refresh
 * them (docs/architecture.md#one-refresher-never-two). The port, its records and errors; the DynamoDB
 * adapter is lib/store/token-store.ts.
 */
export type TokenKind = 'oauth' | 'long-lived';
export type TokenStatus = 'active' | 'needs-reauth' | 'disconnected';

export interface TokenKey {
  /** The integration's client id (amoCRM "Integration ID"). */
  clientId: string;
  /** Our account id from the config. */
  accountKey: string;
}

export interface TokenPair {
  accessToken: string;
  /** Absent for long-lived tokens. */
  refreshToken?: string;
  /** When the access token stops working (epoch ms). */
  accessExpiresAt: number;
  /** When amoCRM issued it (epoch ms). */
  issuedAt: number;
}

export interface TokenRecord extends TokenKey {
  /** 1 on the first write, +1 on every write. */
  version: number;
  kind: TokenKind;
  status: TokenStatus;
  /** Why the status is what it is (e.g. `revoked`, `disconnect-hook`); never a token. */
  statusReason?: string;
  statusAt?: number;
  /** The pair in use; absent once the account is disconnected (the tokens are dead and are not kept). */
  current?: TokenPair;
  /** The pair before the last refresh, kept until `current` is confirmed used (grace rule). */
  previous?: TokenPair;
  /** When `current` was first seen to work (then `previous` is dropped). */
  confirmedAt?: number;
  lastRefreshAt?: number;
  /** Where the token endpoint and the API live, e.g. https://x.amocrm.ru. */
  baseUrl: string;
  /** The account's host as amoCRM names it in `referer`. */
  host: string;
  /** amoCRM's numeric account id, when known (the disconnect hook names accounts by it). */
  amoAccountId?: number;
  /** How the current grant was obtained: the redirect, a pasted code, or a long-lived token. */
  installedVia?: 'callback' | 'code' | 'long-lived';
  installedAt: number;
  updatedAt: number;
}

export type LeaseResult = { acquired: true } | { acquired: false; heldUntil?: number };

/** What a writer supplies; the store sets `version`. */
export type TokenRecordInput = Omit<TokenRecord, 'version'>;

export class TokenStoreError extends Error {
  override readonly name: string = 'TokenStoreError';
}

/** The item changed since it was read (or already exists / no longer exists). */
export class TokenVersionConflictError extends TokenStoreError {
  override readonly name = 'TokenVersionConflictError';
}

export interface TokenStore {
  /** Strongly consistent read. */
  get(key: TokenKey): Promise<TokenRecord | undefined>;
  /**
   * Writes the record if the stored version is still `expectedVersion` (`null`: only if there is
   * none). Returns the record as stored (version + 1). Throws TokenVersionConflictError otherwise.
   */
  put(record: TokenRecordInput, expectedVersion: number | null): Promise<TokenRecord>;
  /**
   * Takes the lease until `untilMs` when it is free or the last holder's ran out. When it is held,
   * says until when (if the backend tells), so waiters need not retry before then.
   */
  acquireLease(key: TokenKey, owner: string, untilMs: number, nowMs: number): Promise<LeaseResult>;
  /** Gives the lease back if this owner still holds it (best effort; it also runs out by itself). */
  releaseLease(key: TokenKey, owner: string): Promise<void>;
}

/** An OAuth `state` we issued: what it was issued for. */
export interface IssuedState {
  integrationId: string;
  accountId: string;
  createdAt: number;
  /** epoch ms */
  validUntil: number;
}

export interface OAuthStateStore {
  putState(state: string, data: IssuedState): Promise<void>;
  /** Deletes and returns the state if it was issued and is still valid; a second take gets undefined. */
  takeState(state: string, nowMs: number): Promise<IssuedState | undefined>;
}
