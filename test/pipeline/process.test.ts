import { describe, expect, it } from 'vitest';
import { type ProcessorContext, type RouteProcessor } from '../../lib/pipeline/registry.ts';
import { processMessage, type PipelineConfig } from '../../lib/pipeline/process.ts';
import { DeferError, ok, PermanentError, RetryableError, type Outcome } from '../../lib/pipeline/outcome.ts';
import { silentLog } from '../../lib/common/log.ts';
import { envelope } from './fixtures.ts';
import { constant } from './seeded.ts';

const routes = new Map([
  ['zdrav-mc', { id: 'zdrav-mc', bodyLimitBytes: 64, target: { kind: 'queue' as const, queue: 'rdesk' } }],
  ['amojo-callback', { id: 'amojo-callback', bodyLimitBytes: 1024, target: { kind: 'queue' as const, queue: 'amojo' } }],
  // A function route feeding a queue (the forms ingress): held to its queue like a queue route.
  ['forms', { id: 'forms', bodyLimitBytes: 1024, target: { kind: 'function' as const, function: 'forms', queue: 'forms' } }],
  ['oauth-callback', { id: 'oauth-callback', bodyLimitBytes: 1024, target: { kind: 'function' as const, function: 'oauth' } }],
]);

function cfg(processors: Record<string, RouteProcessor | undefined> = {}): PipelineConfig {
  return {
    queue: { id: 'rdesk', fifo: false, maxAttempts: 3 },
    routes,
    processors,
    log: silentLog,
    now: () => 42,
    random: constant(0),
  };
}

const msg = (body: string, receiveCount = 1) => ({ messageId: 'm-1', body, receiveCount });

