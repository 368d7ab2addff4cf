/**
 * The forms flow's state in the table (the port; the DynamoDB adapter is lib/store/forms-state.ts):
 *
 * - per (account, person key) — `phone:+7…` or `email:a@b.ru` — the lead the person's last
 *   submission went to and when (the repeat window), and a short lease (`owner`, `until`) taken
 *   by the worker writing for that person right now: two containers holding submissions of the
 *   same person never both create a lead; the loser defers and, back, finds the winner's lead;
 * - per (account, form) the round-robin counter of the responsible users.
 */
import type { ContactIndexKey } from '../../contacts/types.ts';

/** What the last submission of a person became. */
export interface PersonRecord {
  leadId: number;
  contactId?: number;
  /** Epoch ms the submission was received (the repeat window counts from here). */
  at: number;
}

export type PersonClaim =
  | { ok: true; records: Array<PersonRecord | undefined> }
  /** Another writer holds one of the keys until `until` (epoch ms). */
  | { ok: false; until: number };

export interface FormsStateStore {
  /**
   * Takes the lease on every key (conditional writes, keys in a fixed order; all or none): free,
   * already ours, or past its lease. Returns each key's record (same order).
   */
  claim(account: string, keys: readonly ContactIndexKey[], owner: string, holdMs: number): Promise<PersonClaim>;
  /** Gives the lease back; with `record`, stores it on every key (the person's newest lead). */
  release(account: string, keys: readonly ContactIndexKey[], owner: string, record?: PersonRecord): Promise<void>;
  /** Advances the form's round-robin counter by `n` and returns where this run starts (its value before). */
  turns(account: string, form: string, n: number): Promise<number>;
}

/** The same rules in one process (the bench, unit tests of the pure parts). */
export class MemoryFormsState implements FormsStateStore {
  private readonly people = new Map<string, { record?: PersonRecord; owner?: string; until?: number }>();
  private readonly counters = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  async claim(account: string, keys: readonly ContactIndexKey[], owner: string, holdMs: number): Promise<PersonClaim> {
    const t = this.now();
    const items = keys.map((k) => this.people.get(`${account}#${k}`) ?? {});
    const held = items.find((it) => it.owner !== undefined && it.owner !== owner && (it.until ?? 0) >= t);
    if (held) return { ok: false, until: held.until as number };
    keys.forEach((k, i) => this.people.set(`${account}#${k}`, { ...items[i], owner, until: t + holdMs }));
    return { ok: true, records: items.map((it) => it.record) };
  }

  async release(account: string, keys: readonly ContactIndexKey[], owner: string, record?: PersonRecord): Promise<void> {
    for (const k of keys) {
      const it = this.people.get(`${account}#${k}`);
      if (!it || it.owner !== owner) continue;
      this.people.set(`${account}#${k}`, { ...(record ? { record } : it.record ? { record: it.record } : {}) });
    }
  }

  async turns(account: string, form: string, n: number): Promise<number> {
    const k = `${account}#${form}`;
    const before = this.counters.get(k) ?? 0;
    this.counters.set(k, before + n);
    return before;
  }
}
