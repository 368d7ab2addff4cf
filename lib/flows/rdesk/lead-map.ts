/**
 * The port of the stand-in lead map (mock-lead-id mode and the `create` policy): RDESK lead_id →
 * the amoCRM lead that stands for it. One writer per id: `claim` is a conditional write, so of
 * concurrent deliveries (any container) exactly one looks for / creates the `ID_<lead_id>` lead;
 * the others wait for its `put`. The DynamoDB adapter is lib/store/rdesk-lead-map.ts.
 */
export interface LeadMapStore {
  get(account: string, rdeskLeadId: number): Promise<number | undefined>;
  /** True when this caller now holds the id's claim (none held, or the holder's claim expired). */
  claim(account: string, rdeskLeadId: number, owner: string, holdMs: number): Promise<boolean>;
  put(account: string, rdeskLeadId: number, amoLeadId: number): Promise<void>;
  /** Gives a claim up (the creation failed), so the next delivery may try at once. */
  release(account: string, rdeskLeadId: number, owner: string): Promise<void>;
}

/** The same rules in one process (tests of the pure parts, the bench's "old way"). */
export class MemoryLeadMap implements LeadMapStore {
  private readonly items = new Map<string, { leadId?: number; owner?: string; until?: number }>();
  constructor(private readonly now: () => number = Date.now) {}
  private k(a: string, id: number) {
    return `${a}#${id}`;
  }
  async get(a: string, id: number) {
    return this.items.get(this.k(a, id))?.leadId;
  }
  async claim(a: string, id: number, owner: string, holdMs: number) {
    const it = this.items.get(this.k(a, id));
    if (it && (it.leadId !== undefined || (it.until ?? 0) > this.now())) return false;
    this.items.set(this.k(a, id), { owner, until: this.now() + holdMs });
    return true;
  }
  async put(a: string, id: number, leadId: number) {
    this.items.set(this.k(a, id), { leadId });
  }
  async release(a: string, id: number, owner: string) {
    const it = this.items.get(this.k(a, id));
    if (it && it.leadId === undefined && it.owner === owner) this.items.delete(this.k(a, id));
  }
}