describe('processMessage', () => {
  it('tells the processor mayHaveRun on any sign of an earlier delivery: receive count > 1, attempt, deferrals, replay, the journal mark', async () => {
    const seen: boolean[] = [];
    const c = cfg({
      'zdrav-mc': async (_env, ctx: ProcessorContext) => {
        seen.push(ctx.mayHaveRun);
        return ok();
      },
    });
    await processMessage(msg(JSON.stringify(envelope())), c);
    await processMessage(msg(JSON.stringify(envelope()), 2), c);
    await processMessage(msg(JSON.stringify(envelope({ attempt: 1 }))), c);
    await processMessage(msg(JSON.stringify(envelope({ deferrals: 3 }))), c);
    await processMessage(msg(JSON.stringify(envelope({ replayedAt: 1_700_000_000_000 }))), c);
    await processMessage({ ...msg(JSON.stringify(envelope())), recovered: true }, c);
    expect(seen).toEqual([false, true, true, true, true, true]);
  });

  it('deletes a valid envelope its processor accepted', async () => {
    const r = await processMessage(msg(JSON.stringify(envelope())), cfg({ 'zdrav-mc': async () => ok() }));
    expect(r).toMatchObject({ action: { kind: 'delete' }, outcome: 'ok', route: 'zdrav-mc', bytes: 10 });
  });

  it('never acknowledges a route without a processor: it is parked no-processor (there is no default processor)', async () => {
    const r = await processMessage(msg(JSON.stringify(envelope())), cfg());
    expect(r).toMatchObject({
      action: { kind: 'park', reason: 'no-processor', lastError: 'no processor registered for route "zdrav-mc"', attempts: 1 },
      outcome: 'park',
      route: 'zdrav-mc',
    });
  });

  it('parks a body that is not an envelope as bad-envelope, at once, reporting raw size', async () => {
    for (const body of ['not json', '{"v":2}', JSON.stringify({ ...envelope(), body: '!!not base64!!' })]) {
      const r = await processMessage(msg(body, 1), cfg());
      expect(r.action).toMatchObject({ kind: 'park', reason: 'bad-envelope', envelope: undefined, attempts: 1 });
      expect(r.route).toBeUndefined();
      expect(r.bytes).toBe(Buffer.byteLength(body));
    }
  });

  it('parks an unknown route, a route of another queue, and a route with no processor', async () => {
    expect((await processMessage(msg(JSON.stringify(envelope({ route: 'nope' }))), cfg())).action).toMatchObject({
      kind: 'park',
      reason: 'unknown-route',
    });
    expect((await processMessage(msg(JSON.stringify(envelope({ route: 'amojo-callback' }))), cfg())).action).toMatchObject({
      kind: 'park',
      reason: 'wrong-queue',
    });
    expect((await processMessage(msg(JSON.stringify(envelope({ route: 'forms' }))), cfg())).action).toMatchObject({
      kind: 'park',
      reason: 'wrong-queue',
      lastError: 'route "forms" belongs to queue "forms", not "rdesk"',
    });
    expect((await processMessage(msg(JSON.stringify(envelope())), cfg({ 'zdrav-mc': undefined }))).action).toMatchObject({
      kind: 'park',
      reason: 'no-processor',
    });
  });

  it('parks a body over the route limit as body-too-large without calling the processor', async () => {
    let called = false;
    const r = await processMessage(
      msg(JSON.stringify(envelope({}, 'x'.repeat(65)))),
      cfg({ 'zdrav-mc': async () => ((called = true), ok()) }),
    );
    expect(r.action).toMatchObject({ kind: 'park', reason: 'body-too-large', lastError: 'body of 65 bytes exceeds the route limit of 64' });
    expect(called).toBe(false);
    // Exactly at the limit is fine.
    expect(
      (await processMessage(msg(JSON.stringify(envelope({}, 'x'.repeat(64)))), cfg({ 'zdrav-mc': async () => ok() }))).action.kind,
    ).toBe('delete');
  });

  it('gives the processor the decoded body and its context', async () => {
    let seen: ProcessorContext | undefined;
    await processMessage(msg(JSON.stringify(envelope({}, 'héllo'))), cfg({ 'zdrav-mc': async (_e, ctx) => ((seen = ctx), ok()) }));
    expect(seen?.body.toString('utf8')).toBe('héllo');
    expect(seen).toMatchObject({ queueId: 'rdesk', messageId: 'm-1', receiveCount: 1, route: { id: 'zdrav-mc' } });
    expect(seen?.now()).toBe(42);
  });

  it('maps thrown errors: DeferError → resend (defer), PermanentError → park, anything else → retry', async () => {
    const throwing =
      (e: unknown): RouteProcessor =>
      async () => {
        throw e;
      };
    const body = JSON.stringify(envelope());
    expect((await processMessage(msg(body), cfg({ 'zdrav-mc': throwing(new DeferError('rate-budget', 5)) }))).action).toMatchObject({
      kind: 'resend',
      cause: 'defer',
      delaySeconds: 5,
    });
    expect(
      (await processMessage(msg(body), cfg({ 'zdrav-mc': throwing(new PermanentError('invalid-payload', 'no id')) }))).action,
    ).toMatchObject({ kind: 'park', reason: 'invalid-payload' });
    expect((await processMessage(msg(body), cfg({ 'zdrav-mc': throwing(new RetryableError('503')) }))).action).toMatchObject({
      kind: 'resend',
      cause: 'retry',
    });
    const r = await processMessage(msg(body), cfg({ 'zdrav-mc': throwing(new Error('boom')) }));
    expect(r).toMatchObject({ outcome: 'retry', action: { kind: 'resend', envelope: { attempt: 1, lastError: 'Error: boom' } } });
  });

  it('treats a processor that returns no outcome as a retry', async () => {
    const bad = (async () => undefined) as unknown as RouteProcessor;
    const r = await processMessage(msg(JSON.stringify(envelope())), cfg({ 'zdrav-mc': bad }));
    expect(r).toMatchObject({ outcome: 'retry', action: { kind: 'resend' } });
  });

  it('parks out-of-attempts on the queue maxAttempts-th failure', async () => {
    const fail: RouteProcessor = async (): Promise<Outcome> => ({ kind: 'retry', error: 'down' });
    const r = await processMessage(msg(JSON.stringify(envelope({ attempt: 2 }))), cfg({ 'zdrav-mc': fail }));
    expect(r.action).toMatchObject({ kind: 'park', reason: 'out-of-attempts', attempts: 3 });
  });
});
