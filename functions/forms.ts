/**
 * `POST /forms/{form_id}` (and its CORS preflight): only the front door. The ingress is
 * lib/flows/forms/ingress, the proxy-event adapter lib/aws/forms-http.ts, the clients
 * lib/aws/forms-runtime.ts (made once per container, here at import).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { builtOrFailing } from '../lib/aws/cold-start.ts';
import { createFormsHttpHandler } from '../lib/aws/forms-http.ts';
import { formsDepsFromEnv } from '../lib/aws/forms-runtime.ts';
import { powertoolsLog, powertoolsMetricsSink } from '../lib/aws/powertools.ts';
import type { FormsIngressDeps } from '../lib/flows/forms/ingress/ingress.ts';

export type { FormsIngressDeps };

export function createHandler(deps: FormsIngressDeps) {
  return createFormsHttpHandler(deps);
}

const service = process.env.POWERTOOLS_SERVICE_NAME ?? 'amo-gateway-forms';
const logger = new Logger({ serviceName: service });
const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'AmoGateway', serviceName: service });

export const handler = builtOrFailing(() =>
  createHandler(formsDepsFromEnv(process.env, { log: powertoolsLog(logger), metrics: powertoolsMetricsSink(metrics) })),
);
