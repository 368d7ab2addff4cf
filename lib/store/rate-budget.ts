/**
 * The DynamoDB adapter of the RateBudget (the port and the pure slot-ring algorithm, with the
 * proof that amoCRM never sees 8 requests within a second: lib/amocrm/client/rate-budget.ts).
 * Every Lambda instance shares the account's budget through one item of the table.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  ACCOUNT_RING,
  DEFAULT_BUDGET_CONFIG,
  emptyState,
  endStamp,
  FREE_SLOT,
  freshRing,
  newGrantId,
  newOwnerId,
  planAcquire,
  spanMs,
  type AcquireOptions,
  type BudgetConfig,
  type BudgetDecision,
  type BudgetScope,
  type BudgetState,
  type CompleteOptions,
  type RateBudget,
  type Slot,
} from '../amocrm/client/rate-budget.ts';

/** Where a granted request sits, so `complete` can stamp it and a later acquire can chain on it. */
interface Held {
  key: string;
  picks: Array<{ ring: string; index: number }>;
  id: string;
  /** Planned send time (the `not-sent` stamp is derived from it). */
  s: number;
  end?: number;
}

// ---------------------------------------------------------------------------------------------
// DynamoDB adapter
//
// One item per account: pk `RATE#<account host>`, sk `RATE`; attributes `r#<clientId>` (map
// "0".."6" → slot), `r#*` (map "0".."49" → slot, the account ring), `p#<clientId>` (pause after a
// 429, epoch ms), `v` (bumped by structural writes), and the breaker's `brk*` attributes
// (breaker.ts keeps them on this item so every budget read also sees the breaker). No TTL: an
// account's budget item is tiny, and a TTL could delete an open breaker.
//
// A reservation is ONE conditional UpdateItem: `SET r#c.#i = :entry, r#*.#j = :entry` if those
// slots still hold the ids read (and the integration is not paused past the send time). Chaining
// onto the instance's own last slot needs no read at all. It returns the whole item (ALL_NEW), so
// the caller also learns the breaker state for free.

export interface DynamoRateBudgetOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  config?: Partial<BudgetConfig>;
  /** Conflicts to re-plan through before answering `wait`. */
  maxConflicts?: number;
}

const SK = 'RATE';
const PAUSE_PREFIX = 'p#';
const RING_PREFIX = 'r#';

export function budgetPk(accountHost: string): string {
  return `RATE#${accountHost}`;
}
export const BUDGET_SK = SK;

function isConflict(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException' || name === 'TransactionConflictException';
}

function slotFrom(x: Record<string, unknown> | undefined): Slot {
  if (!x) return { ...FREE_SLOT };
  const s: Slot = { id: String(x.id ?? ''), s: Number(x.s ?? 0), d: Number(x.d ?? 0), o: String(x.o ?? '') };
  if (x.e !== undefined && x.e !== null) s.e = Number(x.e);
  return s;
}

export function stateFromItem(item: Record<string, unknown> | undefined): BudgetState {
  if (!item) return emptyState();
  const state: BudgetState = { version: Number(item.v ?? 0), rings: {}, paused: {} };
  for (const [k, v] of Object.entries(item)) {
    if (k.startsWith(RING_PREFIX)) {
      const m = v as Record<string, Record<string, unknown>>;
      const size = Object.keys(m).length;
      state.rings[k.slice(RING_PREFIX.length)] = Array.from({ length: size }, (_, i) => slotFrom(m[String(i)]));
    } else if (k.startsWith(PAUSE_PREFIX)) state.paused[k.slice(PAUSE_PREFIX.length)] = Number(v);
  }
  // The breaker lives on this item (breaker.ts): any read of it is a fresh reading of the breaker.
  state.breaker = { open: item.brkOpen === true, ...(typeof item.brkOpenedAt === 'number' ? { openedAt: item.brkOpenedAt } : {}) };
  return state;
}

function ringMap(size: number): Record<string, Slot> {
  return Object.fromEntries(freshRing(size).map((s, i) => [String(i), s]));
}

