/**
 * OAuth and the token lifecycle (README.md in this folder explains the why). `createOAuth()` wires
 * the pieces once per container; functions/oauth.ts, functions/token-refresh.ts, the worker and
 * the CLI all take what they need from it.
 */
import type { OAuthStateStore, TokenStore } from './token-store.ts';
import { OAuthDisconnect } from './disconnect.ts';
import { OAuthInstall } from './install.ts';
import type { TokenLifecycleDeps } from './grants.ts';
import { TokenSchedule } from './schedule.ts';
import { TokenProvider, type TokenProviderOptions } from './provider.ts';

export * from './errors.ts';
export * from './token-store.ts';
export { TokenGrants, DEFAULT_TIMING, type LifecycleTiming, type TokenLifecycleDeps } from './grants.ts';
export { TokenLifecycle, halfLifeAt } from './lifecycle.ts';
export { TokenSchedule, type ScheduleResult, type ScheduleOutcome, type ScheduleFailureKind, scheduleFailureKind } from './schedule.ts';
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
  /** The whole lifecycle: the refresh engine with the scheduled run. */
  lifecycle: TokenSchedule;
  provider: TokenProvider;
  install: OAuthInstall;
  disconnect: OAuthDisconnect;
}

export function createOAuth(deps: OAuthDeps): OAuth {
  const lifecycle = new TokenSchedule(deps);
  return {
    lifecycle,
    provider: new TokenProvider(lifecycle, deps.provider),
    install: new OAuthInstall(lifecycle, deps.store),
    disconnect: new OAuthDisconnect(lifecycle, deps.log),
  };
}
