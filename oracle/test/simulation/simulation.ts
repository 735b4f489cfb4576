/**
 * A seeded simulation of the money paths, in the spirit of TigerBeetle's VOPR: many
 * orders at once against the real oracle (its own OS process), the real contract on
 * anvil, real Postgres and Redis, and the Daraja simulator — with a bad day mixed in:
 *
 * - callbacks late, duplicated, missing, delivered before the answer, or forged (through a
 *   guessed URL, a leaked one, an id the oracle never issued);
 * - STK Query wrong (denies a real payment); STK Query, Transaction Status and the
 *   transaction pull down for a while;
 * - B2C failure results for payouts that complete, payouts queued at Safaricom for seconds
 *   (Transaction Status says "no record" meanwhile), queue timeouts followed by the result;
 * - chain stalls (anvil SIGSTOPped), dropped database connections, and oracle SIGKILLs at
 *   random moments and at the failpoints between an external call and the write that
 *   records it.
 *
 * Every decision comes from one seed (pure-rand), so a failing seed replays the same run
 * (the same orders, faults and schedule; the interleaving of real processes can differ).
 * After the run it checks what must hold whatever happened:
 * - no payout is paid more than once;
 * - every paid collection funds exactly one order or is a visible refund case;
 * - the simulator's ledger, the oracle's ledger and the chain agree to the shilling.
 */
import { randomUUID } from 'node:crypto';
import prand from 'pure-rand';
import { keccak256, toHex, type Hex } from 'viem';
import { DEV_ROLES } from '@descrow/common';
import { orderIdFor, payoutSplit, receiptHash } from '@descrow/contracts';
import { OracleHarness, sleep, stkSuccessCallback, type OracleUnderTest } from '../harness';

export interface SimulationOptions {
  seed: number;
  orders: number;
  /** ms between order starts */
  arrivalMs?: number;
  deadlineMs?: number;
  log?: (line: string) => void;
}

export interface SimulationReport {
  seed: number;
  orders: number;
  paidOrders: number;
  unpaidOrders: number;
  refundCases: number;
  faults: Record<string, number>;
  kills: number;
  seconds: number;
  collectedKes: number;
  paidOutKes: number;
  violations: string[];
}

type StkPlan = { outcome: 'success' | 'cancelled' | 'insufficient_funds'; delivery: { mode: string; delayMs?: number; copies?: number }; queryDisagrees: boolean };
type B2cPlan = { mode: 'normal' | 'delayed' | 'duplicated' | 'never' | 'timeout_then_result' | 'failure_then_success' | 'queued'; delayMs: number };
interface OrderPlan {
  i: number; orderId: Hex; salt: Hex; amount: number; phone: string; sellerPhone: string; stk: StkPlan; b2c: B2cPlan;
  forge: ('guessed_url' | 'leaked_stk' | 'status_never_issued' | 'b2c_wrong_conversation')[];
}
type Chaos = { atMs: number; kind: 'kill' | 'failpoint' | 'drop_db' | 'stall_chain' | 'stk_query_down' | 'status_down' | 'pull_down'; param: number };

const FAILPOINTS = ['stk:after-daraja-ack', 'callback:after-store', 'outbox:after-broadcast', 'payout:after-b2c-ack'] as const;

/** The seeded plan: every order and every fault, decided before anything runs. */
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
  const out: OrderPlan[] = [];
  for (let i = 0; i < orders; i++) {
    const outcome = pick(['success', 'cancelled', 'insufficient_funds'] as const, [88, 8, 4]);
    const mode = pick(['normal', 'delayed', 'duplicated', 'never', 'before_response'] as const, [40, 20, 15, 15, 10]);
    const b2cMode = pick(['normal', 'delayed', 'duplicated', 'never', 'timeout_then_result', 'failure_then_success', 'queued'] as const, [30, 10, 10, 15, 10, 15, 10]);
    const forge: OrderPlan['forge'] = [];
    for (const f of ['guessed_url', 'leaked_stk', 'status_never_issued', 'b2c_wrong_conversation'] as const) if (int(1, 100) <= 8) forge.push(f);
    const salt = keccak256(toHex(`sim-${seed}-${i}`));
    out.push({
      i,
      salt,
      orderId: orderIdFor(DEV_ROLES.oracle.address as Hex, salt), // M-Pesa orders are the oracle's: orderIdFor(oracle, salt)
      amount: int(50, 5_000),
      phone: `25471${String(seed % 1000).padStart(3, '0')}${String(i).padStart(4, '0')}`,
      sellerPhone: `25411${String(seed % 1000).padStart(3, '0')}${String(i).padStart(4, '0')}`,
      stk: { outcome, delivery: { mode, ...(mode === 'delayed' ? { delayMs: int(200, 3_000) } : {}), ...(mode === 'duplicated' ? { copies: int(2, 4) } : {}) }, queryDisagrees: outcome === 'success' && int(1, 100) <= 3 },
      b2c: { mode: b2cMode, delayMs: int(300, 4_000) },
      forge,
    });
  }
  const runMs = orders * arrivalMs + 10_000;
  const chaos: Chaos[] = [];
  const kinds: Chaos['kind'][] = ['kill', 'failpoint', 'drop_db', 'stall_chain', 'stk_query_down', 'status_down', 'pull_down'];
  const count = Math.max(6, Math.round(orders / 12));
  for (let k = 0; k < count; k++) chaos.push({ atMs: int(1_000, runMs), kind: pick(kinds, [3, 3, 4, 2, 2, 2, 1]), param: int(0, 1_000_000) });
  chaos.sort((a, b) => a.atMs - b.atMs);
  return { orders: out, chaos };
}

