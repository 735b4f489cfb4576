/**
 * Callbacks may never come (docs/daraja.md §7). Every open request is queried with backoff
 * until STK Query gives a final answer, and expired when its time is up.
 */
import type { OracleContext } from '../context';
import { markFailed, markPaid, type PaymentRequestRow } from '../ledger/payments';
import { queryVerdict } from './stkCallback';

export async function pollPendingRequests(ctx: OracleContext, limit = 50): Promise<number> {
  const { pool, config, log } = ctx;
  const { rows } = await pool.query<PaymentRequestRow>(
    `SELECT * FROM oracle.payment_requests
      WHERE status IN ('creating','pending') AND (next_query_at IS NULL OR next_query_at <= now() OR expires_at <= now())
      ORDER BY next_query_at NULLS FIRST LIMIT $1`,
    [limit],
  );
  let settled = 0;
  for (const req of rows) {
    const expired = req.expires_at.getTime() <= Date.now();
    if (!req.checkout_request_id) {
      // Daraja never acknowledged it and no callback adopted it.
      if (expired) {
        await markFailed(pool, req.id, 'expired', null, 'no acknowledgement or callback from Daraja before expiry');
        settled++;
      }
      continue;
    }
    const verdict = await queryVerdict(ctx, req.checkout_request_id);
    if (verdict === 'paid') {
      // The basic query carries no receipt: key the on-chain record by CheckoutRequestID.
      if (await markPaid(pool, req, { receipt: null, amount: req.amount_kes, phone: null, checkoutRequestId: req.checkout_request_id })) {
        log.info({ orderId: req.order_id, checkoutRequestId: req.checkout_request_id }, 'payment confirmed by STK Query without a callback');
        settled++;
      }
    } else if (verdict === 'pending') {
      if (expired) {
        await markFailed(pool, req.id, 'expired', null, 'still unanswered at expiry');
        log.warn({ orderId: req.order_id, checkoutRequestId: req.checkout_request_id }, 'stk request expired');
        settled++;
      } else {
        const backoff = Math.min(config.ORACLE_STK_QUERY_MAX_BACKOFF_SECONDS, Math.max(1, config.ORACLE_STK_FIRST_QUERY_SECONDS) * 2 ** req.query_attempts);
        await pool.query(
          `UPDATE oracle.payment_requests SET query_attempts=query_attempts+1, next_query_at=now() + ($2 || ' seconds')::interval WHERE id=$1`,
          [req.id, String(backoff)],
        );
      }
    } else {
      await markFailed(pool, req.id, 'failed', verdict.code, `${verdict.code}: ${verdict.desc}`);
      settled++;
    }
  }
  return settled;
}