export class DynamoRateBudget implements RateBudget {
  readonly cfg: BudgetConfig;
  readonly owner = newOwnerId();
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly maxConflicts: number;
  /** Requests this instance holds slots for (by grant id): in flight, or ended and ready to chain onto. */
  private readonly held = new Map<string, Held>();

  constructor(opts: DynamoRateBudgetOptions) {
    this.doc = opts.doc;
    this.table = opts.tableName;
    this.cfg = { ...DEFAULT_BUDGET_CONFIG, ...opts.config };
    this.maxConflicts = opts.maxConflicts ?? 4;
  }

  async read(accountHost: string): Promise<BudgetState> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: budgetPk(accountHost), sk: SK }, ConsistentRead: true }),
    );
    return stateFromItem(out.Item);
  }

  /** Creates the item, or adds this integration's ring to it (idempotent). */
  private async ensureRings(scope: BudgetScope, state: BudgetState): Promise<void> {
    const pk = budgetPk(scope.accountHost);
    const rings: Record<string, Record<string, Slot>> = { [`${RING_PREFIX}${scope.clientId}`]: ringMap(this.cfg.perIntegrationPerSecond) };
    if (this.cfg.perAccountPerSecond !== null) rings[`${RING_PREFIX}${ACCOUNT_RING}`] = ringMap(this.cfg.perAccountPerSecond);
    if (state.version === null) {
      try {
        await this.doc.send(
          new PutCommand({ TableName: this.table, Item: { pk, sk: SK, v: 1, ...rings }, ConditionExpression: 'attribute_not_exists(pk)' }),
        );
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets = Object.entries(rings).map(([k, v], i) => {
      names[`#r${i}`] = k;
      values[`:r${i}`] = v;
      return `#r${i} = if_not_exists(#r${i}, :r${i})`;
    });
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk, sk: SK },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** The one conditional write of a reservation. Returns the item after it, or undefined on conflict. */
  private async reserve(
    scope: BudgetScope,
    entry: Slot,
    picks: Array<{ ring: string; index: number; prevId: string }>,
  ): Promise<BudgetState | undefined> {
    const names: Record<string, string> = { '#p': `${PAUSE_PREFIX}${scope.clientId}`, '#id': 'id' };
    const values: Record<string, unknown> = { ':entry': entry, ':s': entry.s };
    const sets: string[] = [];
    const cond: string[] = ['(attribute_not_exists(#p) OR #p <= :s)'];
    picks.forEach((p, i) => {
      names[`#g${i}`] = `${RING_PREFIX}${p.ring}`;
      names[`#i${i}`] = String(p.index);
      values[`:prev${i}`] = p.prevId;
      sets.push(`#g${i}.#i${i} = :entry`);
      cond.push(`#g${i}.#i${i}.#id = :prev${i}`);
    });
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: budgetPk(scope.accountHost), sk: SK },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: cond.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return stateFromItem(out.Attributes);
    } catch (e) {
      if (isConflict(e)) return undefined;
      throw e;
    }
  }

  private grant(
    scope: BudgetScope,
    entry: Slot,
    picks: Array<{ ring: string; index: number }>,
    sendAt: number,
    latestSendAt: number,
    after: BudgetState,
  ): BudgetDecision {
    const key = `${scope.clientId} ${scope.accountHost}`;
    // An ended request of ours whose slot this grant just reused is no longer there to chain onto.
    for (const h of this.held.values()) {
      if (h.key === key && h.picks.some((x) => picks.some((p) => p.ring === x.ring && p.index === x.index))) this.held.delete(h.id);
    }
    this.held.set(entry.id, { key, picks: picks.map((p) => ({ ring: p.ring, index: p.index })), id: entry.id, s: entry.s });
    return { kind: 'grant', id: entry.id, sendAt, latestSendAt, ...(after.breaker ? { breaker: after.breaker } : {}) };
  }

  async acquire(scope: BudgetScope, opts: AcquireOptions): Promise<BudgetDecision> {
    const key = `${scope.clientId} ${scope.accountHost}`;
    // 1. Chain onto our own ended slot without reading (we know when it ended), but only when it
    //    is free NOW. Chaining onto a slot that is still in its window would make a caller that
    //    calls back to back wait a whole window (~1 s) per request while the ring's other slots
    //    sit free; then step 2 (read) finds the slot free soonest, ours or not.
    const span = spanMs(this.cfg);
    const ended = [...this.held.values()]
      .filter((h) => h.key === key && h.end !== undefined)
      .sort((a, b) => (a.end as number) - (b.end as number));
    for (const h of ended) {
      if ((h.end as number) + span + 60_000 < opts.now) this.held.delete(h.id); // long idle: let others have it
    }
    const mine = ended.find((h) => this.held.has(h.id));
    if (mine?.end !== undefined) {
      if (mine.end + span <= opts.now) {
        const sendAt = opts.now;
        const entry: Slot = {
          id: newGrantId(),
          s: sendAt,
          d: sendAt + this.cfg.maxLatenessMs + opts.requestTimeoutMs + this.cfg.lostRequestGraceMs,
          o: this.owner,
        };
        const picks = mine.picks.map((p) => ({ ...p, prevId: mine.id }));
        this.held.delete(mine.id);
        const after = await this.reserve(scope, entry, picks);
        if (after) return this.grant(scope, entry, picks, sendAt, sendAt + this.cfg.maxLatenessMs, after);
      }
    }
    // 2. Read, plan, write (re-plan on conflicts).
    for (let conflicts = 0; ; conflicts++) {
      let state = await this.read(scope.accountHost);
      if (state.version === null || !state.rings[scope.clientId] || (this.cfg.perAccountPerSecond !== null && !state.rings[ACCOUNT_RING])) {
        await this.ensureRings(scope, state);
        state = await this.read(scope.accountHost);
      }
      // Plan at the time the read came back: a read that took long must not yield a send time
      // already past its latest (the slot would be given up unsent and asked for again).
      const now = Math.max(opts.now, opts.clock?.() ?? opts.now);
      const plan = planAcquire(state, scope.clientId, this.owner, now, opts.requestTimeoutMs, this.cfg);
      if (plan.kind === 'wait') return { ...plan, ...(state.breaker ? { breaker: state.breaker } : {}) };
      const after = await this.reserve(scope, plan.entry, plan.picks);
      if (after) return this.grant(scope, plan.entry, plan.picks, plan.sendAt, plan.latestSendAt, after);
      if (conflicts + 1 >= this.maxConflicts)
        return { kind: 'wait', retryAfterMs: this.cfg.minPollMs, reason: 'budget', ...(state.breaker ? { breaker: state.breaker } : {}) };
    }
  }

  async complete(scope: BudgetScope, grantId: string, opts: CompleteOptions): Promise<void> {
    const held = this.held.get(grantId);
    if (!held) return; // not granted by this instance: nothing to record
    const end = endStamp(opts, this.cfg, held.s);
    const names: Record<string, string> = { '#id': 'id', '#e': 'e' };
    const values: Record<string, unknown> = { ':gid': grantId, ':e': end };
    const sets: string[] = [];
    const conds: string[] = [];
    held.picks.forEach((p, i) => {
      names[`#g${i}`] = `${RING_PREFIX}${p.ring}`;
      names[`#i${i}`] = String(p.index);
      sets.push(`#g${i}.#i${i}.#e = :e`);
      conds.push(`#g${i}.#i${i}.#id = :gid`);
    });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: budgetPk(scope.accountHost), sk: SK },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      held.end = end;
    } catch (e) {
      // The slot was taken over after its deadline: nothing to record, and nothing to chain on.
      if (!isConflict(e)) throw e;
      this.held.delete(grantId);
    }
  }

  async pause(scope: BudgetScope, untilMs: number): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: budgetPk(scope.accountHost), sk: SK },
          UpdateExpression: 'SET #p = :u, #v = if_not_exists(#v, :zero) + :one',
          ConditionExpression: 'attribute_not_exists(#p) OR #p < :u',
          ExpressionAttributeNames: { '#p': `${PAUSE_PREFIX}${scope.clientId}`, '#v': 'v' },
          ExpressionAttributeValues: { ':u': untilMs, ':zero': 0, ':one': 1 },
        }),
      );
    } catch (e) {
      // A longer pause is already in place.
      if (!isConflict(e)) throw e;
    }
  }
}
