/**
 * The RDESK processors through the real pipeline against the sandbox: the path token and the
 * IP allow-list, one failing element parked while its sibling is written, lead-not-found (park /
 * create), coalescing of one batch (newest push per lead, reads by filter[id], ≤ 50 per PATCH),
 * and the pure lenient/strict rules of the payload.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseRdeskBody } from '../../../lib/flows/rdesk/payload.ts';
import { ipAllowed } from '../../../lib/flows/rdesk/tokens.ts';
import { instantOf, timeText } from '../../../lib/flows/rdesk/mapping.ts';
import { MemoryLeadMap } from '../../../lib/flows/rdesk/lead-map.ts';
import { BOOKED, processors, rdeskConfig, rdeskEnvelope, runBatch, sample, world, type World } from './support.ts';

let w: World | undefined;
afterEach(async () => {
  await w?.sb.close();
  w = undefined;
});

const lead = (id: number) =>
  w!.sb.admin.lead(id) as { price?: number; custom_fields_values?: Array<{ field_id: number; values: Array<{ value: unknown }> }> };
const fieldOf = (id: number, name: string) => lead(id).custom_fields_values?.find((f) => f.field_id === w!.fieldId(name))?.values[0]?.value;

describe('payload rules (pure)', () => {
  const one = (kind: 'booked' | 'mc', over: Record<string, unknown>) => {
    const r = parseRdeskBody(kind, sample(kind, over));
    if (!r.ok) throw new Error(r.error);
    return r.elements[0]!;
  };
  it('lenient: lead_id string or number, "" as missing, decimal strings in bills, numeric docNum strings', () => {
    expect(one('booked', { lead_id: 42 })).toMatchObject({ ok: true, value: { lead_id: 42 } });
    expect(one('booked', { lead_id: '42', docNum: '7', checkin: '' })).toMatchObject({ ok: true, value: { lead_id: 42, docNum: 7 } });
    expect((one('booked', { checkin: '' }) as { value: { checkin?: unknown } }).value.checkin).toBeUndefined();
    expect(one('booked', { billData: [{ billNum: 1, billSum: '10.5', billPaidSum: 3 }] })).toMatchObject({
      ok: true,
      value: { billData: [{ billSum: 10.5, billPaidSum: 3 }] },
    });
  });
  it('strict: the five status codes exactly, integer money, dates with a zone or date-only', () => {
    for (const bad of [
      { status: 'booked ' },
      { status: 'Booked' },
      { money: { total: 153887.5, paid: 1 } },
      { money: { total: '153887', paid: 1 } },
      { checkin: '25.08.2026' },
      { bookedAt: '2022-09-05T11:22:33' },
      { lead_id: 'abc' },
    ])
      expect(one('booked', bad).ok, JSON.stringify(bad)).toBe(false);
  });
  it('a body that is not a JSON array is refused as a whole; each element is judged on its own', () => {
    expect(parseRdeskBody('booked', '{"a":1}')).toMatchObject({ ok: false });
    expect(parseRdeskBody('booked', 'nope')).toMatchObject({ ok: false });
    const r = parseRdeskBody('booked', `[${sample('booked', {}).slice(1, -1)}, {"lead_id": 1}]`);
    expect(r.ok && r.elements.map((e) => e.ok)).toEqual([true, false]);
  });
  it('calendar dates are midnight in the configured zone; instants stay as sent', () => {
    expect(instantOf({ kind: 'date', date: '2026-08-25' }, 'Europe/Moscow')).toBe(Date.UTC(2026, 7, 24, 21));
    expect(instantOf({ kind: 'date', date: '2026-08-25' }, 'Asia/Yekaterinburg')).toBe(Date.UTC(2026, 7, 24, 19));
    // A zone with daylight saving: midnight of the summer day is UTC+2 in Berlin, of the winter day UTC+1.
    expect(instantOf({ kind: 'date', date: '2026-07-01' }, 'Europe/Berlin')).toBe(Date.UTC(2026, 5, 30, 22));
    expect(instantOf({ kind: 'date', date: '2026-01-01' }, 'Europe/Berlin')).toBe(Date.UTC(2025, 11, 31, 23));
    expect(instantOf({ kind: 'instant', ms: 1_662_376_953_000 }, 'Europe/Moscow')).toBe(1_662_376_953_000);
    expect(timeText({ kind: 'instant', ms: Date.UTC(2020, 8, 19, 10) }, 'Europe/Moscow')).toBe('2020-09-19 13:00');
  });

  it('IP allow-list: addresses and CIDR blocks', () => {
    expect(ipAllowed('203.0.113.7', ['203.0.113.0/24'])).toBe(true);
    expect(ipAllowed('203.0.114.7', ['203.0.113.0/24'])).toBe(false);
    expect(ipAllowed('10.0.0.1', ['10.0.0.1'])).toBe(true);
    expect(ipAllowed(undefined, ['0.0.0.0/0'])).toBe(false);
  });
});

describe('RDESK processors (sandbox)', () => {
  it('a wrong path token is parked bad-token; a source IP outside the allow-list ip-not-allowed; nothing is written', async () => {
    w = await world([], [{ id: 23392663, name: 'Бронь' }]);
    const procs = processors(w, rdeskConfig({ allowIps: ['203.0.113.0/24'] }));
    const r = await runBatch(procs, [
      rdeskEnvelope('zdrav-booked', BOOKED, 'wrong-token'),
      rdeskEnvelope('zdrav-booked', BOOKED, undefined, '198.51.100.1'),
    ]);
    expect(r.map((x) => x.action)).toMatchObject([
      { kind: 'park', reason: 'bad-token' },
      { kind: 'park', reason: 'ip-not-allowed' },
    ]);
    expect(w.requests()).toBe(0);
    const okr = await runBatch(procs, [rdeskEnvelope('zdrav-booked', BOOKED, undefined, '203.0.113.9')]);
    expect(okr.map((x) => x.outcome)).toEqual(['ok']);
    expect(lead(23392663).price).toBe(153887);
  });

  it('one invalid element is parked with its reason and index while its sibling is written', async () => {
    w = await world([], [{ id: 23392663, name: 'Бронь' }]);
    const good = JSON.parse(sample('booked', {}))[0];
    const body = JSON.stringify([{ ...good, money: { total: 1.5, paid: 0 } }, good]);
    const [r] = await runBatch(processors(w, rdeskConfig()), [rdeskEnvelope('zdrav-booked', body)]);
    expect(r!.action).toMatchObject({ kind: 'park', reason: 'invalid-element' });
    expect((r!.action as { lastError?: string }).lastError).toMatch(
      /1 of 2 element\(s\) failed \(1 done\): \[0\] invalid-element: element 0: money.total/,
    );
    expect(lead(23392663).price).toBe(153887);
  });

  it('lead not found: parked lead-not-found by default; with the create policy a stand-in is made once and written', async () => {
    w = await world();
    const [r] = await runBatch(processors(w, rdeskConfig()), [rdeskEnvelope('zdrav-booked', BOOKED)]);
    expect(r!.action).toMatchObject({ kind: 'park', reason: 'lead-not-found' });

    const pipeline = (w.sb.admin.state() as { pipelines: Array<{ id: number; statuses: Array<{ id: number }> }> }).pipelines[0]!;
    const cfg = rdeskConfig({ leadNotFound: { action: 'create', pipelineId: pipeline.id, statusId: pipeline.statuses[1]!.id } });
    const procs = processors(w, cfg, { leadMap: new MemoryLeadMap() });
    for (let i = 0; i < 2; i++)
      expect((await runBatch(procs, [rdeskEnvelope('zdrav-booked', BOOKED)])).map((x) => x.outcome)).toEqual(['ok']);
    const made = w.sb.admin.entities('leads').filter((l) => l.name === 'ID_23392663');
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ price: 153887, pipeline_id: pipeline.id, status_id: pipeline.statuses[1]!.id });
  });

  it('one batch: the newest push per lead wins (own time, then arrival); leads read by filter[id] at once; one PATCH per 50 leads', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => 5000 + i);
    w = await world(
      [],
      ids.map((id) => ({ id, name: `L${id}` })),
    );
    const envs = [];
    // Three pushes per lead: paid 1, 2, 3 in arrival order; lead 5000's last push is OLDER by its own time.
    for (const paid of [1, 2, 3])
      for (const id of ids) {
        const bookedAt = id === 5000 && paid === 3 ? '2022-09-01T00:00:00Z' : '2022-09-05T11:22:33.000Z';
        envs.push(rdeskEnvelope('zdrav-booked', sample('booked', { lead_id: String(id), money: { total: 100, paid }, bookedAt })));
      }
    const results = await runBatch(processors(w, rdeskConfig()), envs);
    expect(results.every((r) => r.outcome === 'ok')).toBe(true);
    for (const id of ids) expect(fieldOf(id, 'Оплачено'), String(id)).toBe(id === 5000 ? '2' : '3');
    expect(w.calls()).toEqual(['GET /api/v4/leads/custom_fields', 'GET /api/v4/leads', 'PATCH /api/v4/leads', 'PATCH /api/v4/leads']);
  });

  it('one batch whose messages come out of arrival order (an SQS redelivery or duplicate of the older push): the later arrival wins, not the later submission', async () => {
    w = await world([], [{ id: 6000, name: 'L6000' }]);
    // The same booking pushed twice (same bookedAt: a push time tie), the second one later at the edge…
    const older = rdeskEnvelope('zdrav-booked', sample('booked', { lead_id: '6000', money: { total: 100, paid: 1 } }));
    const newer = rdeskEnvelope('zdrav-booked', sample('booked', { lead_id: '6000', money: { total: 200, paid: 2 } }));
    newer.receivedAt = older.receivedAt + 1_000;
    // …and SQS hands them to the worker newer first (standard queues keep no order).
    const results = await runBatch(processors(w, rdeskConfig()), [newer, older]);
    expect(results.every((r) => r.outcome === 'ok')).toBe(true);
    expect(lead(6000).price).toBe(200);
    expect(fieldOf(6000, 'Оплачено')).toBe('2');
  });
});
