/**
 * Finds M-Pesa money the chain says is owed — a seller payout after delivery, a buyer
 * refund after a timeout, both after a split dispute — and queues one B2C payout per
 * beneficiary. It reads the contract *at the confirmation block* (finalized by default):
 * a B2C payout cannot be undone if a reorg later removes the delivery.
 */
import { randomUUID } from 'node:crypto';
import type { Hex } from 'viem';
import { payoutSplit } from '@descrow/contracts';
import type { OracleContext } from '../context';
import { forEachItem, IN_BACKOFF_SQL } from '../jobs/isolation';
import { blockers, lockAttempts } from './payoutProof';

const TERMINAL = new Set([5, 7, 8, 9]); // Completed, Resolved, Cancelled, Refunded
const MIN_B2C_KES = 10;
const MAX_ATTEMPTS = 3;

/** OriginatorConversationID: deterministic per order, beneficiary and attempt, so a retry after a crash reuses it. */
export function originatorConversationId(orderId: string, role: 'seller' | 'buyer', attempt: number): string {
  return `DSC-${orderId.slice(2, 26)}-${role === 'seller' ? 'S' : 'B'}${attempt}`;
}

export async function queueDuePayouts(ctx: OracleContext, limit = 100): Promise<number> {
  const { pool, chain, config, log } = ctx;
  const { rows } = await pool.query<{ order_id: Hex; buyer: Hex; seller: Hex; seller_phone: string | null; paid_phone: string | null; phone: string | null }>(
    `SELECT r.order_id, r.buyer, r.seller, r.seller_phone, r.paid_phone, r.phone
       FROM oracle.payment_requests r
      WHERE r.status='paid' AND r.settled_at IS NULL
        AND EXISTS (SELECT 1 FROM oracle.outbox o WHERE o.kind='record_payment' AND o.order_id=r.order_id AND o.status='confirmed')
        AND NOT ${IN_BACKOFF_SQL('payout_queue', 'r.order_id')}
      ORDER BY r.paid_at LIMIT $1`,
    [limit],
  );
  if (!rows.length) return 0;
  const block = await chain.confirmedBlock(config.ORACLE_CONFIRMATION_DEPTH);
  let queued = 0;
  await forEachItem(ctx, 'payout_queue', rows, (r) => r.order_id, async (r) => { // each order on its own (jobs/isolation.ts)
    let order;
    try {
      order = await chain.getOrder(r.order_id, block);
    } catch {
      return; // the confirmed block may predate the contract on a fresh chain
    }
    if (order.status === 0 || order.status === 1) return; // not funded yet at the confirmed depth
    const due: { role: 'seller' | 'buyer'; beneficiary: Hex; phone: string | null }[] = [];
    if (order.sellerPayoutDue) due.push({ role: 'seller', beneficiary: r.seller, phone: r.seller_phone });
    if (order.buyerRefundDue) due.push({ role: 'buyer', beneficiary: r.buyer, phone: r.paid_phone ?? r.phone });
    if (!due.length) {
      if (TERMINAL.has(order.status)) {
        await pool.query(`UPDATE oracle.payment_requests SET settled_at=now() WHERE order_id=$1 AND status='paid'`, [r.order_id]);
      }
      return;
    }
    // The split follows from the order just read (same floor arithmetic as the contract).
    const split = payoutSplit(order.amount, order.feeBps, order.buyerShareBps);
    for (const d of due) {
      const amount = Number(d.role === 'seller' ? split.sellerAmount : split.buyerAmount);
      if (await queueAttempt(ctx, r.order_id, d, amount, Number(block))) queued++;
    }
  });
  return queued;
}

/**
 * A new attempt for one beneficiary, only when every earlier attempt is proven unpaid
 * (./payoutProof: the same rule a person's retry follows). Decided with the attempts locked,
 * so a result being recorded at the same time is seen.
 */
async function queueAttempt(ctx: OracleContext, orderId: Hex, d: { role: 'seller' | 'buyer'; beneficiary: Hex; phone: string | null }, amount: number, block: number): Promise<boolean> {
  const { pool, log, config } = ctx;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const prior = await lockAttempts(client, orderId, d.role);
    // A live attempt (or one a person holds) owns the slot; an attempt not proven unpaid is still being verified.
    if (prior.some((a) => a.status !== 'failed') || blockers(prior, config.ORACLE_B2C_FAILURE_CONFIRM_SECONDS).length) return false;
    const attempt = Math.max(0, ...prior.map((a) => a.attempt)) + 1;
    const tooSmall = amount < MIN_B2C_KES;
    const exhausted = attempt > MAX_ATTEMPTS;
    // A request rebuilt from the chain after a restore may not know the seller's number.
    const noPhone = d.phone === null;
    const status = tooSmall || exhausted || noPhone ? 'needs_attention' : 'queued';
    const reason = tooSmall ? `amount ${amount} KES is below the B2C minimum of ${MIN_B2C_KES}`
      : exhausted ? `${MAX_ATTEMPTS} attempts failed`
      : noPhone ? `the ${d.role}'s M-Pesa number is unknown (the payment request was rebuilt from the chain after a restore): pay and settle it by hand` : null;
    const ins = await client.query(
      `INSERT INTO oracle.payouts (id, order_id, beneficiary, role, phone, amount_kes, attempt, originator_conversation_id, status, reason, trigger_block, next_check_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11, now()) ON CONFLICT DO NOTHING`,
      [randomUUID(), orderId, d.beneficiary, d.role, d.phone ?? '', amount, attempt, originatorConversationId(orderId, d.role, attempt), status, reason, block],
    );
    await client.query('COMMIT');
    if (ins.rowCount) log[status === 'queued' ? 'info' : 'error']({ orderId, role: d.role, amountKes: amount, attempt, reason }, status === 'queued' ? 'payout queued' : 'payout needs a person');
    return !!ins.rowCount;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined); // no-op after COMMIT
    client.release();
  }
}
