/**
 * EventBridge stand-in: fires each scheduled function at its `rateMinutes`, with an EventBridge
 * "Scheduled Event". `timeScale` shrinks time for tests (0.001 turns 5 minutes into 300 ms). Like
 * EventBridge, a run is not skipped because the previous one is still going (the functions must
 * cope with overlap: exactly-once comes from the store, not the schedule).
 */
import type { ScheduledEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { safeErrorDescription } from '../../lib/common/errors.ts';
import type { FunctionDef, ScheduleDef } from '../../lib/routes.ts';
import { invoke, LOCAL_ACCOUNT_ID, type LocalInvoke } from './lambda.ts';
import type { LocalLog } from './log.ts';

export interface ScheduleStats {
  rateMinutes: number;
  periodMs: number;
  runs: number;
  failures: number;
  lastRunAt?: string;
  lastError?: string;
}

export function scheduledEvent(s: ScheduleDef, region: string, at = new Date()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:${LOCAL_ACCOUNT_ID}:rule/amo-gateway-${s.id}`],
    detail: {},
  };
}

export class Scheduler {
  readonly stats: Record<string, ScheduleStats> = {};
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly o: {
      schedules: readonly ScheduleDef[];
      functions: ReadonlyMap<string, { def: FunctionDef; handler: LocalInvoke }>;
      timeScale: number;
      region: string;
      log: LocalLog;
    },
  ) {
    for (const s of o.schedules) {
      this.stats[s.id] = {
        rateMinutes: s.rateMinutes,
        periodMs: Math.max(1, Math.round(s.rateMinutes * 60_000 * o.timeScale)),
        runs: 0,
        failures: 0,
      };
    }
  }

  start(): void {
    for (const s of this.o.schedules) {
      const stats = this.stats[s.id] as ScheduleStats;
      this.timers.push(setInterval(() => this.fire(s), stats.periodMs));
    }
  }

  /** Fire one schedule now (also what the timer does). */
  fire(s: ScheduleDef): Promise<void> {
    const stats = this.stats[s.id] as ScheduleStats;
    const fn = this.o.functions.get(s.function);
    const log = this.o.log.pipeline('schedule');
    const run = (async () => {
      stats.runs++;
      stats.lastRunAt = new Date().toISOString();
      if (!fn) throw new Error(`function "${s.function}" is not wired locally`);
      await invoke(fn.def, fn.handler, scheduledEvent(s, this.o.region), this.o.region);
    })().then(
      () => log.debug('ran', { schedule: s.id }),
      (e: unknown) => {
        stats.failures++;
        stats.lastError = safeErrorDescription(e);
        log.error('run failed', { schedule: s.id, error: stats.lastError });
      },
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return run;
  }

  /** Stop the timers and wait for runs in progress. */
  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await Promise.all([...this.running]);
  }
}
