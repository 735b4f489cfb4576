/**
 * B2C results, queue timeouts and Transaction Status answers, keyed on our own
 * OriginatorConversationID. Every result is processed whatever state its attempt is in
 * (failed, settled, waiting for a person, given up): a B2C result is only a hint that makes
 * the oracle ask Transaction Status; money out is recorded only on Transaction Status'
 * "Completed" — as a success if the attempt holds the order's slot, otherwise as an
 * `overpaid` case for a person with both receipts. The rule for "did it pay?" is
 * ./payoutProof.
 */
import type { PoolClient } from 'pg';
import { contextFrom, inSpan, REQUEST_ID_ATTRIBUTE, SpanKind, trace } from '@descrow/common';
import type { OracleContext } from '../context';
import { resultCallback, resultParam, timeoutNotice } from '../daraja/schemas';
import { markProcessed } from '../ledger/callbacks';
import { queuePayoutRecord } from '../ledger/outbox';
import type { TraceOrigin } from '../chain/outboxWorker';
import { lockAttempts, mayHaveBeenAccepted, notCompletedProven, verdict, type AttemptEvidence } from './payoutProof';

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
const OPEN = ['queued', 'sent', 'unknown'];
/** Transaction Status' final "did not complete" states (Initiated/Authorized are still moving). */
const NOT_COMPLETED = ['Cancelled', 'Declined', 'Expired', 'Failed'];

const tracer = trace.getTracer('descrow-oracle');

