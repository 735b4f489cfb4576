/**
 * Callbacks may never come (docs/daraja.md §7). Every open request is queried with backoff until STK Query
 * gives a final answer, and expired when its time is up — except a request whose stored
 * callback said "paid": that one is re-verified with backoff for hours
 * (ORACLE_STK_VERIFY_SECONDS, 48 h) and, if STK Query never answers, becomes a refund-needed case
 * instead of vanishing.
 */
import type { OracleContext } from '../context';
import { forEachItem, IN_BACKOFF_SQL } from '../jobs/isolation';
import { chainReceiptKey, markFailed, markPaid, type PaymentRequestRow } from '../ledger/payments';
import { openRefundCase } from '../ledger/refunds';
import { queryVerdict, verifyPaidCallback } from './stkCallback';
import { receiptHash } from '@descrow/contracts';

export async function pollPendingRequests(ctx: OracleContext, limit = 50): Promise<number> {
  const { pool, config, log } = ctx;
  const { rows } = await pool.query<PaymentRequestRow>(
    `SELECT * FROM oracle.payment_requests
      WHERE ((status IN ('creating','pending') AND (next_query_at IS NULL OR next_query_at <= now() OR (expires_at <= now() AND callback_receipt IS NULL)))
         OR (status IN ('expired','failed') AND callback_receipt IS NOT NULL AND next_query_at <= now()))
        AND NOT ${IN_BACKOFF_SQL('stk_poll', 'id::text')}
      ORDER BY next_query_at NULLS FIRST LIMIT $1`,
    [limit],
  );
  let settled = 0;
  // Each request on its own: one that throws is retried later, the others are polled (jobs/isolation.ts).
  await forEachItem(ctx, 'stk_poll', rows, (r) => r.id, async (req) => {
    const expired = req.expires_at.getTime() <= Date.now();
    if (req.callback_receipt && req.checkout_request_id) {
      const giveUpAt = req.created_at.getTime() + config.ORACLE_STK_VERIFY_SECONDS * 1000;
      if (Date.now() >= giveUpAt) {
        // Hours of no answer: stop asking, hand it to a person with everything we know.
        const reason = `callback said paid (${req.callback_receipt}) but STK Query gave no answer for ${Math.round(config.ORACLE_STK_VERIFY_SECONDS / 60)} min`;
        await pool.query(`UPDATE oracle.payment_requests SET next_query_at=NULL, updated_at=now() WHERE id=$1`, [req.id]);
        await markFailed(pool, req.id, 'expired', null, reason);
        await openRefundCase(pool, {
          kind: 'unverified', dedupeKey: req.callback_receipt, requestId: req.id, orderId: req.order_id, receipt: req.callback_receipt,
          phone: req.callback_phone ?? req.phone, amountKes: req.callback_amount ?? req.amount_kes, reason: `${reason}; check the receipt on the M-Pesa portal`,
        });
        log.error({ orderId: req.order_id, receipt: req.callback_receipt }, 'paid callback never verified; refund case opened');
        settled++;
        return;
      }
      const outcome = await verifyPaidCallback(ctx, req);
      if (outcome !== 'query_pending') settled++;
      return;
    }
    if (!req.checkout_request_id) {
      // Daraja never acknowledged it and no callback adopted it. The paybill's transaction
      // pull still finds a payment that names this request (flows/transactionPull.ts).
      if (expired) {
        await markFailed(pool, req.id, 'expired', null, 'no acknowledgement or callback from Daraja before expiry');
        settled++;
      }
      return;
    }
    const verdict = await queryVerdict(ctx, req.checkout_request_id);
    if (verdict === 'paid') {
      if (await fundedUnderAnotherKey(ctx, req)) {
        // The chain already holds this order's payment under its M-Pesa receipt: the ledger
        // was restored from a backup taken before the callback came. Keying it by
        // CheckoutRequestID would make the record fail; the transaction pull brings the
        // receipt (flows/transactionPull.ts) and marks it paid under the chain's key.
        await pool.query(
          `UPDATE oracle.payment_requests SET query_attempts=query_attempts+1, next_query_at=now() + ($2 || ' seconds')::interval WHERE id=$1`,
          [req.id, String(config.ORACLE_STK_QUERY_MAX_BACKOFF_SECONDS)],
        );
        log.warn({ orderId: req.order_id, checkoutRequestId: req.checkout_request_id }, 'paid, and already recorded on chain under a receipt the ledger lacks; waiting for the transaction pull');
        return;
      }
      // The basic query carries no receipt: key the on-chain record by CheckoutRequestID.
      if (await markPaid(pool, req, { receipt: null, amount: req.amount_kes, phone: null, checkoutRequestId: req.checkout_request_id }, 'confirmed by STK Query without a callback')) {
        log.info({ orderId: req.order_id, checkoutRequestId: req.checkout_request_id }, 'payment confirmed by STK Query without a callback');
        ctx.wake?.();
        settled++;
      }
    } else if (verdict === 'pending') {
      if (expired) {
        await markFailed(pool, req.id, 'expired', null, 'still unanswered at expiry');
        log.warn({ orderId: req.order_id, checkoutRequestId: req.checkout_request_id }, 'stk request expired');
        settled++;
      } else {
        const backoff = Math.min(config.ORACLE_STK_QUERY_MAX_BACKOFF_SECONDS, Math.max(1, config.ORACLE_STK_FIRST_QUERY_SECONDS) * 2 ** Math.min(req.query_attempts, 20));
        await pool.query(
          `UPDATE oracle.payment_requests SET query_attempts=query_attempts+1, next_query_at=now() + ($2 || ' seconds')::interval WHERE id=$1`,
          [req.id, String(backoff)],
        );
      }
    } else {
      await markFailed(pool, req.id, 'failed', verdict.code, `${verdict.code}: ${verdict.desc}`);
      settled++;
    }
  });
  return settled;
}

/** The order is funded on chain under a receipt other than this request's CheckoutRequestID key. */
async function fundedUnderAnotherKey(ctx: OracleContext, req: PaymentRequestRow): Promise<boolean> {
  const o = await ctx.chain.getOrder(req.order_id);
  if (o.status === 0 || /^0x0*$/.test(o.paymentReceipt)) return false;
  return o.paymentReceipt.toLowerCase() !== receiptHash(chainReceiptKey(null, req.checkout_request_id!)).toLowerCase();
}
