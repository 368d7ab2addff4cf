/**
 * The worker's `QUEUES` environment variable (set by the CDK helper and by the local runner):
 * JSON `Record<queueId, {arn, url, dlqUrl}>`. The worker finds a record's queue by its
 * `eventSourceARN`.
 */
import * as z from 'zod';

const queueEndpointSchema = z.object({
  arn: z.string().startsWith('arn:', 'arn must be an ARN'),
  url: z.string().url(),
  dlqUrl: z.string().url(),
});

export const queuesConfigSchema = z.record(z.string().min(1), queueEndpointSchema);

export type QueueEndpoint = z.infer<typeof queueEndpointSchema>;
export type QueuesConfig = z.infer<typeof queuesConfigSchema>;

export class WorkerConfigError extends Error {
  override readonly name = 'WorkerConfigError';
}

export function parseQueuesConfig(raw: string | undefined): QueuesConfig {
  if (raw === undefined || raw.trim() === '') throw new WorkerConfigError('QUEUES is not set (JSON Record<queueId, {arn, url, dlqUrl}>)');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new WorkerConfigError('QUEUES is not valid JSON', { cause });
  }
  const parsed = queuesConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw new WorkerConfigError(
      `QUEUES is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
