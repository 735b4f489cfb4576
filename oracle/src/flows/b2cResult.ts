/**
 * B2C results, queue timeouts and Transaction Status answers. Keyed on our own
 * OriginatorConversationID; a payout never leaves a terminal state, so duplicates and
 * late arrivals change nothing. A success enqueues the on-chain payout record in the
 * same transaction that marks the payout paid.
 */
import { contextFrom, inSpan, REQUEST_ID_ATTRIBUTE, SpanKind, trace } from '@descrow/common';
import type { OracleContext } from '../context';
import { resultCallback, resultParam, timeoutNotice } from '../daraja/schemas';
import { markProcessed } from '../ledger/callbacks';
import { queuePayoutRecord } from '../ledger/outbox';
import type { TraceOrigin } from '../chain/outboxWorker';

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

const tracer = trace.getTracer('descrow-oracle');

interface PayoutRow {
  id: string; order_id: string; beneficiary: string; role: string; amount_kes: number; status: string; attempt: number;
  originator_conversation_id: string; conversation_id: string | null; not_completed_answers: number; first_not_completed_at: Date | null;
  trace_context: TraceOrigin | null;
}
type Kind = 'b2c_result' | 'b2c_timeout' | 'status_result' | 'status_timeout';

export async function processPayoutCallback(ctx: OracleContext, callbackId: string, kind: Kind, raw: unknown): Promise<string> {
  const outcome = await decide(ctx, kind, raw);
  await markProcessed(ctx.pool, callbackId, outcome);
  ctx.metrics?.callbacks.inc({ kind, outcome });
  ctx.log.info({ callbackId, kind, outcome }, 'payout callback processed');
  return outcome;
}

/**
 * Every result is a hint until it is matched to what we sent:
 * - a B2C result names our payout (URL ref + OriginatorConversationID) *and* carries the
 *   ConversationID of Daraja's acknowledgement; without a stored acknowledgement it only
 *   triggers a Transaction Status check;
 * - a failure result never ends a payout: Transaction Status must confirm it (twice, over
 *   ORACLE_B2C_FAILURE_CONFIRM_SECONDS) before a new attempt may be queued;
 * - a Transaction Status result counts only as the answer to a query we sent (its ids are
 *   those of the query's acknowledgement, stored in oracle.status_queries).
 */
