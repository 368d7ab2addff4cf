/**
 * `GET /oauth/callback` and `GET /oauth/disconnect`: only the front door. The handler is
 * lib/aws/oauth-http.ts, the OAuth engine from the environment lib/aws/oauth-runtime.ts.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { builtOrFailing } from '../lib/aws/cold-start.ts';
import { createOAuthHandler, type OAuthHandlerDeps } from '../lib/aws/oauth-http.ts';
import { installFromEnv } from '../lib/aws/oauth-runtime.ts';
import { powertoolsLog, powertoolsMetricsSink } from '../lib/aws/powertools.ts';

export type { OAuthHandlerDeps };

export function createHandler(deps: OAuthHandlerDeps) {
  return createOAuthHandler(deps);
}

const logger = new Logger({ serviceName: 'amo-gateway-oauth' });
const metrics = new Metrics({ namespace: 'AmoGateway', serviceName: 'amo-gateway-oauth' });

export const handler = builtOrFailing(() => {
  const log = powertoolsLog(logger);
  const oauth = installFromEnv(process.env, { log, metrics: powertoolsMetricsSink(metrics) });
  return createHandler({ install: oauth.install, disconnect: oauth.disconnect, log });
});