const AUTH = { authorization: 'Bearer dev-service-token-change-me' };

export async function runSimulation(opts: SimulationOptions): Promise<SimulationReport> {
  const { seed, orders } = opts;
  const arrivalMs = opts.arrivalMs ?? 60;
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const { orders: plans, chaos } = plan(seed, orders, arrivalMs);
  const faults: Record<string, number> = {};
  const count = (k: string) => (faults[k] = (faults[k] ?? 0) + 1);
  const violations: string[] = [];

  const h = new OracleHarness();
  await h.start(`sim${seed % 100000}`, {
    DARAJA_SIM_STK_RESOLVE_MS: 400, DARAJA_SIM_B2C_RESOLVE_MS: 300, DARAJA_SIM_WALLET_BALANCE: 100_000,
    DARAJA_SIM_UTILITY_BALANCE: 1_000_000 + orders * 5_000, // enough for every payout: an empty utility account is a case for a person, not a fault under test
  }, {
    ORACLE_STK_EXPIRY_SECONDS: '40', ORACLE_STK_VERIFY_MAX_BACKOFF_SECONDS: '2', ORACLE_B2C_FAILURE_CONFIRM_SECONDS: '20',
    ORACLE_PULL_INTERVAL_SECONDS: '3', ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_DB_CONNECT_TIMEOUT_MS: '3000', ORACLE_DB_QUERY_TIMEOUT_MS: '10000',
  });
  await h.control('PATCH', '/settings', { statusWhileQueued: 'no_record', lockSubscriber: false });

  // ---- the oracle, supervised: restarted whenever it dies ---------------------------------
  let oracle = null as OracleUnderTest | null;
  let stopping = false;
  let kills = 0;
  let starting: Promise<void> | null = null;
  const start = (failpoint?: string): Promise<void> => {
    starting = (async () => {
      for (;;) {
        try {
          const o = await h.oracleProcess(failpoint ? { ORACLE_FAILPOINTS: failpoint } : {}, failpoint);
          oracle = o;
          void o.exited!.then(() => {
            if (oracle === o) oracle = null;
            if (!stopping) void start();
          });
          return;
        } catch (err) {
          log(`oracle start failed, retrying: ${(err as Error).message.split('\n')[0]}`);
          await sleep(500);
        }
      }
    })();
    return starting;
  };
  await start();
  const url = async () => {
    while (!oracle) await sleep(50);
    return oracle.url;
  };

  // ---- chain actions from the dev buyer and seller, one at a time (one nonce stream each) ----
  let chainQueue: Promise<unknown> = Promise.resolve();
  const act = (role: 'buyer' | 'seller', fn: 'markShipped' | 'confirmDelivery', orderId: Hex) => {
    const run = chainQueue.then(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await h.act(role, fn, fn === 'markShipped' ? [orderId, ''] : [orderId]);
        } catch (err) {
          if (attempt >= 20) throw err;
          await sleep(250); // a stalled chain, or a nonce race: try again
        }
      }
    });
    chainQueue = run.catch(() => undefined);
    return run;
  };

  // ---- chaos ----------------------------------------------------------------------------
  const chaosDone = (async () => {
    const t0 = Date.now();
    for (const c of chaos) {
      await sleep(Math.max(0, t0 + c.atMs - Date.now()));
      if (stopping) return;
      count(c.kind);
      try {
        switch (c.kind) {
          case 'kill':
            if (oracle) {
              kills++;
              oracle.kill!();
            }
            break;
          case 'failpoint': {
            // Restart it set to die at a point between an external call and the write that records it.
            const o = oracle;
            if (o) {
              kills++;
              const fp = FAILPOINTS[c.param % FAILPOINTS.length]!;
              count(`failpoint:${fp}`);
              oracle = null;
              stopping = true; // keep the exit handler from restarting it plainly
              o.kill!();
              await o.exited;
              stopping = false;
              await start(fp);
            }
            break;
          }
          case 'drop_db':
            await h.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'descrow-oracle'`);
            break;
          case 'stall_chain':
            h.anvil.process.kill('SIGSTOP');
            await sleep(1_000 + (c.param % 2_000));
            h.anvil.process.kill('SIGCONT');
            break;
          case 'stk_query_down':
            await h.control('POST', '/faults', { errorCode: '500.003.02', path: '/mpesa/stkpushquery', forMs: 2_000 + (c.param % 8_000) });
            break;
          case 'status_down':
            await h.control('POST', '/faults', { errorCode: '500.003.1001', path: '/mpesa/transactionstatus', forMs: 2_000 + (c.param % 8_000) });
            break;
          case 'pull_down':
            await h.control('POST', '/faults', { errorCode: '500.003.1001', path: '/pulltransactions', forMs: 5_000 + (c.param % 10_000) });
            break;
        }
      } catch (err) {
        log(`chaos ${c.kind} failed: ${(err as Error).message}`);
      }
    }
  })();

  // ---- the orders -----------------------------------------------------------------------
  const deadline = started + (opts.deadlineMs ?? 240_000 + orders * 400); // the dev buyer and seller send ~2 transactions per order, one at a time
  const until = async <T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> => {
    for (;;) {
      const v = await fn().catch(() => undefined as T);
      if (v !== undefined && ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`deadline: ${what}`);
      await sleep(200);
    }
  };
  const post = async (path: string, body: unknown) => fetch(`${await url()}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
  const requestRow = async (orderId: Hex) => (await h.pool.query(`SELECT id, status, checkout_request_id FROM oracle.payment_requests WHERE order_id=$1 ORDER BY created_at DESC LIMIT 1`, [orderId])).rows[0];

  let paidOrders = 0;
  let unpaidOrders = 0;
  const runOrder = async (o: OrderPlan) => {
    await sleep(o.i * arrivalMs);
    await h.control('POST', '/rules', { product: 'stk', phone: o.phone, outcome: o.stk.outcome, delivery: o.stk.delivery, queryDisagrees: o.stk.queryDisagrees });
    const b2cRule = o.b2c.mode === 'queued' ? { outcome: 'pending' } : { outcome: 'success', delivery: { mode: o.b2c.mode, delayMs: o.b2c.delayMs } };
    await h.control('POST', '/rules', { product: 'b2c', phone: o.sellerPhone, ...b2cRule });
    count(`stk:${o.stk.delivery.mode}`);
    count(`stk:${o.stk.outcome}`);
    if (o.stk.queryDisagrees) count('stk:query_disagrees');

    // Ask for the push until the oracle has it (it may be dead, or die while answering).
    await until(async () => {
      const res = await h.requestStk(await url(), { ...h.stkBody(o.orderId, o.amount, o.phone), salt: o.salt, sellerPhone: o.sellerPhone }).catch(() => ({ status: 599, body: {} as Record<string, any> }));
      return res.status < 500 || res.body?.error?.code === 'PAYMENT_IN_PROGRESS' ? res : undefined;
    }, (r) => !!r, `order ${o.i}: stk accepted`);

    for (const f of o.forge) {
      count(`forge:${f}`);
      const req = await requestRow(o.orderId);
      if (f === 'guessed_url') await post(`/hooks/stk/${randomUUID().replace(/-/g, '')}/${req?.id ?? randomUUID()}`, stkSuccessCallback('ws_CO_guess', o.amount, Number(o.phone), 'TKGUESSED1'));
      if (f === 'leaked_stk' && req?.checkout_request_id) await post(h.hook('stk', req.id), stkSuccessCallback(req.checkout_request_id, o.amount, Number(o.phone), `TKF${String(o.i).padStart(7, '0')}`));
    }

    if (o.stk.outcome !== 'success') {
      await until(() => requestRow(o.orderId), (r) => r && (r.status === 'failed' || r.status === 'expired'), `order ${o.i}: unpaid request closed`);
      unpaidOrders++;
      return;
    }
    // Funded — or, if the oracle died before Daraja ever saw the push, the customer asks again once it has expired.
    await until(async () => {
      if ((await h.getOrder(o.orderId)).status >= 2) return true;
      const r = await requestRow(o.orderId);
      if (r && (r.status === 'failed' || r.status === 'expired') && !(await h.control('GET', `/stk?phone=${o.phone}`)).some((t: any) => t.ResultCode === 0)) {
        count('stk:asked_again');
        await h.requestStk(await url(), { ...h.stkBody(o.orderId, o.amount, o.phone), salt: o.salt, sellerPhone: o.sellerPhone }).catch(() => undefined);
      }
      return false;
    }, (ok) => ok, `order ${o.i}: funded`);
    paidOrders++;
    await act('seller', 'markShipped', o.orderId);
    await act('buyer', 'confirmDelivery', o.orderId);
    count(`b2c:${o.b2c.mode}`);
    const payout = await until(
      async () => (await h.pool.query(`SELECT id, originator_conversation_id FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt LIMIT 1`, [o.orderId])).rows[0],
      (p) => !!p, `order ${o.i}: payout queued`,
    );
    for (const f of o.forge) {
      const forgedStatus = { Result: { ResultType: 0, ResultCode: 0, ResultDesc: 'ok', OriginatorConversationID: `AG_forged_${o.i}`, ConversationID: `AG_forged2_${o.i}`,
        ResultParameters: { ResultParameter: [{ Key: 'OriginatorConversationID', Value: payout.originator_conversation_id }, { Key: 'TransactionStatus', Value: 'Failed' }] } } };
      if (f === 'status_never_issued') await post(h.hook('status/result', payout.id), forgedStatus);
      if (f === 'b2c_wrong_conversation') {
        await post(h.hook('b2c/result', payout.id), { Result: { ResultType: 0, ResultCode: 17, ResultDesc: 'Rule limited.', OriginatorConversationID: payout.originator_conversation_id, ConversationID: `AG_guess_${o.i}`, TransactionID: 'TK0000000' } });
      }
    }
    if (o.b2c.mode === 'queued') {
      // Queued at Safaricom for a while (Transaction Status says "no record"), then paid.
      const tx = await until(() => h.control('GET', `/b2c?phone=${o.sellerPhone}`), (t: any[]) => t.length > 0, `order ${o.i}: b2c sent`);
      await sleep(o.b2c.delayMs * 2);
      await h.control('POST', `/b2c/${tx[0].OriginatorConversationID}/resolve`, { outcome: 'success' }).catch(() => undefined);
    }
    await until(() => h.getOrder(o.orderId), (c) => c.status === 5 && !c.sellerPayoutDue, `order ${o.i}: completed`);
  };

  const mining = setInterval(() => void h.mine(1).catch(() => undefined), 500); // blocks keep coming, so payouts reach their depth
  const results = await Promise.allSettled(plans.map(runOrder));
  clearInterval(mining);
  for (const [k, r] of results.entries()) if (r.status === 'rejected') violations.push(`order ${k} did not finish: ${(r.reason as Error).message}`);
  stopping = true;
  await chaosDone;
  stopping = false;
  if (!oracle) await (starting ?? start());
  h.anvil.process.kill('SIGCONT');

  // ---- settle, then check what must hold -----------------------------------------------
  await until(async () => (await h.pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE status IN ('pending','sent')`)).rows[0].n, (n) => n === 0, 'outbox settled').catch((e) => violations.push((e as Error).message));
  await sleep(4_000); // one more pull and a few job passes
  const sim = await h.simLedger();
  const stk: any[] = await h.control('GET', '/stk');
  const b2c: any[] = await h.control('GET', '/b2c');
  const reqs = (await h.pool.query(`SELECT * FROM oracle.payment_requests`)).rows;
  const cases = (await h.pool.query(`SELECT * FROM oracle.refund_cases WHERE status='open'`)).rows;
  const payoutRows = (await h.pool.query(`SELECT * FROM oracle.payouts`)).rows;

  // 1. No payout is paid more than once: per seller phone (one order each), at most one paid B2C.
  const paidB2c = new Map<string, number>();
  for (const t of b2c) if (t.ResultCode === 0) paidB2c.set(t.PartyB, (paidB2c.get(t.PartyB) ?? 0) + 1);
  for (const [phone, n] of paidB2c) if (n > 1) violations.push(`payout to ${phone} paid ${n} times`);
  for (const p of payoutRows) if (p.status === 'overpaid') violations.push(`payout ${p.originator_conversation_id} overpaid: ${p.reason}`);

  // 2. Every paid collection funds exactly one order or is a visible refund case.
  const byReceipt = new Map<string, any>();
  for (const r of reqs) for (const k of [r.mpesa_receipt, r.pulled_receipt]) if (k) byReceipt.set(k, r);
  const caseReceipts = new Set(cases.map((c) => c.receipt));
  let collected = 0;
  for (const t of stk.filter((x) => x.ResultCode === 0 && x.MpesaReceiptNumber)) {
    collected += t.Amount;
    const r = byReceipt.get(t.MpesaReceiptNumber);
    if (r && r.status === 'paid') {
      const order = await h.getOrder(r.order_id);
      if (order.paymentReceipt !== receiptHash(r.chain_receipt_key)) violations.push(`receipt ${t.MpesaReceiptNumber}: order ${r.order_id} is funded by another receipt`);
    } else if (!caseReceipts.has(t.MpesaReceiptNumber)) {
      violations.push(`paid collection ${t.MpesaReceiptNumber} (${t.Amount} KES, ${t.AccountReference}) funds no order and is no refund case`);
    }
  }

  // 3. The three ledgers agree to the shilling.
  // The paybill opens at 0 (DARAJA_SIM_PAYBILL_BALANCE).
  const paybill = sim.accounts.filter((a: any) => a.kind === 'paybill').reduce((s: number, a: any) => s + a.balance, 0);
  const ledgerPaid = reqs.filter((r) => r.status === 'paid').reduce((s, r) => s + (r.paid_amount ?? r.amount_kes), 0);
  const refundable = cases.filter((c) => c.receipt && stk.some((t) => t.MpesaReceiptNumber === c.receipt)).reduce((s, c) => s + c.amount_kes, 0);
  if (paybill !== collected) violations.push(`simulator: paybill holds ${paybill} KES, its paid pushes total ${collected}`);
  if (ledgerPaid + refundable !== collected) {
    const detail = cases.map((c) => `${c.kind} ${c.receipt} ${c.amount_kes} KES (${c.reason}; ledger: ${byReceipt.get(c.receipt)?.status ?? 'none'})`).join('; ');
    violations.push(`oracle ledger: ${ledgerPaid} KES paid + ${refundable} KES in refund cases ≠ ${collected} KES collected: ${detail}`);
  }
  let chainFunded = 0;
  let chainOwedOut = 0;
  for (const r of reqs.filter((x) => x.status === 'paid')) {
    const o = await h.getOrder(r.order_id);
    chainFunded += Number(o.amount);
    if (o.status === 5) chainOwedOut += Number(payoutSplit(o.amount, o.feeBps).sellerAmount);
  }
  if (chainFunded !== ledgerPaid) violations.push(`chain: M-Pesa orders hold ${chainFunded} KES, the ledger says ${ledgerPaid}`);
  const paidOut = b2c.filter((t) => t.ResultCode === 0).reduce((s, t) => s + t.Amount, 0);
  const ledgerOut = payoutRows.filter((p) => p.status === 'succeeded').reduce((s, p) => s + p.amount_kes, 0);
  if (paidOut !== ledgerOut) violations.push(`payouts: the simulator paid out ${paidOut} KES, the ledger ${ledgerOut}`);
  if (ledgerOut !== chainOwedOut) violations.push(`payouts: the ledger paid ${ledgerOut} KES, completed orders on chain owed ${chainOwedOut}`);
  if (!sim.balanced) violations.push('simulator ledger does not balance');
  const run = await (await fetch(`${h.internalUrl(await url())}/internal/reconciliation`, { method: 'POST', headers: AUTH })).json().catch(() => ({ discrepancies: [] }));
  // Refund cases are checked above; a disputed receipt is the visible trace of a forged callback through a leaked URL.
  const leaked = new Set(plans.filter((o) => o.forge.includes('leaked_stk')).map((o) => o.orderId));
  for (const d of run.discrepancies ?? []) {
    if (String(d.kind).startsWith('refund_needed')) continue;
    if (d.kind === 'receipt_disputed' && leaked.has(d.orderId)) continue;
    violations.push(`reconciliation: ${d.kind} ${d.orderId} ${d.detail}`);
  }

  stopping = true;
  await (oracle as OracleUnderTest | null)?.stop();
  await h.stop();
  return {
    seed, orders, paidOrders, unpaidOrders, refundCases: cases.length, faults, kills,
    seconds: Math.round((Date.now() - started) / 100) / 10, collectedKes: collected, paidOutKes: paidOut, violations,
  };
}