async function decide(ctx: OracleContext, kind: Kind, raw: unknown): Promise<string> {
  const { pool } = ctx;
  const ref = typeof (raw as { __ref?: unknown })?.__ref === 'string' ? (raw as { __ref: string }).__ref : null;
  if (kind === 'b2c_timeout' || kind === 'status_timeout') {
    const t = timeoutNotice.safeParse(raw);
    if (!t.success) return 'invalid_shape';
    if (kind === 'status_timeout') {
      const q = await pool.query(
        `UPDATE oracle.status_queries SET answered_at=now(), answer='timeout' WHERE originator_conversation_id=$1 AND payout_id::text=$2 AND answered_at IS NULL`,
        [t.data.originatorConversationId, ref],
      );
      return q.rowCount ? 'status_timeout_noted' : 'unknown_status_query'; // the checker asks again on its schedule
    }
    // Not proof of failure: Transaction Status decides before any retry.
    const r = await pool.query(
      `UPDATE oracle.payouts SET status='unknown', hint='queue timeout', next_check_at=now() + ($2 || ' seconds')::interval, updated_at=now()
        WHERE originator_conversation_id=$1 AND id::text=$3 AND status IN ('queued','sent')`,
      [t.data.originatorConversationId, String(ctx.config.ORACLE_B2C_STATUS_DELAY_SECONDS), ref],
    );
    return r.rowCount ? 'timeout_will_check_status' : 'unknown_or_final';
  }
  const parsed = resultCallback.safeParse(raw);
  if (!parsed.success) return 'invalid_shape';
  const res = parsed.data.Result;

  if (kind === 'status_result') {
    // Only an answer to a query we sent, identified by the ids of its acknowledgement.
    const q = (
      await pool.query<{ payout_id: string; conversation_id: string; answered_at: Date | null }>(
        `SELECT payout_id, conversation_id, answered_at FROM oracle.status_queries WHERE originator_conversation_id=$1`,
        [res.OriginatorConversationID],
      )
    ).rows[0];
    if (!q || (res.ConversationID !== undefined && res.ConversationID !== q.conversation_id) || q.payout_id !== ref) return 'unknown_status_query';
    const claimed = await pool.query(
      `UPDATE oracle.status_queries SET answered_at=now(), answer=$2 WHERE originator_conversation_id=$1 AND answered_at IS NULL`,
      [res.OriginatorConversationID, `${res.ResultCode}: ${res.ResultDesc}`],
    );
    if (!claimed.rowCount) return 'duplicate_status_result';
    const payout = await byId(ctx, q.payout_id);
    if (!payout) return 'unknown_payout';
    // The answer must be about this payout, not some other transaction.
    const about = resultParam(parsed.data, 'OriginatorConversationID');
    if (about !== undefined && String(about) !== payout.originator_conversation_id) return 'status_about_other_payout';
    if (res.ResultCode === 'R000002') return notCompleted(ctx, payout, 'Transaction Status: no record of the payout');
    if (res.ResultCode !== '0') return 'status_inconclusive';
    const status = String(resultParam(parsed.data, 'TransactionStatus') ?? '');
    if (status === 'Completed') {
      const receipt = String(resultParam(parsed.data, 'ReceiptNo') ?? '');
      const amount = Number(resultParam(parsed.data, 'Amount'));
      return settle(ctx, payout, { receipt, amount });
    }
    if (['Cancelled', 'Declined', 'Expired', 'Failed'].includes(status)) return notCompleted(ctx, payout, `Transaction Status: ${status}`);
    // Initiated / Authorized: it exists and is still moving; any earlier "no record" was premature.
    await pool.query(`UPDATE oracle.payouts SET not_completed_answers=0, first_not_completed_at=NULL, updated_at=now() WHERE id=$1`, [payout.id]);
    return 'status_still_pending';
  }

  const payout = (await pool.query<PayoutRow>(`SELECT * FROM oracle.payouts WHERE originator_conversation_id=$1`, [res.OriginatorConversationID])).rows[0];
  if (!payout) return 'unknown_payout';
  if (payout.id !== ref) return 'ref_mismatch'; // one payout's URL cannot speak for another
  if (!payout.conversation_id) {
    // We never stored Daraja's acknowledgement (a crash right after it): nothing to match
    // the ConversationID against, so this is only a hint. Ask Transaction Status now.
    await pool.query(
      `UPDATE oracle.payouts SET status=CASE WHEN status IN ('queued','sent') THEN 'unknown' ELSE status END, hint=$2, next_check_at=now(), updated_at=now()
        WHERE id=$1 AND status IN ('queued','sent','unknown')`,
      [payout.id, `result ${res.ResultCode} before our acknowledgement was stored`],
    );
    return 'unverified_result_will_check_status';
  }
  if (res.ConversationID !== payout.conversation_id) return 'conversation_mismatch';
  if (res.ResultCode === '0') {
    const receipt = String(resultParam(parsed.data, 'TransactionReceipt') ?? res.TransactionID ?? '');
    const amount = Number(resultParam(parsed.data, 'TransactionAmount'));
    return settle(ctx, payout, { receipt, amount });
  }
  const person = NEEDS_PERSON[res.ResultCode];
  if (person) return giveUp(ctx, payout, 'needs_attention', `${res.ResultCode}: ${person}`);
  // A failure result is a hint: the payment may still complete (or have completed).
  const hinted = await pool.query(
    `UPDATE oracle.payouts SET status='unknown', hint=$2, result_code=$3, next_check_at=now() + ($4 || ' seconds')::interval, updated_at=now()
      WHERE id=$1 AND status IN ('queued','sent','unknown')`,
    [payout.id, `B2C result ${res.ResultCode}: ${res.ResultDesc}`, res.ResultCode, String(ctx.config.ORACLE_B2C_STATUS_DELAY_SECONDS)],
  );
  return hinted.rowCount ? 'failure_hint_will_check_status' : 'already_final';
}

async function byId(ctx: OracleContext, id: string): Promise<PayoutRow | undefined> {
  return (await ctx.pool.query<PayoutRow>(`SELECT * FROM oracle.payouts WHERE id=$1`, [id])).rows[0];
}

/**
 * Transaction Status said "not completed". The payout is given up (so a new attempt may
 * follow) only after a second such answer at least ORACLE_B2C_FAILURE_CONFIRM_SECONDS after
 * the first: a payment still queued at Safaricom answers "no record" too.
 */
