/**
 * The oracle checks its own books against the chain: every payment it marked paid must
 * be on chain with that receipt, every payout it marked paid must be recorded for that
 * order, and nothing may sit paid-but-unrecorded for long. Each run is stored in
 * `oracle.reconciliation_runs` with the discrepancies found (an admin reads them).
 */
import type { Hex } from 'viem';
import { receiptHash } from '@descrow/contracts';
import type { OracleContext } from '../context';
import { chainReceiptKey } from '../ledger/payments';

export interface Discrepancy { kind: string; orderId: string; detail: string }

export async function reconcile(ctx: OracleContext, staleAfterSeconds = 600): Promise<{ runId: string; checked: number; discrepancies: Discrepancy[] }> {
  const { pool, chain, log } = ctx;
  const run = (await pool.query<{ id: string }>(`INSERT INTO oracle.reconciliation_runs DEFAULT VALUES RETURNING id`)).rows[0]!.id;
  const found: Discrepancy[] = [];
  let checked = 0;

  const payments = await pool.query<{ order_id: Hex; mpesa_receipt: string | null; checkout_request_id: string; amount_kes: number; outbox_status: string | null; age: number }>(
    `SELECT p.order_id, p.mpesa_receipt, p.checkout_request_id, p.amount_kes, o.status AS outbox_status,
            extract(epoch FROM now() - p.paid_at)::int AS age
       FROM oracle.payment_requests p
       LEFT JOIN oracle.outbox o ON o.kind='record_payment' AND o.order_id=p.order_id
      WHERE p.status='paid'`,
  );
  for (const p of payments.rows) {
    checked++;
    if (p.outbox_status !== 'confirmed') {
      if (p.outbox_status === 'failed') found.push({ kind: 'payment_record_failed', orderId: p.order_id, detail: 'the on-chain record failed and needs a person' });
      else if (p.age > staleAfterSeconds) found.push({ kind: 'paid_not_recorded', orderId: p.order_id, detail: `paid ${p.age}s ago, not on chain yet` });
      continue;
    }
    const o = await chain.getOrder(p.order_id);
    const expected = receiptHash(chainReceiptKey(p.mpesa_receipt, p.checkout_request_id));
    if (o.paymentReceipt.toLowerCase() !== expected.toLowerCase()) found.push({ kind: 'receipt_mismatch', orderId: p.order_id, detail: `chain has ${o.paymentReceipt}, ledger ${expected}` });
    else if (o.amount !== BigInt(p.amount_kes)) found.push({ kind: 'amount_mismatch', orderId: p.order_id, detail: `chain ${o.amount} KES, ledger ${p.amount_kes} KES` });
  }

  const payouts = await pool.query<{ order_id: Hex; mpesa_receipt: string; outbox_status: string | null; age: number }>(
    `SELECT y.order_id, y.mpesa_receipt, o.status AS outbox_status, extract(epoch FROM now() - y.completed_at)::int AS age
       FROM oracle.payouts y LEFT JOIN oracle.outbox o ON o.idempotency_key = 'payout:' || y.mpesa_receipt
      WHERE y.status='succeeded'`,
  );
  for (const y of payouts.rows) {
    checked++;
    if (y.outbox_status !== 'confirmed') {
      if (y.age > staleAfterSeconds) found.push({ kind: 'payout_not_recorded', orderId: y.order_id, detail: `paid out ${y.age}s ago (${y.mpesa_receipt}), not on chain yet` });
      continue;
    }
    const recordedFor = await chain.receiptOrder(receiptHash(y.mpesa_receipt));
    if (recordedFor.toLowerCase() !== y.order_id.toLowerCase()) found.push({ kind: 'payout_receipt_mismatch', orderId: y.order_id, detail: `receipt ${y.mpesa_receipt} is recorded for ${recordedFor}` });
  }
  const attention = await pool.query<{ order_id: string; role: string; reason: string }>(`SELECT order_id, role, reason FROM oracle.payouts WHERE status='needs_attention'`);
  for (const a of attention.rows) found.push({ kind: 'payout_needs_attention', orderId: a.order_id, detail: `${a.role}: ${a.reason}` });

  await pool.query(`UPDATE oracle.reconciliation_runs SET finished_at=now(), checked=$2, discrepancies=$3 WHERE id=$1`, [run, checked, JSON.stringify(found)]);
  log[found.length ? 'warn' : 'info']({ runId: run, checked, discrepancies: found.length }, 'reconciliation run finished');
  return { runId: run, checked, discrepancies: found };
}
