import type { Hex } from 'viem';
import type { Pool, PoolClient } from 'pg';
import { receiptHash } from '@descrow/contracts';

export interface PaymentRequestRow {
  id: string; order_id: Hex; order_salt: Hex; buyer: Hex; seller: Hex; amount_kes: number; phone: string; seller_phone: string; metadata_cid: string;
  status: 'creating' | 'pending' | 'paid' | 'failed' | 'expired'; checkout_request_id: string | null; mpesa_receipt: string | null;
  paid_phone: string | null; query_attempts: number; expires_at: Date; created_at: Date;
}

/** The on-chain receipt key: the M-Pesa receipt, or the CheckoutRequestID when only STK Query confirmed it. */
export function chainReceiptKey(mpesaReceipt: string | null, checkoutRequestId: string): string {
  return mpesaReceipt ?? `CHECKOUT:${checkoutRequestId}`;
}

/**
 * Mark a request paid and enqueue its on-chain record in one transaction: either both
 * happen or neither. Returns false if it was not pending any more (someone else won).
 */
export async function markPaid(
  pool: Pool,
  req: PaymentRequestRow,
  paid: { receipt: string | null; amount: number; phone: string | null; checkoutRequestId: string },
): Promise<boolean> {
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    const upd = await client.query(
      `UPDATE oracle.payment_requests
          SET status='paid', mpesa_receipt=$2, paid_amount=$3, paid_phone=$4, checkout_request_id=COALESCE(checkout_request_id, $5),
              result_code='0', paid_at=now(), updated_at=now(), next_query_at=NULL
        WHERE id=$1 AND status IN ('creating','pending','expired')`,
      [req.id, paid.receipt, paid.amount, paid.phone ?? req.phone, paid.checkoutRequestId],
    );
    if (upd.rowCount !== 1) {
      await client.query('ROLLBACK');
      return false;
    }
    const key = chainReceiptKey(paid.receipt, paid.checkoutRequestId);
    await client.query(
      `INSERT INTO oracle.outbox (idempotency_key, kind, order_id, payload, status) VALUES ($1, 'record_payment', $2, $3, 'pending')
       ON CONFLICT (idempotency_key) DO NOTHING`,
      [`payment:${key}`, req.order_id, JSON.stringify({ salt: req.order_salt, buyer: req.buyer, seller: req.seller, amountKes: req.amount_kes, receiptHash: receiptHash(key), metadataCid: req.metadata_cid })],
    );
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: string }).code === '23505') {
      // A late success for an expired request while a newer request for the order is live:
      // the customer paid twice. Keep the evidence; a person refunds one of them.
      await pool.query(`UPDATE oracle.payment_requests SET failure_reason=$2, mpesa_receipt=COALESCE(mpesa_receipt,$3), updated_at=now() WHERE id=$1`,
        [req.id, 'paid after expiry while another request for this order was live: refund needed', paid.receipt]).catch(() => undefined);
      return false;
    }
    throw err;
  } finally {
    client.release();
  }
}

export async function markFailed(pool: Pool, id: string, status: 'failed' | 'expired', resultCode: string | null, reason: string): Promise<void> {
  await pool.query(
    `UPDATE oracle.payment_requests SET status=$2, result_code=COALESCE($3, result_code), failure_reason=$4, updated_at=now(), next_query_at=NULL
      WHERE id=$1 AND status IN ('creating','pending')`,
    [id, status, resultCode, reason],
  );
}
