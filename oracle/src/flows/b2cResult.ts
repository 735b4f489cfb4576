/**
 * B2C results, queue timeouts and Transaction Status answers. Keyed on our own
 * OriginatorConversationID; a payout never leaves a terminal state, so duplicates and
 * late arrivals change nothing. A success enqueues the on-chain payout record in the
 * same transaction that marks the payout paid.
 */
import type { OracleContext } from '../context';
import { receiptHash } from '@descrow/contracts';
import { resultCallback, resultParam, timeoutNotice } from '../daraja/schemas';
import { markProcessed } from '../ledger/callbacks';

/** Codes where retrying cannot help and a person must act (docs/daraja.md §4). */
const NEEDS_PERSON: Record<string, string> = {
  '1': 'B2C utility account balance is insufficient',
  '2': 'amount below the B2C minimum', '3': 'amount above the B2C maximum', '4': 'daily B2C limit reached',
  '8': 'recipient would exceed the maximum M-Pesa balance',
  '11': 'the shortcode is not in a valid state', '2006': 'the shortcode is inactive',
  '21': 'the initiator lacks the B2C API role',
  '2001': 'the initiator credentials are invalid (username, password or certificate)',
  '2028': 'the shortcode is not permitted to make B2C payments',
  '2040': 'the recipient is not a registered M-Pesa customer',
  '8006': 'the initiator security credential is locked',
  SFC_IC0003: 'the recipient phone number does not exist on M-Pesa',
};

interface PayoutRow { id: string; order_id: string; beneficiary: string; role: string; amount_kes: number; status: string }

export async function processPayoutCallback(ctx: OracleContext, callbackId: string, kind: 'b2c_result' | 'b2c_timeout' | 'status_result' | 'status_timeout', raw: unknown): Promise<string> {
  const outcome = await decide(ctx, kind, raw);
  await markProcessed(ctx.pool, callbackId, outcome);
  ctx.log.info({ callbackId, kind, outcome }, 'payout callback processed');
  return outcome;
}

async function decide(ctx: OracleContext, kind: string, raw: unknown): Promise<string> {
  const { pool } = ctx;
  if (kind === 'b2c_timeout' || kind === 'status_timeout') {
    const t = timeoutNotice.safeParse(raw);
    if (!t.success) return 'invalid_shape';
    if (kind === 'status_timeout') return 'status_timeout_noted'; // the checker asks again on its schedule
    // Not proof of failure: Transaction Status decides before any retry.
    const r = await pool.query(
      `UPDATE oracle.payouts SET status='unknown', next_check_at=now() + ($2 || ' seconds')::interval, updated_at=now()
        WHERE originator_conversation_id=$1 AND status IN ('queued','sent')`,
      [t.data.originatorConversationId, String(ctx.config.ORACLE_B2C_STATUS_DELAY_SECONDS)],
    );
    return r.rowCount ? 'timeout_will_check_status' : 'unknown_or_final';
  }
  const parsed = resultCallback.safeParse(raw);
  if (!parsed.success) return 'invalid_shape';
  const res = parsed.data.Result;

  if (kind === 'status_result') {
    const payoutId = String(resultParam(parsed.data, 'OriginatorConversationID') ?? '');
    const payout = await find(ctx, payoutId);
    if (!payout) return 'unknown_payout';
    if (res.ResultCode !== '0') {
      // "R000002": no such transaction — the B2C never happened, so a new attempt is safe.
      if (res.ResultCode === 'R000002') return settle(ctx, payout, { failed: 'Daraja has no record of the payout' });
      return 'status_inconclusive';
    }
    const status = String(resultParam(parsed.data, 'TransactionStatus') ?? '');
    if (status === 'Completed') {
      const receipt = String(resultParam(parsed.data, 'ReceiptNo') ?? '');
      const amount = Number(resultParam(parsed.data, 'Amount'));
      return settle(ctx, payout, { receipt, amount });
    }
    if (['Cancelled', 'Declined', 'Expired', 'Failed'].includes(status)) return settle(ctx, payout, { failed: `Transaction Status: ${status}` });
    return 'status_still_pending';
  }

  const payout = await find(ctx, res.OriginatorConversationID);
  if (!payout) return 'unknown_payout';
  if (res.ResultCode === '0') {
    const receipt = String(resultParam(parsed.data, 'TransactionReceipt') ?? res.TransactionID ?? '');
    const amount = Number(resultParam(parsed.data, 'TransactionAmount'));
    return settle(ctx, payout, { receipt, amount });
  }
  const person = NEEDS_PERSON[res.ResultCode];
  if (person) return settle(ctx, payout, { needsPerson: `${res.ResultCode}: ${person}` });
  return settle(ctx, payout, { failed: `${res.ResultCode}: ${res.ResultDesc}` });
}

async function find(ctx: OracleContext, originatorConversationId: string): Promise<PayoutRow | undefined> {
  if (!originatorConversationId) return undefined;
  return (await ctx.pool.query<PayoutRow>(`SELECT * FROM oracle.payouts WHERE originator_conversation_id=$1`, [originatorConversationId])).rows[0];
}

type Verdict = { receipt: string; amount: number } | { failed: string } | { needsPerson: string };

async function settle(ctx: OracleContext, payout: PayoutRow, v: Verdict): Promise<string> {
  const { pool, log } = ctx;
  if (!['queued', 'sent', 'unknown'].includes(payout.status)) return 'already_final';
  if ('receipt' in v) {
    if (!/^[A-Z0-9]{6,20}$/.test(v.receipt)) return 'invalid_receipt';
    if (v.amount !== payout.amount_kes) {
      await pool.query(`UPDATE oracle.payouts SET status='needs_attention', reason=$2, updated_at=now() WHERE id=$1`, [payout.id, `paid ${v.amount} KES, expected ${payout.amount_kes}`]);
      log.error({ orderId: payout.order_id, paid: v.amount, expected: payout.amount_kes }, 'b2c paid a different amount; needs a person');
      return 'amount_mismatch';
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const upd = await client.query(
        `UPDATE oracle.payouts SET status='succeeded', mpesa_receipt=$2, result_code='0', completed_at=now(), updated_at=now(), reason=NULL
          WHERE id=$1 AND status IN ('queued','sent','unknown')`,
        [payout.id, v.receipt],
      );
      if (upd.rowCount !== 1) {
        await client.query('ROLLBACK');
        return 'already_final';
      }
      await client.query(
        `INSERT INTO oracle.outbox (idempotency_key, kind, order_id, payload, status) VALUES ($1,'record_payout',$2,$3,'pending') ON CONFLICT (idempotency_key) DO NOTHING`,
        [`payout:${v.receipt}`, payout.order_id, JSON.stringify({ beneficiary: payout.beneficiary, amountKes: payout.amount_kes, receiptHash: receiptHash(v.receipt) })],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    log.info({ orderId: payout.order_id, role: payout.role, receipt: v.receipt, amountKes: payout.amount_kes }, 'b2c payout paid; recording on chain');
    return 'paid';
  }
  const status = 'failed' in v ? 'failed' : 'needs_attention';
  const reason = 'failed' in v ? v.failed : v.needsPerson;
  await pool.query(`UPDATE oracle.payouts SET status=$2, reason=$3, result_code=split_part($3, ':', 1), updated_at=now() WHERE id=$1 AND status IN ('queued','sent','unknown')`, [payout.id, status, reason]);
  log[status === 'failed' ? 'warn' : 'error']({ orderId: payout.order_id, role: payout.role, reason }, status === 'failed' ? 'b2c payout failed; a new attempt will be queued' : 'b2c payout failed; needs a person');
  return status;
}
