/**
 * Payouts a person must act on, for the API's admins (internal endpoints, service token).
 * The oracle stays the only writer of its ledger and keeps the rule that matters, the same
 * one the automatic path follows (flows/payoutProof): a new attempt, or a settlement
 * outside M-Pesa, only when EVERY attempt of the payout is proven unpaid — never accepted by
 * Daraja, or Transaction Status said "not completed" twice, ORACLE_B2C_FAILURE_CONFIRM_SECONDS
 * apart. An attempt that paid refuses both; one not proven is verified first (Transaction
 * Status by its OriginatorConversationID), and the admin is told so.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import { receiptHash } from '@descrow/contracts';
import type { OracleContext } from '../context';
import { originatorConversationId } from '../flows/payoutWatcher';
import { blockers, lockAttempts, verifySoon } from '../flows/payoutProof';
import { queuePayoutRecord } from '../ledger/outbox';

const COLS = `id, order_id AS "orderId", role, beneficiary, phone, amount_kes AS "amountKes", attempt, status, reason, hint,
  result_code AS "resultCode", mpesa_receipt AS receipt, conversation_id AS "conversationId", not_completed_answers AS "notCompletedAnswers",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

const id = z.string().uuid('expected a payout id');
const retryInput = z.object({ actor: z.string().min(1).max(100), reason: z.string().trim().min(3).max(500) });
const settleInput = retryInput.extend({ reference: z.string().trim().regex(/^[A-Za-z0-9-]{4,40}$/, 'a payment reference: 4–40 letters, digits or dashes') });
const range = z.object({ from: z.coerce.date(), to: z.coerce.date() });

interface PayoutRow {
  id: string; orderId: string; role: 'seller' | 'buyer'; beneficiary: string; amountKes: number; attempt: number; status: string;
  receipt: string | null; conversationId: string | null; notCompletedAnswers: number; reason: string | null;
}

function refuse(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.status(status).send({ error: { code, message } });
}

export function payoutRoutes(internal: FastifyInstance, ctx: OracleContext): void {
  const { pool, log } = ctx;

  internal.get('/internal/payouts/attention', async () => {
    const { rows } = await pool.query(`SELECT ${COLS} FROM oracle.payouts WHERE status IN ('needs_attention', 'overpaid') ORDER BY created_at`);
    return { payouts: rows };
  });

  /** Payouts created in [from, to) by outcome: the success rate admins watch. */
  internal.get('/internal/payouts/stats', async (req, reply) => {
    const r = range.safeParse(req.query);
    if (!r.success) return refuse(reply, 400, 'INVALID_INPUT', r.error.issues[0]!.message);
    const { rows } = await pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM oracle.payouts WHERE created_at >= $1 AND created_at < $2 GROUP BY status`,
      [r.data.from, r.data.to],
    );
    const by = Object.fromEntries(rows.map((x) => [x.status, x.n])) as Record<string, number>;
    const paid = (by.succeeded ?? 0) + (by.overpaid ?? 0);
    const finished = paid + (by.failed ?? 0) + (by.needs_attention ?? 0) + (by.settled ?? 0);
    return { byStatus: by, attempts: rows.reduce((a, x) => a + x.n, 0), paid, finished, successRate: finished ? paid / finished : null };
  });

  const confirm = ctx.config.ORACLE_B2C_FAILURE_CONFIRM_SECONDS;

  internal.post('/internal/payouts/:id/retry', async (req: FastifyRequest<{ Params: { id: string } }>, reply) =>
    onWaitingPayout(pool, req.params.id, req.body, retryInput, reply, async (client, p, body, attempts) => {
      const open = blockers(attempts, confirm);
      const paid = open.filter((b) => b.kind === 'paid');
      if (paid.length) return refuse(reply, 409, 'ALREADY_PAID', `another attempt for this order and beneficiary already paid: ${paid.map((b) => b.why).join('; ')}`);
      if (open.length) {
        // Not proven: Transaction Status first, which decides as it does for every attempt.
        // This attempt goes back to the automatic path (a new attempt follows its proof);
        // other unproven attempts are asked about at once.
        const mine = open.some((b) => b.attempt.id === p.id);
        if (mine) {
          await client.query(
            `UPDATE oracle.payouts SET status='unknown', hint=$2, checks=0, mpesa_final=NULL, next_check_at=now(), verify_from=now(), updated_at=now() WHERE id=$1`,
            [p.id, `retry asked by ${body.actor}: ${body.reason}; verifying first`],
          );
        }
        await verifySoon(client, open.map((b) => b.attempt.id));
        await client.query('COMMIT');
        const why = open.map((b) => b.why).join('; ');
        log.warn({ payoutId: p.id, orderId: p.orderId, actor: body.actor, why }, 'payout retry asked without proof: verifying with Transaction Status');
        return reply.status(202).send({ outcome: 'verifying', reason: why });
      }
      const attempt = Math.max(...attempts.map((a) => a.attempt)) + 1;
      await client.query(`UPDATE oracle.payouts SET status='failed', reason=$2, updated_at=now() WHERE id=$1`, [p.id, `${p.reason ?? ''} — retried by ${body.actor}: ${body.reason}`.trim()]);
      const next = randomUUID();
      await client.query(
        `INSERT INTO oracle.payouts (id, order_id, beneficiary, role, phone, amount_kes, attempt, originator_conversation_id, status, next_check_at)
         SELECT $1, order_id, beneficiary, role, phone, amount_kes, $2, $3, 'queued', now() FROM oracle.payouts WHERE id=$4`,
        [next, attempt, originatorConversationId(p.orderId, p.role, attempt), p.id],
      );
      await client.query('COMMIT');
      log.info({ payoutId: p.id, next, orderId: p.orderId, attempt, actor: body.actor }, 'payout retried by a person');
      return { outcome: 'retried', payoutId: next, attempt };
    }));

  internal.post('/internal/payouts/:id/settle', async (req: FastifyRequest<{ Params: { id: string } }>, reply) =>
    onWaitingPayout(pool, req.params.id, req.body, settleInput, reply, async (client, p, body, attempts) => {
      const open = blockers(attempts, confirm);
      const paid = open.filter((b) => b.kind === 'paid');
      if (paid.length) return refuse(reply, 409, 'ALREADY_PAID', `settling would pay twice: ${paid.map((b) => b.why).join('; ')}`);
      if (open.length) {
        await verifySoon(client, open.map((b) => b.attempt.id)); // so the proof can come
        await client.query('COMMIT');
        return refuse(reply, 409, 'NOT_PROVEN', `${open.map((b) => b.why).join('; ')}: settling outside M-Pesa now could pay twice; the oracle is verifying`);
      }
      const key = `MANUAL:${body.reference.toUpperCase()}`;
      try {
        await client.query(
          `UPDATE oracle.payouts SET status='settled', settled_by=$2, settled_reference=$3, reason=$4, completed_at=now(), updated_at=now() WHERE id=$1`,
          [p.id, body.actor, body.reference.toUpperCase(), `settled outside M-Pesa by ${body.actor}: ${body.reason}`],
        );
      } catch (e) {
        if ((e as { code?: string }).code === '23505') return refuse(reply, 409, 'REFERENCE_USED', 'this reference already settled another payout');
        throw e;
      }
      // The chain still owes it: record the settlement so the order completes (same outbox as B2C receipts).
      await queuePayoutRecord(client, key, p.orderId, { beneficiary: p.beneficiary, amountKes: p.amountKes });
      await client.query('COMMIT');
      log.info({ payoutId: p.id, orderId: p.orderId, reference: key, actor: body.actor }, 'payout settled outside M-Pesa');
      return { outcome: 'settled', receiptKey: key, receiptHash: receiptHash(key) };
    }));
}

/**
 * The common part of a person's action on a payout: checked input, the row locked in a
 * transaction, and only a payout that is waiting for a person. `act` commits what it does;
 * a refusal (or an error) leaves nothing behind.
 */
async function onWaitingPayout<B extends z.ZodTypeAny>(
  pool: Pool, rawId: string, rawBody: unknown, schema: B, reply: FastifyReply,
  act: (client: PoolClient, p: PayoutRow, body: z.infer<B>, attempts: Awaited<ReturnType<typeof lockAttempts>>) => Promise<unknown>,
): Promise<unknown> {
  const pid = id.safeParse(rawId);
  const body = schema.safeParse(rawBody);
  if (!pid.success || !body.success) return refuse(reply, 400, 'INVALID_INPUT', (pid.error ?? body.error)!.issues[0]!.message);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const owner = (await client.query<{ orderId: string; role: string }>(`SELECT order_id AS "orderId", role FROM oracle.payouts WHERE id=$1`, [pid.data])).rows[0];
    if (!owner) return refuse(reply, 404, 'NOT_FOUND', 'no such payout');
    // Every attempt of this payout, locked as result processing locks them (same order of locks).
    const attempts = await lockAttempts(client, owner.orderId, owner.role);
    const p = (await client.query<PayoutRow>(`SELECT ${COLS} FROM oracle.payouts WHERE id=$1`, [pid.data])).rows[0]!;
    if (p.status !== 'needs_attention') return refuse(reply, 409, 'NOT_WAITING', `this payout is ${p.status}, not waiting for a person`);
    return await act(client, p, body.data, attempts);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined); // a refusal leaves no transaction open (no-op after COMMIT)
    client.release();
  }
}
