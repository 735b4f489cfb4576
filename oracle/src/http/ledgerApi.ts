/**
 * What the oracle publishes about its ledger for the API (internal endpoints, service
 * token). The oracle owns the ledger and its rules — in particular which key a payment is
 * recorded on chain under (`chain_receipt_key`: the M-Pesa receipt, or CHECKOUT:<id> when
 * only STK Query confirmed it) — so the API never re-derives them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { receiptHash } from '@descrow/contracts';
import type { OracleContext } from '../context';
import { payoutFindings } from '../flows/payoutFindings';

/** The chain key of a paid request; rows written before migration 003 fall back to the same rule. */
const CHAIN_KEY = `COALESCE(p.chain_receipt_key, p.mpesa_receipt, 'CHECKOUT:' || p.checkout_request_id)`;
const PAID_COLS = `p.order_id AS "orderId", COALESCE(p.mpesa_receipt, p.pulled_receipt) AS receipt, ${CHAIN_KEY} AS "chainKey",
  COALESCE(p.paid_amount, p.amount_kes) AS "amountKes", COALESCE(p.paid_at, p.updated_at) AS "paidAt", COALESCE(p.paid_phone, p.phone) AS phone,
  (SELECT o.status FROM oracle.outbox o WHERE o.idempotency_key = 'payment:' || ${CHAIN_KEY} LIMIT 1) AS "outboxStatus"`;

const orderId = z.string().regex(/^0x[0-9a-fA-F]{64}$/).transform((s) => s.toLowerCase());
const reconciliationInput = z.object({
  from: z.coerce.date(),
  to: z.coerce.date(),
  /** M-Pesa orders funded on chain in the window: their ledger payments, by chain key. */
  fundedOrderIds: z.array(orderId).max(10_000).default([]),
  /** Orders the chain says owe a payout: their payout rows. */
  owingOrderIds: z.array(orderId).max(10_000).default([]),
});
const receiptInput = z.string().trim().regex(/^[A-Za-z0-9]{6,20}$/, 'expected an M-Pesa receipt like QKJ3ABC123').transform((s) => s.toUpperCase());
const refundStatus = z.object({ status: z.enum(['open', 'refunded', 'dismissed', 'all']).default('open') });
const refundResolution = z.object({ status: z.enum(['refunded', 'dismissed']), note: z.string().trim().min(3).max(500) });

function bad(reply: FastifyReply, err: z.ZodError) {
  const issue = err.issues[0]!;
  return reply.status(400).send({ error: { code: 'INVALID_INPUT', field: issue.path.join('.'), message: issue.message } });
}

const withHash = <T extends { chainKey: string }>(rows: T[]) => rows.map(({ chainKey, ...r }) => ({ ...r, receiptHash: receiptHash(chainKey) }));

