/**
 * Sends queued B2C payouts and verifies every attempt Daraja may have accepted with
 * Transaction Status. The payout row (with its deterministic OriginatorConversationID)
 * exists before Daraja is called, and each call is counted before it is made: Daraja
 * refuses a reused id, so a crash-and-retry can never pay twice, and an attempt counts as
 * never accepted only when every call for it was refused (./payoutProof).
 */
import { context, contextFrom, inSpan, REQUEST_ID_ATTRIBUTE, ROOT_CONTEXT, SpanKind, trace, traceHeaders } from '@descrow/common';
import type { TraceOrigin } from '../chain/outboxWorker';
import type { OracleContext } from '../context';
import { callbackUrl } from '../context';
import { DarajaError } from '../daraja/errors';
import { failpoint } from '../failpoints';
import { forEachItem, IN_BACKOFF_SQL } from '../jobs/isolation';

interface PayoutRow { id: string; order_id: string; role: string; phone: string; amount_kes: number; originator_conversation_id: string; status: string; checks: number; trace_context: TraceOrigin | null }
const tracer = trace.getTracer('descrow-oracle');

export async function sendQueuedPayouts(ctx: OracleContext, limit = 20): Promise<number> {
  const { pool } = ctx;
  const { rows } = await pool.query<PayoutRow>(
    // Items waiting out a backoff (jobs/isolation.ts) are left out here, not after the LIMIT:
    // a batch's worth of payouts that throw every time must not starve the others.
    `SELECT * FROM oracle.payouts WHERE status='queued' AND (next_check_at IS NULL OR next_check_at <= now())
        AND NOT ${IN_BACKOFF_SQL('payout_send', 'id::text')} ORDER BY created_at LIMIT $1`,
    [limit],
  );
  let sent = 0;
  await forEachItem(ctx, 'payout_send', rows, (p) => p.id, async (p) => { // each on its own (jobs/isolation.ts)
    // Each payout has a trace of its own, begun by its first send (a retry continues it); the
    // Daraja call below, the result's settlement and the receipt's chain record join it.
    const parent = p.trace_context?.traceparent ? contextFrom({ traceparent: p.trace_context.traceparent, tracestate: p.trace_context.tracestate }, ROOT_CONTEXT) : ROOT_CONTEXT;
    const attributes = { 'descrow.order_id': p.order_id, 'descrow.payout_id': p.id, 'descrow.payout_role': p.role, [REQUEST_ID_ATTRIBUTE]: p.originator_conversation_id };
    if (await inSpan(tracer, `payout ${p.role}`, attributes, () => sendOne(ctx, p), SpanKind.INTERNAL, parent)) sent++;
  });
  return sent;
}

/** One queued payout to Daraja; whether Daraja accepted it. */
async function sendOne(ctx: OracleContext, p: PayoutRow): Promise<boolean> {
  const { pool, daraja, config, log } = ctx;
  if (!p.trace_context) {
    const origin: TraceOrigin = { ...traceHeaders(context.active()), requestId: p.originator_conversation_id };
    await pool.query(`UPDATE oracle.payouts SET trace_context=$2 WHERE id=$1 AND trace_context IS NULL`, [p.id, JSON.stringify(origin)]);
  }
  // Counted before the call: if we die after Daraja accepts it, the attempt is not taken as never sent.
  await pool.query(`UPDATE oracle.payouts SET b2c_calls=b2c_calls+1, updated_at=now() WHERE id=$1`, [p.id]);
  try {
    const ack = await daraja.b2c({
      originatorConversationId: p.originator_conversation_id, amount: p.amount_kes, phone: p.phone,
      remarks: `Descrow ${p.role === 'seller' ? 'payout' : 'refund'} ${p.order_id.slice(2, 10)}`,
      resultUrl: callbackUrl(config, 'b2c/result', p.id), timeoutUrl: callbackUrl(config, 'b2c/timeout', p.id), occasion: p.role === 'seller' ? 'Payout' : 'Refund',
    });
    failpoint('payout:after-b2c-ack');
    await pool.query(
      `UPDATE oracle.payouts SET status='sent', conversation_id=$2, updated_at=now(), next_check_at=now() + ($3 || ' seconds')::interval WHERE id=$1 AND status='queued'`,
      [p.id, ack.ConversationID, String(Math.max(config.ORACLE_B2C_STATUS_DELAY_SECONDS, 1) * 5)],
    );
    log.info({ orderId: p.order_id, role: p.role, amountKes: p.amount_kes, originatorConversationId: p.originator_conversation_id }, 'b2c payout accepted by daraja');
    return true;
  } catch (err) {
    if (!(err instanceof DarajaError)) throw err;
    if (err.kind === 'retryable' || err.kind === 'invalid_token') {
      // Refused at the gateway: this call took no effect (the same id is sent again).
      await pool.query(`UPDATE oracle.payouts SET b2c_refusals=b2c_refusals+1, next_check_at=now() + interval '5 seconds', reason=$2, updated_at=now() WHERE id=$1`, [p.id, err.message]);
    } else if (err.kind === 'indeterminate' || /duplicate/i.test(err.errorMessage ?? '')) {
      // It may have been sent (a timeout, or we sent it before a crash: Daraja's duplicate
      // answer says it has this id): ask Transaction Status by our id before any retry.
      await pool.query(
        `UPDATE oracle.payouts SET status='unknown', reason=$2, updated_at=now(), next_check_at=now() + ($3 || ' seconds')::interval WHERE id=$1`,
        [p.id, err.message, String(config.ORACLE_B2C_STATUS_DELAY_SECONDS)],
      );
    } else {
      await pool.query(`UPDATE oracle.payouts SET b2c_refusals=b2c_refusals+1, status='needs_attention', reason=$2, updated_at=now() WHERE id=$1`, [p.id, `Daraja refused the payout: ${err.message}`]);
      log.error({ orderId: p.order_id, role: p.role, err: err.message }, 'b2c payout refused; needs a person');
    }
  }
  return false;
}

