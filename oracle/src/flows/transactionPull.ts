/**
 * The paybill's own record of what it received (Daraja's transaction pull), read every
 * ORACLE_PULL_INTERVAL_SECONDS over the last ORACLE_PULL_LOOKBACK_HOURS: STK payments and
 * Pay Bill (C2B) payments made from the M-Pesa menu alike. Any payment whose receipt the
 * ledger does not hold is matched to our request by its bill reference (which names the
 * request: stkInitiate.ts, accountReferenceFor), its amount AND the payer's phone — the
 * phone the request prompted. A reference is typed by whoever pays; a phone is not.
 * - another phone → a refund-needed case for that payer (`unmatched_payment`); the request
 *   stays open for its own customer;
 * - the request is open, expired or failed → it is paid (this is the crash window between
 *   Daraja's acknowledgement and our write, plus a lost callback), for the prompted phone;
 * - the request was confirmed by STK Query without a receipt → the receipt is attached;
 * - another request already holds the order → a refund-needed case (paid twice);
 * - the request was paid under another receipt that the paybill also shows (the customer
 *   paid by Pay Bill while the prompt hung, then entered the PIN) → a `paid_twice` case;
 * - the request was paid under another receipt the paybill does not show (from a
 *   callback) → the paybill's receipt is kept beside it and reconciliation reports the
 *   dispute; if the paybill shows the recorded receipt later after all, the dispute
 *   becomes a `paid_twice` case;
 * - no request of ours holds the reference, but the chain holds the receipt for an order →
 *   the request is rebuilt from the chain (the ledger was restored from a backup older
 *   than the request; docs/operations.md, Backups);
 * - nothing of ours matches → an `unmatched_payment` case for a person.
 * The pull is the paybill's ledger, not an unsigned callback: it needs no further query.
 */
import { randomUUID } from 'node:crypto';
import { inTransaction } from '@descrow/common';
import { receiptHash } from '@descrow/contracts';
import type { OracleContext } from '../context';
import { DarajaError } from '../daraja/errors';
import { normalisePhone, payerIs } from '../daraja/phone';
import { forEachItem } from '../jobs/isolation';
import type { PulledTransaction } from '../daraja/schemas';
import { markPaid, type PaymentRequestRow } from '../ledger/payments';
import { queuePaymentRecord } from '../ledger/outbox';
import { openRefundCase, recordEvent } from '../ledger/refunds';

export async function pullTransactions(ctx: OracleContext, now = new Date()): Promise<{ seen: number; recovered: number; cases: number }> {
  const { daraja, config, log } = ctx;
  const from = new Date(now.getTime() - config.ORACLE_PULL_LOOKBACK_HOURS * 3_600_000);
  const result = { seen: 0, recovered: 0, cases: 0 };
  // Every page first: whether a payment is a second one depends on the others in the window.
  const all: PulledTransaction[] = [];
  for (let offset = 0; offset < 100_000; ) {
    let page: PulledTransaction[];
    try {
      page = (await daraja.pullTransactions(from, now, offset)).transactions;
    } catch (err) {
      if (!(err instanceof DarajaError)) throw err;
      log.warn({ err: err.message }, 'transaction pull failed; will try again next interval');
      return result;
    }
    all.push(...page);
    if (page.length < 1_000) break;
    offset += page.length;
  }
  const inPull = new Set(all.map((t) => t.transactionId.toUpperCase()));
  // Each payment on its own: one that throws is retried on a later pull, the others are matched.
  await forEachItem(ctx, 'transaction_pull', all, (t) => t.transactionId.toUpperCase(), async (t) => {
    result.seen++;
    const outcome = await matchPulled(ctx, t, inPull);
    if (outcome === 'recovered') result.recovered++;
    if (outcome.startsWith('case')) result.cases++;
  });
  if (result.recovered || result.cases) log.warn(result, 'transaction pull found payments missing from the ledger');
  return result;
}

