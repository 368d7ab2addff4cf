/** What every command prints the same way: times, tables, clipped text; and reading a string flag. */
import type { OptionValues } from './command.ts';

/** A string flag's value; an empty string counts as not given. */
export function str(v: OptionValues[string]): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Epoch ms → `2026-01-15T09:00:00Z` (seconds are enough for operators); `-` when unknown. */
export function iso(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Rows as aligned columns (the first row is the header). */
export function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** One line of at most n characters. */
export function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}
