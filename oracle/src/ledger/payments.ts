import type { Hex } from 'viem';
import type { Pool, PoolClient } from 'pg';
import { receiptHash } from '@descrow/contracts';
import { openRefundCase, recordEvent } from './refunds';

export interface PaymentRequestRow {
  id: string; order_id: Hex; order_salt: Hex; buyer: Hex; seller: Hex; amount_kes: number; phone: string | null; seller_phone: string | null; metadata_cid: string;
  status: 'creating' | 'pending' | 'paid' | 'failed' | 'expired'; checkout_request_id: string | null; mpesa_receipt: string | null;
  paid_phone: string | null; query_attempts: number; expires_at: Date; created_at: Date; account_reference: string;
  callback_receipt: string | null; callback_receipt_conflict?: boolean; callback_amount: number | null; callback_phone: string | null; callback_at: Date | null;
  chain_receipt_key: string | null; pulled_receipt: string | null;
}

/**
 * The on-chain receipt key: the M-Pesa receipt, or the CheckoutRequestID when only STK
 * Query confirmed it. Stored on the request (`chain_receipt_key`) when it is marked paid;
 * everything else (reconciliation, the API through the oracle) reads the stored key.
 */
export function chainReceiptKey(mpesaReceipt: string | null, checkoutRequestId: string): string {
  return mpesaReceipt ?? `CHECKOUT:${checkoutRequestId}`;
}

/**
 * Mark a request paid and enqueue its on-chain record in one transaction: either both
 * happen or neither. Returns false if it was not open any more (someone else won), or if
 * another request already holds the order (the customer paid twice: a refund case).
 */
export async function markPaid(
  pool: Pool,
  req: PaymentRequestRow,
  paid: { receipt: string | null; amount: number; phone: string | null; checkoutRequestId: string | null },
  how = 'verified by STK Query',
): Promise<boolean> {
  const client: PoolClient = await pool.connect();
  const key = paid.receipt ?? chainReceiptKey(null, paid.checkoutRequestId ?? req.checkout_request_id!);
  try {
    await client.query('BEGIN');
    const upd = await client.query(
      `UPDATE oracle.payment_requests
          SET status='paid', mpesa_receipt=$2, paid_amount=$3, paid_phone=$4, checkout_request_id=COALESCE(checkout_request_id, $5),
              result_code='0', paid_at=now(), updated_at=now(), next_query_at=NULL, chain_receipt_key=$6
        WHERE id=$1 AND status IN ('creating','pending','expired','failed')`,
      [req.id, paid.receipt, paid.amount, paid.phone ?? req.phone, paid.checkoutRequestId, key],
    );
    if (upd.rowCount !== 1) {
      await client.query('ROLLBACK');
      return false;
    }
    // The request's trace (since the API asked for the push) travels with the record, so the chain transaction joins it.
    await client.query(
      `INSERT INTO oracle.outbox (idempotency_key, kind, order_id, payload, status)
       SELECT $1, 'record_payment', $2, $3::jsonb || CASE WHEN p.trace_context IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('trace', p.trace_context) END, 'pending'
         FROM oracle.payment_requests p WHERE p.id = $4
       ON CONFLICT (idempotency_key) DO NOTHING`,
      [`payment:${key}`, req.order_id, JSON.stringify({ salt: req.order_salt, buyer: req.buyer, seller: req.seller, amountKes: req.amount_kes, receiptHash: receiptHash(key), metadataCid: req.metadata_cid }), req.id],
    );
    await recordEvent(client, req.id, 'paid', `${how}${paid.receipt ? ` (receipt ${paid.receipt})` : ''}`);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: string }).code === '23505') {
      // Another request for this order is live or paid: the customer paid twice. Keep the
      // evidence and open a case; a person refunds one of the payments.
      await pool.query(`UPDATE oracle.payment_requests SET failure_reason=$2, mpesa_receipt=COALESCE(mpesa_receipt,$3), updated_at=now() WHERE id=$1`,
        [req.id, 'paid while another request for this order was live or paid: refund needed', paid.receipt]).catch(() => undefined);
      await recordEvent(pool, req.id, 'paid_twice', `${how}; another request holds the order`);
      await openRefundCase(pool, {
        kind: 'paid_twice', dedupeKey: paid.receipt ?? `request:${req.id}`, requestId: req.id, orderId: req.order_id, receipt: paid.receipt,
        phone: paid.phone ?? req.phone, amountKes: paid.amount, reason: 'a second payment for an order another payment already holds',
      });
      return false;
    }
    throw err;
  } finally {
    client.release();
  }
}

export async function markFailed(pool: Pool, id: string, status: 'failed' | 'expired', resultCode: string | null, reason: string): Promise<boolean> {
  const r = await pool.query(
    `UPDATE oracle.payment_requests SET status=$2, result_code=COALESCE($3, result_code), failure_reason=$4, updated_at=now(), next_query_at=NULL
      WHERE id=$1 AND status IN ('creating','pending')`,
    [id, status, resultCode, reason],
  );
  if (r.rowCount) await recordEvent(pool, id, status, reason);
  return (r.rowCount ?? 0) > 0;
}
