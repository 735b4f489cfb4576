/**
 * Reconciliation of payouts: every shilling out, per order and role, against what the
 * contract owes. Money out is every attempt with an M-Pesa receipt (its confirmed amount,
 * whatever the attempt's state: succeeded, overpaid, waiting for a person, …) plus every
 * settlement outside M-Pesa. One payout problem is ONE finding, the most serious:
 * paid more than owed (with every receipt) > waiting for a person > paid but not on chain
 * (or on chain for another order). The API shows these and nothing else about payouts the
 * oracle knows of.
 */
import type { Hex } from 'viem';
import { payoutSplit, receiptHash } from '@descrow/contracts';
import type { OracleContext } from '../context';
import type { Discrepancy } from './reconcile';

export interface AttemptRow {
  attempt: number; status: string; receipt: string | null; settled: string | null; amount: number; paid: number | null;
  reason: string | null; resultCode: string | null; updatedAt: string; outbox: string | null; age: number | null;
}

/**
 * `chain`: what the contract owes is read from the chain, and paid attempts are checked to
 * be recorded there (the oracle's reconciliation run). `ledger`: what is owed is the amount
 * the oracle computed from the chain when it queued the payout, and only orders and roles
 * with a problem are read (the API's live view; no chain reads).
 */
export async function payoutFindings(ctx: OracleContext, staleAfterSeconds: number, owedFrom: 'chain' | 'ledger' = 'chain'): Promise<{ checked: number; found: (Discrepancy & { last: AttemptRow })[] }> {
  const { pool } = ctx;
  const moneyOut = `coalesce(sum(coalesce(paid_kes, amount_kes)) FILTER (WHERE mpesa_receipt IS NOT NULL), 0) + coalesce(sum(amount_kes) FILTER (WHERE settled_reference IS NOT NULL), 0)`;
  const problemsOnly = owedFrom === 'ledger' ? `HAVING bool_or(status IN ('needs_attention', 'overpaid')) OR ${moneyOut} > max(amount_kes)` : '';
  // Every order and role with money out or a person's attention, with all its attempts.
  const { rows } = await pool.query<{ order_id: Hex; role: 'seller' | 'buyer'; attempts: AttemptRow[] }>(
    `SELECT y.order_id, y.role,
            json_agg(json_build_object('attempt', y.attempt, 'status', y.status, 'receipt', y.mpesa_receipt, 'settled', y.settled_reference,
                     'amount', y.amount_kes, 'paid', y.paid_kes, 'reason', y.reason, 'resultCode', y.result_code, 'updatedAt', y.updated_at,
                     'outbox', (SELECT o.status FROM oracle.outbox o WHERE o.idempotency_key = 'payout:' || y.mpesa_receipt),
                     'age', extract(epoch FROM now() - y.completed_at)::int) ORDER BY y.attempt) AS attempts
       FROM oracle.payouts y
      WHERE (y.order_id, y.role) IN (SELECT order_id, role FROM oracle.payouts GROUP BY order_id, role
                                      HAVING bool_or(mpesa_receipt IS NOT NULL OR settled_reference IS NOT NULL OR status IN ('needs_attention', 'overpaid'))
                                      ${problemsOnly.replace('HAVING', 'AND')})
      GROUP BY y.order_id, y.role`,
  );
  const found: (Discrepancy & { last: AttemptRow })[] = [];
  for (const { order_id: orderId, role, attempts } of rows) {
    const finding = await findingFor(ctx, orderId, role, attempts, staleAfterSeconds, owedFrom);
    if (finding) found.push({ kind: finding.kind, orderId, role, detail: `${role}: ${finding.detail}`, last: finding.about });
  }
  return { checked: rows.length, found };
}

const outLabel = (a: AttemptRow) => [a.receipt, a.settled && `MANUAL:${a.settled}`].filter(Boolean) as string[];

async function findingFor(ctx: OracleContext, orderId: Hex, role: 'seller' | 'buyer', attempts: AttemptRow[], stale: number, owedFrom: 'chain' | 'ledger'): Promise<{ kind: string; detail: string; about: AttemptRow } | null> {
  const out = attempts.filter((a) => a.receipt || a.settled);
  const total = out.reduce((s, a) => s + (a.receipt ? (a.paid ?? a.amount) : 0) + (a.settled ? a.amount : 0), 0);
  if (out.length) {
    let owed = Math.max(...attempts.map((a) => a.amount));
    if (owedFrom === 'chain') {
      const o = await ctx.chain.getOrder(orderId);
      const split = payoutSplit(o.amount, o.feeBps, o.buyerShareBps);
      owed = Number(role === 'seller' ? split.sellerAmount : split.buyerAmount);
    }
    if (total > owed) {
      const each = out.map((a) => `attempt ${a.attempt} ${a.status}: ${outLabel(a).join(' + ')}`).join('; ');
      return { kind: 'payout_exceeds_owed', detail: `paid ${total} KES (${out.flatMap(outLabel).join(', ')}), the contract owes ${owed} KES — ${each}`, about: out.at(-1)! };
    }
  }
  const person = attempts.find((a) => a.status === 'needs_attention' || a.status === 'overpaid');
  if (person) return { kind: person.status === 'overpaid' ? 'payout_overpaid' : 'payout_needs_attention', detail: `attempt ${person.attempt}: ${person.reason ?? 'waiting for a person'}`, about: person };
  const paid = attempts.find((a) => a.status === 'succeeded');
  if (paid?.receipt && owedFrom === 'chain') {
    if (paid.outbox !== 'confirmed') {
      return (paid.age ?? 0) > stale ? { kind: 'payout_not_recorded', detail: `paid out ${paid.age}s ago (${paid.receipt}), not on chain yet`, about: paid } : null;
    }
    const recordedFor = await ctx.chain.receiptOrder(receiptHash(paid.receipt));
    if (recordedFor.toLowerCase() !== orderId.toLowerCase()) return { kind: 'payout_receipt_mismatch', detail: `receipt ${paid.receipt} is recorded for ${recordedFor}`, about: paid };
  }
  return null;
}
