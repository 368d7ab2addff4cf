/** Placeholder until the worker pipeline lands (issue 1/11): acknowledges every record. */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export interface WorkerDeps {
  log: (line: string) => void;
}

export function createHandler(deps: WorkerDeps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    deps.log(`received ${event.Records.length} record(s)`);
    return { batchItemFailures: [] };
  };
}

export const handler = createHandler({ log: (line) => console.log(line) });
