/**
 * Turning a stored STK callback into a verified payment. Daraja callbacks are unsigned
 * (docs/daraja.md §6): the callback is a hint; we pay attention only if it names a request we
 * issued that is still open, with the same amount and phone, and STK Query agrees.
 */
import { contextFrom, inSpan, REQUEST_ID_ATTRIBUTE, SpanKind, trace } from '@descrow/common';
import type { TraceOrigin } from '../chain/outboxWorker';
import type { OracleContext } from '../context';
import { DarajaError } from '../daraja/errors';
import { stkCallback, stkPaidFields, type StkCallback } from '../daraja/schemas';
import { markProcessed } from '../ledger/callbacks';
import { markFailed, markPaid, type PaymentRequestRow } from '../ledger/payments';
import { openRefundCase, recordEvent } from '../ledger/refunds';

const tracer = trace.getTracer('descrow-oracle');

export type StkOutcome =
  | 'paid' | 'failed' | 'invalid_shape' | 'unknown_request' | 'already_final' | 'amount_mismatch' | 'phone_mismatch'
  | 'query_denied' | 'query_pending' | 'receipt_reused' | 'ref_mismatch';

export async function processStkCallback(ctx: OracleContext, callbackId: string, raw: unknown): Promise<StkOutcome> {
  const outcome = await decide(ctx, raw);
  await markProcessed(ctx.pool, callbackId, outcome);
  ctx.metrics?.callbacks.inc({ kind: 'stk', outcome });
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

  // The callback URL names our request (its secret was checked against that name).
  const ref = (raw as { __ref?: unknown }).__ref;
  let req = (await pool.query<PaymentRequestRow>(`SELECT * FROM oracle.payment_requests WHERE checkout_request_id=$1`, [cb.CheckoutRequestID])).rows[0];
  if (req && typeof ref === 'string' && req.id !== ref) return 'ref_mismatch'; // one request's URL cannot speak for another
  if (!req && typeof ref === 'string') {
    // We crashed (or timed out) before storing Daraja's answer. Adopt it only if it has no
    // CheckoutRequestID yet; STK Query must still agree.
    req = (
      await pool.query<PaymentRequestRow>(`SELECT * FROM oracle.payment_requests WHERE id=$1 AND checkout_request_id IS NULL`, [ref])
    ).rows[0];
  }
  if (!req) return 'unknown_request';
  // The callback carries no trace; once it names our request it is decided in that payment's
  // trace (begun by the API's request, kept in trace_context), with the STK Query it asks.
  const origin = (req as PaymentRequestRow & { trace_context?: TraceOrigin | null }).trace_context;
  const parent = origin?.traceparent ? contextFrom({ traceparent: origin.traceparent, tracestate: origin.tracestate }) : undefined;
  const matched = req;
  return inSpan(tracer, 'stk callback', { 'descrow.order_id': matched.order_id, 'descrow.payment_request_id': matched.id, [REQUEST_ID_ATTRIBUTE]: origin?.requestId },
    (span) => decideFor(ctx, matched, cb, paid).then((outcome) => (span.setAttribute('descrow.outcome', outcome), outcome)), SpanKind.INTERNAL, parent);
}

