/**
 * Admin views: reconciliation of the oracle's ledger against the chain, receipt look-up,
 * refund-needed cases. The ledger's facts — and the key each payment is recorded on chain
 * under — come from the oracle (its internal endpoints), which owns them; the chain's side
 * comes from the index.
 */
import { z } from 'zod';
import { requireRole } from '../auth/guards';

import type { Ctx } from '../context';
import type { IndexOrder } from '../data/indexReader';
import { OracleUnavailable } from '../data/oracleClient';
import { fail } from '../errors';
import { date, parse } from '../validate';

const range = z
  .object({ from: date, to: date })
  .refine((r) => r.from < r.to, { message: 'from must be before to', path: ['to'] })
  .refine((r) => r.to.getTime() - r.from.getTime() <= 366 * 86_400_000, { message: 'at most 366 days at a time', path: ['to'] });
const refundStatus = z.enum(['OPEN', 'REFUNDED', 'DISMISSED', 'ALL']).default('OPEN');

const ageSeconds = (since: Date, now: number) => Math.max(0, Math.floor((now - since.getTime()) / 1000));
const day = (d: Date) => d.toISOString().slice(0, 10);

/** The oracle answers, or the admin gets a clear SERVICE_UNAVAILABLE (never a masked 500). */
async function ask<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof OracleUnavailable) fail('SERVICE_UNAVAILABLE', e.message);
    throw e;
  }
}

