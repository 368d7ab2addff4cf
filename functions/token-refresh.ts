/**
 * The scheduled refresher (EventBridge, every few minutes): every configured account whose token
 * is past half its lifetime is refreshed, each under its DynamoDB lease. EventBridge may invoke
 * twice at once; the lease and the item's version make that one refresh (lib/amocrm/oauth).
 * One account's failure does not stop the others; the summary is returned and logged.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { TokenLifecycle, OAuthLog, ScheduleResult } from '../lib/amocrm/oauth/index.ts';
import { powertoolsMetricsSink } from '../lib/amocrm/oauth/index.ts';
import { loggerAsOAuthLog, oauthFromEnv } from '../lib/aws/oauth-runtime.ts';

export interface TokenRefreshDeps {
  lifecycle: Pick<TokenLifecycle, 'refreshDue'>;
  log: OAuthLog;
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

export function createHandler(deps: TokenRefreshDeps) {
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
    if (bad.length) deps.log.warn('token refresh: some accounts need attention', { outcomes, failures, accounts: bad.map((r) => ({ account: r.account, outcome: r.outcome, ...(r.kind ? { kind: r.kind } : {}) })) });
    else deps.log.info('token refresh done', { outcomes });
    return summary;
  };
}

const logger = new Logger({ serviceName: 'amo-gateway-token-refresh' });
const metrics = new Metrics({ namespace: 'AmoGateway', serviceName: 'amo-gateway-token-refresh' });

function fromEnv(): (event?: unknown) => Promise<TokenRefreshSummary> {
  try {
    const log = loggerAsOAuthLog(logger);
    const oauth = oauthFromEnv(process.env, { log, metrics: powertoolsMetricsSink(metrics) });
    return createHandler({ lifecycle: oauth.lifecycle, log });
  } catch (e) {
    const reason = e;
    return async () => {
      throw reason;
    };
  }
}

export const handler = fromEnv();
