/**
 * The oracle checks its own books against the chain: every payment it marked paid must
 * be on chain with that receipt, every payout it marked paid must be recorded for that
 * order, and nothing may sit paid-but-unrecorded for long. Each run is stored in
 * `oracle.reconciliation_runs` with the discrepancies found (an admin reads them).
 */
import type { Hex } from 'viem';
import { receiptHash } from '@descrow/contracts';
import type { OracleContext } from '../context';
import { payoutSplit } from '@descrow/contracts';
import { sweepRefundCases } from '../ledger/refunds';

export interface Discrepancy { kind: string; orderId: string; detail: string }

export async function reconcile(ctx: OracleContext, staleAfterSeconds = 600): Promise<{ runId: string; checked: number; discrepancies: Discrepancy[] }> {
  const { pool, chain, log } = ctx;
  const run = (await pool.query<{ id: string }>(`INSERT INTO oracle.reconciliation_runs DEFAULT VALUES RETURNING id`)).rows[0]!.id;
  const found: Discrepancy[] = [];
  let checked = 0;

  const payments = await pool.query<{ order_id: Hex; chain_receipt_key: string; amount_kes: number; outbox_status: string | null; age: number }>(
    `SELECT p.order_id, p.chain_receipt_key, p.amount_kes, o.status AS outbox_status,
            extract(epoch FROM now() - p.paid_at)::int AS age
       FROM oracle.payment_requests p
       LEFT JOIN oracle.outbox o ON o.idempotency_key = 'payment:' || p.chain_receipt_key
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
    const expected = receiptHash(p.chain_receipt_key);
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
  // Invariant: per order and role, what M-Pesa paid out never exceeds what the contract owes.
  const paidOut = await pool.query<{ order_id: Hex; role: 'seller' | 'buyer'; total: number; receipts: string[] }>(
    `SELECT order_id, role, sum(amount_kes)::int AS total, array_agg(mpesa_receipt ORDER BY attempt) AS receipts
       FROM oracle.payouts WHERE status IN ('succeeded','overpaid') OR (status='needs_attention' AND mpesa_receipt IS NOT NULL)
      GROUP BY order_id, role`,
  );
  for (const y of paidOut.rows) {
    checked++;
    const o = await chain.getOrder(y.order_id);
    const split = payoutSplit(o.amount, o.feeBps, o.buyerShareBps);
    const owed = Number(y.role === 'seller' ? split.sellerAmount : split.buyerAmount);
    if (y.total > owed) found.push({ kind: 'payout_exceeds_owed', orderId: y.order_id, detail: `${y.role}: paid ${y.total} KES (${y.receipts.join(', ')}), the contract owes ${owed} KES` });
  }
  const overpaid = await pool.query<{ order_id: string; role: string; reason: string }>(`SELECT order_id, role, reason FROM oracle.payouts WHERE status='overpaid'`);
  for (const a of overpaid.rows) found.push({ kind: 'payout_overpaid', orderId: a.order_id, detail: `${a.role}: ${a.reason}` });

  // Money customers paid that funds no order: every open refund-needed case.
  await sweepRefundCases(pool);
  const cases = await pool.query<{ kind: string; order_id: string | null; receipt: string | null; phone: string | null; amount_kes: number; reason: string }>(
    `SELECT kind, order_id, receipt, phone, amount_kes, reason FROM oracle.refund_cases WHERE status='open' ORDER BY id`,
  );
  for (const c of cases.rows) found.push({ kind: `refund_needed:${c.kind}`, orderId: c.order_id ?? '', detail: `${c.amount_kes} KES from ${c.phone ?? 'unknown phone'} (${c.receipt ?? 'no receipt'}): ${c.reason}` });
  // The paybill's receipt for a request differs from the one recorded (from a callback).
  const disputed = await pool.query<{ order_id: string; mpesa_receipt: string; pulled_receipt: string }>(
    `SELECT order_id, mpesa_receipt, pulled_receipt FROM oracle.payment_requests WHERE status='paid' AND mpesa_receipt IS NOT NULL AND pulled_receipt IS NOT NULL AND mpesa_receipt <> pulled_receipt`,
  );
  for (const d of disputed.rows) found.push({ kind: 'receipt_disputed', orderId: d.order_id, detail: `recorded ${d.mpesa_receipt} (from a callback); the paybill shows ${d.pulled_receipt}: a forged callback? the payment itself is real` });
  // A paid callback still waiting for STK Query to confirm it.
  const unverified = await pool.query<{ order_id: string; callback_receipt: string; age: number }>(
    `SELECT order_id, callback_receipt, extract(epoch FROM now() - callback_at)::int AS age FROM oracle.payment_requests
      WHERE callback_receipt IS NOT NULL AND status <> 'paid' AND next_query_at IS NOT NULL`,
  );
  for (const u of unverified.rows) if (u.age > staleAfterSeconds) found.push({ kind: 'paid_callback_unverified', orderId: u.order_id, detail: `callback said paid (${u.callback_receipt}) ${u.age}s ago; STK Query has not confirmed it yet` });

  const attention = await pool.query<{ order_id: string; role: string; reason: string }>(`SELECT order_id, role, reason FROM oracle.payouts WHERE status='needs_attention'`);
  for (const a of attention.rows) found.push({ kind: 'payout_needs_attention', orderId: a.order_id, detail: `${a.role}: ${a.reason}` });

  await pool.query(`UPDATE oracle.reconciliation_runs SET finished_at=now(), checked=$2, discrepancies=$3 WHERE id=$1`, [run, checked, JSON.stringify(found)]);
  log[found.length ? 'warn' : 'info']({ runId: run, checked, discrepancies: found.length }, 'reconciliation run finished');
  return { runId: run, checked, discrepancies: found };
}
