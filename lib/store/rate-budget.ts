/**
 * RateBudget: the one request budget per amoCRM account that every Lambda instance shares
 * (docs/architecture.md#rate-budget): ≤ 7 requests in ANY sliding second per (integration, account) and ≤ 50 per
 * account across our integrations. Port + pure algorithm + DynamoDB adapter + in-memory adapter.
 *
 * ## Algorithm: a ring of completion-stamped slots
 *
 * Each limiter is a ring of `limit` slots (7 per integration, 50 per account). A slot holds the
 * last request sent through it: planned send time `s`, a pessimistic deadline `d` (by which it has
 * surely arrived at amoCRM or died), and, once known, its end `e` (when the answer arrived; when
 * the sender gave up, plus a grace; or when the slot was given up unsent). A new request takes a
 * slot only with a conditional write on the id of the slot's previous request, and is sent no
 * earlier than `end(previous) + W`, where `end` is `e`, or `d` while `e` is unknown, and
 * `W = windowMs + marginMs`, `marginMs ≥ 2·maxClockSkewMs`.
 *
 * Why amoCRM can never see 8 requests ARRIVE within 1000 ms (across instances and clock skew):
 * any 8 requests of one integration use a ring of 7 slots, so two of them, a then b, went through
 * the same slot, with a chain a → … → p → b of successors between them. Along a chain real time
 * only moves forward: each request is really sent after its predecessor really ended, because
 * `W > 2·skew` absorbs the two clocks' error. The server received a before answering it, so
 * `arrival(a) ≤ realEnd(a) ≤ realEnd(p)`, and `e(p) ≥ realEnd(p) − skew` (read after the answer).
 * b was sent at `s(b) ≥ e(p) + W` on its own clock, i.e. really at ≥ `e(p) + W − skew`. Hence
 * `arrival(b) − arrival(a) ≥ W − 2·skew ≥ 1010 ms`. Latency cannot break this: the wait starts at
 * the END of the earlier request; latency only costs throughput (7 requests per `W + RTT`). An
 * unanswered request counts until its deadline (*assumed*: it arrives by then or never); a sender
 * that wakes more than `maxLatenessMs` past its slot gives the slot up unsent, so deadlines hold.
 *
 * ## Cost: one write per reservation, no contention between active instances
 *
 * The instance that used a slot last *owns* it: when that slot is free again, its next reservation
 * chains onto it with one conditional write, no read (otherwise it reads and takes whichever slot
 * is free soonest, so back-to-back calls of one caller are not held to one per window). Others may take a slot only `ownerGraceMs` after its end
 * (or after its deadline), so busy instances never fight over slots; idle ones read the item now
 * and then (the caller backs off). Per request: one reservation write + one completion write.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';

// ---------------------------------------------------------------------------------------------
// Port

/** Whose budget: the integration (client id) and the account's host (one amoCRM account). */
export interface BudgetScope {
  clientId: string;
  /** The account host, e.g. `x.amocrm.ru` (or `127.0.0.1:PORT` for the sandbox). */
  accountHost: string;
}

/** The account's breaker as seen on the budget item (see breaker.ts), when the store keeps it there. */
export interface BreakerObservation {
  open: boolean;
  openedAt?: number;
}

export type BudgetDecision =
  | {
      kind: 'grant';
      id: string;
      /** Send no earlier than this (caller's clock)… */
      sendAt: number;
      /** …and no later than this: past it, give the slot up (`complete` with `not-sent`) and ask again. */
      latestSendAt: number;
      breaker?: BreakerObservation;
    }
  | {
      kind: 'wait';
      /** When it is worth asking again (a hint; safety never depends on it). */
      retryAfterMs: number;
      reason: 'budget' | 'paused';
      breaker?: BreakerObservation;
    };

export interface AcquireOptions {
  /** The caller's clock (epoch ms). */
  now: number;
  /** The request's own timeout: bounds how long an unanswered request counts. */
  requestTimeoutMs: number;
}

export interface CompleteOptions {
  /** Caller's clock when the answer arrived, or when it gave up. */
  endedAt: number;
  /**
   * `answered`: an HTTP answer came back (the request surely arrived before `endedAt`).
   * `lost`: timeout or broken connection (it may still arrive a little later: a grace is added).
   * `not-sent`: the slot was given up before sending (nothing can arrive).
   */
  how: 'answered' | 'lost' | 'not-sent';
}

export interface RateBudget {
  /** Reserve a send slot (at most `reserveAheadMs` ahead), or say how long to wait. */
  acquire(scope: BudgetScope, opts: AcquireOptions): Promise<BudgetDecision>;
  /** Record how a granted request ended (frees its slot sooner than its deadline). */
  complete(scope: BudgetScope, grantId: string, opts: CompleteOptions): Promise<void>;
  /** Stop granting this integration until `untilMs` (after a 429). Never shortens a pause. */
  pause(scope: BudgetScope, untilMs: number): Promise<void>;
}

