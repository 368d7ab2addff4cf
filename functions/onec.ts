/**
 * `POST /1c/{op}`, `GET /1c/requests/{request_id}`, `GET /1c/managers`: only the front door. The
 * handler and its wiring are lib/aws/onec-runtime.ts, the API lib/flows/onec.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { builtOrFailing } from '../lib/aws/cold-start.ts';
import { createOnecHttpHandler, onecHttpFromEnv, type OnecHttpDeps } from '../lib/aws/onec-runtime.ts';
import { powertoolsLog, powertoolsMetricsSink } from '../lib/aws/powertools.ts';

export type { OnecHttpDeps };

export function createHandler(deps: OnecHttpDeps) {
  return createOnecHttpHandler(deps);
}

const logger = new Logger({ serviceName: 'amo-gateway-onec' });
const metrics = new Metrics({ namespace: 'AmoGateway', serviceName: 'amo-gateway-onec' });

export const handler = builtOrFailing(() =>
  createHandler(onecHttpFromEnv(process.env, { log: powertoolsLog(logger), metrics: powertoolsMetricsSink(metrics) })),
);
