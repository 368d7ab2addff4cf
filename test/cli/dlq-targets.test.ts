/**
 * How `dlq` finds its target: the local runner's endpoints file (--local), a deployed stack
 * (--stack, CloudFormation outputs or resources; here a CloudFormation stand-in over a real
 * socket speaking the Query protocol), explicit endpoints; and the errors when something is missing.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRunner } from '../../infra/local/runner.ts';
import { routeTable } from '../../lib/routes.ts';
import {
  localEndpointsOf,
  localEndpointsPath,
  readLocalEndpoints,
  removeLocalEndpoints,
  writeLocalEndpoints,
} from '../../lib/aws/local-endpoints.ts';
import { resolveStack, StackResolveError } from '../../lib/aws/stack-resolve.ts';
import { PermanentError } from '../../lib/pipeline/outcome.ts';
import { cli, post, startRunner, waitFor } from './support.ts';

let r: LocalRunner;
let cfn: Server;
let cfnUrl: string;
const calls: string[] = [];

interface FakeStack {
  status: string;
  outputs: Record<string, string>;
  resources: Array<{ type: string; physicalId: string; logicalId: string }>;
}
const stacks = new Map<string, FakeStack>();

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** DescribeStacks and ListStackResources (paged by 2) as CloudFormation's Query API answers them. */
function startCfn(): Promise<void> {
  cfn = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const p = new URLSearchParams(body);
      const action = p.get('Action') ?? '';
      const name = p.get('StackName') ?? '';
      calls.push(`${action} ${name}`);
      const st = stacks.get(name);
      const ns = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
      if (!st) {
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(
          `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${xml(name)} does not exist</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/xml' });
      if (action === 'DescribeStacks') {
        const outs = Object.entries(st.outputs)
          .map(([k, v]) => `<member><OutputKey>${xml(k)}</OutputKey><OutputValue>${xml(v)}</OutputValue></member>`)
          .join('');
        res.end(
          `<DescribeStacksResponse xmlns="${ns}"><DescribeStacksResult><Stacks><member><StackName>${xml(name)}</StackName><StackId>arn:aws:cloudformation:us-east-1:000000000000:stack/${xml(name)}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>${st.status}</StackStatus><Outputs>${outs}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
        return;
      }
      if (action === 'ListStackResources') {
        const start = Number(p.get('NextToken') ?? '0');
        const page = st.resources.slice(start, start + 2);
        const next = start + 2 < st.resources.length ? `<NextToken>${start + 2}</NextToken>` : '';
        const members = page
          .map(
            (x) =>
              `<member><LogicalResourceId>${x.logicalId}</LogicalResourceId><PhysicalResourceId>${xml(x.physicalId)}</PhysicalResourceId><ResourceType>${x.type}</ResourceType><LastUpdatedTimestamp>2026-01-01T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>`,
          )
          .join('');
        res.end(
          `<ListStackResourcesResponse xmlns="${ns}"><ListStackResourcesResult><StackResourceSummaries>${members}</StackResourceSummaries>${next}</ListStackResourcesResult><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata></ListStackResourcesResponse>`,
        );
        return;
      }
      res.writeHead(400);
      res.end();
    });
  });
  return new Promise((resolve) =>
    cfn.listen(0, '127.0.0.1', () => {
      cfnUrl = `http://127.0.0.1:${(cfn.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

function cfnClient(): CloudFormationClient {
  return new CloudFormationClient({
    endpoint: cfnUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

beforeAll(async () => {
  await startCfn();
  r = await startRunner({
    processors: {
      'zdrav-mc': async () => {
        throw new PermanentError('bad-payload');
      },
    },
  });
  await post(r, '/zdrav/mc/t0k', '[1]');
  await waitFor(async () => (await r.dlqIndex.list()).length === 1, 'the park');
  const queuesOutput = Object.fromEntries(Object.values(r.queues).map((q) => [q.id, { url: q.url, dlqUrl: q.dlqUrl }]));
  stacks.set('AmoGatewayTest', {
    status: 'UPDATE_COMPLETE',
    outputs: { TableName: r.tableName, Queues: JSON.stringify(queuesOutput) },
    resources: [],
  });
  // Physical names of the shipped prefix (`amo-gateway-…`), as the stack would have them under prefix amo-gateway.
  stacks.set('OldGateway', {
    status: 'CREATE_COMPLETE',
    outputs: {},
    resources: [
      { type: 'AWS::DynamoDB::Table', physicalId: r.tableName, logicalId: 'GatewayTable' },
      { type: 'AWS::Lambda::Function', physicalId: 'fn', logicalId: 'GatewayFnworker' },
      ...Object.values(r.queues).flatMap((q) => [
        { type: 'AWS::SQS::Queue', physicalId: q.url, logicalId: `GatewayQueue${q.id.replace(/-/g, '')}` },
        { type: 'AWS::SQS::Queue', physicalId: q.dlqUrl, logicalId: `GatewayDlq${q.id.replace(/-/g, '')}` },
      ]),
    ],
  });
  stacks.set('Gone', { status: 'ROLLBACK_COMPLETE', outputs: {}, resources: [] });
});

afterAll(async () => {
  await r?.stop();
  await new Promise<void>((res) => cfn?.close(() => res()));
});

describe('resolveStack', () => {
  it('reads the TableName and Queues outputs', async () => {
    const c = cfnClient();
    const st = await resolveStack({ cfn: c, stackName: 'AmoGatewayTest', expectedQueues: routeTable.queues });
    expect(st).toMatchObject({ source: 'outputs', tableName: r.tableName, status: 'UPDATE_COMPLETE' });
    expect(st.queues.rdesk).toEqual({ url: r.queues.rdesk!.url, dlqUrl: r.queues.rdesk!.dlqUrl });
    c.destroy();
  });

  it('falls back to the resources (paged) and the physical names under the prefix', async () => {
    const c = cfnClient();
    await expect(resolveStack({ cfn: c, stackName: 'OldGateway', expectedQueues: routeTable.queues })).rejects.toThrow(
      new RegExp(`none of its ${routeTable.queues.length * 2} queues is named "old-gateway-<queue id>": pass --queue-prefix`),
    );
    const st = await resolveStack({ cfn: c, stackName: 'OldGateway', expectedQueues: routeTable.queues, queuePrefix: 'amo-gateway' });
    expect(st).toMatchObject({ source: 'resources', tableName: r.tableName });
    expect(Object.keys(st.queues).sort()).toEqual(routeTable.queues.map((q) => q.id).sort());
    expect(st.queues.amojo).toEqual({ url: r.queues.amojo!.url, dlqUrl: r.queues.amojo!.dlqUrl });
    await expect(
      resolveStack({
        cfn: c,
        stackName: 'OldGateway',
        expectedQueues: [...routeTable.queues, { id: 'extra', fifo: false }],
        queuePrefix: 'amo-gateway',
      }),
    ).rejects.toThrow(/queues "amo-gateway-extra" \(or their DLQs\) not found/);
    c.destroy();
  });

  it('says clearly when the stack does not exist or is dead', async () => {
    const c = cfnClient();
    await expect(resolveStack({ cfn: c, stackName: 'Nope', expectedQueues: [] })).rejects.toThrow(
      new StackResolveError('stack "Nope" does not exist in this account/region (check --region and the credentials)'),
    );
    await expect(resolveStack({ cfn: c, stackName: 'Gone', expectedQueues: [] })).rejects.toThrow(
      /is ROLLBACK_COMPLETE: nothing to operate on/,
    );
    c.destroy();
  });
});

describe('dlq targets', () => {
  it('--stack: table and queues from the stack outputs', async () => {
    const res = await cli(
      [
        'dlq',
        'list',
        '--stack',
        'AmoGatewayTest',
        '--region',
        'us-east-1',
        '--sqs-endpoint',
        r.sqsEndpoint,
        '--dynamodb-endpoint',
        r.ddbEndpoint,
      ],
      {
        AWS_ENDPOINT_URL_CLOUDFORMATION: cfnUrl,
      },
    );
    expect(res.err).toEqual([]);
    expect(res.code).toBe(0);
    expect(res.text).toMatch(/rdesk\s+zdrav-mc\s+bad-payload/);
    expect(calls).toContain('DescribeStacks AmoGatewayTest');
    const missing = await cli(['dlq', 'list', '--stack', 'Nope', '--region', 'us-east-1'], { AWS_ENDPOINT_URL_CLOUDFORMATION: cfnUrl });
    expect(missing.code).toBe(1);
    expect(missing.err.at(-1)).toBe('amo-gateway: stack "Nope" does not exist in this account/region (check --region and the credentials)');
    // The same --stack on a command of the table alone (one resolver for every command): token status
    // finds the stack's table (no tokens there: every configured account is not-connected).
    const token = await cli(
      [
        'token',
        'status',
        '--stack',
        'AmoGatewayTest',
        '--region',
        'us-east-1',
        '--dynamodb-endpoint',
        r.ddbEndpoint,
        '--config',
        'amo.config.example.json',
      ],
      {
        AWS_ENDPOINT_URL_CLOUDFORMATION: cfnUrl,
      },
    );
    expect(token.err).toEqual([]);
    expect(token.code).toBe(1);
    expect(token.text).toMatch(/\bnot-connected\b/);
    expect(calls.filter((c) => c === 'DescribeStacks AmoGatewayTest').length).toBeGreaterThanOrEqual(2);
    const noRegion = await cli(['dlq', 'list', '--stack', 'AmoGatewayTest'], { AWS_ENDPOINT_URL_CLOUDFORMATION: cfnUrl });
    expect(noRegion.code).toBe(2);
    expect(noRegion.err.at(-1)).toMatch(/no region: pass --region or set AWS_REGION/);
  });

  it('--local: endpoints from <data-dir>/endpoints.json, refused when missing or when its runner is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amo-dlq-'));
    const missing = await cli(['dlq', 'list', '--local', '--data-dir', dir], {});
    expect(missing.code).toBe(2);
    expect(missing.err.at(-1)).toMatch(/endpoints\.json: is the local runner \(npm start\) running with this data directory\?/);

    const file = writeLocalEndpoints(dir, localEndpointsOf(r));
    expect(file).toBe(localEndpointsPath(dir));
    expect(readLocalEndpoints(dir)).toMatchObject({ v: 1, pid: process.pid, tableName: r.tableName });
    const ok = await cli(['dlq', 'list', '--local', '--data-dir', dir], {});
    expect(ok.code).toBe(0);
    expect(ok.text).toMatch(/rdesk\s+zdrav-mc\s+bad-payload/);
    const show = await cli(['dlq', 'replay', '--dry-run', '--local', '--data-dir', dir], {});
    expect(show.err[0]).toMatch(
      new RegExp(`^dry run: replaying from the local runner \\(pid ${process.pid}, ${r.url.replace(/\./g, '\\.')}\\), table amo-gateway$`),
    );

    // A file left by a dead runner.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(file, JSON.stringify({ ...readLocalEndpoints(dir), pid: dead }));
    const stale = await cli(['dlq', 'list', '--local', '--data-dir', dir], {});
    expect(stale.code).toBe(2);
    expect(stale.err.at(-1)).toMatch(new RegExp(`written by process ${dead}, which is no longer running`));
    removeLocalEndpoints(dir, dead);
    expect(() => readLocalEndpoints(dir)).toThrow(/no .*endpoints\.json/);
  });

  it('explicit endpoints: queues by physical name; a wrong prefix, a missing table or half a local setup are clear errors', async () => {
    const base = { AMO_SQS_ENDPOINT: r.sqsEndpoint, AMO_DYNAMODB_ENDPOINT: r.ddbEndpoint };
    const ok = await cli(['dlq', 'list', '--table', r.tableName], base);
    expect(ok.code).toBe(0);
    expect(ok.text).toMatch(/rdesk\s+zdrav-mc/);
    const prefix = await cli(['dlq', 'list', '--table', r.tableName, '--queue-prefix', 'other'], base);
    expect(prefix.code).toBe(1);
    expect(prefix.err.at(-1)).toMatch(/queue "other-amocrm-hooks" not found at http:\/\/127\.0\.0\.1:\d+ \(wrong --queue-prefix\?/);
    const noTable = await cli(['dlq', 'list'], base);
    expect(noTable.code).toBe(2);
    expect(noTable.err.at(-1)).toMatch(/no table: pass --local \(a running npm start\), --stack <name>, or --table <name>/);
    const half = await cli(['dlq', 'list', '--table', 't'], { AMO_DYNAMODB_ENDPOINT: r.ddbEndpoint });
    expect(half.code).toBe(2);
    expect(half.err.at(-1)).toMatch(/--dynamodb-endpoint is set but --sqs-endpoint is not/);
    expect((await cli(['dlq', 'list', '--local', '--stack', 'X'], {})).code).toBe(2);
  });

  it('--help at every level lists the dlq commands and their target flags', async () => {
    const top = await cli(['--help'], {});
    expect(top.text).toMatch(/dlq — parked messages: list, show, replay, purge\n\s+dlq list\s+what is parked and why/);
    const group = await cli(['dlq', '--help'], {});
    expect(group.code).toBe(0);
    expect(group.text).toMatch(/dlq purge\s+delete parked messages/);
    for (const c of ['list', 'show', 'replay', 'purge']) {
      const h = await cli(['dlq', c, '--help'], {});
      expect(h.code).toBe(0);
      expect(h.out[0]).toContain(`usage: amo-gateway dlq ${c}`);
      expect(h.text).toContain('--sqs-endpoint <url>');
      expect(h.text).toContain('--stack <name>');
    }
    expect((await cli(['dlq', 'show'], {})).code).toBe(2);
    expect((await cli(['dlq', 'replay', '--bogus'], {})).code).toBe(2);
  });
});
