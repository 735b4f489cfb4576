/**
 * Refund-needed cases and a payment request's history. A case is money a customer paid
 * that funds no order (paid twice, cannot be recorded on chain, a paid callback the query
 * denies, a payment never verified, a paybill payment naming no request of ours). Admins
 * see them through the API (GET /internal/refund-cases); a person refunds or dismisses.
 */
import type { Pool, PoolClient } from 'pg';

export type RefundKind = 'paid_twice' | 'cannot_record' | 'query_denied' | 'unverified' | 'unmatched_payment';

export interface RefundCase {
  kind: RefundKind;
  /** One case per kind and payment: the receipt when known, else our request id. */
  dedupeKey: string;
  requestId?: string | null;
  orderId?: string | null;
  receipt?: string | null;
  phone?: string | null;
  amountKes: number;
  reason: string;
}

type Db = Pool | PoolClient;

/** Opens a case (idempotent). Returns true when it is new. */
export async function openRefundCase(db: Db, c: RefundCase): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO oracle.refund_cases (kind, dedupe_key, request_id, order_id, receipt, phone, amount_kes, reason)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (kind, dedupe_key) DO NOTHING`,
    [c.kind, c.dedupeKey, c.requestId ?? null, c.orderId ?? null, c.receipt ?? null, c.phone ?? null, c.amountKes, c.reason],
  );
  return r.rowCount === 1;
}

/** Appends to a request's history (failures, hints, decisions); nothing there is ever overwritten. */
export async function recordEvent(db: Db, requestId: string, kind: string, detail: string): Promise<void> {
  await db.query(`INSERT INTO oracle.payment_events (request_id, kind, detail) VALUES ($1,$2,$3)`, [requestId, kind, detail]);
}

/**
 * Cases the ledger implies without a flow having opened them: a payment whose on-chain
 * record failed for good (e.g. the order was funded by another receipt). Idempotent.
 */
export async function sweepRefundCases(pool: Pool): Promise<number> {
  const r = await pool.query(
    `INSERT INTO oracle.refund_cases (kind, dedupe_key, request_id, order_id, receipt, phone, amount_kes, reason)
     SELECT 'cannot_record', p.chain_receipt_key, p.id, p.order_id, COALESCE(p.mpesa_receipt, p.pulled_receipt), p.paid_phone,
            COALESCE(p.paid_amount, p.amount_kes), 'the payment cannot be recorded on chain: ' || COALESCE(o.last_error, 'unknown')
       FROM oracle.outbox o JOIN oracle.payment_requests p ON o.idempotency_key = 'payment:' || p.chain_receipt_key
      WHERE o.kind = 'record_payment' AND o.status = 'failed' AND p.status = 'paid'
     ON CONFLICT (kind, dedupe_key) DO NOTHING`,
  );
  return r.rowCount ?? 0;
}
