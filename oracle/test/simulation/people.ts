/**
 * The people of the simulation: the customer who pays by Pay Bill around a hanging STK
 * prompt (or whose reference a stranger types), and the admin who retries and settles
 * payouts through the oracle's internal API with the service token — the same calls the
 * API makes for the console — while Safaricom holds, pays, fails and re-sends results for
 * each payout attempt as the seed says.
 */
import type { OracleHarness } from '../harness';
import { sleep } from '../harness';
import type { AttemptFate, Delivery, OrderPlan, PeoplePlan } from './plan';

export interface SimEnv {
  seed: number;
  h: OracleHarness;
  /** The running oracle's public URL (waits while it restarts). */
  url: () => Promise<string>;
  count: (k: string) => void;
  violation: (v: string) => void;
  /** Polls `fn` until `ok`, failing the order at the run's deadline. */
  until: <T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string) => Promise<T>;
  /** When the run gives up on unfinished orders (ms since the epoch). */
  deadline: number;
  serviceToken: string;
}

type Sim = Record<string, any>;

/**
 * The prompt showing on the customer's phone (the STK rule holds it until the PIN). If the
 * oracle died before Daraja saw the push, the request closes unprompted and the customer asks again.
 */
async function promptOnPhone(env: SimEnv, o: OrderPlan, askAgain: () => Promise<void>): Promise<Sim> {
  const { h } = env;
  return env.until<Sim | undefined>(async () => {
    const pending: Sim[] = await h.control('GET', `/stk?phone=${o.phone}&status=pending`);
    if (pending.length) return pending.at(-1);
    const r = (await h.pool.query(`SELECT status FROM oracle.payment_requests WHERE order_id=$1 ORDER BY created_at DESC LIMIT 1`, [o.orderId])).rows[0];
    if (r && (r.status === 'failed' || r.status === 'expired')) await askAgain();
    return undefined;
  }, (p) => !!p, `order ${o.i}: the prompt shows on the phone`) as Promise<Sim>;
}

/** Pay Bill around the prompt, as the plan says; the oracle must fund the order once and make the other payment a refund case. */
export async function payBillAroundPrompt(env: SimEnv, o: OrderPlan & { paybill: NonNullable<OrderPlan['paybill']> }, askAgain: () => Promise<void>): Promise<void> {
  const { h } = env;
  const push = await promptOnPhone(env, o, askAgain);
  const payBill = async (phone: string) => {
    const tx = await h.control('POST', '/c2b/pay', { phone, amount: o.amount, billRefNumber: push.AccountReference });
    env.count(`paybill:${phone === o.phone ? 'same_phone' : 'other_phone'}:${tx.status}`);
  };
  const pin = () => h.control('POST', `/stk/${push.CheckoutRequestID}/resolve`, { outcome: 'success' }).catch(() => undefined);
  env.count(`paybill:${o.paybill.kind}`);
  if (o.paybill.kind === 'pin_first') {
    await pin();
    await sleep(o.paybill.pinAfterMs);
    await payBill(o.phone);
  } else {
    await payBill(o.paybill.kind === 'other_phone' ? o.paybill.stranger : o.phone);
    await sleep(o.paybill.pinAfterMs);
    await pin();
  }
}

/** A payment to the paybill naming no request of ours (a typo, another merchant's account number). */
export async function strayPayBill(env: SimEnv, k: number, param: number): Promise<void> {
  const phone = `25473${String(env.seed % 1000).padStart(3, '0')}${String(k).padStart(4, '0')}`;
  const tx = await env.h.control('POST', '/c2b/pay', { phone, amount: 10 + (param % 3_000), billRefNumber: `ACC${param}` });
  env.count(`paybill:stray:${tx.status}`);
}

const PAYS: AttemptFate = { fate: 'success', afterMs: 500, delivery: { mode: 'normal' }, late: { outcome: 'success', afterMs: 0, delivery: { mode: 'normal' } } };
const outcomeOf = (f: AttemptFate['fate'] | 'fail') => (f === 'success' ? 'success' : f === 'person' ? 'insufficient_funds' : 17);

/** One action of the admin on one payout attempt, as the API sends it. */
async function adminAct(env: SimEnv, o: OrderPlan, payoutId: string, action: 'retry' | 'settle', n: number): Promise<string> {
  const body = {
    actor: `0xadmin-sim-${env.seed}`,
    reason: `order ${o.i}: the seller says nothing arrived (action ${n})`,
    ...(action === 'settle' ? { reference: `BANK-${env.seed}-${o.i}-${n}` } : {}),
  };
  const res = await fetch(`${env.h.internalUrl(await env.url())}/internal/payouts/${payoutId}/${action}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${env.serviceToken}` }, body: JSON.stringify(body),
  }).catch(() => undefined);
  if (!res) {
    env.count(`admin:${action}:unreachable`);
    return 'unreachable';
  }
  const text = await res.text();
  const j = (() => { try { return JSON.parse(text) as Sim; } catch { return {} as Sim; } })();
  const outcome = `${res.status}:${j.error?.code ?? j.outcome ?? ''}`;
  env.count(`admin:${action}:${outcome}`);
  if (/\n\s+at /.test(text)) env.violation(`admin ${action} on payout ${payoutId} (order ${o.i}) answered with a stack trace: ${text.slice(0, 200)}`);
  if (res.status === 400) env.violation(`admin ${action} on payout ${payoutId} (order ${o.i}) refused a well-formed request: ${text.slice(0, 200)}`);
  return outcome;
}

