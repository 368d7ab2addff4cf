/** The API Gateway stand-in: routing, refusals, the envelope on the queue, function routes. */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { LocalRunner } from '../../infra/local/runner.ts';
import { defineRouteTable, routeTable } from '../../lib/routes.ts';
import { envelopeSchema, type Envelope } from '../../lib/envelope.ts';
import { rawRequest, repeatChunks, start, useRunners } from './helpers.ts';

useRunners();

async function queued(runner: LocalRunner, queueId: string): Promise<Envelope[]> {
  const q = runner.queues[queueId]!;
  const res = await runner.sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return (res.Messages ?? []).map((m) => envelopeSchema.parse(JSON.parse(m.Body ?? '')));
}

function totalQueued(runner: LocalRunner): number {
  return Object.keys(runner.queues).reduce((n, id) => {
    const d = runner.depth(id);
    return n + d.visible + d.delayed + d.inFlight + d.dlq;
  }, 0);
}

describe('queue routes', () => {
  it('store the exact request as an envelope and answer the fixed ack', async () => {
    const { runner } = await start({ pollers: false });
    const body = Buffer.from([0x5b, 0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xd0, 0x98, 0x22, 0x7d, 0x5d, 0xff]); // [{"n":"И"}] + a stray byte
    const res = await fetch(`${runner.url}/zdrav/mc/t0k?x=1&x=2&y=z`, {
      method: 'POST',
      headers: { 'Content-Type': 'Application/JSON; charset=UTF-8', 'User-Agent': 'rdesk/1.0', 'X-Other': 'dropped' },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"status":"ok"}');
    expect(res.headers.get('content-type')).toBe('application/json');
    const [env, ...rest] = await queued(runner, 'rdesk');
    expect(rest).toEqual([]);
    expect(env).toMatchObject({ v: 1, route: 'zdrav-mc', params: {}, query: { x: '2', y: 'z' }, sourceIp: '127.0.0.1' });
    expect(env!.headers).toEqual({ 'content-type': 'Application/JSON; charset=UTF-8', 'user-agent': 'rdesk/1.0' });
    expect(Buffer.from(env!.body, 'base64').equals(body)).toBe(true);
    expect(env!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(env!.receivedAt - Date.now())).toBeLessThan(5000);
  });

  it('decode path parameters and keep the route header allow-list (amoCRM hook)', async () => {
    const { runner } = await start({ pollers: false });
    const res = await fetch(`${runner.url}/hooks/amocrm/acc%20tok-1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-amocrm-requestid': 'r-42' },
      body: 'leads%5Bstatus%5D%5B0%5D%5Bid%5D=1',
    });
    expect(res.status).toBe(200);
    const [env] = await queued(runner, 'amocrm-hooks');
    expect(env).toMatchObject({
      route: 'amocrm-hook',
      params: { token: 'acc tok-1' },
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-amocrm-requestid': 'r-42' },
    });
  });

  it("keep the LAST value of a repeated header (as API Gateway's mapping template does), whatever the case of its name", async () => {
    const { runner } = await start({ pollers: false });
    const { port } = new URL(runner.url);
    const body = 'leads%5Bstatus%5D%5B0%5D%5Bid%5D=1';
    // fetch would merge repeated headers itself: write the request by hand.
    const head = [
      'POST /hooks/amocrm/tok-1 HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Content-Type: application/x-www-form-urlencoded',
      'X-Amocrm-Requestid: first-id',
      'User-Agent: amoCRM-Webhooks/2.0',
      'x-amocrm-requestid: last-id',
      'user-agent: amoCRM-Webhooks/3.0',
      `Content-Length: ${body.length}`,
      'Connection: close',
    ].join('\r\n');
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), '127.0.0.1', () => sock.write(`${head}\r\n\r\n${body}`)); // Connection: close: the server ends it
      const parts: Buffer[] = [];
      sock.on('data', (c: Buffer) => parts.push(c));
      sock.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      sock.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const [env] = await queued(runner, 'amocrm-hooks');
    expect(env!.headers).toEqual({
      'content-type': 'application/x-www-form-urlencoded',
      'x-amocrm-requestid': 'last-id',
      'user-agent': 'amoCRM-Webhooks/3.0',
    });
  });

  it('accept a body exactly at the route limit', async () => {
    const { runner } = await start({ pollers: false });
    const limit = routeTable.routes.find((r) => r.id === 'zdrav-mc')!.bodyLimitBytes;
    const res = await fetch(`${runner.url}/zdrav/mc/t0k`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(limit, 0x20),
    });
    expect(res.status).toBe(200);
    expect(runner.depth('rdesk').visible).toBe(1);
  });
});

describe('refusals are JSON and enqueue nothing', () => {
  it('404 for an unknown path (without echoing it)', async () => {
    const { runner } = await start({ pollers: false });
    for (const path of ['/nope', '/hooks/amocrm', '/hooks/amocrm/tok/extra', '/zdrav/mc/']) {
      const res = await fetch(`${runner.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ message: 'Not Found' });
    }
    expect(totalQueued(runner)).toBe(0);
  });

  it('405 with Allow for a known path and the wrong method', async () => {
    const { runner } = await start({ pollers: false });
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await fetch(`${runner.url}/hooks/amocrm/tok`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toEqual({ message: 'Method Not Allowed', allow: ['POST'] });
    }
    const h = await fetch(`${runner.url}/health`, { method: 'POST', body: 'x' });
    expect(h.status).toBe(405);
    expect(h.headers.get('allow')).toBe('GET');
    expect(totalQueued(runner)).toBe(0);
  });

  it('415 for a missing or unsupported content type', async () => {
    const { runner } = await start({ pollers: false });
    const cases: Array<[string, Record<string, string>]> = [
      ['/zdrav/mc/t0k', { 'content-type': 'text/plain' }],
      ['/zdrav/mc/t0k', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['/zdrav/mc/t0k', { 'content-type': 'application/jsonx' }],
      ['/hooks/amocrm/t', { 'content-type': 'application/json' }],
      ['/zdrav/mc/t0k', {}],
    ];
    for (const [path, headers] of cases) {
      const res = await rawRequest(`${runner.url}${path}`, { method: 'POST', headers, chunks: [Buffer.from('[1]')] });
      expect(res.status, JSON.stringify(headers)).toBe(415);
      expect(JSON.parse(res.body)).toMatchObject({ message: 'Unsupported Media Type', supported: expect.any(Array) });
    }
    expect(totalQueued(runner)).toBe(0);
  });

  it('413 from a declared Content-Length over the limit, without reading the body', async () => {
    const { runner, lines } = await start({ pollers: false });
    const res = await rawRequest(`${runner.url}/zdrav/mc/t0k`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) },
      chunks: repeatChunks(Buffer.alloc(64 * 1024, 0x20), 800),
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ message: 'Payload Too Large', limitBytes: 256 * 1024 });
    expect(res.written).toBeLessThan(50 * 1024 * 1024);
    expect(lines.some((l) => /-> 413 .*declaredBytes=52428800/.test(l))).toBe(true);
    expect(totalQueued(runner)).toBe(0);
  });

  it('413 for a chunked body that grows past the limit: reading stops soon after it', async () => {
    const { runner, lines } = await start({ pollers: false });
    const res = await rawRequest(`${runner.url}/zdrav/mc/t0k`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: repeatChunks(Buffer.alloc(16 * 1024, 0x20), 3200), // 50 MiB offered
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ message: 'Payload Too Large' });
    const line = lines.find((l) => l.includes('-> 413'));
    const read = Number(/bytesRead=(\d+)/.exec(line ?? '')?.[1]);
    expect(read).toBeGreaterThan(256 * 1024);
    expect(read).toBeLessThan(256 * 1024 + 128 * 1024);
    expect(res.written).toBeLessThan(50 * 1024 * 1024);
    // One byte over the limit, in one piece, is refused too.
    const one = await fetch(`${runner.url}/zdrav/mc/t0k`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(256 * 1024 + 1, 0x20),
    });
    expect(one.status).toBe(413);
    expect(totalQueued(runner)).toBe(0);
  });
});