async function notCompleted(ctx: OracleContext, payout: PayoutRow, why: string): Promise<string> {
  const { pool, config } = ctx;
  if (!['queued', 'sent', 'unknown'].includes(payout.status)) return 'already_final';
  const { rows } = await pool.query<{ n: number; first: Date }>(
    `UPDATE oracle.payouts SET not_completed_answers=not_completed_answers+1, first_not_completed_at=COALESCE(first_not_completed_at, now()),
            status='unknown', hint=$2, updated_at=now()
      WHERE id=$1 AND status IN ('queued','sent','unknown') RETURNING not_completed_answers AS n, first_not_completed_at AS first`,
    [payout.id, why],
  );
  const row = rows[0];
  if (!row) return 'already_final';
  const confirmAt = row.first.getTime() + config.ORACLE_B2C_FAILURE_CONFIRM_SECONDS * 1000;
  if (row.n >= 2 && Date.now() >= confirmAt) return giveUp(ctx, payout, 'failed', `${why} (confirmed ${row.n} times since ${row.first.toISOString()})`);
  // Ask again once the confirmation interval has passed.
  await pool.query(`UPDATE oracle.payouts SET next_check_at=GREATEST(now() + ($2 || ' seconds')::interval, to_timestamp($3 / 1000.0)) WHERE id=$1`,
    [payout.id, String(Math.max(1, config.ORACLE_B2C_STATUS_DELAY_SECONDS)), confirmAt]);
  return 'not_completed_unconfirmed';
}

async function giveUp(ctx: OracleContext, payout: PayoutRow, status: 'failed' | 'needs_attention', reason: string): Promise<string> {
  const r = await ctx.pool.query(
    `UPDATE oracle.payouts SET status=$2, reason=$3, result_code=split_part($3, ':', 1), updated_at=now() WHERE id=$1 AND status IN ('queued','sent','unknown')`,
    [payout.id, status, reason],
  );
  if (!r.rowCount) return 'already_final';
  if (status === 'failed' && (await promoteOverpaid(ctx, payout))) return 'failed_earlier_attempt_holds';
  ctx.log[status === 'failed' ? 'warn' : 'error']({ orderId: payout.order_id, role: payout.role, reason }, status === 'failed' ? 'b2c payout failed (verified); a new attempt will be queued' : 'b2c payout failed; needs a person');
  return status;
}

/**
 * A verified success. For a payout still open: succeeded + the on-chain record, in one
 * transaction. For one already given up (failed / needs_attention): the success is
 * recorded all the same — it takes the order's slot back if no other attempt holds it, and
 * otherwise becomes `overpaid` for a person (the seller may have been paid twice).
 */
/** A verified success, decided in the payout's trace (started when it was first sent, ./payoutSender). */
function settle(ctx: OracleContext, payout: PayoutRow, v: { receipt: string; amount: number }): Promise<string> {
  const parent = payout.trace_context?.traceparent ? contextFrom({ traceparent: payout.trace_context.traceparent, tracestate: payout.trace_context.tracestate }) : undefined;
  return inSpan(tracer, 'payout settle', { 'descrow.order_id': payout.order_id, 'descrow.payout_id': payout.id, [REQUEST_ID_ATTRIBUTE]: payout.trace_context?.requestId, 'mpesa.receipt': v.receipt },
    (span) => settleInLedger(ctx, payout, v).then((outcome) => (span.setAttribute('descrow.outcome', outcome), outcome)), SpanKind.INTERNAL, parent);
}

