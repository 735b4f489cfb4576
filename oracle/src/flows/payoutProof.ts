/**
 * The one rule for "did this payout attempt pay?", shared by the automatic path (giving an
 * attempt up, queueing the next one: ./b2cResult, ./payoutWatcher) and a person's actions
 * (retry, settle: ../http/payoutApi). No attempt is assumed unpaid:
 *
 * - paid: it has an M-Pesa receipt (confirmed by Transaction Status), or it was settled
 *   outside M-Pesa;
 * - proven unpaid: Daraja never accepted it (every B2C call for it was refused — a missing
 *   ConversationID proves nothing: a crash or a timeout loses the acknowledgement), or
 *   Transaction Status, asked by its OriginatorConversationID, said "not completed" at least
 *   twice, the first and last answer ORACLE_B2C_FAILURE_CONFIRM_SECONDS apart, with no
 *   "still in progress" answer since (that resets the count);
 * - anything else is unproven: a new attempt or a settlement could pay twice.
 */
import type { PoolClient } from 'pg';

export interface AttemptEvidence {
  id: string; attempt: number; status: string; mpesa_receipt: string | null; settled_reference: string | null;
  conversation_id: string | null; b2c_calls: number; b2c_refusals: number;
  not_completed_answers: number; first_not_completed_at: Date | null; last_not_completed_at: Date | null;
}

export type Verdict = { kind: 'paid'; why: string } | { kind: 'unpaid'; why: string } | { kind: 'unproven'; why: string };

const PAID_STATES = new Set(['succeeded', 'overpaid', 'settled']);

/** Whether Daraja may have accepted this attempt (so M-Pesa may pay it, now or later). */
export function mayHaveBeenAccepted(a: Pick<AttemptEvidence, 'b2c_calls' | 'b2c_refusals' | 'conversation_id'>): boolean {
  return a.conversation_id !== null || a.b2c_calls > a.b2c_refusals;
}

/** Whether the "not completed" answers prove the attempt did not pay (count and spacing). */
export function notCompletedProven(a: Pick<AttemptEvidence, 'not_completed_answers' | 'first_not_completed_at' | 'last_not_completed_at'>, confirmSeconds: number): boolean {
  if (a.not_completed_answers < 2 || !a.first_not_completed_at || !a.last_not_completed_at) return false;
  return a.last_not_completed_at.getTime() - a.first_not_completed_at.getTime() >= confirmSeconds * 1000;
}

export function verdict(a: AttemptEvidence, confirmSeconds: number): Verdict {
  if (a.mpesa_receipt) return { kind: 'paid', why: `attempt ${a.attempt} paid (M-Pesa receipt ${a.mpesa_receipt})` };
  if (a.settled_reference) return { kind: 'paid', why: `attempt ${a.attempt} was settled outside M-Pesa (MANUAL:${a.settled_reference})` };
  if (PAID_STATES.has(a.status)) return { kind: 'paid', why: `attempt ${a.attempt} is ${a.status}` };
  if (!mayHaveBeenAccepted(a)) return { kind: 'unpaid', why: `attempt ${a.attempt} was never accepted by Daraja` };
  if (notCompletedProven(a, confirmSeconds)) return { kind: 'unpaid', why: `Transaction Status said attempt ${a.attempt} did not complete, ${a.not_completed_answers} times over ${confirmSeconds}s or more` };
  const asked = a.not_completed_answers === 0
    ? 'Transaction Status has not yet said it did not complete'
    : `Transaction Status said ${a.not_completed_answers} time(s) that it did not complete, not yet twice ${confirmSeconds}s apart`;
  return { kind: 'unproven', why: `Daraja may have accepted attempt ${a.attempt} (${a.status}) and ${asked}` };
}

const COLS = `id, attempt, status, mpesa_receipt, settled_reference, conversation_id, b2c_calls, b2c_refusals,
  not_completed_answers, first_not_completed_at, last_not_completed_at, amount_kes, paid_kes`;

/**
 * Every attempt for one order and beneficiary, locked for the caller's transaction. The
 * advisory lock serialises with result processing (./b2cResult) and the watcher.
 */
export async function lockAttempts(client: PoolClient, orderId: string, role: string): Promise<(AttemptEvidence & { amount_kes: number; paid_kes: number | null })[]> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`payout:${orderId}:${role}`]);
  return (await client.query(`SELECT ${COLS} FROM oracle.payouts WHERE order_id=$1 AND role=$2 ORDER BY attempt FOR UPDATE`, [orderId, role])).rows;
}

/** The verdict on every attempt that is not proven unpaid: empty means a new payment cannot pay twice. */
export function blockers(attempts: AttemptEvidence[], confirmSeconds: number): (Verdict & { attempt: AttemptEvidence })[] {
  return attempts.map((a) => ({ ...verdict(a, confirmSeconds), attempt: a })).filter((v) => v.kind !== 'unpaid');
}

/** Ask Transaction Status about these attempts at the next pass (verification reopened for a new window, even past the old one). */
export async function verifySoon(client: PoolClient, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await client.query(
    `UPDATE oracle.payouts SET next_check_at=LEAST(coalesce(next_check_at, now()), now()), mpesa_final=CASE WHEN mpesa_final='completed' THEN mpesa_final END,
            verify_from=now(), updated_at=now()
      WHERE id = ANY($1::uuid[]) AND (conversation_id IS NOT NULL OR b2c_calls > b2c_refusals)`,
    [ids],
  );
}
