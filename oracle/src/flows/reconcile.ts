/**
 * The oracle checks its own books against the chain: every payment it marked paid must
 * be on chain with that receipt, every payout it marked paid must be recorded for that
 * order, what M-Pesa paid out never exceeds what the contract owes, and nothing may sit
 * paid-but-unrecorded for long. Each run is stored in
 * `oracle.reconciliation_runs` with the discrepancies found (an admin reads them).
 */
import type { Hex } from 'viem';
import { receiptHash } from '@descrow/contracts';
import type { OracleContext } from '../context';
import { sweepRefundCases } from '../ledger/refunds';
import { payoutFindings } from './payoutFindings';

export interface Discrepancy { kind: string; orderId: string; role?: 'seller' | 'buyer'; detail: string }

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

  // Payouts: at most one finding per order and role (./payoutFindings), the oracle being the owner of these facts.
  const payoutResult = await payoutFindings(ctx, staleAfterSeconds);
  checked += payoutResult.checked;
  found.push(...payoutResult.found.map(({ last: _last, ...d }) => d));

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

  await pool.query(`UPDATE oracle.reconciliation_runs SET finished_at=now(), checked=$2, discrepancies=$3 WHERE id=$1`, [run, checked, JSON.stringify(found)]);
  log[found.length ? 'warn' : 'info']({ runId: run, checked, discrepancies: found.length }, 'reconciliation run finished');
  return { runId: run, checked, discrepancies: found };
}