export interface BudgetConfig {
  /** amoCRM: 7 per integration (docs/amocrm-protocol.md#rate-limits). */
  perIntegrationPerSecond: number;
  /** amoCRM: 50 per account across integrations; null to skip. */
  perAccountPerSecond: number | null;
  windowMs: number;
  /**
   * The largest difference between any instance's clock and true time. *assumed* 25 ms: Lambda
   * hosts sync to the Amazon Time Sync Service (sub-millisecond typical); 25 ms is a wide margin.
   */
  maxClockSkewMs: number;
  /** Added to the end of a request that got no answer: it may still arrive (*assumed* 1 s). */
  lostRequestGraceMs: number;
  /** How far ahead a slot may be reserved; the caller sleeps until it. */
  reserveAheadMs: number;
  /** A sender later than this past its slot gives the slot up and asks again. */
  maxLatenessMs: number;
  /** Others wait this long after a slot's end before taking it from its owner. */
  ownerGraceMs: number;
  /** Shortest "ask again" hint. */
  minPollMs: number;
}

export const DEFAULT_BUDGET_CONFIG: BudgetConfig = {
  perIntegrationPerSecond: 7,
  perAccountPerSecond: 50,
  windowMs: 1_000,
  maxClockSkewMs: 25,
  lostRequestGraceMs: 1_000,
  reserveAheadMs: 1_500,
  maxLatenessMs: 250,
  ownerGraceMs: 300,
  minPollMs: 15,
};

// ---------------------------------------------------------------------------------------------
// Pure algorithm

export interface Slot {
  /** Id of the request in the slot ('' = never used). */
  id: string;
  s: number;
  d: number;
  e?: number;
  /** The owner (budget instance) that sent it. */
  o: string;
}

export const FREE_SLOT: Slot = { id: '', s: 0, d: 0, e: 0, o: '' };

/** One account's budget: a ring per integration, the account ring (`*`), pauses per integration. */
export interface BudgetState {
  /** null: no item yet. */
  version: number | null;
  rings: Record<string, Slot[]>;
  paused: Record<string, number>;
  breaker?: BreakerObservation;
}

export const ACCOUNT_RING = '*';

export function emptyState(): BudgetState {
  return { version: null, rings: {}, paused: {} };
}

export function marginMs(cfg: BudgetConfig): number {
  // 2·skew (see the proof above) + 10 ms for millisecond rounding of both stamps.
  return 2 * cfg.maxClockSkewMs + 10;
}

export function spanMs(cfg: BudgetConfig): number {
  return cfg.windowMs + marginMs(cfg);
}

export function freshRing(size: number): Slot[] {
  return Array.from({ length: size }, () => ({ ...FREE_SLOT }));
}

const endOf = (x: Slot): number => x.e ?? x.d;

/** Median duration of answered requests in the rings, default 50 ms (for "ask again" hints). */
export function typicalRtt(slots: Slot[]): number {
  const d = slots.filter((x) => x.id !== '' && x.e !== undefined && x.e >= x.s && x.e - x.s < 10_000).map((x) => (x.e as number) - x.s).sort((a, b) => a - b);
  return d.length ? Math.max(1, d[Math.floor(d.length / 2)]!) : 50;
}

/** When `owner` may take this slot: at once if it owns it or it is unused; else after the owner's grace. */
export function claimableAt(x: Slot, owner: string, cfg: BudgetConfig): number {
  if (x.id === '' || x.o === owner) return Number.NEGATIVE_INFINITY;
  return x.e !== undefined ? x.e + cfg.ownerGraceMs : x.d;
}

export interface SlotPick {
  ring: string;
  index: number;
  prevId: string;
  /** Earliest send time through this slot. */
  availableAt: number;
}

/**
 * The slot of a ring to use: among the slots `owner` may take now, the one free soonest (own
 * slots first on ties, then a random one so idle instances do not all pick the same). `hintAt`:
 * when asking again is likely to find a slot within the reserve horizon (unanswered requests
 * are expected one typical round trip after their send time).
 */