describe('stand-ins', () => {
  it('create every queue of the table with its DLQ, a high last-resort redrive, 1 MiB messages and the table visibility', async () => {
    const { runner } = await start({ pollers: false });
    expect(Object.keys(runner.queues).sort()).toEqual(routeTable.queues.map((q) => q.id).sort());
    for (const def of routeTable.queues) {
      const q = runner.queues[def.id]!;
      const main = runner.fauxqs.inspectQueue(q.name)!;
      const dlq = runner.fauxqs.inspectQueue(q.dlqName)!;
      expect(q.name).toBe(`amo-gateway-${def.id}${def.fifo ? '.fifo' : ''}`);
      expect(dlq.arn).toBe(q.dlqArn);
      // A FIFO queue (chat-in) takes the route table's figure: every deferral there is a receive.
      expect(JSON.parse(main.attributes.RedrivePolicy!)).toEqual({ deadLetterTargetArn: q.dlqArn, maxReceiveCount: def.fifo ? 1000 : 100 });
      expect(main.attributes).toMatchObject({
        MaximumMessageSize: '1048576',
        VisibilityTimeout: String(def.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(def.retentionDays * 86_400),
      });
      expect(runner.queuesConfig[def.id]).toEqual({ arn: q.arn, url: q.url, dlqUrl: q.dlqUrl });
    }
  });
});

describe('health', () => {
  it('answers 200 JSON with the state of each part', async () => {
    const { runner } = await start();
    const res = await fetch(`${runner.url}/health`);
    expect(res.status).toBe(200);
    const h = (await res.json()) as { status: string; parts: Record<string, { status: string }> };
    expect(h.status).toBe('ok');
    expect(h.parts.http?.status).toBe('up');
    expect(h.parts.sqs).toMatchObject({ status: 'up', queues: { rdesk: { visible: 0, delayed: 0, inFlight: 0, dlq: 0 } } });
    expect(h.parts.dynamodb).toMatchObject({ status: 'up', table: 'amo-gateway', store: 'memory' });
    for (const q of routeTable.queues) expect(h.parts[`poller:${q.id}`]?.status).toBe('up');
    expect(h.parts.schedule?.status).toBe('up');
  });

  it('reports extra services and turns 503 when one is down', async () => {
    let up = true;
    const events: string[] = [];
    const { runner } = await start({
      services: [
        {
          name: 'sandbox',
          start: async () => (events.push('start'), { url: 'http://127.0.0.1:1' }),
          stop: async () => void events.push('stop'),
          health: async () => ({ ok: up, accounts: 1 }),
        },
      ],
    });
    expect(((await (await fetch(`${runner.url}/health`)).json()) as { parts: Record<string, unknown> }).parts.sandbox).toEqual({
      ok: true,
      accounts: 1,
      status: 'up',
    });
    up = false;
    const res = await fetch(`${runner.url}/health`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { status: string }).status).toBe('degraded');
    await runner.stop();
    expect(events).toEqual(['start', 'stop']);
  });
});

