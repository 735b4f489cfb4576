/**
 * A seeded simulation of the money paths, in the spirit of TigerBeetle's VOPR: many
 * orders at once against the real oracle (its own OS process), the real contract on
 * anvil, real Postgres and Redis, and the Daraja simulator — with a bad day mixed in:
 *
 * - callbacks late, duplicated, missing, delivered before the answer, or forged (through a
 *   guessed URL, a leaked one, an id the oracle never issued);
 * - STK Query wrong (denies a real payment); STK Query, Transaction Status and the
 *   transaction pull down for a while; Transaction Status truthful ("Initiated") for a while
 *   instead of "no record" for payouts queued at Safaricom;
 * - B2C failure results for payouts that complete, payouts queued at Safaricom for seconds
 *   (Transaction Status says "no record" meanwhile), queue timeouts followed by the result;
 * - chain stalls (anvil SIGSTOPped), dropped database connections, and oracle SIGKILLs at
 *   random moments, at the failpoints between an external call and the write that records
 *   it, and right as Daraja accepts a payout;
 * - people (./people.ts): customers paying by Pay Bill while the prompt hangs, strangers
 *   typing a request's reference, payments naming no request; buyers disputing and the
 *   arbiter refunding; an admin retrying and settling payouts at random points — waiting or
 *   not — while Safaricom holds attempts, pays or fails them late and re-sends old results.
 *
 * Every decision comes from one seed (./plan.ts), so a failing seed replays the same run
 * (the same orders, faults and schedule; the interleaving of real processes can differ).
 * After the run ./invariants.ts checks what must hold whatever happened.
 */
import { randomUUID } from 'node:crypto';
import type { Hex } from 'viem';
import { OracleHarness, sleep, stkSuccessCallback, type OracleUnderTest } from '../harness';
import { checkInvariants } from './invariants';
import { drivePeoplePayout, payBillAroundPrompt, strayPayBill, type SimEnv } from './people';
import { plan, type OrderPlan } from './plan';

export { plan } from './plan';

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
  refundCasesByKind: Record<string, number>;
  overpaidPayouts: number;
  settledPayouts: number;
  /** Orders that did not finish but wait, visibly, for a person (a payout or refund case names them). */
  leftForPeople: number;
  /** The last orders to finish, and when (seconds into the run): where the run's tail comes from. */
  lastOrders: { i: number; s: number }[];
  faults: Record<string, number>;
  kills: number;
  seconds: number;
  collectedKes: number;
  paidOutKes: number;
  settledKes: number;
  violations: string[];
}

const FAILPOINTS = ['stk:after-daraja-ack', 'callback:after-store', 'outbox:after-broadcast', 'payout:after-b2c-ack'] as const;
const CONFIRM_SECONDS = 20;
const SERVICE_TOKEN = 'dev-service-token-change-me';

