/**
 * The worker's `QUEUES` environment variable (set by the CDK helper and by the local runner):
 * JSON `Record<queueId, {arn, url, dlqUrl}>`. The worker finds a record's queue by its
 * `eventSourceARN`. Checked by hand, not with zod: it is read at every cold start, and a zod parse
 * there costs more than the check (infra/aws/README.md, "What each function bundles").
 */

export interface QueueEndpoint {
  arn: string;
  url: string;
  dlqUrl: string;
}
export type QueuesConfig = Record<string, QueueEndpoint>;

export class WorkerConfigError extends Error {
  override readonly name = 'WorkerConfigError';
}

function isUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    new URL(v);
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with one entry (`path: message`), none when it is an endpoint. */
function endpointIssues(id: string, v: unknown): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${id}: expected {arn, url, dlqUrl}`];
  const e = v as Record<string, unknown>;
  const issues: string[] = [];
  if (typeof e.arn !== 'string' || !e.arn.startsWith('arn:')) issues.push(`${id}.arn: arn must be an ARN`);
  if (!isUrl(e.url)) issues.push(`${id}.url: must be a URL`);
  if (!isUrl(e.dlqUrl)) issues.push(`${id}.dlqUrl: must be a URL`);
  return issues;
}

export function parseQueuesConfig(raw: string | undefined): QueuesConfig {
  if (raw === undefined || raw.trim() === '') throw new WorkerConfigError('QUEUES is not set (JSON Record<queueId, {arn, url, dlqUrl}>)');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new WorkerConfigError('QUEUES is not valid JSON', { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new WorkerConfigError('QUEUES is invalid: (root): expected an object');
  const entries = Object.entries(json as Record<string, unknown>);
  const issues = entries.flatMap(([id, v]) => (id === '' ? ['(empty queue id)'] : endpointIssues(id, v)));
  if (issues.length) throw new WorkerConfigError(`QUEUES is invalid: ${issues.join('; ')}`);
  // Only the three fields: anything else in an entry is dropped, as the schema did.
  return Object.fromEntries(
    entries.map(([id, v]) => {
      const e = v as QueueEndpoint;
      return [id, { arn: e.arn, url: e.url, dlqUrl: e.dlqUrl }];
    }),
  );
}