async function settleInLedger(ctx: OracleContext, payout: PayoutRow, v: { receipt: string; amount: number }): Promise<string> {
  const { pool, log } = ctx;
  if (!/^[A-Z0-9]{6,20}$/.test(v.receipt)) return 'invalid_receipt';
  if (payout.status === 'succeeded' || payout.status === 'overpaid') return 'already_final';
  if (v.amount !== payout.amount_kes) {
    await pool.query(`UPDATE oracle.payouts SET status='needs_attention', mpesa_receipt=$3, reason=$2, updated_at=now() WHERE id=$1`, [payout.id, `paid ${v.amount} KES (${v.receipt}), expected ${payout.amount_kes}`, v.receipt]);
    log.error({ orderId: payout.order_id, paid: v.amount, expected: payout.amount_kes }, 'b2c paid a different amount; needs a person');
    return 'amount_mismatch';
  }
  const late = payout.status === 'failed' || payout.status === 'needs_attention';
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Serialise with the watcher and with other results for this order and role.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`payout:${payout.order_id}:${payout.role}`]);
    const others = (
      await client.query<{ id: string; status: string; mpesa_receipt: string | null; attempt: number }>(
        `SELECT id, status, mpesa_receipt, attempt FROM oracle.payouts WHERE order_id=$1 AND role=$2 AND id<>$3 AND status IN ('queued','sent','unknown','succeeded','needs_attention','overpaid') FOR UPDATE`,
        [payout.order_id, payout.role, payout.id],
      )
    ).rows;
    if (late) {
      // An attempt given up with no money moved (e.g. "3 attempts failed") yields the slot.
      for (const o of others.filter((o) => o.status === 'needs_attention' && !o.mpesa_receipt)) {
        await client.query(`UPDATE oracle.payouts SET status='failed', reason=$2, updated_at=now() WHERE id=$1`, [o.id, `superseded: attempt ${payout.attempt} was paid after all`]);
      }
    }
    // The live attempt always takes its own success; a late one only if no attempt holds the slot.
    const holder = late ? others.find((o) => o.status !== 'needs_attention' || o.mpesa_receipt) : undefined;
    if (holder) {
      const reason = `paid (${v.receipt}) after being given up, while attempt ${holder.attempt} is ${holder.status}: possible over-payment, a person must recover it`;
      await client.query(`UPDATE oracle.payouts SET status='overpaid', mpesa_receipt=$2, result_code='0', completed_at=now(), reason=$3, updated_at=now() WHERE id=$1`, [payout.id, v.receipt, reason]);
      await client.query('COMMIT');
      log.error({ orderId: payout.order_id, role: payout.role, receipt: v.receipt, other: holder.attempt }, 'b2c success for a payout given up while another attempt holds the order; needs a person');
      return 'overpaid';
    }
    await client.query(
      `UPDATE oracle.payouts SET status='succeeded', mpesa_receipt=$2, result_code='0', completed_at=now(), updated_at=now(), reason=$3 WHERE id=$1`,
      [payout.id, v.receipt, late ? `paid after being marked ${payout.status}` : null],
    );
    await queuePayoutRecord(client, v.receipt, payout.order_id, { beneficiary: payout.beneficiary, amountKes: payout.amount_kes, trace: payout.trace_context });
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  log.info({ orderId: payout.order_id, role: payout.role, receipt: v.receipt, amountKes: payout.amount_kes, late }, 'b2c payout paid; recording on chain');
  return late ? 'paid_after_failure' : 'paid';
}

/**
 * The attempt holding the order failed (verified), but an earlier attempt was paid after
 * being given up (`overpaid`): that payment is the payout after all. It takes the slot
 * and is recorded on chain, so no new attempt is queued.
 */
async function promoteOverpaid(ctx: OracleContext, failed: PayoutRow): Promise<boolean> {
  const client = await ctx.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`payout:${failed.order_id}:${failed.role}`]);
    const { rows } = await client.query<{ id: string; mpesa_receipt: string; beneficiary: string; amount_kes: number }>(
      `UPDATE oracle.payouts SET status='succeeded', reason='paid after being given up; the attempt that replaced it failed', updated_at=now()
        WHERE id = (SELECT id FROM oracle.payouts WHERE order_id=$1 AND role=$2 AND status='overpaid' AND mpesa_receipt IS NOT NULL ORDER BY attempt LIMIT 1)
          AND NOT EXISTS (SELECT 1 FROM oracle.payouts WHERE order_id=$1 AND role=$2 AND status IN ('queued','sent','unknown','succeeded','needs_attention'))
        RETURNING id, mpesa_receipt, beneficiary, amount_kes`,
      [failed.order_id, failed.role],
    );
    const p = rows[0];
    if (p) {
      await queuePayoutRecord(client, p.mpesa_receipt, failed.order_id, { beneficiary: p.beneficiary, amountKes: p.amount_kes });
    }
    await client.query('COMMIT');
    if (p) ctx.log.warn({ orderId: failed.order_id, role: failed.role, receipt: p.mpesa_receipt }, 'an earlier attempt paid after all; recording it');
    return !!p;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
