/**
 * The metric catalogue (lib/metrics.ts) is THE list: a source scan of lib/ and functions/ finds
 * every metric emission (`.count(…)`, `.addMetric(…)`) and fails on a name that does not come
 * from `METRIC` (a string literal, another constant); every catalogue entry is emitted somewhere,
 * and a metric that signals trouble has an alarm rule. (That each entry has its dashboard widget
 * and alarm in the synthesized stack: test/infra/operations.test.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogue, METRIC, METRIC_CATALOGUE, metricUnit } from '../lib/metrics.ts';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Strips comments so a name mentioned in prose is not taken for an emission. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/**
 * The sink adapters pass a name they were given (`name`) on to their backend; everything else
 * must name a catalogue constant.
 */
const ADAPTERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['lib/aws/powertools.ts', ['name']],
  ['lib/common/metrics-sink.ts', ['name', 'p.name']],
]);

interface Emission {
  file: string;
  arg: string;
}

function emissions(): Emission[] {
  const out: Emission[] = [];
  for (const file of [...sources('lib'), ...sources('functions')]) {
    if (file === 'lib/metrics.ts') continue;
    const text = code(readFileSync(join(ROOT, file), 'utf8'));
    for (const m of text.matchAll(/\.(?:count|addMetric)\(\s*([^,)]+?)\s*[,)]/g)) out.push({ file, arg: m[1] as string });
  }
  return out;
}

describe('the metric catalogue', () => {
  it('every metric the code emits names a METRIC constant of the catalogue (no string literal, no other list)', () => {
    const all = emissions();
    expect(all.length).toBeGreaterThan(10);
    const keys = new Set(Object.keys(METRIC));
    const bad = all.filter(({ file, arg }) => {
      if (ADAPTERS.get(file)?.includes(arg)) return false;
      const m = /^METRIC\.([A-Za-z]+)$/.exec(arg);
      return !m || !keys.has(m[1] as string);
    });
    expect(bad).toEqual([]);
  });

  it('the scan sees a literal: an emission with a string is caught', () => {
    const text = code(`metrics.count('MadeUp', { a: 'b' });\n// metrics.count('InAComment')\nm.addMetric(METRIC.parked, 'Count', 1);`);
    expect([...text.matchAll(/\.(?:count|addMetric)\(\s*([^,)]+?)\s*[,)]/g)].map((m) => m[1])).toEqual(["'MadeUp'", 'METRIC.parked']);
  });

  it('every catalogue metric is emitted somewhere in lib/ or functions/ (no stale entry)', () => {
    const used = new Set(emissions().map((e) => /^METRIC\.([A-Za-z]+)$/.exec(e.arg)?.[1]));
    expect(Object.keys(METRIC).filter((k) => !used.has(k))).toEqual([]);
  });

  it('one entry per name, every entry complete; names are plain CloudWatch names', () => {
    expect(Object.keys(METRIC_CATALOGUE).sort()).toEqual(Object.values(METRIC).sort());
    expect(new Set(Object.values(METRIC)).size).toBe(Object.values(METRIC).length);
    for (const m of catalogue()) {
      expect(m.name).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(m.meaning.length).toBeGreaterThan(30);
      if (m.groupBy) expect(m.dimensions).toContain(m.groupBy);
      if (m.alarm) expect(m.alarm.atLeast).toBeGreaterThan(0);
    }
    expect(metricUnit(METRIC.deferredAge)).toBe('Seconds');
    expect(metricUnit(METRIC.parked)).toBe('Count');
  });

  it('the alarm table of infra/aws/README.md lists every alarmed metric with its threshold', () => {
    const readme = readFileSync(join(ROOT, 'infra/aws/README.md'), 'utf8');
    for (const m of catalogue().filter((x) => x.alarm)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`…-${m.name}\` |`));
      expect(row, m.name).toBeDefined();
      expect(row).toContain(`\`${m.name}\` ≥ ${m.alarm?.atLeast}`);
    }
  });

  it('the metrics named as trouble signals alarm; the ones that count normal work do not', () => {
    const alarmed = new Set(
      catalogue()
        .filter((m) => m.alarm)
        .map((m) => m.name),
    );
    for (const n of [
      METRIC.badToken,
      METRIC.parked,
      METRIC.deferredAge,
      METRIC.dlqIndexFailed,
      METRIC.scheduledRefreshFailed,
      METRIC.refreshFailed,
      METRIC.needsReauth,
      METRIC.blocked,
      METRIC.rateLimited,
    ]) {
      expect(alarmed.has(n), n).toBe(true);
    }
    for (const n of [METRIC.refreshed, METRIC.installed, METRIC.eventsPublished, METRIC.deferred, METRIC.budgetExhausted])
      expect(alarmed.has(n), n).toBe(false);
  });
});
