/**
 * The OAuth engine's metric names (the ports it is given — clock, log, metrics sink — are the
 * shared ones in lib/shared).
 */
export const METRIC = {
  refreshed: 'TokenRefreshed',
  refreshFailed: 'TokenRefreshFailed',
  needsReauth: 'AccountNeedsReauth',
  disconnected: 'AccountDisconnected',
  installed: 'AccountInstalled',
  longLivedExpiring: 'LongLivedTokenExpiringSoon',
  refreshBusy: 'TokenRefreshBusy',
} as const;
