/**
 * RateBudget: the one request budget per amoCRM account that every Lambda instance shares
 * (docs/architecture.md#rate-budget): ≤ 7 requests in ANY sliding second per (integration, account) and ≤ 50 per
 * account across our integrations. Port + pure algorithm + in-memory adapter, next to the client
 * that spends it; the DynamoDB adapter (the shared bookkeeping) is lib/store/rate-budget.ts.
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
 * A slot given up unsent (`not-sent`: too late for it, the breaker closed the way, the connection
 * was refused) is stamped `e = s − W`, not with the time it was given up: nothing went through it,
 * so it must not hold the slot for another window (under load a slow store made late senders burn
 * whole slots while work waited). The chain still holds: for a → p → b with p unsent, p was planned
 * at `s(p) ≥ e(a) + W`, so `e(p) = s(p) − W ≥ e(a)` and b, sent at `≥ e(p) + W ≥ e(a) + W`, keeps
 * the distance to a exactly as if it had followed a directly (p arrived nowhere). Its two rings'
 * predecessors differ, but `s(p)` is at least each one's end + W, so the stamp is safe on both.
 *
 * ## Cost: one write per reservation, no contention between active instances
 *
 * The instance that used a slot last *owns* it: when that slot is free again, its next reservation
 * chains onto it with one conditional write, no read (otherwise it reads and takes whichever slot
 * is free soonest, so back-to-back calls of one caller are not held to one per window). Others may take a slot only `ownerGraceMs` after its end
 * (or after its deadline), so busy instances never fight over slots; idle ones read the item now
 * and then (the caller backs off). Per request: one reservation write + one completion write.
 */
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
  /**
   * The caller's clock again: an adapter that reads a store plans with the time AFTER the read,
   * so a slow read does not hand out a send time already past its `latestSendAt` (a later "now"
   * only delays sends; safety never depends on it).
   */
  clock?: () => number;
  /** The request's own timeout: bounds how long an unanswered request counts. */
  requestTimeoutMs: number;
}

export interface CompleteOptions {
  /** Caller's clock when the answer arrived, or when it gave up. */
  endedAt: number;
  /**
   * `answered`: an HTTP answer came back (the request surely arrived before `endedAt`).
   * `lost`: timeout or broken connection (it may still arrive a little later: a grace is added).
   * `not-sent`: the slot was given up before sending (nothing can arrive): stamped `s − W`, so
   * the slot is free again from its own planned send time (see the header).
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
  /**
   * A sender later than this past its slot gives the slot up and asks again. It only lengthens the
   * deadline of a request that never completes; a sender that is late (a slow store write, a
   * stalled event loop) costs a whole store round trip to ask again, so it is not tight.
   */
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
  maxLatenessMs: 1_000,
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
  const d = slots
    .filter((x) => x.id !== '' && x.e !== undefined && x.e >= x.s && x.e - x.s < 10_000)
    .map((x) => (x.e as number) - x.s)
    .sort((a, b) => a - b);
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
export function pickSlot(
  ring: Slot[],
  ringKey: string,
  owner: string,
  now: number,
  cfg: BudgetConfig,
  random: () => number,
  notBefore = now,
): { pick?: SlotPick; hintAt: number } {
  const span = spanMs(cfg);
  const rtt = typicalRtt(ring);
  let best: SlotPick | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  let hintAt = Number.POSITIVE_INFINITY;
  ring.forEach((x, index) => {
    const claim = claimableAt(x, owner, cfg);
    const unused = x.id === '';
    const likelyEnd = unused ? Number.NEGATIVE_INFINITY : (x.e ?? Math.max(x.s, now) + rtt);
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
export function planAcquire(
  state: BudgetState,
  clientId: string,
  owner: string,
  now: number,
  requestTimeoutMs: number,
  cfg: BudgetConfig,
  random: () => number = Math.random,
): Plan {
  const pausedUntil = state.paused[clientId] ?? 0;
  const wait = (hintAt: number): Plan => ({
    kind: 'wait',
    retryAfterMs: Math.max(cfg.minPollMs, Math.round(hintAt - now)),
    reason: pausedUntil > now ? 'paused' : 'budget',
  });
  const mine = pickSlot(
    state.rings[clientId] ?? freshRing(cfg.perIntegrationPerSecond),
    clientId,
    owner,
    now,
    cfg,
    random,
    Math.max(now, pausedUntil),
  );
  if (!mine.pick) return wait(mine.hintAt);
  let sendAt = mine.pick.availableAt;
  let hintAt = mine.hintAt;
  const picks: SlotPick[] = [mine.pick];
  if (cfg.perAccountPerSecond !== null) {
    const accRing = state.rings[ACCOUNT_RING] ?? freshRing(cfg.perAccountPerSecond);
    const acc = pickSlot(accRing, ACCOUNT_RING, owner, now, cfg, random, sendAt);
    // The hint counts the account ring from now (or the pause's end), not from `sendAt`: that
    // rests on a slot's pessimistic deadline while its request is unanswered, and a hint of
    // `sendAt − reserveAheadMs` sent callers away for ~15 s when every own slot was busy for a
    // round trip (mine.hintAt already says when the own ring likely frees).
    hintAt = Math.max(
      hintAt,
      acc.pick ? pickSlot(accRing, ACCOUNT_RING, owner, now, cfg, random, Math.max(now, pausedUntil)).hintAt : acc.hintAt,
    );
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

/** The end stamp of a slot planned to send at `s` (the proof in the header says why `not-sent` is `s − W`). */
export function endStamp(opts: CompleteOptions, cfg: BudgetConfig, s: number): number {
  if (opts.how === 'not-sent') return s - spanMs(cfg);
  return opts.how === 'lost' ? opts.endedAt + cfg.lostRequestGraceMs : opts.endedAt;
}

export function newGrantId(): string {
  return randomBytes(6).toString('base64url');
}

export function newOwnerId(): string {
  return randomBytes(5).toString('base64url');
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
    for (const ring of Object.values(state.rings)) for (const x of ring) if (x.id === grantId) x.e = endStamp(opts, this.cfg, x.s);
  }

  async pause(scope: BudgetScope, untilMs: number): Promise<void> {
    const st = this.state(scope);
    if ((st.paused[scope.clientId] ?? 0) < untilMs) st.paused[scope.clientId] = untilMs;
  }
}
