/**
 * OAuth and the token lifecycle (README.md in this folder explains the why). `createOAuth()` wires
 * the pieces once per container; functions/oauth.ts, functions/token-refresh.ts, the worker and
 * the CLI all take what they need from it.
 */
import type { OAuthStateStore, TokenStore } from './token-store.ts';
import { OAuthDisconnect } from './disconnect.ts';
import { OAuthInstall } from './install.ts';
import { TokenLifecycle, type TokenLifecycleDeps } from './lifecycle.ts';
import { TokenProvider, type TokenProviderOptions } from './provider.ts';

export * from './errors.ts';
export * from './token-store.ts';
export {
  TokenLifecycle,
  DEFAULT_TIMING,
  halfLifeAt,
  type LifecycleTiming,
  type ScheduleResult,
  type ScheduleOutcome,
  type ScheduleFailureKind,
  scheduleFailureKind,
  type TokenLifecycleDeps,
} from './lifecycle.ts';
export { TokenProvider, type AccessToken } from './provider.ts';
export { OAuthInstall, consentUrl, normalizeReferer, type CallbackQuery, type InstallResult, type AuthLink } from './install.ts';
export { OAuthDisconnect, disconnectSignature, signaturesEqual, type DisconnectQuery, type DisconnectResult } from './disconnect.ts';
export { readTokenClaims } from './jwt.ts';

export interface OAuthDeps extends Omit<TokenLifecycleDeps, 'store'> {
  /** One adapter for tokens, leases and states (DynamoTokenStore implements both). */
  store: TokenStore & OAuthStateStore;
  provider?: TokenProviderOptions;
}

export interface OAuth {
  lifecycle: TokenLifecycle;
  provider: TokenProvider;
  install: OAuthInstall;
  disconnect: OAuthDisconnect;
}

export function createOAuth(deps: OAuthDeps): OAuth {
  const lifecycle = new TokenLifecycle(deps);
  return {
    lifecycle,
    provider: new TokenProvider(lifecycle, deps.provider),
    install: new OAuthInstall(lifecycle, deps.store),
    disconnect: new OAuthDisconnect(lifecycle, deps.log),
  };
}