/**
 * Transaction Status, by our OriginatorConversationID, for every attempt Daraja may have
 * accepted and M-Pesa has not given its final word on — whatever its state: an attempt sent
 * and unanswered, but also one failed, settled by hand or waiting for a person (M-Pesa may
 * still pay it). With backoff, for ORACLE_B2C_VERIFY_SECONDS from its creation or from the
 * last result or person's action that reopened it (verify_from). An open attempt still without
 * an answer after ORACLE_B2C_STATUS_CHECKS_BEFORE_PERSON checks also waits for a person.
 */
export async function checkUnansweredPayouts(ctx: OracleContext, limit = 20): Promise<number> {
  const { pool, daraja, config, log } = ctx;
  const { rows } = await pool.query<PayoutRow>(
    `SELECT * FROM oracle.payouts
      WHERE mpesa_final IS NULL AND next_check_at <= now() AND status <> 'queued'
        AND (status IN ('sent','unknown')
             OR ((conversation_id IS NOT NULL OR b2c_calls > b2c_refusals) AND coalesce(verify_from, created_at) > now() - ($2 || ' seconds')::interval))
        AND NOT ${IN_BACKOFF_SQL('payout_check', 'id::text')}
      ORDER BY next_check_at LIMIT $1`,
    [limit, String(config.ORACLE_B2C_VERIFY_SECONDS)],
  );
  const maxChecks = config.ORACLE_B2C_STATUS_CHECKS_BEFORE_PERSON;
  await forEachItem(ctx, 'payout_check', rows, (p) => p.id, async (p) => { // each on its own (jobs/isolation.ts)
    if (p.checks >= maxChecks && ['sent', 'unknown'].includes(p.status)) {
      const r = await pool.query(
        `UPDATE oracle.payouts SET status='needs_attention', reason=$2, updated_at=now() WHERE id=$1 AND status IN ('sent','unknown')`,
        [p.id, `no final answer after ${maxChecks} status checks`],
      );
      if (r.rowCount) log.error({ orderId: p.order_id, role: p.role }, 'payout outcome unknown after repeated status checks; needs a person (checks go on)');
    }
    try {
      const ack = await daraja.transactionStatus({
        originatorConversationId: p.originator_conversation_id, remarks: 'Descrow payout check',
        resultUrl: callbackUrl(config, 'status/result', p.id), timeoutUrl: callbackUrl(config, 'status/timeout', p.id),
      });
      // Its result counts only as the answer to this query (see b2cResult.ts). A crash before
      // this write loses nothing: the unmatched answer is ignored and the next check asks again.
      await pool.query(
        `INSERT INTO oracle.status_queries (originator_conversation_id, conversation_id, payout_id) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`,
        [ack.OriginatorConversationID, ack.ConversationID, p.id],
      );
    } catch (err) {
      if (!(err instanceof DarajaError)) throw err;
      log.warn({ orderId: p.order_id, err: err.message }, 'transaction status request failed; will retry');
    }
    const wait = Math.max(1, config.ORACLE_B2C_STATUS_DELAY_SECONDS) * 2 ** Math.min(p.checks, 6);
    await pool.query(`UPDATE oracle.payouts SET checks=checks+1, next_check_at=now() + ($2 || ' seconds')::interval, updated_at=now() WHERE id=$1`, [p.id, String(wait)]);
  });
  return rows.length;
}