/** A callback that names one of our requests: believed only as far as STK Query agrees. */
async function decideFor(ctx: OracleContext, req: PaymentRequestRow, cb: StkCallback['Body']['stkCallback'], paid: ReturnType<typeof stkPaidFields>): Promise<StkOutcome | 'query_pending'> {
  const { pool } = ctx;
  if (req.status === 'paid') return 'already_final';

  if (cb.ResultCode !== '0') {
    if (req.status !== 'creating' && req.status !== 'pending') return 'already_final';
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
  const holder = (await pool.query<{ id: string }>(`SELECT id FROM oracle.payment_requests WHERE mpesa_receipt=$1 OR pulled_receipt=$1`, [paid!.receipt])).rows[0];
  if (holder) return String(holder.id) === String(req.id) ? 'already_final' : 'receipt_reused';

  // Keep what the callback said before asking anything: from now on this request cannot
  // expire silently — it is re-verified with backoff until STK Query answers definitely.
  const noted = await pool.query(
    `UPDATE oracle.payment_requests
        SET callback_receipt=COALESCE(callback_receipt,$2), callback_amount=COALESCE(callback_amount,$3), callback_phone=COALESCE(callback_phone,$4),
            callback_at=COALESCE(callback_at, now()), checkout_request_id=COALESCE(checkout_request_id,$5), updated_at=now()
      WHERE id=$1 AND status <> 'paid' AND (callback_receipt IS NULL OR callback_receipt=$2)`,
    [req.id, paid!.receipt, paid!.amount, paid!.phone, cb.CheckoutRequestID],
  );
  if (!noted.rowCount) {
    // A copy of this callback won the race (already paid), or a different "paid" receipt for one request.
    const now = (await pool.query<{ status: string; callback_receipt: string | null }>(`SELECT status, callback_receipt FROM oracle.payment_requests WHERE id=$1`, [req.id])).rows[0];
    if (now?.status === 'paid') return 'already_final';
    // Two different "paid" receipts for one request: believe neither (the payment itself is
    // still verified by STK Query; its real receipt comes from the transaction pull).
    await pool.query(`UPDATE oracle.payment_requests SET callback_receipt_conflict=true, updated_at=now() WHERE id=$1`, [req.id]);
    await recordEvent(pool, req.id, 'receipt_conflict', `a second paid callback with receipt ${paid!.receipt} (first: ${now?.callback_receipt})`);
    return 'receipt_reused';
  }
  await recordEvent(pool, req.id, 'callback_paid', `callback said paid (${paid!.receipt})`);
  req = { ...req, callback_receipt: paid!.receipt, callback_amount: paid!.amount, callback_phone: paid!.phone, checkout_request_id: req.checkout_request_id ?? cb.CheckoutRequestID };
  return verifyPaidCallback(ctx, req);
}

/**
 * A request with a stored "paid" callback: ask STK Query. Paid → record it; a definite
 * "no" → a refund-needed case (the callback may have been real: the sandbox denies real
 * successes); no answer → ask again with backoff (the poller), for hours.
 */
export async function verifyPaidCallback(ctx: OracleContext, req: PaymentRequestRow): Promise<StkOutcome> {
  const { pool, config } = ctx;
  const receipt = req.callback_receipt!;
  const verdict = await queryVerdict(ctx, req.checkout_request_id!);
  if (verdict === 'pending') {
    const attempts = req.query_attempts;
    const backoff = Math.min(config.ORACLE_STK_VERIFY_MAX_BACKOFF_SECONDS, Math.max(1, config.ORACLE_STK_FIRST_QUERY_SECONDS) * 2 ** Math.min(attempts, 20));
    await pool.query(
      `UPDATE oracle.payment_requests SET status=CASE WHEN status='creating' THEN 'pending' ELSE status END, query_attempts=query_attempts+1,
              next_query_at=now() + ($2 || ' seconds')::interval, updated_at=now() WHERE id=$1 AND status IN ('creating','pending','expired','failed')`,
      [req.id, String(backoff)],
    );
    await recordEvent(pool, req.id, 'query_pending', `STK Query gave no answer for callback receipt ${receipt}; asking again in ${backoff}s`);
    return 'query_pending';
  }
  if (verdict !== 'paid') {
    // The sandbox sometimes denies real successes (docs/daraja.md §3): never record it, never forget it.
    const reason = `callback said paid (${receipt}) but STK Query says ${verdict.code}: ${verdict.desc}`;
    // Paid meanwhile (e.g. the transaction pull found it): the money funds its order; no case.
    const open = await pool.query(`UPDATE oracle.payment_requests SET failure_reason=$2, next_query_at=NULL, updated_at=now() WHERE id=$1 AND status <> 'paid'`, [req.id, reason]);
    if (!open.rowCount) return 'already_final';
    await markFailed(pool, req.id, 'failed', verdict.code, reason);
    await recordEvent(pool, req.id, 'query_denied', reason);
    await openRefundCase(pool, {
      kind: 'query_denied', dedupeKey: receipt, requestId: req.id, orderId: req.order_id, receipt, phone: req.callback_phone ?? req.phone,
      amountKes: req.callback_amount ?? req.amount_kes, reason: `${reason}; check the receipt on the M-Pesa portal, refund if it is real`,
    });
    return 'query_denied';
  }
  const conflict = (await pool.query<{ c: boolean }>(`SELECT callback_receipt_conflict AS c FROM oracle.payment_requests WHERE id=$1`, [req.id])).rows[0]?.c === true;
  const ok = await markPaid(
    pool, req, { receipt: conflict ? null : receipt, amount: req.callback_amount ?? req.amount_kes, phone: conflict ? null : req.callback_phone, checkoutRequestId: req.checkout_request_id },
    conflict ? 'verified by STK Query (conflicting callback receipts: keyed by CheckoutRequestID)' : 'callback verified by STK Query',
  );
  if (ok) {
    ctx.log.info({ orderId: req.order_id, receipt, amountKes: req.amount_kes }, 'm-pesa payment verified; recording on chain');
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
