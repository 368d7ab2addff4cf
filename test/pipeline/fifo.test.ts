import { describe, expect, it } from 'vitest';
import { fifoFailures, runFifoBatch } from '../../lib/pipeline/fifo.ts';
import { mapLimit } from '../../lib/common/concurrency.ts';

type R = { id: string; g: string };
const rec = (spec: string): R[] => spec.split(' ').map((s) => ({ id: s, g: s[0] as string }));

describe('FIFO grouping rule', () => {
  it('after the first failure of a group, every later record of that group fails unprocessed; other groups go on', async () => {
    const records = rec('a1 b1 a2 b2 a3 c1 b3');
    const ran: string[] = [];
    const failed = await runFifoBatch(
      records,
      (r) => r.g,
      async (r) => {
        ran.push(r.id);
        return r.id !== 'a2';
      },
    );
    expect(failed.map((r) => r.id)).toEqual(['a2', 'a3']);
    expect(ran).not.toContain('a3');
    expect(ran.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2', 'b3']); // in order
  });

  it('each follower passed over is shown to `skip` with the head that broke its group; one it finishes is not reported, a throw counts as not finished', async () => {
    const seen: string[] = [];
    const failed = await runFifoBatch(
      rec('a1 a2 a3 a4 b1'),
      (r) => r.g,
      async (r) => r.id !== 'a1',
      async (follower, head) => {
        seen.push(`${follower.id}<${head.id}`);
        if (follower.id === 'a4') throw new Error('boom');
        return follower.id === 'a3';
      },
    );
    expect(seen).toEqual(['a2<a1', 'a3<a1', 'a4<a1']);
    expect(failed.map((r) => r.id)).toEqual(['a1', 'a2', 'a4']);
  });

  it('a thrown error counts as a failure', async () => {
    const failed = await runFifoBatch(
      rec('a1 a2'),
      (r) => r.g,
      async (r) => {
        if (r.id === 'a1') throw new Error('boom');
        return true;
      },
    );
    expect(failed.map((r) => r.id)).toEqual(['a1', 'a2']);
  });

  it('runs a group one record at a time, groups side by side', async () => {
    let inGroupA = 0;
    let maxA = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    await runFifoBatch(
      rec('a1 a2 a3 b1 b2 c1'),
      (r) => r.g,
      async (r) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        if (r.g === 'a') maxA = Math.max(maxA, ++inGroupA);
        await new Promise((res) => setTimeout(res, 5));
        if (r.g === 'a') inGroupA--;
        concurrent--;
        return true;
      },
    );
    expect(maxA).toBe(1);
    expect(maxConcurrent).toBe(3);
  });

  it('the pure form agrees', () => {
    const records = rec('a1 b1 a2 b2 a3 c1 b3');
    const bad = new Set(['b1', 'c1']);
    expect(
      fifoFailures(
        records,
        (r) => r.g,
        (r) => !bad.has(r.id),
      ).map((r) => r.id),
    ).toEqual(['b1', 'b2', 'c1', 'b3']);
    expect(
      fifoFailures(
        records,
        (r) => r.g,
        () => true,
      ),
    ).toEqual([]);
    expect(
      fifoFailures(
        [],
        (r: R) => r.g,
        () => false,
      ),
    ).toEqual([]);
  });

  it('the pure form matches runFifoBatch for every failure pattern of a small batch', async () => {
    const records = rec('a1 b1 a2 b2 a3');
    for (let mask = 0; mask < 32; mask++) {
      const ok = (r: R) => ((mask >> records.indexOf(r)) & 1) === 0;
      const ran = await runFifoBatch(
        records,
        (r) => r.g,
        async (r) => ok(r),
      );
      expect(ran).toEqual(fifoFailures(records, (r) => r.g, ok));
    }
  });
});

describe('mapLimit', () => {
  it('keeps order and the bound', async () => {
    let live = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      peak = Math.max(peak, ++live);
      await new Promise((r) => setTimeout(r, n));
      live--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
    expect(await mapLimit([], 3, async () => 1)).toEqual([]);
  });
});