/**
 * The seller's payout of a "people" order, from the queued payout to the end: each attempt
 * Safaricom receives is held, then paid, failed or kept queued as the plan says; the admin
 * pokes the payout once at a random moment (usually not waiting: refused), then acts on
 * any attempt waiting for a person; attempts kept queued are paid or failed late, after
 * the admin's first action (or the order's completion); old results are re-sent after a
 * retry or settlement went through. Ends when the order is complete and every payment
 * Safaricom made for it is in the oracle's ledger (a late success is never dropped).
 */
export async function drivePeoplePayout(env: SimEnv, o: OrderPlan & { people: PeoplePlan }, queuedAt: number): Promise<void> {
  const { h } = env;
  const p = o.people;
  const resolve = (id: string, outcome: string | number, delivery: Delivery) => h.control('POST', `/b2c/${id}/resolve`, { outcome, delivery }).catch(() => undefined);
  const attemptsOf = async () => (await h.pool.query(`SELECT id, attempt, status FROM oracle.payouts WHERE order_id=$1 AND role='seller' ORDER BY attempt`, [o.orderId])).rows;
  const seen = new Set<string>();
  const hanging: { id: string; fate: AttemptFate }[] = [];
  const timers: Promise<unknown>[] = [];
  let firstActionAt: number | null = null;
  let wentThrough = false;
  let completedAt: number | null = null;
  let poked = false;
  let nextAdminAt = queuedAt + p.admin.everyMs;
  let n = 0;
  const act = async (id: string, action: 'retry' | 'settle') => {
    firstActionAt ??= Date.now();
    const outcome = await adminAct(env, o, id, action, n++);
    if (outcome === '200:retried' || outcome === '200:settled') wentThrough = true;
  };

  for (let done = false; !done; ) {
    const now = Date.now();
    done = completedAt !== null; // one more look at Safaricom after the completion
    // Safaricom: every attempt it receives is held; the plan decides when and how it ends.
    const txs: Sim[] = await h.control('GET', `/b2c?phone=${o.sellerPhone}`).catch(() => []);
    for (const tx of txs) {
      const id = tx.OriginatorConversationID as string;
      if (seen.has(id) || tx.status !== 'pending') continue;
      seen.add(id);
      const k = Number(/S(\d+)$/.exec(id)?.[1] ?? 1);
      // Past the planned attempts M-Pesa pays (a person topped up the account): every payout can end.
      const fate = p.attempts[k - 1] ?? PAYS;
      env.count(`people:attempt_${fate.fate}`);
      if (fate.fate === 'hang') hanging.push({ id, fate });
      else timers.push(sleep(fate.afterMs).then(() => resolve(id, outcomeOf(fate.fate), fate.delivery)));
    }
    const lateFrom = firstActionAt ?? completedAt;
    if (lateFrom !== null) {
      for (const { id, fate } of hanging.splice(0)) {
        timers.push(sleep(Math.max(0, lateFrom + fate.late.afterMs - now)).then(() => {
          env.count(`people:late_${fate.late.outcome}_${fate.late.delivery.mode}`);
          return resolve(id, outcomeOf(fate.late.outcome), fate.late.delivery);
        }));
      }
    }
    // The admin: one poke at a random moment, whatever the payout's state…
    if (!poked && now >= queuedAt + p.admin.pokeAtMs) {
      poked = true;
      const rows = await attemptsOf();
      const target = p.admin.pokeTarget === 'first' ? rows[0] : rows.at(-1);
      if (target) await act(target.id, p.admin.pokeAction);
    }
    // …then whatever waits for a person, until the order completes.
    if (completedAt === null && now >= nextAdminAt) {
      nextAdminAt = now + p.admin.everyMs;
      for (const w of (await attemptsOf()).filter((r) => r.status === 'needs_attention')) await act(w.id, p.admin.actions[n % p.admin.actions.length]!);
    }
    if (completedAt === null) {
      const order = await h.getOrder(o.orderId).catch(() => undefined);
      if (order && order.status === 5 && !order.sellerPayoutDue) completedAt = Date.now();
      else done = false;
    }
    if (!done) {
      if (Date.now() > env.deadline) throw new Error(`deadline: order ${o.i}: payout completed`);
      await sleep(250);
    }
  }
  await Promise.all(timers);
  if (wentThrough && p.admin.replayResults) {
    // Safaricom re-sends the results it sent before (a late duplicate after the person's action).
    const records: Sim[] = await h.control('GET', '/callbacks?kind=b2c_result');
    for (const r of records.filter((x) => seen.has(x.ref))) {
      env.count('people:result_resent');
      await fetch(r.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r.body) }).catch(() => undefined);
    }
  }
  // Every payment Safaricom made for this payout reaches the oracle's ledger, however late.
  await env.until(async () => {
    const paid = ((await h.control('GET', `/b2c?phone=${o.sellerPhone}`)) as Sim[]).filter((t) => t.ResultCode === 0).map((t) => t.TransactionID as string);
    const known = new Set((await h.pool.query(`SELECT mpesa_receipt FROM oracle.payouts WHERE order_id=$1 AND mpesa_receipt IS NOT NULL`, [o.orderId])).rows.map((r) => r.mpesa_receipt));
    return paid.every((r) => known.has(r)) && !(await h.control('GET', `/b2c?phone=${o.sellerPhone}&status=pending`)).length;
  }, (ok) => ok, `order ${o.i}: every payment of its payout recorded by the oracle`);
}