export function pickSlot(ring: Slot[], ringKey: string, owner: string, now: number, cfg: BudgetConfig, random: () => number, notBefore = now): { pick?: SlotPick; hintAt: number } {
  const span = spanMs(cfg);
  const rtt = typicalRtt(ring);
  let best: SlotPick | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  let hintAt = Number.POSITIVE_INFINITY;
  ring.forEach((x, index) => {
    const claim = claimableAt(x, owner, cfg);
    const unused = x.id === '';
    const likelyEnd = unused ? Number.NEGATIVE_INFINITY : x.e ?? Math.max(x.s, now) + rtt;
    const likelyClaim = claim <= now ? now : x.e !== undefined ? claim : Math.min(x.d, likelyEnd + cfg.ownerGraceMs);
    hintAt = Math.min(hintAt, Math.max(likelyClaim, Math.max(notBefore, likelyEnd + span) - cfg.reserveAheadMs));
    if (claim > now) return;
    const availableAt = unused ? notBefore : Math.max(notBefore, endOf(x) + span);
    const score = availableAt + (x.o === owner && x.id !== '' ? 0 : 0.5) + random() * 0.4;
    if (score < bestScore) {
      bestScore = score;
      best = { ring: ringKey, index, prevId: x.id, availableAt };
    }
  });
  return best ? { pick: best, hintAt } : { hintAt };
}

export type Plan =
  | { kind: 'grant'; sendAt: number; latestSendAt: number; entry: Slot; picks: SlotPick[] }
  | { kind: 'wait'; retryAfterMs: number; reason: 'budget' | 'paused' };

/** Decide for `clientId` (budget instance `owner`) over the integration ring and the account ring. */
export function planAcquire(state: BudgetState, clientId: string, owner: string, now: number, requestTimeoutMs: number, cfg: BudgetConfig, random: () => number = Math.random): Plan {
  const pausedUntil = state.paused[clientId] ?? 0;
  const wait = (hintAt: number): Plan => ({ kind: 'wait', retryAfterMs: Math.max(cfg.minPollMs, Math.round(hintAt - now)), reason: pausedUntil > now ? 'paused' : 'budget' });
  const mine = pickSlot(state.rings[clientId] ?? freshRing(cfg.perIntegrationPerSecond), clientId, owner, now, cfg, random, Math.max(now, pausedUntil));
  if (!mine.pick) return wait(mine.hintAt);
  let sendAt = mine.pick.availableAt;
  let hintAt = mine.hintAt;
  const picks: SlotPick[] = [mine.pick];
  if (cfg.perAccountPerSecond !== null) {
    const acc = pickSlot(state.rings[ACCOUNT_RING] ?? freshRing(cfg.perAccountPerSecond), ACCOUNT_RING, owner, now, cfg, random, sendAt);
    hintAt = Math.max(hintAt, acc.hintAt);
    if (!acc.pick) return wait(hintAt);
    sendAt = Math.max(sendAt, acc.pick.availableAt);
    picks.push(acc.pick);
  }
  if (sendAt - now > cfg.reserveAheadMs) return wait(hintAt);
  return {
    kind: 'grant',
    sendAt,
    latestSendAt: sendAt + cfg.maxLatenessMs,
    entry: { id: newGrantId(), s: sendAt, d: sendAt + cfg.maxLatenessMs + requestTimeoutMs + cfg.lostRequestGraceMs, o: owner },
    picks,
  };
}

export function endStamp(opts: CompleteOptions, cfg: BudgetConfig): number {
  return opts.how === 'lost' ? opts.endedAt + cfg.lostRequestGraceMs : opts.endedAt;
}

export function newGrantId(): string {
  return randomBytes(6).toString('base64url');
}

export function newOwnerId(): string {
  return randomBytes(5).toString('base64url');
}

/** Where a granted request sits, so `complete` can stamp it and a later acquire can chain on it. */
interface Held {
  key: string;
  picks: Array<{ ring: string; index: number }>;
  id: string;
  end?: number;
}

// ---------------------------------------------------------------------------------------------
// In-memory adapter (one process: CLIs, tests of the client). Same algorithm, no store.

export class MemoryRateBudget implements RateBudget {
  private readonly states = new Map<string, BudgetState>();
  readonly cfg: BudgetConfig;
  readonly owner = newOwnerId();
  constructor(cfg: Partial<BudgetConfig> = {}) {
    this.cfg = { ...DEFAULT_BUDGET_CONFIG, ...cfg };
  }

  private state(scope: BudgetScope): BudgetState {
    let s = this.states.get(scope.accountHost);
    if (!s) {
      s = { version: 0, rings: {}, paused: {} };
      this.states.set(scope.accountHost, s);
    }
    s.rings[scope.clientId] ??= freshRing(this.cfg.perIntegrationPerSecond);
    if (this.cfg.perAccountPerSecond !== null) s.rings[ACCOUNT_RING] ??= freshRing(this.cfg.perAccountPerSecond);
    return s;
  }

  async acquire(scope: BudgetScope, opts: AcquireOptions): Promise<BudgetDecision> {
    const state = this.state(scope);
    const plan = planAcquire(state, scope.clientId, this.owner, opts.now, opts.requestTimeoutMs, this.cfg);
    if (plan.kind === 'wait') return plan;
    for (const p of plan.picks) state.rings[p.ring]![p.index] = { ...plan.entry };
    return { kind: 'grant', id: plan.entry.id, sendAt: plan.sendAt, latestSendAt: plan.latestSendAt };
  }

