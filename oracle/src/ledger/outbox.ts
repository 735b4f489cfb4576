/**
 * Queueing chain writes: a receipt goes into `oracle.outbox` in the same transaction as the
 * ledger change behind it, keyed by the receipt, so it is written on chain exactly once
 * (chain/outboxWorker sends it). The payment path with a trace context lives in ./payments.
 */
import type { PoolClient } from 'pg';
import { receiptHash } from '@descrow/contracts';
import type { TraceOrigin } from '../chain/outboxWorker';

/**
 * Record a payout (a B2C receipt, or a settlement's `MANUAL:` reference) for `orderId`; with
 * the payout's trace, the chain transaction joins it.
 */
export async function queuePayoutRecord(client: PoolClient, receiptKey: string, orderId: string, payout: { beneficiary: string; amountKes: number | string; trace?: TraceOrigin | null }): Promise<void> {
  const payload = { beneficiary: payout.beneficiary, amountKes: payout.amountKes, receiptHash: receiptHash(receiptKey), ...(payout.trace ? { trace: payout.trace } : {}) };
  await client.query(
    `INSERT INTO oracle.outbox (idempotency_key, kind, order_id, payload, status) VALUES ($1,'record_payout',$2,$3,'pending') ON CONFLICT (idempotency_key) DO NOTHING`,
    [`payout:${receiptKey}`, orderId, JSON.stringify(payload)],
  );
}

/** Record a collection (an M-Pesa receipt) that creates and funds `orderId` on chain. */
export async function queuePaymentRecord(client: PoolClient, receipt: string, orderId: string, order: { salt: string | null; buyer: string; seller: string; amountKes: number | string; metadataCid: string }): Promise<void> {
  await client.query(
    `INSERT INTO oracle.outbox (idempotency_key, kind, order_id, payload, status) VALUES ($1,'record_payment',$2,$3,'pending') ON CONFLICT (idempotency_key) DO NOTHING`,
    [`payment:${receipt}`, orderId, JSON.stringify({ ...order, receiptHash: receiptHash(receipt) })],
  );
}
