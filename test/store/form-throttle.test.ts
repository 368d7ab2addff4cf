/**
 * The forms' per-IP throttle on a real table (DynamoDB Local, or dynalite): fixed windows per
 * minute and per hour, atomic counts under concurrency, Retry-After to the window's end, items
 * that expire, and never the raw IP in the table.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { clientKey, formWindows } from '../../lib/flows/forms/ingress/throttle.ts';
import { DynamoFormThrottle, FORM_THROTTLE_PK_PREFIX } from '../../lib/store/form-throttle.ts';
import { routeTable } from '../../lib/routes.ts';
import { createTestTable, type TestTable } from '../support/ddb.ts';

let t: TestTable;
let throttle: DynamoFormThrottle;
beforeAll(async () => {
  t = await createTestTable('formthr');
  throttle = new DynamoFormThrottle({ doc: t.doc, tableName: t.tableName });
});

const HOUR = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a whole hour

describe('DynamoFormThrottle', () => {
  it('counts per minute: the limit passes, the next is refused with Retry-After to the minute’s end; a new minute starts again', async () => {
    const w = formWindows({ perMinute: 2, perHour: 100 });
    const c = clientKey('contact', '203.0.113.1');
    expect(await throttle.hit('contact', c, w, HOUR + 10_000)).toEqual({ allowed: true });
    expect(await throttle.hit('contact', c, w, HOUR + 20_000)).toEqual({ allowed: true });
    expect(await throttle.hit('contact', c, w, HOUR + 50_500)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    expect(await throttle.hit('contact', c, w, HOUR + 60_000)).toEqual({ allowed: true });
    // Another form, another client: their own counters.
    expect(await throttle.hit('other', c, w, HOUR + 50_000)).toEqual({ allowed: true });
    expect(await throttle.hit('contact', clientKey('contact', '203.0.113.2'), w, HOUR + 50_000)).toEqual({ allowed: true });
  });

  it('counts per hour across minutes; Retry-After is the longer wait when both windows are over', async () => {
    const w = formWindows({ perMinute: 2, perHour: 3 });
    const c = clientKey('hourly', '203.0.113.9');
    for (const m of [0, 1, 2]) expect(await throttle.hit('hourly', c, w, HOUR + m * 60_000)).toEqual({ allowed: true });
    expect(await throttle.hit('hourly', c, w, HOUR + 3 * 60_000)).toEqual({ allowed: false, retryAfterSeconds: 3600 - 180 });
    expect(await throttle.hit('hourly', c, w, HOUR + 3 * 60_000 + 1000)).toEqual({ allowed: false, retryAfterSeconds: 3600 - 181 });
    expect(await throttle.hit('hourly', c, w, HOUR + 3_600_000)).toEqual({ allowed: true });
  });

  it('concurrent posts are counted atomically: exactly the limit passes', async () => {
    const w = formWindows({ perMinute: 10, perHour: 1000 });
    const c = clientKey('burst', '203.0.113.50');
    const verdicts = await Promise.all(Array.from({ length: 25 }, () => throttle.hit('burst', c, w, HOUR + 5000)));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(10);
  });

  it('stores a hash of the IP (never the address), under its key prefix, with an expiry after the window', async () => {
    const ip = '198.51.100.77';
    await throttle.hit('privacy', clientKey('privacy', ip), formWindows({ perMinute: 5, perHour: 5 }), HOUR + 1000);
    const items = (await t.doc.send(new ScanCommand({ TableName: t.tableName }))).Items ?? [];
    const mine = items.filter((i) => String(i.pk).startsWith(`${FORM_THROTTLE_PK_PREFIX}privacy#`));
    expect(mine.map((i) => i.sk).sort()).toEqual([`hour#${HOUR / 1000}`, `minute#${HOUR / 1000}`]);
    expect(JSON.stringify(items)).not.toContain(ip);
    for (const i of mine) expect(i.pk).toMatch(/^FORMTHR#privacy#[0-9a-f]{32}$/);
    expect(mine.find((i) => String(i.sk).startsWith('minute'))?.expiresAt).toBe(HOUR / 1000 + 120);
    expect(mine.find((i) => String(i.sk).startsWith('hour'))?.expiresAt).toBe(HOUR / 1000 + 7200);
  });

  it('the forms function may write only this prefix (lib/routes.ts tableKeyPrefixes)', () => {
    expect(routeTable.functions.find((f) => f.id === 'forms')?.tableKeyPrefixes).toEqual([FORM_THROTTLE_PK_PREFIX]);
  });
});