  async complete(scope: BudgetScope, grantId: string, opts: CompleteOptions): Promise<void> {
    const state = this.state(scope);
    for (const ring of Object.values(state.rings)) for (const x of ring) if (x.id === grantId) x.e = endStamp(opts, this.cfg);
  }

  async pause(scope: BudgetScope, untilMs: number): Promise<void> {
    const st = this.state(scope);
    if ((st.paused[scope.clientId] ?? 0) < untilMs) st.paused[scope.clientId] = untilMs;
  }
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
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: budgetPk(accountHost), sk: SK }, ConsistentRead: true }));
    return stateFromItem(out.Item);
  }

  /** Creates the item, or adds this integration's ring to it (idempotent). */
  private async ensureRings(scope: BudgetScope, state: BudgetState): Promise<void> {
    const pk = budgetPk(scope.accountHost);
    const rings: Record<string, Record<string, Slot>> = { [`${RING_PREFIX}${scope.clientId}`]: ringMap(this.cfg.perIntegrationPerSecond) };
    if (this.cfg.perAccountPerSecond !== null) rings[`${RING_PREFIX}${ACCOUNT_RING}`] = ringMap(this.cfg.perAccountPerSecond);
    if (state.version === null) {
      try {
        await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk, sk: SK, v: 1, ...rings }, ConditionExpression: 'attribute_not_exists(pk)' }));
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
    await this.doc.send(new UpdateCommand({ TableName: this.table, Key: { pk, sk: SK }, UpdateExpression: `SET ${sets.join(', ')}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values }));
  }

  /** The one conditional write of a reservation. Returns the item after it, or undefined on conflict. */
  private async reserve(scope: BudgetScope, entry: Slot, picks: Array<{ ring: string; index: number; prevId: string }>): Promise<BudgetState | undefined> {
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

  private grant(scope: BudgetScope, entry: Slot, picks: Array<{ ring: string; index: number }>, sendAt: number, latestSendAt: number, after: BudgetState): BudgetDecision {
    const key = `${scope.clientId} ${scope.accountHost}`;
    // An ended request of ours whose slot this grant just reused is no longer there to chain onto.
    for (const h of this.held.values()) {
      if (h.key === key && h.picks.some((x) => picks.some((p) => p.ring === x.ring && p.index === x.index))) this.held.delete(h.id);
    }
    this.held.set(entry.id, { key, picks: picks.map((p) => ({ ring: p.ring, index: p.index })), id: entry.id });
    return { kind: 'grant', id: entry.id, sendAt, latestSendAt, ...(after.breaker ? { breaker: after.breaker } : {}) };
  }

  async acquire(scope: BudgetScope, opts: AcquireOptions): Promise<BudgetDecision> {
    const key = `${scope.clientId} ${scope.accountHost}`;
    // 1. Chain onto our own ended slot without reading (we know when it ended), but only when it
    //    is free NOW. Chaining onto a slot that is still in its window would make a caller that
    //    calls back to back wait a whole window (~1 s) per request while the ring's other slots
    //    sit free; then step 2 (read) finds the slot free soonest, ours or not.
    const span = spanMs(this.cfg);
    const ended = [...this.held.values()].filter((h) => h.key === key && h.end !== undefined).sort((a, b) => (a.end as number) - (b.end as number));
    for (const h of ended) {
      if ((h.end as number) + span + 60_000 < opts.now) this.held.delete(h.id); // long idle: let others have it
    }
    const mine = ended.find((h) => this.held.has(h.id));
    if (mine?.end !== undefined) {
      if (mine.end + span <= opts.now) {
        const sendAt = opts.now;
        const entry: Slot = { id: newGrantId(), s: sendAt, d: sendAt + this.cfg.maxLatenessMs + opts.requestTimeoutMs + this.cfg.lostRequestGraceMs, o: this.owner };
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
      const plan = planAcquire(state, scope.clientId, this.owner, opts.now, opts.requestTimeoutMs, this.cfg);
      if (plan.kind === 'wait') return { ...plan, ...(state.breaker ? { breaker: state.breaker } : {}) };
      const after = await this.reserve(scope, plan.entry, plan.picks);
      if (after) return this.grant(scope, plan.entry, plan.picks, plan.sendAt, plan.latestSendAt, after);
      if (conflicts + 1 >= this.maxConflicts) return { kind: 'wait', retryAfterMs: this.cfg.minPollMs, reason: 'budget', ...(state.breaker ? { breaker: state.breaker } : {}) };
    }
  }

  async complete(scope: BudgetScope, grantId: string, opts: CompleteOptions): Promise<void> {
    const held = this.held.get(grantId);
    if (!held) return; // not granted by this instance: nothing to record
    const end = endStamp(opts, this.cfg);
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