async function matchPulled(ctx: OracleContext, t: PulledTransaction, inPull: Set<string>): Promise<string> {
  const { pool, log } = ctx;
  const receipt = t.transactionId.toUpperCase();
  const seen = await pool.query(`SELECT outcome FROM oracle.pulled_transactions WHERE receipt=$1`, [receipt]);
  if (seen.rowCount) return 'seen';
  const amount = Math.round(t.amount);
  const known = (await pool.query<PaymentRequestRow>(`SELECT * FROM oracle.payment_requests WHERE mpesa_receipt=$1 OR pulled_receipt=$1`, [receipt])).rows[0];
  const payer = t.msisdn && normalisePhone(t.msisdn) ? normalisePhone(t.msisdn) : t.msisdn ?? null;
  let outcome: string;
  let matched: string | null = known?.id ?? null;
  if (known) {
    outcome = 'in_ledger';
    if (known.mpesa_receipt === receipt && known.pulled_receipt && known.pulled_receipt !== receipt) {
      // The recorded receipt, disputed because the paybill did not show it, is the paybill's
      // after all: the other receipt kept beside it was a second payment for this request.
      await secondPayment(ctx, known, known.pulled_receipt, known.phone, `the paybill shows both ${receipt} (recorded) and ${known.pulled_receipt} for this request: paid twice`);
      await pool.query(`UPDATE oracle.payment_requests SET pulled_receipt=$2, updated_at=now() WHERE id=$1`, [known.id, receipt]);
      outcome = 'case_paid_twice';
    }
  } else {
    const candidates = (
      await pool.query<PaymentRequestRow>(`SELECT * FROM oracle.payment_requests WHERE account_reference=$1 AND amount_kes=$2 ORDER BY created_at`, [t.billreference, amount])
    ).rows;
    const req = candidates.length === 1 ? candidates[0]! : undefined;
    matched = req?.id ?? null;
    const rebuilt = !req && !candidates.length ? await rebuildFromChain(ctx, t, receipt, amount) : null;
    if (rebuilt) {
      matched = rebuilt;
      outcome = 'rebuilt_from_chain';
    } else if (req && !payerIs(t.msisdn, req.phone ?? '')) {
      // Someone else typed this request's reference: their money pays nothing of ours, and
      // the request stays open for the phone it prompted (which the order's refund goes to).
      outcome = 'case_other_phone';
      matched = null;
      await openRefundCase(pool, {
        kind: 'unmatched_payment', dedupeKey: receipt, receipt, phone: payer, amountKes: amount,
        reason: `paid from ${payer ?? 'an unreported phone'} with bill reference ${t.billreference}, which names a request for another phone`,
      });
      await recordEvent(pool, req.id, 'paid_from_other_phone', `the paybill shows ${receipt} (${amount} KES) from ${payer ?? 'an unreported phone'} naming this request; not this request's payment: a refund case`);
      log.warn({ requestId: req.id, receipt }, 'a paybill payment names one of our requests from another phone; refund case opened');
    } else if (!req) {
      outcome = 'case_unmatched';
      await openRefundCase(pool, {
        kind: 'unmatched_payment', dedupeKey: receipt, receipt, phone: payer, amountKes: amount,
        reason: candidates.length ? `bill reference ${t.billreference} matches ${candidates.length} requests` : `bill reference ${t.billreference} names no request of ours for ${amount} KES`,
      });
    } else if (req.status === 'paid' && !req.mpesa_receipt && !req.pulled_receipt) {
      // Confirmed by STK Query (no receipt then): the same payment, now with its receipt.
      await pool.query(`UPDATE oracle.payment_requests SET pulled_receipt=$2, updated_at=now() WHERE id=$1`, [req.id, receipt]);
      await recordEvent(pool, req.id, 'receipt_pulled', `receipt ${receipt} from the paybill's transaction pull`);
      outcome = 'receipt_attached';
    } else if (req.status === 'paid' && req.mpesa_receipt && (inPull.has(req.mpesa_receipt.toUpperCase()) || (await pulledBefore(ctx, req.mpesa_receipt)))) {
      // The paybill holds the recorded receipt too: two payments for one request (a Pay Bill
      // payment while the prompt hung, then the PIN). The second is a refund case.
      await secondPayment(ctx, req, receipt, req.phone, `a second payment (${receipt}) for request ${req.id}, already paid with ${req.mpesa_receipt}`);
      outcome = 'case_paid_twice';
    } else if (req.status === 'paid' && !req.pulled_receipt) {
      // One prompt is paid once: a different receipt for the same request means the receipt
      // we recorded came from a callback that was not the paybill's (forged through a leaked
      // URL — STK Query confirms a payment, never its receipt). The money funds its order;
      // the paybill's receipt is kept beside it and reconciliation shows the dispute.
      await pool.query(`UPDATE oracle.payment_requests SET pulled_receipt=$2, updated_at=now() WHERE id=$1`, [req.id, receipt]);
      await recordEvent(pool, req.id, 'receipt_disputed', `the paybill shows ${receipt} for this request; the recorded ${req.mpesa_receipt} came from a callback`);
      log.error({ orderId: req.order_id, recorded: req.mpesa_receipt, paybill: receipt }, 'recorded receipt differs from the paybill\'s; needs a person');
      outcome = 'receipt_disputed';
    } else if (req.status === 'paid') {
      await secondPayment(ctx, req, receipt, req.phone, `another receipt (${receipt}) names request ${req.id}, already paid with ${req.mpesa_receipt ?? '(no receipt)'} / ${req.pulled_receipt}`);
      outcome = 'case_paid_twice';
    } else {
      await recordEvent(pool, req.id, 'pulled', `the paybill's transaction pull shows ${receipt} for this request (status was ${req.status})`);
      // The payer is the prompted phone (checked above): the order's refund, if any, goes there.
      const ok = await markPaid(pool, req, { receipt, amount, phone: req.phone, checkoutRequestId: req.checkout_request_id }, 'recovered from the transaction pull');
      outcome = ok ? 'recovered' : 'case_paid_twice'; // markPaid opens the case when another request holds the order
      if (ok) {
        // Cases opened while the payment looked unconfirmed are settled by the paybill's word.
        await pool.query(
          `UPDATE oracle.refund_cases SET status='dismissed', resolved_at=now(), note='the transaction pull shows the payment; recorded for the order' WHERE request_id=$1 AND kind IN ('query_denied','unverified') AND status='open'`,
          [req.id],
        );
        log.warn({ orderId: req.order_id, receipt, requestId: req.id }, 'payment missing from the ledger recovered from the transaction pull');
        ctx.wake?.();
      }
    }
  }
  await pool.query(
    `INSERT INTO oracle.pulled_transactions (receipt, bill_reference, amount_kes, msisdn, trx_date, matched_request_id, outcome) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING`,
    [receipt, t.billreference, amount, t.msisdn ?? null, Number.isNaN(Date.parse(t.trxDate)) ? null : new Date(t.trxDate), matched, outcome],
  );
  return outcome;
}