export function ledgerRoutes(internal: FastifyInstance, ctx: OracleContext): void {
  const { pool } = ctx;

  internal.post('/internal/ledger/reconciliation', async (req, reply) => {
    const parsed = reconciliationInput.safeParse(req.body);
    if (!parsed.success) return bad(reply, parsed.error);
    const { from, to, fundedOrderIds, owingOrderIds } = parsed.data;
    const [paid, paidForFunded, payouts, failedPayouts, collected, refundCases, latest] = await Promise.all([
      pool.query(`SELECT ${PAID_COLS} FROM oracle.payment_requests p WHERE p.status='paid' AND p.paid_at >= $1 AND p.paid_at < $2 ORDER BY p.paid_at`, [from, to]),
      pool.query(`SELECT ${PAID_COLS} FROM oracle.payment_requests p WHERE p.status='paid' AND p.order_id = ANY($1)`, [fundedOrderIds]),
      pool.query(`SELECT order_id AS "orderId", role, status FROM oracle.payouts WHERE order_id = ANY($1) ORDER BY created_at`, [owingOrderIds]),
      // Payout problems as they stand now, one per order and role (flows/payoutFindings): a
      // stuck payout is open until a person closes it, whatever the window.
      payoutFindings(ctx, 0, 'ledger').then(({ found }) => ({
        rows: found.map((f) => ({
          orderId: f.orderId, role: f.role, kind: f.kind, amountKes: f.last.paid ?? f.last.amount, status: f.last.status, reason: f.detail,
          resultCode: f.last.resultCode, attempt: f.last.attempt, updatedAt: f.last.updatedAt,
        })),
      })),
      pool.query(
        `SELECT to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, sum(coalesce(paid_amount, amount_kes))::text AS total
           FROM oracle.payment_requests WHERE status='paid' AND paid_at >= $1 AND paid_at < $2 GROUP BY 1`,
        [from, to],
      ),
      refundCasesQuery(ctx, 'open'),
      pool.query(`SELECT discrepancies, finished_at AS "finishedAt" FROM oracle.reconciliation_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1`),
    ]);
    return {
      paid: withHash(paid.rows), paidForFunded: withHash(paidForFunded.rows), payouts: payouts.rows, failedPayouts: failedPayouts.rows,
      collectedPerDay: Object.fromEntries(collected.rows.map((r) => [r.day, r.total])),
      refundCases,
      oracleFindings: latest.rows[0]?.discrepancies ?? [], oracleFindingsAt: latest.rows[0]?.finishedAt ?? null,
    };
  });

  internal.get('/internal/receipts/:receipt', async (req: FastifyRequest<{ Params: { receipt: string } }>, reply) => {
    const parsed = receiptInput.safeParse(req.params.receipt);
    if (!parsed.success) return bad(reply, parsed.error);
    const receipt = parsed.data;
    const payment = (
      await pool.query(
        `SELECT 'PAYMENT' AS kind, p.order_id AS "orderId", p.status AS "ledgerStatus", COALESCE(p.paid_amount, p.amount_kes) AS "amountKes",
                COALESCE(p.paid_phone, p.phone) AS phone, p.paid_at AS at, ${CHAIN_KEY} AS "chainKey"
           FROM oracle.payment_requests p WHERE upper(p.mpesa_receipt) = $1 OR p.pulled_receipt = $1 OR upper(p.callback_receipt) = $1
          ORDER BY (p.status = 'paid') DESC LIMIT 1`,
        [receipt],
      )
    ).rows[0];
    if (payment) {
      // A payment not (yet) paid has no chain record: its key would be the receipt.
      const key = payment.ledgerStatus === 'paid' ? payment.chainKey : receipt;
      const { chainKey: _k, ...rest } = payment;
      return { receipt, receiptHash: receiptHash(key), ...rest };
    }
    const payout = (
      await pool.query(
        `SELECT 'PAYOUT' AS kind, order_id AS "orderId", status AS "ledgerStatus", amount_kes AS "amountKes", phone, completed_at AS at
           FROM oracle.payouts WHERE upper(mpesa_receipt) = $1 LIMIT 1`,
        [receipt],
      )
    ).rows[0];
    if (payout) return { receipt, receiptHash: receiptHash(receipt), ...payout };
    return { receipt, receiptHash: receiptHash(receipt), kind: null };
  });

  internal.get('/internal/refund-cases', async (req, reply) => {
    const parsed = refundStatus.safeParse(req.query);
    if (!parsed.success) return bad(reply, parsed.error);
    return { cases: await refundCasesQuery(ctx, parsed.data.status) };
  });

  internal.post('/internal/refund-cases/:id', async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const id = z.coerce.number().int().positive().safeParse(req.params.id);
    if (!id.success) return bad(reply, id.error);
    const parsed = refundResolution.safeParse(req.body);
    if (!parsed.success) return bad(reply, parsed.error);
    const r = await pool.query(
      `UPDATE oracle.refund_cases SET status=$2, note=$3, resolved_at=now() WHERE id=$1 AND status='open' RETURNING id`,
      [id.data, parsed.data.status, parsed.data.note],
    );
    if (!r.rowCount) return reply.status(409).send({ error: { code: 'NOT_OPEN', message: 'no open refund case with this id' } });
    return { id: String(id.data), status: parsed.data.status };
  });
}

async function refundCasesQuery(ctx: OracleContext, status: 'open' | 'refunded' | 'dismissed' | 'all') {
  const { rows } = await ctx.pool.query(
    `SELECT id::text, kind, order_id AS "orderId", request_id AS "requestId", receipt, phone, amount_kes AS "amountKes", reason, status, note,
            created_at AS "createdAt", resolved_at AS "resolvedAt"
       FROM oracle.refund_cases WHERE $1 = 'all' OR status = $1 ORDER BY id`,
    [status],
  );
  return rows;
}
