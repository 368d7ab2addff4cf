import { describe, expect, it } from 'vitest';
import {
  defineRouteTable,
  matchPath,
  MAX_QUEUED_BODY_BYTES,
  redriveMaxReceiveCount,
  routeTable,
  type RouteTableInput,
} from '../lib/routes.ts';

const base = (): RouteTableInput => ({
  routes: [
    {
      id: 'r-one',
      description: 'd',
      method: 'POST',
      path: '/a/{x}',
      contentTypes: ['application/json'],
      bodyLimitBytes: 1024,
      target: { kind: 'queue', queue: 'q-one' },
      auth: 'none',
      ack: { status: 200, body: '{}' },
    },
  ],
  queues: [{ id: 'q-one', description: 'd', batchSize: 10, maxAttempts: 3, visibilityTimeoutSeconds: 60, consumer: 'worker' }],
  functions: [{ id: 'worker', description: 'd', entry: 'functions/worker.ts', timeoutSeconds: 30 }],
  schedules: [],
});

describe('route table', () => {
  it('the shipped table is valid and every queue route names its content types and ack', () => {
    expect(routeTable.routes.length).toBeGreaterThan(0);
    for (const r of routeTable.routes.filter((x) => x.target.kind === 'queue')) {
      expect(r.contentTypes.length).toBeGreaterThan(0);
      expect(r.ack).toBeDefined();
    }
  });

  it('the forms route: POST with the three content types and 64 KiB to the forms function, which feeds the forms queue; OPTIONS preflight beside it', () => {
    const post = routeTable.routes.find((r) => r.id === 'forms');
    expect(post).toMatchObject({
      method: 'POST',
      path: '/forms/{form_id}',
      contentTypes: ['application/x-www-form-urlencoded', 'multipart/form-data', 'application/json'],
      bodyLimitBytes: 64 * 1024,
      target: { kind: 'function', function: 'forms', queue: 'forms' },
    });
    expect(routeTable.routes.find((r) => r.id === 'forms-preflight')).toMatchObject({
      method: 'OPTIONS',
      path: '/forms/{form_id}',
      target: { kind: 'function', function: 'forms' },
    });
    expect(routeTable.queues.find((q) => q.id === 'forms')?.consumer).toBe('worker');
    expect(routeTable.functions.find((f) => f.id === 'forms')).toMatchObject({
      entry: 'functions/forms.ts',
      tableKeyPrefixes: ['FORMTHR#'],
    });
  });

  it('accepts a minimal valid table', () => {
    expect(() => defineRouteTable(base())).not.toThrow();
  });

  it.each([
    [
      'FIFO with a batching window',
      (t: RouteTableInput) => {
        t.queues[0] = { ...t.queues[0]!, fifo: true, batchingWindowSeconds: 5 };
      },
      /FIFO queue cannot have a batching window/,
    ],
    [
      'FIFO with batch > 10',
      (t: RouteTableInput) => {
        t.queues[0] = { ...t.queues[0]!, fifo: true, batchSize: 11 };
      },
      /at most 10/,
    ],
    [
      "SQS's redrive at or below the worker's own attempts (it would redrive before the worker parks)",
      (t: RouteTableInput) => {
        t.queues[0] = { ...t.queues[0]!, fifo: true, batchSize: 10, maxAttempts: 5, maxReceiveCount: 5 };
      },
      /maxReceiveCount must exceed maxAttempts/,
    ],
    [
      'standard batch > 10 without window',
      (t: RouteTableInput) => {
        t.queues[0] = { ...t.queues[0]!, batchSize: 50 };
      },
      /batching window/,
    ],
    [
      'unknown queue',
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, target: { kind: 'queue', queue: 'nope' } };
      },
      /unknown queue/,
    ],
    [
      'unknown consumer',
      (t: RouteTableInput) => {
        t.queues[0] = { ...t.queues[0]!, consumer: 'ghost' };
      },
      /unknown consumer/,
    ],
    [
      'queue route without content types',
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, contentTypes: [] };
      },
      /content types/,
    ],
    [
      'body limit over one SQS message',
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, bodyLimitBytes: MAX_QUEUED_BODY_BYTES + 1 };
      },
      /cannot fit one SQS message/,
    ],
    [
      'visibility shorter than the consumer timeout',
      (t: RouteTableInput) => {
        t.queues[0] = { ...t.queues[0]!, visibilityTimeoutSeconds: 10 };
      },
      /shorter than/,
    ],
    [
      'duplicate method+path',
      (t: RouteTableInput) => {
        t.routes.push({ ...t.routes[0]!, id: 'r-two', path: '/a/{y}' });
      },
      /duplicate route/,
    ],
    [
      'GET to a queue',
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, method: 'GET' };
      },
      /not GET/,
    ],
    [
      'OPTIONS to a queue (only a function can answer a preflight)',
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, method: 'OPTIONS' };
      },
      /not OPTIONS/,
    ],
    [
      'a function route feeding an unknown queue',
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, target: { kind: 'function', function: 'worker', queue: 'nope' } };
      },
      /r-one: unknown queue "nope"/,
    ],
    [
      'a table key prefix that is not NAME#',
      (t: RouteTableInput) => {
        t.functions[0] = { ...t.functions[0]!, tableKeyPrefixes: ['formthr'] };
      },
      /key prefix/,
    ],
    [
      'table key prefixes without the actions on them',
      (t: RouteTableInput) => {
        t.functions[0] = { ...t.functions[0]!, tableKeyPrefixes: ['FORMTHR#'] };
      },
      /tableKeyPrefixes and tableActions go together/,
    ],
    [
      'upper-case header',
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, headers: ['X-Signature'] };
      },
      /lower-case/,
    ],
    [
      "a path under the local runner's console",
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, path: '/_console/{x}' };
      },
      /reserved/,
    ],
    [
      "the local runner's /health",
      (t: RouteTableInput) => {
        t.routes[0] = { ...t.routes[0]!, method: 'POST', path: '/health' };
      },
      /reserved/,
    ],
  ])('refuses %s', (_name, mutate, message) => {
    const t = base();
    mutate(t);
    expect(() => defineRouteTable(t)).toThrow(message);
  });

  it('matches path params and refuses empty or extra segments', () => {
    expect(matchPath('/hooks/amocrm/{token}', '/hooks/amocrm/abc%20d')).toEqual({ token: 'abc d' });
    expect(matchPath('/hooks/amocrm/{token}', '/hooks/amocrm/')).toBeUndefined();
    expect(matchPath('/hooks/amocrm/{token}', '/hooks/amocrm/a/b')).toBeUndefined();
    expect(matchPath('/zdrav/mc', '/zdrav/mc')).toEqual({});
  });
});

describe('redriveMaxReceiveCount', () => {
  it("is the queue's own figure, else 50 (standard) or SQS's maximum 1000 (FIFO: every deferral is a receive)", () => {
    expect(redriveMaxReceiveCount({ fifo: false })).toBe(50);
    expect(redriveMaxReceiveCount({ fifo: true })).toBe(1000);
    expect(redriveMaxReceiveCount({ fifo: true, maxReceiveCount: 12 })).toBe(12);
  });
});
