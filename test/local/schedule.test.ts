/** The EventBridge stand-in fires scheduled functions at their rate (time scaled down for tests). */
import type { ScheduledEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { defineRouteTable } from '../../lib/routes.ts';
import { start, useRunners, waitFor } from './helpers.ts';

useRunners();

describe('schedule', () => {
  it('fires each scheduled function at rateMinutes × timeScale with a Scheduled Event', async () => {
    const table = defineRouteTable({
      routes: [],
      queues: [],
      functions: [
        { id: 'fast', description: 'f', entry: 'functions/fast.ts', timeoutSeconds: 5 },
        { id: 'slow', description: 's', entry: 'functions/slow.ts', timeoutSeconds: 5 },
      ],
      schedules: [
        { id: 'every-1', description: '1 min', function: 'fast', rateMinutes: 1 },
        { id: 'every-4', description: '4 min', function: 'slow', rateMinutes: 4 },
      ],
    });
    const fired: Array<{ fn: string; at: number; event: ScheduledEvent }> = [];
    const t0 = Date.now();
    const { runner } = await start({
      table,
      scheduleTimeScale: 0.002, // 1 min → 120 ms, 4 min → 480 ms
      functions: {
        fast: async (e) => void fired.push({ fn: 'fast', at: Date.now(), event: e as ScheduledEvent }),
        slow: async (e) => void fired.push({ fn: 'slow', at: Date.now(), event: e as ScheduledEvent }),
      },
    });
    await waitFor(() => fired.filter((f) => f.fn === 'slow').length >= 2, 'two slow runs', 5000);
    const fast = fired.filter((f) => f.fn === 'fast');
    const slow = fired.filter((f) => f.fn === 'slow');
    // No run at start (EventBridge fires after the first period), then one per period.
    expect(slow[0]!.at - t0).toBeGreaterThanOrEqual(480);
    const gap = slow[1]!.at - slow[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(450);
    expect(gap).toBeLessThan(1200); // loose: timers drift on a loaded 2-core CI machine
    // Between two slow runs (480 ms) about four fast ones (120 ms); timers are not exact.
    const between = fast.filter((f) => f.at > slow[0]!.at && f.at <= slow[1]!.at).length;
    expect(between).toBeGreaterThanOrEqual(2);
    expect(between).toBeLessThanOrEqual(7);
    const ev = slow[0]!.event;
    expect(ev).toMatchObject({
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      region: 'us-east-1',
      detail: {},
    });
    expect(ev.resources).toEqual(['arn:aws:events:us-east-1:000000000000:rule/amo-gateway-every-4']);
    expect(ev.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(runner.scheduleStats()['every-1']).toMatchObject({ rateMinutes: 1, periodMs: 120, failures: 0 });
  });

  it('runs the shipped token-refresh on its schedule, and stops firing on stop', async () => {
    const { runner } = await start({ scheduleTimeScale: 0.0005 }); // 5 min → 150 ms
    await waitFor(() => (runner.scheduleStats()['token-refresh']?.runs ?? 0) >= 2, 'two token-refresh runs', 5000);
    expect(runner.scheduleStats()['token-refresh']).toMatchObject({ failures: 0, periodMs: 150 });
    await runner.stop();
    const runs = runner.scheduleStats()['token-refresh']!.runs;
    await new Promise((r) => setTimeout(r, 400));
    expect(runner.scheduleStats()['token-refresh']!.runs).toBe(runs);
  });

  it('counts a failing run and keeps firing', async () => {
    const table = defineRouteTable({
      routes: [],
      queues: [],
      functions: [{ id: 'bad', description: 'b', entry: 'functions/bad.ts', timeoutSeconds: 5 }],
      schedules: [{ id: 'bad', description: 'b', function: 'bad', rateMinutes: 1 }],
    });
    const { runner, lines } = await start({
      table,
      scheduleTimeScale: 0.001,
      functions: {
        bad: async () => {
          throw new Error('refresh failed for ivan@example.com');
        },
      },
    });
    await waitFor(() => (runner.scheduleStats().bad?.failures ?? 0) >= 2, 'two failures', 5000);
    expect(runner.scheduleStats().bad?.lastError).toBe('Error: refresh failed for [email]');
    expect(lines.join('\n')).not.toContain('ivan@');
  });
});