export const adminResolvers = {
  Query: {
    async reconciliation(_: unknown, args: { from: Date; to: Date }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const { from, to } = parse(range, args);
      const { index, oracle } = ctx.deps;
      const now = Date.now();

      const funded = await index.mpesaOrdersFunded(from, to);
      const owing = (await index.mpesaOrdersOwingPayout()).filter((o) => o.updatedAt < to);
      const ledger = await ask(() => oracle.ledgerReconciliation({ from, to, fundedOrderIds: funded.map((o) => o.id), owingOrderIds: owing.map((o) => o.id) }));

      // Ledger → chain: every payment the oracle saw paid must be on chain under the key the oracle recorded it with.
      const chainOf = new Map<string, IndexOrder>();
      for (const o of await index.ordersByIds(ledger.paid.map((p) => p.orderId))) chainOf.set(o.id, o);
      const checked = new Set(ledger.paid.map((p) => p.orderId));
      const paidNotOnChain = [];
      const amountMismatches = [];
      for (const p of ledger.paid) {
        const chain = chainOf.get(p.orderId);
        const paidAt = new Date(p.paidAt);
        if (!chain || chain.paymentReceipt !== p.receiptHash) {
          paidNotOnChain.push({ orderId: p.orderId, receipt: p.receipt ?? '', amountKes: p.amountKes, paidAt, ageSeconds: ageSeconds(paidAt, now), outboxStatus: p.outboxStatus });
        } else if (BigInt(p.amountKes) !== BigInt(chain.amount)) {
          amountMismatches.push({ orderId: p.orderId, receipt: p.receipt ?? '', ledgerAmountKes: p.amountKes, chainAmount: chain.amount });
        }
      }

      // Chain → ledger: every M-Pesa funding on chain must be a ledger payment with that key.
      const byKey = new Map(ledger.paidForFunded.map((p) => [`${p.orderId}:${p.receiptHash}`, p]));
      const onChainWithoutLedger = [];
      for (const o of funded) {
        if (!o.paymentReceipt) continue;
        const match = byKey.get(`${o.id}:${o.paymentReceipt}`);
        if (!match) onChainWithoutLedger.push({ orderId: o.id, receiptHash: o.paymentReceipt, amount: o.amount, fundedAt: o.fundedAt });
        else if (!checked.has(o.id) && BigInt(match.amountKes) !== BigInt(o.amount)) {
          amountMismatches.push({ orderId: o.id, receipt: match.receipt ?? '', ledgerAmountKes: match.amountKes, chainAmount: o.amount });
        }
      }

      // Payouts: one problem, one line. The oracle owns payout facts: its live findings (one
      // per order and role: paid more than owed, waiting for a person) are `failedPayouts`;
      // a payout is "due" only when the oracle holds no attempt for it beyond failed ones.
      const failedPayouts = ledger.failedPayouts.map((p) => ({ ...p, updatedAt: new Date(p.updatedAt) }));
      const LIVE_PAYOUT_KINDS = new Set(['payout_exceeds_owed', 'payout_overpaid', 'payout_needs_attention']);
      const payoutsDue = [];
      for (const o of owing) {
        const dueSince = o.resolvedAt ?? o.refundedAt ?? o.deliveredAt ?? o.updatedAt;
        for (const [role, due, amount] of [['seller', o.sellerPayoutDue, o.sellerAmount], ['buyer', o.buyerRefundDue, o.buyerAmount]] as const) {
          if (!due) continue;
          const rows = ledger.payouts.filter((p) => p.orderId === o.id && p.role === role);
          if (rows.some((p) => p.status !== 'failed')) continue; // in flight, paid, settled or waiting for a person (failedPayouts)
          payoutsDue.push({ orderId: o.id, role, amount, dueSince, ageSeconds: ageSeconds(dueSince, now), ledgerStatus: rows.at(-1)?.status ?? null });
        }
      }


      // Per-day totals per mode from the index's rollups; each day must balance.
      const stats = await index.dailyStats(day(from), day(new Date(to.getTime() - 1)));
      const dailyTotals = stats.map((s) => {
        const opening = BigInt(s.previousHeld ?? '0');
        const collected = BigInt(s.volumeFunded);
        const paidOut = BigInt(s.paidOut);
        const fees = BigInt(s.fees);
        const held = BigInt(s.heldInEscrow);
        return {
          date: s.date, paymentMode: s.paymentMode, opening, collected, paidOut, refunded: BigInt(s.refunded), fees, held,
          balanced: opening + collected - paidOut - fees === held,
          ledgerCollected: s.paymentMode === 'MPESA' ? BigInt(ledger.collectedPerDay[s.date] ?? '0') : null,
        };
      });
      return {
        from, to, paidNotOnChain, onChainWithoutLedger, amountMismatches, payoutsDue, failedPayouts, dailyTotals,
        refundCases: ledger.refundCases.map(refundCase),
        // The last run's payout findings that the live view above already shows are not repeated.
        oracleFindings: ledger.oracleFindings.filter((f) => !LIVE_PAYOUT_KINDS.has(f.kind)),
        balanced: dailyTotals.every((d) => d.balanced),
      };
    },

    async refundCases(_: unknown, args: { status?: string }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const status = parse(refundStatus, args.status ?? undefined);
      return (await ask(() => ctx.deps.oracle.refundCases(status.toLowerCase() as 'open'))).map(refundCase);
    },

    async paymentByReceipt(_: unknown, args: { receipt: string }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const receipt = parse(z.string().trim().regex(/^[A-Za-z0-9]{6,20}$/, 'expected an M-Pesa receipt like QKJ3ABC123').transform((s) => s.toUpperCase()), args.receipt);
      // The oracle knows which key (and so which hash) the chain holds this receipt under.
      const facts = await ask(() => ctx.deps.oracle.receipt(receipt));
      const orders = await ctx.deps.index.ordersByReceiptHash(facts.receiptHash);
      const chain = orders[0] ?? null;
      if (!facts.kind && !chain) return null;
      const orderId = facts.orderId ?? chain!.id;
      const order = { id: orderId, chain: chain ?? (await ctx.loaders.order.load(orderId)) };
      if (facts.kind) {
        return { receipt, receiptHash: facts.receiptHash, kind: facts.kind, ledgerStatus: facts.ledgerStatus ?? null, amountKes: facts.amountKes ?? null, phone: facts.phone ?? null, at: facts.at ? new Date(facts.at) : null, order };
      }
      return { receipt, receiptHash: facts.receiptHash, kind: chain!.paymentReceipt === facts.receiptHash ? 'PAYMENT' : 'PAYOUT', ledgerStatus: null, amountKes: null, phone: null, at: null, order };
    },
  },
};

export function refundCase(c: import('../data/oracleClient').RefundCaseFacts) {
  return { ...c, kind: c.kind.toUpperCase(), status: c.status.toUpperCase(), createdAt: new Date(c.createdAt), resolvedAt: c.resolvedAt ? new Date(c.resolvedAt) : null };
}
