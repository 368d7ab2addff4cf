/**
 * The port of the push order (ordering across containers): per (account, amoCRM lead) the order
 * key of the newest push claimed per kind, plus a short lease naming the writer whose PATCH may be
 * in flight. The DynamoDB adapter is lib/store/rdesk-push-order.ts (one item per lead).
 *
 * An order key sorts as text: the push's own time, then its arrival at the edge, then its
 * request id and element index (`orderKey`). Equal keys are the same push (a redelivery).
 */
import type { RdeskKind } from './payload.ts';

export type OrderKeys = Partial<Record<RdeskKind, string>>;

export type ClaimResult =
  | { ok: true; previous: OrderKeys }
  /** Refused: `claimed` holds the stored keys; `heldBy`/`until` the lease of another writer, when live. */
  | { ok: false; claimed: OrderKeys; heldBy?: string; until?: number };

export interface PushOrderStore {
  /**
   * One conditional write: records `keys` and the lease (`owner` until now + `holdMs`) only when,
   * for every kind given, no newer key is stored, and no other writer's lease is live.
   */
  claim(account: string, leadId: number, keys: OrderKeys, owner: string, holdMs: number): Promise<ClaimResult>;
  /** The PATCH failed: put the previous keys back and drop the lease, when the claim is still ours. */
  revert(account: string, leadId: number, keys: OrderKeys, previous: OrderKeys, owner: string): Promise<void>;
}

const pad = (n: number) => String(Math.max(0, Math.trunc(n))).padStart(15, '0');

/** Push time (0 when the push carries none), arrival at the edge (ms), then a unique id. */
export function orderKey(pushTime: number | undefined, receivedAt: number, id: string): string {
  return `${pad(pushTime ?? 0)}#${pad(receivedAt)}#${id}`;
}

/** The same rules in one process (tests of the pure parts, the bench). */
export class MemoryPushOrder implements PushOrderStore {
  private readonly items = new Map<string, { keys: OrderKeys; owner?: string; until?: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  async claim(account: string, leadId: number, keys: OrderKeys, owner: string, holdMs: number): Promise<ClaimResult> {
    const k = `${account}#${leadId}`;
    const it = this.items.get(k) ?? { keys: {} };
    const t = this.now();
    const stale = Object.entries(keys).some(([kind, key]) => (it.keys[kind as RdeskKind] ?? '') > (key as string));
    const held = it.owner !== undefined && it.owner !== owner && (it.until ?? 0) >= t;
    if (stale || held)
      return { ok: false, claimed: { ...it.keys }, ...(held ? { heldBy: it.owner as string, until: it.until as number } : {}) };
    this.items.set(k, { keys: { ...it.keys, ...keys }, owner, until: t + holdMs });
    return { ok: true, previous: { ...it.keys } };
  }

  async revert(account: string, leadId: number, keys: OrderKeys, previous: OrderKeys, owner: string): Promise<void> {
    const k = `${account}#${leadId}`;
    const it = this.items.get(k);
    if (!it || it.owner !== owner) return;
    if (Object.entries(keys).some(([kind, key]) => it.keys[kind as RdeskKind] !== key)) return;
    const next = { ...it.keys };
    for (const kind of Object.keys(keys) as RdeskKind[]) {
      if (previous[kind] === undefined) delete next[kind];
      else next[kind] = previous[kind];
    }
    this.items.set(k, { keys: next });
  }
}