describe('function routes', () => {
  const table = defineRouteTable({
    routes: [
      {
        id: 'oauth-callback',
        description: 'test',
        method: 'GET',
        path: '/oauth/callback',
        bodyLimitBytes: 1024,
        target: { kind: 'function', function: 'oauth' },
        auth: 'oauth-state',
      },
      {
        id: 'fn-post',
        description: 'test',
        method: 'POST',
        path: '/fn/{item_id}',
        contentTypes: ['application/json'],
        bodyLimitBytes: 64,
        target: { kind: 'function', function: 'oauth' },
        auth: 'api-key',
      },
      {
        id: 'q-route',
        description: 'test',
        method: 'POST',
        path: '/q',
        contentTypes: ['application/json'],
        bodyLimitBytes: 64,
        target: { kind: 'queue', queue: 'q-test' },
        auth: 'none',
        ack: { status: 202, body: '{"queued":true}' },
      },
    ],
    queues: [{ id: 'q-test', description: 'q', batchSize: 1, maxAttempts: 2, visibilityTimeoutSeconds: 60, consumer: 'worker' }],
    functions: [
      { id: 'worker', description: 'w', entry: 'functions/worker.ts', timeoutSeconds: 30 },
      { id: 'oauth', description: 'o', entry: 'functions/oauth.ts', timeoutSeconds: 1 },
    ],
    schedules: [],
  });

  it('get a REST v1 proxy event and their answer goes back as is', async () => {
    const events: APIGatewayProxyEvent[] = [];
    const { runner } = await start({
      table,
      functions: {
        oauth: async (e) => {
          const ev = e as APIGatewayProxyEvent;
          events.push(ev);
          if (ev.path === '/fn/boom') throw new Error('handler crashed');
          if (ev.path === '/fn/bad') return { nope: true };
          if (ev.path === '/fn/slow') return new Promise((r) => setTimeout(() => r({ statusCode: 200 }), 3000));
          return {
            statusCode: 302,
            headers: { Location: 'https://example.com/done' },
            multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
            body: 'moved',
          };
        },
      },
    });
    const res = await fetch(`${runner.url}/oauth/callback?code=c1&state=s1&state=s2`, { redirect: 'manual', headers: { 'X-Test': 'one' } });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://example.com/done');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.text()).toBe('moved');
    const ev = events[0]!;
    expect(ev).toMatchObject({
      resource: '/oauth/callback',
      path: '/oauth/callback',
      httpMethod: 'GET',
      queryStringParameters: { code: 'c1', state: 's2' },
      multiValueQueryStringParameters: { code: ['c1'], state: ['s1', 's2'] },
      pathParameters: null,
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
      requestContext: { resourcePath: '/oauth/callback', httpMethod: 'GET', stage: 'local', identity: { sourceIp: '127.0.0.1' } },
    });
    expect(ev.headers['X-Test'] ?? ev.headers['x-test']).toBe('one');
    expect(ev.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const post = await fetch(`${runner.url}/fn/item%201`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: '{"a":"б"}',
    });
    expect(post.status).toBe(302);
    expect(events[1]).toMatchObject({
      resource: '/fn/{item_id}',
      pathParameters: { item_id: 'item 1' },
      body: '{"a":"б"}',
      queryStringParameters: null,
    });

    // API Gateway's answers when the function fails or answers nonsense; timeouts too.
    for (const p of ['boom', 'bad', 'slow']) {
      const r = await fetch(`${runner.url}/fn/${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(r.status, p).toBe(502);
      expect(await r.json()).toEqual({ message: 'Internal server error' });
    }
    // Limits and content types apply to function routes too; nothing reaches the function.
    const before = events.length;
    expect(
      (await fetch(`${runner.url}/fn/x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(65) })).status,
    ).toBe(413);
    expect((await fetch(`${runner.url}/fn/x`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })).status).toBe(415);
    expect((await fetch(`${runner.url}/oauth/callback`, { method: 'POST', body: '' })).status).toBe(405);
    expect(events.length).toBe(before);

    // The test table's queue route answers its own ack.
    const q = await fetch(`${runner.url}/q`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(q.status).toBe(202);
    expect(await q.text()).toBe('{"queued":true}');
  });
});