/** Whether an earlier pull saw this receipt in the paybill's record. */
async function pulledBefore(ctx: OracleContext, receipt: string): Promise<boolean> {
  return ((await ctx.pool.query(`SELECT 1 FROM oracle.pulled_transactions WHERE receipt=$1`, [receipt.toUpperCase()])).rowCount ?? 0) > 0;
}

/** Money paid a second time for one request: a refund case to the phone the request prompted. */
async function secondPayment(ctx: OracleContext, req: PaymentRequestRow, receipt: string, phone: string | null, reason: string): Promise<void> {
  const amount = req.amount_kes;
  await openRefundCase(ctx.pool, { kind: 'paid_twice', dedupeKey: receipt, requestId: req.id, orderId: req.order_id, receipt, phone, amountKes: amount, reason });
  await recordEvent(ctx.pool, req.id, 'paid_twice', reason);
  ctx.log.warn({ orderId: req.order_id, requestId: req.id, receipt }, 'a request was paid twice; refund case opened');
}

/**
 * A paybill payment naming no request of ours whose receipt the chain has recorded for an
 * order: the request was made after the backup this ledger was restored from. The chain's
 * order gives buyer, seller and amount; the pull (or the buyer's last request) the payer's
 * phone; the seller's last request the seller's phone. A phone not known stays NULL and a
 * payout to that party waits for a person. The record is queued like any other so the outbox confirms it against the chain
 * (it finds it done and sends nothing). Returns the new request id, or null.
 */
async function rebuildFromChain(ctx: OracleContext, t: PulledTransaction, receipt: string, amount: number): Promise<string | null> {
  const { pool, chain, log } = ctx;
  const orderId = (await chain.receiptOrder(receiptHash(receipt))).toLowerCase() as `0x${string}`;
  if (/^0x0*$/.test(orderId)) return null;
  const order = await chain.getOrder(orderId);
  if (order.paymentReceipt.toLowerCase() !== receiptHash(receipt).toLowerCase() || order.amount !== BigInt(amount)) return null;
  const held = await pool.query(`SELECT 1 FROM oracle.payment_requests WHERE order_id=$1 AND status IN ('creating','pending','paid')`, [orderId]);
  if (held.rowCount) return null; // a request of ours holds the order: not a lost one
  const lastKnown = async (sql: string, party: string) => (await pool.query<{ p: string }>(sql, [party])).rows[0]?.p ?? null;
  const sellerPhone = await lastKnown(`SELECT seller_phone AS p FROM oracle.payment_requests WHERE lower(seller)=lower($1) AND seller_phone IS NOT NULL ORDER BY created_at DESC LIMIT 1`, order.seller);
  const phone = t.msisdn && /^254(7|1)[0-9]{8}$/.test(t.msisdn) ? t.msisdn
    : await lastKnown(`SELECT COALESCE(paid_phone, phone) AS p FROM oracle.payment_requests WHERE lower(buyer)=lower($1) AND COALESCE(paid_phone, phone) IS NOT NULL ORDER BY created_at DESC LIMIT 1`, order.buyer);
  const paidAt = Number.isNaN(Date.parse(t.trxDate)) ? new Date() : new Date(t.trxDate);
  const id = randomUUID();
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO oracle.payment_requests (id, order_id, buyer, seller, amount_kes, phone, seller_phone, account_reference, status, mpesa_receipt, paid_amount, paid_phone,
                                            result_code, expires_at, created_at, paid_at, chain_receipt_key)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'paid',$9,$5,$6,'0',$10,$10,$10,$9)`,
      [id, orderId, order.buyer, order.seller, amount, phone, sellerPhone, t.billreference, receipt, paidAt],
    );
    await queuePaymentRecord(client, receipt, orderId, { salt: null, buyer: order.buyer, seller: order.seller, amountKes: amount, metadataCid: '' });
    await recordEvent(client, id, 'rebuilt_from_chain',
      `the paybill's ${receipt} (reference ${t.billreference}) names no request in this ledger; the chain records it for this order, so the request was rebuilt from the chain${sellerPhone ? '' : "; the seller's phone is unknown"}${phone ? '' : "; the payer's phone is unknown"}`);
  });
  log.warn({ orderId, receipt, requestId: id, sellerPhoneKnown: sellerPhone !== null, payerPhoneKnown: phone !== null }, 'payment request missing from the ledger rebuilt from the chain');
  ctx.wake?.();
  return id;
}
