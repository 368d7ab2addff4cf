/** The config additions (hookToken, mirror, events) and the worker's AWS wiring from the environment. */
import { describe, expect, it } from 'vitest';
import { depsFromEnv, createHandler } from '../../functions/worker.ts';
import { routeTable } from '../../lib/routes.ts';
import { ConfigError, parseConfig } from '../../lib/config/index.ts';
import { RecordingBus } from '../../lib/events/bus.ts';
import { pipelineMetrics, RecordingMetrics, withMirror } from '../../lib/ingest/index.ts';
import { ok } from '../../lib/pipeline/outcome.ts';
import { silentLog } from '../../lib/common/log.ts';
import { staticSecretSource } from '../../lib/config/secrets.ts';
import type { IdempotencyGuard } from '../../lib/ingest/idempotency.ts';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DlqIndex } from '../../lib/pipeline/dlq-index.ts';
import { captureLog, ctxFor, hookEnvelope } from './support.ts';

/** AMO_CONFIG_JSON as the construct writes it: validated at synth, defaults filled in (infra/aws/gateway.ts configEnvJson). */
const deployed = (c: unknown) => JSON.stringify(parseConfig(c));

const base = {
  integrations: [
    { id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 'client' }, redirectUri: 'https://gw.example.com/oauth/callback' },
  ],
  accounts: [{ id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru', hookToken: { secret: 'hooks/clinic' } }],
};

describe('config additions', () => {
  it('hookToken, mirror and events parse; events.publish defaults to true; an old config still parses', () => {
    const c = parseConfig({
      ...base,
      mirror: {
        baseUrl: 'https://mirror.example.com/prod',
        routes: ['amocrm-hook'],
        tokens: { 'amocrm-hook': { secret: 'mirror/hook' } },
        timeoutMs: 1500,
      },
    });
    expect(c.accounts[0]?.hookToken).toEqual({ secret: 'hooks/clinic' });
    expect(c.events).toEqual({ publish: true });
    expect(c.mirror).toEqual({
      baseUrl: 'https://mirror.example.com/prod',
      routes: ['amocrm-hook'],
      tokens: { 'amocrm-hook': { secret: 'mirror/hook' } },
      timeoutMs: 1500,
    });
    const old = parseConfig({
      integrations: base.integrations,
      accounts: [{ id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru' }],
    });
    expect(old.mirror).toBeUndefined();
    expect(old.events.publish).toBe(true);
    expect(parseConfig({ ...base, events: { publish: false } }).events.publish).toBe(false);
  });

  it('refuses a secret in place of a reference, a shared hook token, a plain-http mirror and unknown keys', () => {
    expect(() => parseConfig({ ...base, accounts: [{ ...base.accounts[0], hookToken: 'abc' }] })).toThrow(ConfigError);
    expect(() =>
      parseConfig({
        ...base,
        accounts: [
          base.accounts[0],
          { id: 'two', integration: 'main', subdomain: 'two', domain: 'amocrm.ru', hookToken: { secret: 'hooks/clinic' } },
        ],
      }),
    ).toThrow(/accounts\.1\.hookToken: account "clinic" already uses hookToken secret "hooks\/clinic"/);
    expect(() => parseConfig({ ...base, mirror: { baseUrl: 'http://mirror.example.com' } })).toThrow(/mirror\.baseUrl: must be https/);
    expect(() => parseConfig({ ...base, mirror: { baseUrl: 'https://m.example.com', token: 'x' } })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, events: { publish: true, bus: 'x' } })).toThrow(ConfigError);
  });
});

const QUEUES = JSON.stringify(
  Object.fromEntries(
    routeTable.queues.map((q) => [
      q.id,
      {
        arn: `arn:aws:sqs:eu-central-1:1:amo-gateway-${q.id}`,
        url: `https://sqs.eu-central-1.amazonaws.com/1/amo-gateway-${q.id}`,
        dlqUrl: `https://sqs.eu-central-1.amazonaws.com/1/amo-gateway-${q.id}-dlq`,
      },
    ]),
  ),
);

describe('worker wiring from the Lambda environment', () => {
  it('builds the ingest deps from TABLE_NAME, QUEUES, AMO_CONFIG_JSON, EVENT_BUS_NAME, AMO_SECRETS_PREFIX', () => {
    const metrics = new RecordingMetrics();
    const deps = depsFromEnv(
      {
        TABLE_NAME: 't',
        QUEUES,
        AMO_CONFIG_JSON: deployed(base),
        EVENT_BUS_NAME: 'amo-gateway-events',
        AMO_SECRETS_PREFIX: 'amo-gateway/',
      },
      silentLog,
      metrics,
    );
    expect(deps.ingest?.config.accounts[0]?.id).toBe('clinic');
    expect(deps.metrics).toBe(metrics);
    expect(() => createHandler(deps)).not.toThrow();
  });

  it('says exactly what is missing', () => {
    expect(() => depsFromEnv({ TABLE_NAME: 't', QUEUES }, silentLog)).toThrow(/no configuration: set AMO_CONFIG_JSON/);
    expect(() => depsFromEnv({ TABLE_NAME: 't', QUEUES, AMO_CONFIG_JSON: deployed(base) }, silentLog)).toThrow(/EVENT_BUS_NAME is not set/);
    // The construct validated the config at synth; one that skipped it is refused, never half-read.
    expect(() => depsFromEnv({ TABLE_NAME: 't', QUEUES, AMO_CONFIG_JSON: '{"accounts":[]}' }, silentLog)).toThrow(
      /AMO_CONFIG_JSON is not a config validated at synth/,
    );
    // Events off: no bus needed.
    expect(
      depsFromEnv({ TABLE_NAME: 't', QUEUES, AMO_CONFIG_JSON: deployed({ ...base, events: { publish: false } }) }, silentLog).ingest,
    ).toBeDefined();
  });

  it('a mirror naming a route the table does not have fails at cold start, not per message', () => {
    const config = parseConfig({ ...base, mirror: { baseUrl: 'https://m.example.com', routes: ['no-such-route'] } });
    const neverUsed: IdempotencyGuard = { once: async () => ({ status: 'duplicate' }) };
    expect(() =>
      createHandler({
        sqs: new SQSClient({ region: 'eu-central-1' }),
        dlqIndex: {} as DlqIndex,
        queues: JSON.parse(QUEUES),
        logger: silentLog,
        ingest: { config, secrets: staticSecretSource({}), idempotency: () => neverUsed, bus: new RecordingBus() },
      }),
    ).toThrow(/mirror names route\(s\) the route table does not have: no-such-route/);
  });
});

describe('small parts', () => {
  it('pipelineMetrics turns the pipeline hooks into Processed, Parked (by queue), Deferred + DeferredMessageAge and DlqIndexWriteFailed', () => {
    const metrics = new RecordingMetrics();
    const hooks = pipelineMetrics(metrics);
    hooks.processed?.({ queue: 'rdesk', route: 'zdrav-mc' });
    hooks.parked?.({ queue: 'amocrm-hooks', route: 'amocrm-hook', reason: 'bad-token' });
    hooks.deferred?.({ queue: 'amocrm-hooks', route: 'amocrm-hook', reason: 'rate-budget', ageSeconds: 75, deferrals: 2 });
    hooks.dlqIndexFailed?.({ queue: 'amocrm-hooks', reason: 'bad-token' });
    expect(metrics.counts).toEqual([
      { name: 'Processed', dimensions: { queue: 'rdesk' }, value: 1 },
      { name: 'Parked', dimensions: { queue: 'amocrm-hooks', reason: 'bad-token' }, value: 1 },
      { name: 'Deferred', dimensions: { queue: 'amocrm-hooks', reason: 'rate-budget' }, value: 1 },
      { name: 'DeferredMessageAge', dimensions: { queue: 'amocrm-hooks', reason: 'rate-budget' }, value: 75 },
      { name: 'DlqIndexWriteFailed', dimensions: {}, value: 1 },
    ]);
  });

  it('withMirror mirrors on the first try only and waits for the send; a deferred or retried message is not sent again', async () => {
    const sent: string[] = [];
    const map = withMirror(
      { 'amocrm-hook': async () => ok() },
      {
        mirror: { send: async (env) => (sent.push(env.requestId), { status: 'sent', httpStatus: 200 }) },
        routes: [{ id: 'amocrm-hook', method: 'POST', path: '/hooks/amocrm/{token}' }],
        gates: { 'amocrm-hook': async () => true },
      },
    );
    const p = map['amocrm-hook']!;
    const env = hookEnvelope('a=1', 't', {}, 'first');
    const { log } = captureLog();
    await p(env, ctxFor(env, log));
    await p({ ...env, requestId: 'retried', attempt: 1 }, ctxFor(env, log));
    await p({ ...env, requestId: 'deferred', deferrals: 2 }, ctxFor(env, log));
    await p({ ...env, requestId: 'redelivered' }, ctxFor(env, log, 2));
    expect(sent).toEqual(['first']);
  });

  it('withMirror: a {token} route needs a gate; it is sent only when the gate says the token is ours, and a failing gate only counts MirrorFailed', async () => {
    const route = { id: 'amocrm-hook', method: 'POST' as const, path: '/hooks/amocrm/{token}' };
    const sent: string[] = [];
    const mirror = { send: async (env: { requestId: string }) => (sent.push(env.requestId), { status: 'sent' as const, httpStatus: 200 }) };
    expect(() => withMirror({ 'amocrm-hook': async () => ok() }, { mirror, routes: [route] })).toThrow(
      /need a token check before they are mirrored: amocrm-hook/,
    );
    const metrics = new RecordingMetrics();
    const map = withMirror(
      { 'amocrm-hook': async () => ok() },
      {
        mirror,
        routes: [route],
        metrics,
        gates: {
          'amocrm-hook': async (env) => {
            if (env.params.token === 'down') throw new Error('store down');
            return env.params.token === 'ours';
          },
        },
      },
    );
    const p = map['amocrm-hook']!;
    const { log, lines } = captureLog();
    for (const t of ['forged', 'ours', 'down']) {
      const env = hookEnvelope('a=1', t, {}, t);
      expect(await p(env, ctxFor(env, log))).toEqual({ kind: 'ok' });
    }
    expect(sent).toEqual(['ours']);
    expect(metrics.total('MirrorFailed')).toBe(1);
    expect(lines).toContainEqual({
      level: 'warn',
      message: 'mirror send failed',
      attrs: { route: 'amocrm-hook', reason: 'token-unverified' },
    });
  });
});
