/**
 * The scheduled token refresh: only the front door. The handler (and what it reports) is
 * lib/aws/token-refresh-runtime.ts, the OAuth engine from the environment lib/aws/oauth-runtime.ts.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { builtOrFailing } from '../lib/aws/cold-start.ts';
import { lifecycleFromEnv } from '../lib/aws/oauth-runtime.ts';
import { powertoolsLog, powertoolsMetricsSink } from '../lib/aws/powertools.ts';
import { createTokenRefreshHandler, type TokenRefreshDeps, type TokenRefreshSummary } from '../lib/aws/token-refresh-runtime.ts';

export type { TokenRefreshDeps, TokenRefreshSummary };

export function createHandler(deps: TokenRefreshDeps) {
  return createTokenRefreshHandler(deps);
}

const logger = new Logger({ serviceName: 'amo-gateway-token-refresh' });
const metrics = new Metrics({ namespace: 'AmoGateway', serviceName: 'amo-gateway-token-refresh' });

export const handler = builtOrFailing(() => {
  const log = powertoolsLog(logger);
  return createHandler({ lifecycle: lifecycleFromEnv(process.env, { log, metrics: powertoolsMetricsSink(metrics) }), log });
});
