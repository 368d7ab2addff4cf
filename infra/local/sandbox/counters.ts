/** Counts of every call by method, path template and status, for tests and benchmarks. */
export interface CounterRow {
  method: string;
  route: string;
  status: number | 'timeout' | 'dropped';
  count: number;
}

export class Counters {
  private rows = new Map<string, CounterRow>();

  add(method: string, route: string, status: CounterRow['status']): void {
    const key = `${method} ${route} ${status}`;
    const row = this.rows.get(key);
    if (row) row.count++;
    else this.rows.set(key, { method, route, status, count: 1 });
  }

  list(): CounterRow[] {
    return [...this.rows.values()].map((r) => ({ ...r }));
  }

  /** Sum over rows matching the filter, e.g. `count({route: '/api/v4/leads', status: 429})`. */
  count(f: { method?: string; route?: string; status?: CounterRow['status'] } = {}): number {
    let n = 0;
    for (const r of this.rows.values()) {
      if (f.method && r.method !== f.method) continue;
      if (f.route && r.route !== f.route) continue;
      if (f.status !== undefined && r.status !== f.status) continue;
      n += r.count;
    }
    return n;
  }

  reset(): void {
    this.rows.clear();
  }
}
