/**
 * The SQS worker: only the front door. Its wiring (the AWS environment it reads, the route table,
 * the ingest processors, the batch loop) is lib/aws/worker-runtime.ts.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { builtOrFailing } from '../lib/aws/cold-start.ts';
import { powertoolsLog, powertoolsMetricsSink } from '../lib/aws/powertools.ts';
import { createWorkerHandler, depsFromEnv, type WorkerDeps, type WorkerIngestDeps } from '../lib/aws/worker-runtime.ts';

export { depsFromEnv, type WorkerDeps, type WorkerIngestDeps };

export function createHandler(deps: WorkerDeps) {
  return createWorkerHandler(deps);
}

const service = process.env.POWERTOOLS_SERVICE_NAME ?? 'amo-gateway-worker';
const logger = new Logger({ serviceName: service });
const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'AmoGateway', serviceName: service });

export const handler = builtOrFailing(() =>
  createHandler(depsFromEnv(process.env, powertoolsLog(logger), powertoolsMetricsSink(metrics))).use(injectLambdaContext(logger)),
);
