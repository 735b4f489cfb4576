/**
 * The seeded plan of a simulation run: every order (amount, STK and B2C behaviour,
 * forgeries, what the customer and the admin do) and every fault, decided from one seed
 * before anything runs (pure-rand), so a failing seed replays the same run.
 */
import prand from 'pure-rand';
import { keccak256, toHex, type Hex } from 'viem';
import { DEV_ROLES } from '@descrow/common';
import { orderIdFor } from '@descrow/contracts';

export type Delivery = { mode: 'normal' | 'delayed' | 'duplicated' | 'never'; delayMs?: number; copies?: number };
export type StkPlan = { outcome: 'success' | 'cancelled' | 'insufficient_funds'; delivery: { mode: string; delayMs?: number; copies?: number }; queryDisagrees: boolean };
export type B2cPlan = { mode: 'normal' | 'delayed' | 'duplicated' | 'never' | 'timeout_then_result' | 'failure_then_success' | 'queued'; delayMs: number };

/**
 * How a customer uses Pay Bill (C2B) around the STK prompt, which hangs until the plan
 * says the PIN is entered:
 * - `while_hanging`: pays by Pay Bill naming the request's account reference, then enters the PIN;
 * - `pin_first`: enters the PIN, then pays by Pay Bill all the same (thinking it failed);
 * - `other_phone`: someone else pays naming the reference and amount, then the customer enters the PIN.
 */
export type PayBillPlan = { kind: 'while_hanging' | 'pin_first' | 'other_phone'; pinAfterMs: number; stranger: string };

/**
 * What M-Pesa does with one payout attempt of a "people" order (every attempt is held at
 * Safaricom until the driver resolves it): pays it, fails it with a code a person must fix
 * (1, balance), fails it plainly (17), or keeps it queued ("no record" meanwhile) until after
 * the admin's first action or the order's completion, then pays or fails it — late.
 */
export type AttemptFate = {
  fate: 'success' | 'person' | 'fail' | 'hang';
  afterMs: number;
  delivery: Delivery;
  late: { outcome: 'success' | 'fail'; afterMs: number; delivery: Delivery };
};

/** The admin (through the API's path: the oracle's internal routes with the service token). */
export type AdminPlan = {
  /** A first action this long after the payout is queued, whatever its state (usually not waiting). */
  pokeAtMs: number; pokeAction: 'retry' | 'settle'; pokeTarget: 'first' | 'latest';
  /** Then, every `everyMs`, acts on any attempt waiting for a person, taking these actions in turn. */
  everyMs: number; actions: ('retry' | 'settle')[];
  /** After the first action the admin's retry or settlement went through: Safaricom re-sends old results. */
  replayResults: boolean;
};

/** `crashAtAck`: the oracle is SIGKILLed the instant Daraja accepts attempt 1, before its acknowledgement is written. */
export type PeoplePlan = { attempts: AttemptFate[]; admin: AdminPlan; crashAtAck: boolean };

export interface OrderPlan {
  i: number; orderId: Hex; salt: Hex; amount: number; phone: string; sellerPhone: string; stk: StkPlan; b2c: B2cPlan;
  forge: ('guessed_url' | 'leaked_stk' | 'status_never_issued' | 'b2c_wrong_conversation')[];
  paybill: PayBillPlan | null;
  /** The buyer disputes; the arbiter gives the buyer this share (the refund goes to the prompted phone). */
  dispute: { buyerShareBps: number } | null;
  /** The seller's payout goes through people: an admin and a Safaricom that holds each attempt. */
  people: PeoplePlan | null;
}

export type ChaosKind =
  | 'kill' | 'failpoint' | 'drop_db' | 'stall_chain' | 'stk_query_down' | 'status_down' | 'pull_down'
  | 'payout_crash' | 'kill_on_b2c' | 'status_truthful' | 'stray_paybill';
export type Chaos = { atMs: number; kind: ChaosKind; param: number };

