/**
 * Every queue of a route table (and its DLQ) on a fauxqs server on a free port, with an SQS client
 * on it: what the worker tests run the batch handler against.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import type { QueuesConfig } from '../../lib/aws/queues-config.ts';
import { dlqName, queueName, redriveMaxReceiveCount, type RouteTable } from '../../lib/routes.ts';

export interface FauxqsQueues {
  fq: FauxqsServer;
  sqs: SQSClient;
  /** The `QUEUES` the worker reads, by queue id. */
  queues: QueuesConfig;
  stop(): Promise<void>;
}

/** `redrive`: SQS's own redrive to the DLQ as the CDK sets it (the worker must park before it acts). */
export async function startQueues(table: RouteTable, opts: { redrive?: boolean } = {}): Promise<FauxqsQueues> {
  const fq = await startFauxqs({ port: 0, logger: false });
  const sqs = new SQSClient({
    endpoint: `http://127.0.0.1:${fq.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  const queues: QueuesConfig = {};
  for (const q of table.queues) {
    const attrs: Record<string, string> = q.fifo ? { FifoQueue: 'true' } : {};
    const dlq = fq.createQueue(dlqName(q), { attributes: attrs });
    const redrive: Record<string, string> = opts.redrive
      ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: redriveMaxReceiveCount(q) }) }
      : {};
    const main = fq.createQueue(queueName(q), { attributes: { ...attrs, ...redrive } });
    queues[q.id] = { arn: main.queueArn, url: main.queueUrl, dlqUrl: dlq.queueUrl };
  }
  return {
    fq,
    sqs,
    queues,
    stop: async () => {
      sqs.destroy();
      await fq.stop();
    },
  };
}
