/**
 * The scheduled refresher's handler (functions/token-refresh.ts is its front door; EventBridge
 * invokes it every few minutes): every configured account whose token is past half its lifetime
 * is refreshed, each under its DynamoDB lease. EventBridge may invoke twice at once; the lease and
 * the item's version make that one refresh (lib/amocrm/oauth). One account's failure does not
 * stop the others; the summary is returned and logged.
 */
import type { ScheduleResult, TokenSchedule } from '../amocrm/oauth/index.ts';
import type { Log } from '../common/log.ts';

export interface TokenRefreshDeps {
  lifecycle: Pick<TokenSchedule, 'refreshDue'>;
  log: Log;
}

export interface TokenRefreshSummary {
  checked: number;
  refreshed: number;
  /** Per outcome, e.g. `{fresh: 3, refreshed: 1}`. */
  outcomes: Record<string, number>;
  /** The `failed` ones per kind (secrets, store, token-endpoint, unknown), e.g. `{store: 2}`; each counted as ScheduledRefreshFailed. */
  failures: Record<string, number>;
  results: ScheduleResult[];
}

export function createTokenRefreshHandler(deps: TokenRefreshDeps) {
  return async (_event?: unknown): Promise<TokenRefreshSummary> => {
    const results = await deps.lifecycle.refreshDue();
    const outcomes: Record<string, number> = {};
    const failures: Record<string, number> = {};
    for (const r of results) {
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      if (r.outcome === 'failed') failures[r.kind ?? 'unknown'] = (failures[r.kind ?? 'unknown'] ?? 0) + 1;
    }
    const summary = { checked: results.length, refreshed: outcomes.refreshed ?? 0, outcomes, failures, results };
    const bad = results.filter((r) => r.outcome === 'failed' || r.outcome === 'needs-reauth' || r.outcome === 'busy');
    if (bad.length)
      deps.log.warn('token refresh: some accounts need attention', {
        outcomes,
        failures,
        accounts: bad.map((r) => ({ account: r.account, outcome: r.outcome, ...(r.kind ? { kind: r.kind } : {}) })),
      });
    else deps.log.info('token refresh done', { outcomes });
    return summary;
  };
}