const AUTH = { authorization: `Bearer ${SERVICE_TOKEN}` };

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
    ORACLE_STK_EXPIRY_SECONDS: '40', ORACLE_STK_VERIFY_MAX_BACKOFF_SECONDS: '2', ORACLE_B2C_FAILURE_CONFIRM_SECONDS: String(CONFIRM_SECONDS),
    ORACLE_B2C_STATUS_CHECKS_BEFORE_PERSON: '3', // an unanswered payout waits for the admin within the run
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
  // The oracle dies the instant Daraja accepts attempt 1 of these payouts (the plan's), before
  // the acknowledgement reaches it: the window where only Daraja knows the payout was sent.
  const crashAtAck = new Set(plans.filter((o) => o.people?.crashAtAck).map((o) => o.sellerPhone));
  const accept = h.sim.state.b2cPayment.bind(h.sim.state);
  h.sim.state.b2cPayment = async (req, version) => {
    const ack = await accept(req, version);
    if (crashAtAck.delete(req.PartyB) && oracle) {
      kills++;
      count('payout_killed_at_ack');
      oracle.kill!();
    }
    return ack;
  };
  const url = async () => {
    while (!oracle) await sleep(50);
    return oracle.url;
  };

  const deadline = started + (opts.deadlineMs ?? 300_000 + orders * 600); // ~2 chain transactions per order, one at a time, and the oracle's restarts
  const until = async <T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> => {
    for (;;) {
      const v = await fn().catch(() => undefined as T);
      if (v !== undefined && ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`deadline: ${what}`);
      await sleep(200);
    }
  };
  const env: SimEnv = { seed, h, url, count, violation: (x) => violations.push(x), until, deadline, serviceToken: SERVICE_TOKEN };

  // ---- chain actions from the dev buyer and seller, one at a time (one nonce stream each) ----
  let chainQueue: Promise<unknown> = Promise.resolve();
  type ChainCall = ['seller', 'markShipped', [Hex, string]] | ['buyer', 'confirmDelivery' | 'raiseDispute', [Hex] | [Hex, string]] | ['arbiter', 'resolveDispute', [Hex, number]];
  const act = (...[role, fn, args]: ChainCall) => {
    const run = chainQueue.then(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await h.act(role, fn, args);
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
  let strays = 0;
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
          case 'payout_crash': {
            // Dies at the next payout Daraja accepts, before the acknowledgement is written.
            const o = oracle;
            if (o) {
              kills++;
              oracle = null;
              stopping = true;
              o.kill!();
              await o.exited;
              stopping = false;
              await start('payout:after-b2c-ack');
            }
            break;
          }
          case 'kill_on_b2c': {
            // SIGKILL as soon as Daraja has accepted another payout: its acknowledgement may or may not be written.
            const before = h.sim.state.b2c.size;
            const until = Date.now() + 15_000;
            while (Date.now() < until && !stopping && h.sim.state.b2c.size === before) await sleep(5);
            if (oracle && !stopping && Date.now() < until) {
              kills++;
              oracle.kill!();
            }
            break;
          }
          case 'status_truthful':
            // For a while Transaction Status says "Initiated" (not "no record") for payouts queued at Safaricom: no proof comes, people step in.
            await h.control('PATCH', '/settings', { statusWhileQueued: 'initiated' });
            void sleep(10_000 + (c.param % 20_000)).then(() => h.control('PATCH', '/settings', { statusWhileQueued: 'no_record' }).catch(() => undefined));
            break;
          case 'stray_paybill':
            await strayPayBill(env, strays++, c.param);
            break;
        }
      } catch (err) {
        log(`chaos ${c.kind} failed: ${(err as Error).message}`);
      }
    }
  })();

  // ---- the orders -----------------------------------------------------------------------
  const post = async (path: string, body: unknown) => fetch(`${await url()}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
  const requestRow = async (orderId: Hex) => (await h.pool.query(`SELECT id, status, checkout_request_id FROM oracle.payment_requests WHERE order_id=$1 ORDER BY created_at DESC LIMIT 1`, [orderId])).rows[0];

  let paidOrders = 0;
  let unpaidOrders = 0;
  const runOrder = async (o: OrderPlan) => {
    await sleep(o.i * arrivalMs);
    // A customer paying by Pay Bill around the prompt: the prompt hangs until the PIN (the plan's moment).
    await h.control('POST', '/rules', { product: 'stk', phone: o.phone, outcome: o.paybill ? 'pending' : o.stk.outcome, delivery: o.stk.delivery, queryDisagrees: o.stk.queryDisagrees });
    // A "people" payout: Safaricom holds every attempt until the plan resolves it.
    const b2cRule = o.people || o.b2c.mode === 'queued' ? { outcome: 'pending' } : { outcome: 'success', delivery: { mode: o.b2c.mode, delayMs: o.b2c.delayMs } };
    await h.control('POST', '/rules', { product: 'b2c', phone: o.sellerPhone, ...b2cRule });
    count(`stk:${o.stk.delivery.mode}`);
    count(`stk:${o.stk.outcome}`);
    if (o.stk.queryDisagrees) count('stk:query_disagrees');
    const ask = async () => {
      count('stk:asked_again');
      await h.requestStk(await url(), { ...h.stkBody(o.orderId, o.amount, o.phone), salt: o.salt, sellerPhone: o.sellerPhone }).catch(() => undefined);
    };

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
    if (o.paybill) await payBillAroundPrompt(env, { ...o, paybill: o.paybill }, ask);
    // Funded — or, if the oracle died before Daraja ever saw the push, the customer asks again once it has expired.
    await until(async () => {
      if ((await h.getOrder(o.orderId)).status >= 2) return true;
      const r = await requestRow(o.orderId);
      const paidSomehow = (await h.control('GET', `/stk?phone=${o.phone}`)).some((t: any) => t.ResultCode === 0) || (await h.control('GET', `/c2b?phone=${o.phone}&status=completed`)).length > 0;
      if (r && (r.status === 'failed' || r.status === 'expired') && !paidSomehow) await ask();
      return false;
    }, (ok) => ok, `order ${o.i}: funded`);
    paidOrders++;
    if (o.dispute) {
      // The buyer disputes; the arbiter refunds a share of it, which goes to the phone the request prompted.
      count(`dispute:${o.dispute.buyerShareBps}`);
      await act('buyer', 'raiseDispute', [o.orderId, 'sim: not as described']);
      await act('arbiter', 'resolveDispute', [o.orderId, o.dispute.buyerShareBps]);
    } else {
      await act('seller', 'markShipped', [o.orderId, '']);
      await act('buyer', 'confirmDelivery', [o.orderId]);
    }
    count(o.people ? 'b2c:people' : `b2c:${o.b2c.mode}`);
    const payout = await until(
      async () => (await h.pool.query(`SELECT id, originator_conversation_id FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt LIMIT 1`, [o.orderId])).rows[0],
      (p) => !!p, `order ${o.i}: payout queued`,
    );
    const queuedAt = Date.now();
    for (const f of o.forge) {
      const forgedStatus = { Result: { ResultType: 0, ResultCode: 0, ResultDesc: 'ok', OriginatorConversationID: `AG_forged_${o.i}`, ConversationID: `AG_forged2_${o.i}`,
        ResultParameters: { ResultParameter: [{ Key: 'OriginatorConversationID', Value: payout.originator_conversation_id }, { Key: 'TransactionStatus', Value: 'Failed' }] } } };
      if (f === 'status_never_issued') await post(h.hook('status/result', payout.id), forgedStatus);
      if (f === 'b2c_wrong_conversation') {
        await post(h.hook('b2c/result', payout.id), { Result: { ResultType: 0, ResultCode: 17, ResultDesc: 'Rule limited.', OriginatorConversationID: payout.originator_conversation_id, ConversationID: `AG_guess_${o.i}`, TransactionID: 'TK0000000' } });
      }
    }
    if (o.people) {
      await drivePeoplePayout(env, { ...o, people: o.people }, queuedAt);
      return;
    }
    const done = (c: Awaited<ReturnType<typeof h.getOrder>>) => (c.status === 5 || c.status === 7) && !c.sellerPayoutDue && !c.buyerRefundDue;
    if (o.b2c.mode === 'queued') {
      // Queued at Safaricom for a while (Transaction Status says "no record"), then paid: each attempt that reaches it.
      await until(async () => {
        for (const tx of await h.control('GET', `/b2c?phone=${o.sellerPhone}&status=pending`)) {
          await sleep(o.b2c.delayMs * 2);
          await h.control('POST', `/b2c/${tx.OriginatorConversationID}/resolve`, { outcome: 'success' }).catch(() => undefined);
        }
        return done(await h.getOrder(o.orderId));
      }, (ok) => ok, `order ${o.i}: completed`);
    }
    await until(() => h.getOrder(o.orderId), done, `order ${o.i}: completed`);
  };

  const mining = setInterval(() => void h.mine(1).catch(() => undefined), 500); // blocks keep coming, so payouts reach their depth
  const finished: { i: number; s: number }[] = [];
  const results = await Promise.allSettled(plans.map((o) => runOrder(o).then(() => void finished.push({ i: o.i, s: Math.round((Date.now() - started) / 1000) }))));
  clearInterval(mining);
  stopping = true;
  await chaosDone;
  stopping = false;
  if (!oracle) await (starting ?? start());
  h.anvil.process.kill('SIGCONT');

  // ---- settle, then check what must hold -----------------------------------------------
  await until(async () => (await h.pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE status IN ('pending','sent')`)).rows[0].n, (n) => n === 0, 'outbox settled').catch((e) => violations.push((e as Error).message));
  await sleep(4_000); // one more pull and a few job passes
  const run = await (await fetch(`${h.internalUrl(await url())}/internal/reconciliation`, { method: 'POST', headers: AUTH })).json().catch(() => ({ discrepancies: [] }));
  // An order that did not finish must at least be in front of a person: a payout waiting
  // for one, a refund case or a reconciliation finding naming it.
  const waitingForPeople = new Set<string>();
  for (const [k, r] of results.entries()) {
    if (r.status !== 'rejected') continue;
    const id = plans[k]!.orderId.toLowerCase();
    const waiting = (await h.pool.query(`SELECT 1 FROM oracle.payouts WHERE lower(order_id)=$1 AND status IN ('needs_attention','overpaid') UNION ALL SELECT 1 FROM oracle.refund_cases WHERE lower(order_id)=$1 AND status='open'`, [id])).rowCount;
    const found = (run.discrepancies ?? []).some((d: { orderId?: string }) => String(d.orderId).toLowerCase() === id);
    if (waiting || found) {
      waitingForPeople.add(id);
      log(`order ${k} did not finish; it waits for a person: ${(r.reason as Error).message}`);
    } else violations.push(`order ${k} did not finish and nothing shows it to a person: ${(r.reason as Error).message}`);
  }
  const checked = await checkInvariants(h, plans, run, CONFIRM_SECONDS, waitingForPeople);
  if (process.env.SIM_DEBUG) {
    // Each "people" order's payout as the oracle and Safaricom saw it (to read a failing seed's replay).
    for (const o of plans.filter((x) => x.people)) {
      const attempts = (await h.pool.query(`SELECT attempt, status, conversation_id, b2c_calls, b2c_refusals, mpesa_receipt, settled_reference, reason, hint, created_at FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt`, [o.orderId])).rows;
      const sent = (await h.control('GET', `/b2c?phone=${o.sellerPhone}`)).map((t: Record<string, unknown>) => [t.OriginatorConversationID, t.createdAt, t.status, t.ResultCode, t.TransactionID]);
      log(`order ${o.i} people plan ${JSON.stringify(o.people)}\n  oracle: ${JSON.stringify(attempts)}\n  safaricom: ${JSON.stringify(sent)}`);
    }
  }
  violations.push(...checked.violations);

  stopping = true;
  await (oracle as OracleUnderTest | null)?.stop();
  await h.stop();
  const refundCases = Object.values(checked.refundCasesByKind).reduce((a, b) => a + b, 0);
  return {
    seed, orders, paidOrders, unpaidOrders, refundCases, refundCasesByKind: checked.refundCasesByKind, overpaidPayouts: checked.overpaidPayouts,
    settledPayouts: checked.settledPayouts, leftForPeople: waitingForPeople.size, faults, kills, seconds: Math.round((Date.now() - started) / 100) / 10,
    lastOrders: finished.slice(-5), collectedKes: checked.collectedKes, paidOutKes: checked.paidOutKes, settledKes: checked.settledKes, violations,
  };
}
