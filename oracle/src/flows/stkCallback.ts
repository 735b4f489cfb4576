/**
 * Turning a stored STK callback into a verified payment. Daraja callbacks are unsigned
 * (docs/daraja.md §6): the callback is a hint; we pay attention only if it names a request we
 * issued that is still open, with the same amount and phone, and STK Query agrees.
 */
import type { OracleContext } from '../context';
import { DarajaError } from '../daraja/errors';
import { stkCallback, stkPaidFields } from '../daraja/schemas';
import { markProcessed } from '../ledger/callbacks';
import { markFailed, markPaid, type PaymentRequestRow } from '../ledger/payments';

export type StkOutcome =
  | 'paid' | 'failed' | 'invalid_shape' | 'unknown_request' | 'already_final' | 'amount_mismatch' | 'phone_mismatch'
  | 'query_denied' | 'query_pending' | 'receipt_reused';

export async function processStkCallback(ctx: OracleContext, callbackId: string, raw: unknown): Promise<StkOutcome> {
  const outcome = await decide(ctx, raw);
  await markProcessed(ctx.pool, callbackId, outcome);
  const level = outcome === 'paid' || outcome === 'failed' || outcome === 'already_final' ? 'info' : 'warn';
  ctx.log[level]({ callbackId, outcome }, 'stk callback processed');
  return outcome;
}

async function decide(ctx: OracleContext, raw: unknown): Promise<StkOutcome | 'query_pending'> {
  const { pool } = ctx;
  const parsed = stkCallback.safeParse(raw);
  if (!parsed.success) return 'invalid_shape';
  const cb = parsed.data.Body.stkCallback;
  const paid = cb.ResultCode === '0' ? stkPaidFields(parsed.data) : null;
  if (cb.ResultCode === '0' && !paid) return 'invalid_shape';

  let req = (await pool.query<PaymentRequestRow>(`SELECT * FROM oracle.payment_requests WHERE checkout_request_id=$1`, [cb.CheckoutRequestID])).rows[0];
  const ref = (raw as { __ref?: unknown }).__ref;
  if (!req && typeof ref === 'string') {
    // We crashed (or timed out) before storing Daraja's answer; the callback URL names our
    // request. Adopt it only if it has no CheckoutRequestID yet; STK Query must still agree.
    req = (
      await pool.query<PaymentRequestRow>(`SELECT * FROM oracle.payment_requests WHERE id=$1 AND checkout_request_id IS NULL`, [ref])
    ).rows[0];
  }
  if (!req) return 'unknown_request';
  if (req.status === 'paid' || req.status === 'failed') return 'already_final';

  if (cb.ResultCode !== '0') {
    // A failure moves no money; still confirm with the query so a forged "cancelled" cannot kill a live payment.
    const verdict = await queryVerdict(ctx, cb.CheckoutRequestID);
    if (verdict === 'pending') return 'query_pending';
    if (verdict === 'paid') return 'query_denied';
    await markFailed(pool, req.id, 'failed', verdict.code, `${cb.ResultCode}: ${cb.ResultDesc}`);
    return 'failed';
  }
  if (Math.round(paid!.amount) !== req.amount_kes || paid!.amount !== Math.round(paid!.amount)) return 'amount_mismatch';
  if (paid!.phone !== req.phone) return 'phone_mismatch';
  // A copy of this very callback, handled concurrently, may have just stored the receipt on
  // this request: that is a duplicate, not a receipt reused for another payment.
  const holder = (await pool.query<{ id: string }>(`SELECT id FROM oracle.payment_requests WHERE mpesa_receipt=$1`, [paid!.receipt])).rows[0];
  if (holder) return String(holder.id) === String(req.id) ? 'already_final' : 'receipt_reused';

  const verdict = await queryVerdict(ctx, cb.CheckoutRequestID);
  if (verdict === 'pending') {
    // Remember the checkout id (we may have adopted the row) and let the poller re-ask.
    await pool.query(`UPDATE oracle.payment_requests SET checkout_request_id=COALESCE(checkout_request_id,$2), status='pending', next_query_at=now() WHERE id=$1 AND status IN ('creating','pending')`, [req.id, cb.CheckoutRequestID]);
    return 'query_pending';
  }
  if (verdict !== 'paid') {
    // The sandbox sometimes denies real successes (docs/daraja.md §3): never record, surface it.
    await pool.query(`UPDATE oracle.payment_requests SET failure_reason=$2, updated_at=now() WHERE id=$1`, [req.id, `callback said paid (${paid!.receipt}) but STK Query says ${verdict.code}`]);
    return 'query_denied';
  }
  const ok = await markPaid(pool, req, { receipt: paid!.receipt, amount: paid!.amount, phone: paid!.phone, checkoutRequestId: cb.CheckoutRequestID });
  if (ok) {
    ctx.log.info({ orderId: req.order_id, receipt: paid!.receipt, amountKes: req.amount_kes }, 'm-pesa payment verified; recording on chain');
    ctx.wake?.();
  }
  return ok ? 'paid' : 'already_final';
}

/** STK Query as the source of truth: paid, a definite failure code, or still pending. */
export async function queryVerdict(ctx: OracleContext, checkoutRequestId: string): Promise<'paid' | 'pending' | { code: string; desc: string }> {
  try {
    const r = await ctx.daraja.stkQuery(checkoutRequestId);
    if (r.ResultCode === '0') return 'paid';
    if (r.ResultCode === '4999') return 'pending'; // "still under processing", seen in the wild
    return { code: r.ResultCode, desc: r.ResultDesc };
  } catch (err) {
    if (err instanceof DarajaError) return 'pending'; // indeterminate, rate limits, 5xx: ask again later
    throw err;
  }
}