export function plan(seed: number, orders: number, arrivalMs: number): { orders: OrderPlan[]; chaos: Chaos[] } {
  let rng = prand.xoroshiro128plus(seed);
  const int = (min: number, max: number) => {
    const [v, next] = prand.uniformIntDistribution(min, max, rng);
    rng = next;
    return v;
  };
  const pick = <T>(items: readonly T[], weights: number[]): T => {
    let r = int(1, weights.reduce((a, b) => a + b, 0));
    for (let k = 0; k < items.length; k++) if ((r -= weights[k]!) <= 0) return items[k]!;
    return items.at(-1)!;
  };
  const delivery = (weights: number[]): Delivery => {
    const mode = pick(['normal', 'duplicated', 'delayed', 'never'] as const, weights);
    return { mode, ...(mode === 'delayed' ? { delayMs: int(500, 6_000) } : {}), ...(mode === 'duplicated' ? { copies: int(2, 4) } : {}) };
  };
  const tag = (n: number, width: number) => String(n).padStart(width, '0');
  const out: OrderPlan[] = [];
  for (let i = 0; i < orders; i++) {
    const outcome = pick(['success', 'cancelled', 'insufficient_funds'] as const, [88, 8, 4]);
    const mode = pick(['normal', 'delayed', 'duplicated', 'never', 'before_response'] as const, [40, 20, 15, 15, 10]);
    const b2cMode = pick(['normal', 'delayed', 'duplicated', 'never', 'timeout_then_result', 'failure_then_success', 'queued'] as const, [30, 10, 10, 15, 10, 15, 10]);
    const forge: OrderPlan['forge'] = [];
    for (const f of ['guessed_url', 'leaked_stk', 'status_never_issued', 'b2c_wrong_conversation'] as const) if (int(1, 100) <= 8) forge.push(f);
    const salt = keccak256(toHex(`sim-${seed}-${i}`));
    const amount = int(50, 5_000);
    const stk: StkPlan = { outcome, delivery: { mode, ...(mode === 'delayed' ? { delayMs: int(200, 3_000) } : {}), ...(mode === 'duplicated' ? { copies: int(2, 4) } : {}) }, queryDisagrees: outcome === 'success' && int(1, 100) <= 3 };
    const b2c: B2cPlan = { mode: b2cMode, delayMs: int(300, 4_000) };

    // People: drawn for every order (so the draws do not depend on earlier choices), used when they apply.
    const payKind = pick([null, 'while_hanging', 'pin_first', 'other_phone'] as const, [86, 6, 3, 5]);
    const pinAfterMs = int(500, 8_000);
    const disputed = int(1, 100);
    const buyerShareBps = pick([10_000, 5_000, 7_000], [2, 1, 1]);
    const withPeople = int(1, 100) <= 18;
    const attempts: AttemptFate[] = [0, 1, 2, 3].map((k) => ({
      fate: pick(['success', 'person', 'fail', 'hang'] as const, k === 0 ? [15, 35, 10, 40] : [70, 10, 10, 10]),
      afterMs: int(300, 6_000),
      delivery: delivery([50, 30, 15, 5]),
      // Late: soon after the person's action, or past the proof window (then a success pays twice: an overpaid case).
      late: { outcome: pick(['success', 'fail'] as const, [7, 3]), afterMs: pick([int(500, 8_000), int(22_000, 30_000)], [7, 3]), delivery: delivery([35, 40, 20, 5]) },
    }));
    const admin: AdminPlan = {
      pokeAtMs: int(0, 15_000), pokeAction: pick(['retry', 'settle'] as const, [1, 1]), pokeTarget: pick(['first', 'latest'] as const, [1, 1]),
      everyMs: int(1_500, 4_000), actions: [0, 1, 2].map(() => pick(['retry', 'settle'] as const, [1, 1])), replayResults: int(1, 100) <= 60,
    };
    const crashAtAck = int(1, 100) <= 15;
    const paybill = outcome === 'success' && payKind ? { kind: payKind, pinAfterMs, stranger: `25472${tag(seed % 1000, 3)}${tag(i, 4)}` } : null;
    const dispute = outcome === 'success' && disputed <= (payKind === 'other_phone' ? 50 : 4) ? { buyerShareBps } : null;
    out.push({
      i, salt, amount, stk, b2c, forge,
      orderId: orderIdFor(DEV_ROLES.oracle.address as Hex, salt), // M-Pesa orders are the oracle's: orderIdFor(oracle, salt)
      phone: `25471${tag(seed % 1000, 3)}${tag(i, 4)}`,
      sellerPhone: `25411${tag(seed % 1000, 3)}${tag(i, 4)}`,
      paybill,
      dispute,
      people: outcome === 'success' && !dispute && withPeople ? { attempts, admin, crashAtAck } : null,
    });
    // The prompt hangs until the PIN: it can neither be answered before the push returns nor be denied by the query.
    if (paybill) out.at(-1)!.stk = { ...stk, delivery: stk.delivery.mode === 'before_response' ? { mode: 'normal' } : stk.delivery, queryDisagrees: false };
  }
  const runMs = orders * arrivalMs + 10_000;
  const chaos: Chaos[] = [];
  const kinds: ChaosKind[] = ['kill', 'failpoint', 'drop_db', 'stall_chain', 'stk_query_down', 'status_down', 'pull_down', 'payout_crash', 'kill_on_b2c', 'status_truthful', 'stray_paybill'];
  const count = Math.max(10, Math.round(orders / 12));
  for (let k = 0; k < count; k++) chaos.push({ atMs: int(1_000, runMs), kind: pick(kinds, [3, 3, 4, 2, 2, 2, 1, 2, 1, 1, 3]), param: int(0, 1_000_000) });
  chaos.sort((a, b) => a.atMs - b.atMs);
  return { orders: out, chaos };
}
