/**
 * A deployed stack → the table and the queue URLs operations tools need. The stack's outputs
 * (infra/aws/stack.ts: `TableName`, `Queues` = JSON queue id → {url, dlqUrl}) are read first; a
 * stack without them (older deployment, a stack that embeds the AmoGateway construct under other
 * outputs) falls back to its resources: the one DynamoDB table and the queues whose physical
 * names follow `<prefix>-<queue id>[-dlq][.fifo]` (lib/routes.ts queueName/dlqName).
 *
 * Kept free of infra/ imports (lib/ never imports infra/): callers pass the queue ids they expect.
 */
import {
  DescribeStacksCommand,
  ListStackResourcesCommand,
  type CloudFormationClient,
  type Stack,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';

export interface StackQueue {
  url: string;
  dlqUrl: string;
}

export interface StackTarget {
  stackName: string;
  status: string;
  tableName: string;
  /** queue id → URLs. */
  queues: Record<string, StackQueue>;
  /** Where the names came from. */
  source: 'outputs' | 'resources';
}

export interface ResolveStackOptions {
  cfn: CloudFormationClient;
  stackName: string;
  /** The queues the route table defines; used by the resource fallback. */
  expectedQueues: ReadonlyArray<{ id: string; fifo: boolean }>;
  /** Physical-name prefix for the fallback; default the stack name in kebab-case (as infra/aws/app.ts). */
  queuePrefix?: string;
}

export class StackResolveError extends Error {
  override readonly name = 'StackResolveError';
}

/**
 * `AmoGateway` → `amo-gateway`, `AmoGatewayStaging` → `amo-gateway-staging`. The same rule as
 * infra/aws/stack.ts `kebabCase` (a test keeps them equal); copied so the CLI does not load
 * aws-cdk-lib to learn a prefix.
 */
export function stackNamePrefix(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
}

const DEAD_STATUSES = new Set(['DELETE_COMPLETE', 'DELETE_IN_PROGRESS', 'ROLLBACK_COMPLETE', 'CREATE_FAILED']);

function queueNameOf(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

export async function resolveStack(opts: ResolveStackOptions): Promise<StackTarget> {
  const { cfn, stackName } = opts;
  let stack: Stack | undefined;
  try {
    const res = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    stack = res.Stacks?.[0];
  } catch (cause) {
    const msg = (cause as Error).message ?? '';
    if (/does not exist/i.test(msg))
      throw new StackResolveError(`stack "${stackName}" does not exist in this account/region (check --region and the credentials)`, {
        cause,
      });
    throw new StackResolveError(`could not describe stack "${stackName}": ${(cause as Error).name}: ${msg}`, { cause });
  }
  if (!stack)
    throw new StackResolveError(`stack "${stackName}" does not exist in this account/region (check --region and the credentials)`);
  const status = stack.StackStatus ?? 'UNKNOWN';
  if (DEAD_STATUSES.has(status)) throw new StackResolveError(`stack "${stackName}" is ${status}: nothing to operate on`);

  const outputs = new Map((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const tableOut = outputs.get('TableName');
  const queuesOut = outputs.get('Queues');
  if (tableOut && queuesOut) {
    return { stackName, status, tableName: tableOut, queues: parseQueuesOutput(queuesOut, stackName), source: 'outputs' };
  }

  // Fallback: the stack's resources.
  const resources: StackResourceSummary[] = [];
  let next: string | undefined;
  try {
    do {
      const res = await cfn.send(new ListStackResourcesCommand({ StackName: stackName, NextToken: next }));
      resources.push(...(res.StackResourceSummaries ?? []));
      next = res.NextToken;
    } while (next);
  } catch (cause) {
    throw new StackResolveError(
      `could not list the resources of stack "${stackName}": ${(cause as Error).name}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const tables = resources.filter((r) => r.ResourceType === 'AWS::DynamoDB::Table' && r.PhysicalResourceId);
  let tableName = tableOut;
  if (!tableName) {
    if (tables.length !== 1) {
      throw new StackResolveError(`stack "${stackName}" has no TableName output and ${tables.length} DynamoDB tables: pass --table`);
    }
    tableName = tables[0]?.PhysicalResourceId ?? '';
  }
  const prefix = opts.queuePrefix ?? stackNamePrefix(stackName);
  const urls = resources
    .filter((r) => r.ResourceType === 'AWS::SQS::Queue' && r.PhysicalResourceId)
    .map((r) => r.PhysicalResourceId as string);
  const byName = new Map(urls.map((u) => [queueNameOf(u), u]));
  const queues: Record<string, StackQueue> = {};
  const missing: string[] = [];
  for (const q of opts.expectedQueues) {
    const suffix = q.fifo ? '.fifo' : '';
    const url = byName.get(`${prefix}-${q.id}${suffix}`);
    const dlqUrl = byName.get(`${prefix}-${q.id}-dlq${suffix}`);
    if (url && dlqUrl) queues[q.id] = { url, dlqUrl };
    else missing.push(q.id);
  }
  if (Object.keys(queues).length === 0) {
    throw new StackResolveError(
      `stack "${stackName}" has no Queues output and none of its ${urls.length} queues is named "${prefix}-<queue id>": pass --queue-prefix`,
    );
  }
  if (missing.length) {
    throw new StackResolveError(
      `stack "${stackName}": queues ${missing.map((m) => `"${prefix}-${m}"`).join(', ')} (or their DLQs) not found among its resources`,
    );
  }
  return { stackName, status, tableName, queues, source: 'resources' };
}

function parseQueuesOutput(value: string, stackName: string): Record<string, StackQueue> {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (cause) {
    throw new StackResolveError(`stack "${stackName}": output Queues is not JSON`, { cause });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new StackResolveError(`stack "${stackName}": output Queues is not a JSON object`);
  const out: Record<string, StackQueue> = {};
  for (const [id, v] of Object.entries(raw as Record<string, unknown>)) {
    const q = v as { url?: unknown; dlqUrl?: unknown } | null;
    if (!q || typeof q.url !== 'string' || typeof q.dlqUrl !== 'string') {
      throw new StackResolveError(`stack "${stackName}": output Queues["${id}"] lacks url/dlqUrl`);
    }
    out[id] = { url: q.url, dlqUrl: q.dlqUrl };
  }
  return out;
}