interface PayoutRow extends AttemptEvidence {
  order_id: string; beneficiary: string; role: string; amount_kes: number; originator_conversation_id: string;
  mpesa_final: string | null; created_at: Date; verify_from: Date | null; trace_context: TraceOrigin | null;
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
 * - a B2C result names our payout (URL ref + OriginatorConversationID) and, once we stored
 *   Daraja's acknowledgement, carries its ConversationID. Success or failure, it only makes
 *   the oracle ask Transaction Status (whatever state the attempt is in); a failure a person
 *   must fix also puts an open attempt in front of a person;
 * - a Transaction Status result counts only as the answer to a query we sent (its ids are
 *   those of the query's acknowledgement, stored in oracle.status_queries). It decides.
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
        WHERE originator_conversation_id=$1 AND id::text=$3 AND (status='sent' OR (status='queued' AND b2c_calls > 0))`,
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
    if (res.ResultCode === 'R000002') return notCompleted(ctx, payout, 'Transaction Status: no record of the payout', false);
    if (res.ResultCode !== '0') return 'status_inconclusive';
    const status = String(resultParam(parsed.data, 'TransactionStatus') ?? '');
    if (status === 'Completed') {
      const receipt = String(resultParam(parsed.data, 'ReceiptNo') ?? '');
      const amount = Number(resultParam(parsed.data, 'Amount'));
      return settle(ctx, payout, { receipt, amount });
    }
    if (NOT_COMPLETED.includes(status)) return notCompleted(ctx, payout, `Transaction Status: ${status}`, true);
    // Initiated / Authorized: it exists and is still moving; any earlier "not completed" was premature.
    await pool.query(
      `UPDATE oracle.payouts SET not_completed_answers=0, first_not_completed_at=NULL, last_not_completed_at=NULL, mpesa_final=NULL, hint=$2, updated_at=now() WHERE id=$1`,
      [payout.id, `Transaction Status: ${status || 'in progress'}`],
    );
    return 'status_still_pending';
  }

  const payout = (await pool.query<PayoutRow>(`SELECT * FROM oracle.payouts WHERE originator_conversation_id=$1`, [res.OriginatorConversationID])).rows[0];
  if (!payout) return 'unknown_payout';
  if (payout.id !== ref) return 'ref_mismatch'; // one payout's URL cannot speak for another
  // Without a stored acknowledgement (a crash right after it) there is nothing to match the
  // ConversationID against: the result is only a hint, like every other.
  if (payout.conversation_id && res.ConversationID !== payout.conversation_id) return 'conversation_mismatch';
  // Never sent (each call is counted before it is made): Daraja cannot have answered it.
  if (!mayHaveBeenAccepted(payout)) return 'never_sent';
  const claimedReceipt = res.ResultCode === '0' ? String(resultParam(parsed.data, 'TransactionReceipt') ?? res.TransactionID ?? '') : null;
  if (claimedReceipt && payout.mpesa_receipt === claimedReceipt) return 'already_final'; // a duplicate of a confirmed success
  const hint = res.ResultCode === '0' ? `B2C result says paid (${claimedReceipt}); asking Transaction Status` : `B2C result ${res.ResultCode}: ${res.ResultDesc}`;
  const person = res.ResultCode === '0' || !payout.conversation_id ? undefined : NEEDS_PERSON[res.ResultCode];
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // A success is asked about at once; a failure after the usual delay (M-Pesa may still pay
    // it). Verification reopens, for a new ORACLE_B2C_VERIFY_SECONDS, even if M-Pesa had
    // answered before or the attempt's window had passed: a person may need both answers.
    const wait = res.ResultCode === '0' ? 0 : ctx.config.ORACLE_B2C_STATUS_DELAY_SECONDS;
    const upd = await client.query<{ status: string }>(
      `UPDATE oracle.payouts SET hint=$2, result_code=CASE WHEN $3 = '0' THEN result_code ELSE $3 END,
              status=CASE WHEN status IN ('queued','sent') THEN 'unknown' ELSE status END, mpesa_final=NULL,
              next_check_at=LEAST(next_check_at, now() + ($4 || ' seconds')::interval), verify_from=now(), updated_at=now()
        WHERE id=$1 RETURNING status`,
      [payout.id, hint, res.ResultCode, String(wait)],
    );
    await client.query('COMMIT');
    const now = upd.rows[0]!.status;
    if (person && OPEN.includes(now)) return giveUp(ctx, payout, 'needs_attention', `${res.ResultCode}: ${person}`);
    if (payout.mpesa_receipt) {
      ctx.log.warn({ orderId: payout.order_id, role: payout.role, receipt: payout.mpesa_receipt, resultCode: res.ResultCode }, 'b2c result contradicts a confirmed payout; asking Transaction Status again');
      return res.ResultCode === '0' ? 'other_receipt_will_check_status' : 'failure_after_success_will_check_status';
    }
    return res.ResultCode === '0' ? 'success_hint_will_check_status' : 'failure_hint_will_check_status';
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function byId(ctx: OracleContext, id: string): Promise<PayoutRow | undefined> {
  return (await ctx.pool.query<PayoutRow>(`SELECT * FROM oracle.payouts WHERE id=$1`, [id])).rows[0];
}

/**
 * Transaction Status said "not completed", whatever state the attempt is in. An open attempt
 * is given up (so a new attempt may follow) only once ./payoutProof says it is proven unpaid:
 * a payment still queued at Safaricom answers "no record" too. Verification stops when the
 * answer is final: a final state (Declined, …) proven as above, or "no record" past
 * ORACLE_B2C_VERIFY_SECONDS.
 */
async function notCompleted(ctx: OracleContext, payout: PayoutRow, why: string, finalState: boolean): Promise<string> {
  const { pool, config, log } = ctx;
  if (payout.mpesa_receipt) {
    // M-Pesa confirmed this one paid before: a person compares the two answers.
    await pool.query(`UPDATE oracle.payouts SET hint=$2, updated_at=now() WHERE id=$1`, [payout.id, `${why}, after Transaction Status confirmed receipt ${payout.mpesa_receipt}`]);
    log.error({ orderId: payout.order_id, role: payout.role, receipt: payout.mpesa_receipt, why }, 'transaction status contradicts a confirmed payout');
    return 'status_contradicts_paid';
  }
  const { rows } = await pool.query<PayoutRow>(
    `UPDATE oracle.payouts SET not_completed_answers=not_completed_answers+1, first_not_completed_at=COALESCE(first_not_completed_at, now()),
            last_not_completed_at=now(), status=CASE WHEN status IN ('queued','sent') THEN 'unknown' ELSE status END, hint=$2, updated_at=now()
      WHERE id=$1 RETURNING *`,
    [payout.id, why],
  );
  const row = rows[0];
  if (!row) return 'unknown_payout';
  if (verdict(row, config.ORACLE_B2C_FAILURE_CONFIRM_SECONDS).kind === 'unpaid') {
    const expired = Date.now() - (row.verify_from ?? row.created_at).getTime() >= config.ORACLE_B2C_VERIFY_SECONDS * 1000;
    if (finalState || expired) await pool.query(`UPDATE oracle.payouts SET mpesa_final='not_completed', next_check_at=NULL WHERE id=$1 AND mpesa_final IS NULL`, [row.id]);
    if (OPEN.includes(row.status)) {
      return giveUp(ctx, row, 'failed', `${why} (confirmed ${row.not_completed_answers} times since ${row.first_not_completed_at!.toISOString()})`);
    }
    return finalState || expired ? 'not_completed_final' : 'not_completed_confirmed';
  }
  // Ask again once the confirmation interval has passed.
  const confirmAt = row.first_not_completed_at!.getTime() + config.ORACLE_B2C_FAILURE_CONFIRM_SECONDS * 1000;
  await pool.query(`UPDATE oracle.payouts SET next_check_at=GREATEST(now() + ($2 || ' seconds')::interval, to_timestamp($3 / 1000.0)) WHERE id=$1`,
    [row.id, String(Math.max(1, config.ORACLE_B2C_STATUS_DELAY_SECONDS)), confirmAt]);
  return notCompletedProven(row, config.ORACLE_B2C_FAILURE_CONFIRM_SECONDS) ? 'not_completed_confirmed' : 'not_completed_unconfirmed';
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

/** Money out confirmed by Transaction Status, decided in the payout's trace (started when it was first sent, ./payoutSender). */
function settle(ctx: OracleContext, payout: PayoutRow, v: { receipt: string; amount: number }): Promise<string> {
  const parent = payout.trace_context?.traceparent ? contextFrom({ traceparent: payout.trace_context.traceparent, tracestate: payout.trace_context.tracestate }) : undefined;
  return inSpan(tracer, 'payout settle', { 'descrow.order_id': payout.order_id, 'descrow.payout_id': payout.id, [REQUEST_ID_ATTRIBUTE]: payout.trace_context?.requestId, 'mpesa.receipt': v.receipt },
    (span) => recordMoneyOut(ctx, payout, v).then((outcome) => (span.setAttribute('descrow.outcome', outcome), outcome)), SpanKind.INTERNAL, parent);
}

/** How an attempt that paid (or was settled) is named to a person: its receipt(s). */
const receiptsOf = (a: AttemptEvidence) => [a.mpesa_receipt, a.settled_reference && `MANUAL:${a.settled_reference}`].filter(Boolean).join(' + ');

/**
 * Transaction Status confirmed that this attempt paid `amount` under `receipt`. Recorded
 * whatever the attempt's state, in one transaction with every attempt of the order and role
 * locked:
 * - the attempt holds the order's slot (no other attempt succeeded, was settled or is in
 *   flight): `succeeded`, and the receipt is queued for the chain — an attempt never sent,
 *   or one waiting for a person without money out, yields its slot;
 * - otherwise (the payout was paid another way, or another attempt is in flight): `overpaid`
 *   for a person, naming both receipts; if the other attempt later proves unpaid, this one
 *   takes the slot (promoteOverpaid);
 * - a different amount than owed: recorded, and waits for a person.
 */
async function recordMoneyOut(ctx: OracleContext, payout: PayoutRow, v: { receipt: string; amount: number }): Promise<string> {
  const { pool, log } = ctx;
  if (!/^[A-Z0-9]{6,20}$/.test(v.receipt) || !Number.isInteger(v.amount) || v.amount <= 0) return 'invalid_receipt';
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const attempts = await lockAttempts(client, payout.order_id, payout.role);
    const me = attempts.find((a) => a.id === payout.id)!;
    if (me.mpesa_receipt) {
      await client.query(`UPDATE oracle.payouts SET mpesa_final='completed', next_check_at=NULL WHERE id=$1 AND mpesa_receipt=$2`, [me.id, v.receipt]);
      await client.query('COMMIT');
      if (me.mpesa_receipt === v.receipt) return 'already_final';
      log.error({ orderId: payout.order_id, role: payout.role, receipt: me.mpesa_receipt, other: v.receipt }, 'transaction status names a second receipt for one attempt; needs a person');
      return 'receipt_conflict';
    }
    const others = attempts.filter((a) => a.id !== me.id);
    // Attempts that cannot have paid give the slot up: never sent, or waiting for a person with nothing out.
    const yielding = others.filter((o) => (o.status === 'queued' && o.b2c_calls === 0) || (o.status === 'needs_attention' && !o.mpesa_receipt));
    for (const o of yielding) {
      await client.query(`UPDATE oracle.payouts SET status='failed', reason=$2, updated_at=now() WHERE id=$1`, [o.id, `superseded: attempt ${me.attempt} paid (${v.receipt})`]);
    }
    // The order's slot: an attempt that paid and was recorded (succeeded), settled, in flight,
    // or waiting for a person with money out. An `overpaid` one does not hold it.
    const holder = others.find((o) => !yielding.includes(o) && ['succeeded', 'settled', 'needs_attention', ...OPEN].includes(o.status));
    const paidTwice = me.settled_reference ? me : holder;
    let outcome: string;
    if (paidTwice) {
      const other = paidTwice === me ? `it was settled outside M-Pesa (MANUAL:${me.settled_reference})` : `attempt ${paidTwice.attempt} is ${paidTwice.status}${receiptsOf(paidTwice) ? ` (${receiptsOf(paidTwice)})` : ''}`;
      const reason = `paid ${v.amount} KES (${v.receipt}) while ${other}: possible over-payment, a person must recover it`;
      await client.query(
        `UPDATE oracle.payouts SET status='overpaid', mpesa_receipt=$2, paid_kes=$3, mpesa_final='completed', next_check_at=NULL, result_code='0', completed_at=now(), reason=$4, updated_at=now() WHERE id=$1`,
        [me.id, v.receipt, v.amount, reason],
      );
      log.error({ orderId: payout.order_id, role: payout.role, receipt: v.receipt, other }, 'b2c success for a payout already paid or in flight another way; needs a person');
      outcome = 'overpaid';
    } else if (v.amount !== me.amount_kes) {
      await client.query(
        `UPDATE oracle.payouts SET status='needs_attention', mpesa_receipt=$2, paid_kes=$3, mpesa_final='completed', next_check_at=NULL, reason=$4, updated_at=now() WHERE id=$1`,
        [me.id, v.receipt, v.amount, `paid ${v.amount} KES (${v.receipt}), expected ${me.amount_kes}`],
      );
      log.error({ orderId: payout.order_id, paid: v.amount, expected: me.amount_kes }, 'b2c paid a different amount; needs a person');
      outcome = 'amount_mismatch';
    } else {
      const late = !OPEN.includes(me.status);
      await client.query(
        `UPDATE oracle.payouts SET status='succeeded', mpesa_receipt=$2, paid_kes=$3, mpesa_final='completed', next_check_at=NULL, result_code='0', completed_at=now(), updated_at=now(), reason=$4 WHERE id=$1`,
        [me.id, v.receipt, v.amount, late ? `paid after being marked ${me.status}` : null],
      );
      await queuePayoutRecord(client, v.receipt, payout.order_id, { beneficiary: payout.beneficiary, amountKes: payout.amount_kes, trace: payout.trace_context });
      log.info({ orderId: payout.order_id, role: payout.role, receipt: v.receipt, amountKes: payout.amount_kes, late }, 'b2c payout paid (confirmed by transaction status); recording on chain');
      outcome = late ? 'paid_after_failure' : 'paid';
    }
    await client.query('COMMIT');
    return outcome;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
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
    const p = await promoteIn(client, failed);
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

async function promoteIn(client: PoolClient, failed: PayoutRow) {
  await lockAttempts(client, failed.order_id, failed.role);
  const { rows } = await client.query<{ id: string; mpesa_receipt: string; beneficiary: string; amount_kes: number }>(
    `UPDATE oracle.payouts SET status='succeeded', reason='paid after being given up; the attempt that replaced it failed', updated_at=now()
      WHERE id = (SELECT id FROM oracle.payouts WHERE order_id=$1 AND role=$2 AND status='overpaid' AND mpesa_receipt IS NOT NULL AND settled_reference IS NULL
                    AND paid_kes = amount_kes ORDER BY attempt LIMIT 1)
        AND NOT EXISTS (SELECT 1 FROM oracle.payouts WHERE order_id=$1 AND role=$2 AND status IN ('queued','sent','unknown','succeeded','needs_attention','settled'))
      RETURNING id, mpesa_receipt, beneficiary, amount_kes`,
    [failed.order_id, failed.role],
  );
  const p = rows[0];
  if (p) await queuePayoutRecord(client, p.mpesa_receipt, failed.order_id, { beneficiary: p.beneficiary, amountKes: p.amount_kes });
  return p;
}
