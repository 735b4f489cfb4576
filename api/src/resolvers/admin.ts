/** Admin views: reconciliation of the oracle's ledger against the chain, receipt lookup. */
import { z } from 'zod';
import { receiptHash } from '@descrow/contracts';
import { requireRole } from '../auth/guards';

import type { Ctx } from '../context';
import type { IndexOrder } from '../data/indexReader';
import { date, parse } from '../validate';

const range = z
  .object({ from: date, to: date })
  .refine((r) => r.from < r.to, { message: 'from must be before to', path: ['to'] })
  .refine((r) => r.to.getTime() - r.from.getTime() <= 366 * 86_400_000, { message: 'at most 366 days at a time', path: ['to'] });

const ageSeconds = (since: Date, now: number) => Math.max(0, Math.floor((now - since.getTime()) / 1000));
const day = (d: Date) => d.toISOString().slice(0, 10);

export const adminResolvers = {
  Query: {
    async reconciliation(_: unknown, args: { from: Date; to: Date }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const { from, to } = parse(range, args);
      const { index, ledger } = ctx.deps;
      const now = Date.now();

      // Ledger → chain: every payment the oracle saw paid must be on chain with its receipt and amount.
      const paid = await ledger.paymentsPaidBetween(from, to);
      const chainOf = new Map<string, IndexOrder>();
      for (const o of await index.ordersByIds(paid.map((p) => p.orderId))) chainOf.set(o.id, o);
      const outbox = await ledger.outboxStatusByOrder(paid.map((p) => p.orderId));
      const checked = new Set(paid.map((p) => p.orderId));
      const paidNotOnChain = [];
      const amountMismatches = [];
      for (const p of paid) {
        const chain = chainOf.get(p.orderId);
        const hash = p.receipt ? receiptHash(p.receipt) : null;
        if (!chain || !hash || chain.paymentReceipt !== hash) {
          paidNotOnChain.push({ orderId: p.orderId, receipt: p.receipt ?? '', amountKes: p.paidAmount ?? p.amountKes, paidAt: p.paidAt ?? p.updatedAt, ageSeconds: ageSeconds(p.paidAt ?? p.updatedAt, now), outboxStatus: outbox.get(p.orderId) ?? null });
        } else if (BigInt(p.paidAmount ?? p.amountKes) !== BigInt(chain.amount)) {
          amountMismatches.push({ orderId: p.orderId, receipt: p.receipt!, ledgerAmountKes: p.paidAmount ?? p.amountKes, chainAmount: chain.amount });
        }
      }

      // Chain → ledger: every M-Pesa funding on chain must have a ledger receipt.
      const funded = await index.mpesaOrdersFunded(from, to);
      const ledgerPaid = await ledger.paidPaymentsForOrders(funded.map((o) => o.id));
      const ledgerHashes = new Map<string, (typeof ledgerPaid)[number]>();
      for (const p of ledgerPaid) if (p.receipt) ledgerHashes.set(`${p.orderId}:${receiptHash(p.receipt)}`, p);
      const onChainWithoutLedger = [];
      for (const o of funded) {
        if (!o.paymentReceipt) continue;
        const match = ledgerHashes.get(`${o.id}:${o.paymentReceipt}`);
        if (!match) onChainWithoutLedger.push({ orderId: o.id, receiptHash: o.paymentReceipt, amount: o.amount, fundedAt: o.fundedAt });
        else if (!checked.has(o.id) && BigInt(match.paidAmount ?? match.amountKes) !== BigInt(o.amount)) {
          amountMismatches.push({ orderId: o.id, receipt: match.receipt!, ledgerAmountKes: match.paidAmount ?? match.amountKes, chainAmount: o.amount });
        }
      }

      // Payouts the chain says are owed and the oracle has not sent.
      const owing = (await index.mpesaOrdersOwingPayout()).filter((o) => o.updatedAt < to);
      const payoutRows = await ledger.payoutsByOrderIds(owing.map((o) => o.id));
      const payoutsDue = [];
      for (const o of owing) {
        const dueSince = o.resolvedAt ?? o.refundedAt ?? o.deliveredAt ?? o.updatedAt;
        for (const [role, due, amount] of [['seller', o.sellerPayoutDue, o.sellerAmount], ['buyer', o.buyerRefundDue, o.buyerAmount]] as const) {
          if (!due) continue;
          const rows = payoutRows.filter((p) => p.orderId === o.id && p.role === role);
          if (rows.some((p) => ['queued', 'sent', 'unknown', 'succeeded'].includes(p.status))) continue;
          payoutsDue.push({ orderId: o.id, role, amount, dueSince, ageSeconds: ageSeconds(dueSince, now), ledgerStatus: rows.at(-1)?.status ?? null });
        }
      }

      const failedPayouts = (await ledger.failedPayoutsBetween(from, to)).map((p) => ({
        orderId: p.orderId, role: p.role, amountKes: p.amountKes, status: p.status, reason: p.reason, resultCode: p.resultCode, attempt: p.attempt, updatedAt: p.updatedAt,
      }));

      // Per-day totals per mode from the index's rollups; each day must balance.
      const stats = await index.dailyStats(day(from), day(new Date(to.getTime() - 1)));
      const ledgerCollected = await ledger.collectedPerDay(from, to);
      const dailyTotals = stats.map((s) => {
        const opening = BigInt(s.previousHeld ?? '0');
        const collected = BigInt(s.volumeFunded);
        const paidOut = BigInt(s.paidOut);
        const fees = BigInt(s.fees);
        const held = BigInt(s.heldInEscrow);
        return {
          date: s.date, paymentMode: s.paymentMode, opening, collected, paidOut, refunded: BigInt(s.refunded), fees, held,
          balanced: opening + collected - paidOut - fees === held,
          ledgerCollected: s.paymentMode === 'MPESA' ? (ledgerCollected.get(s.date) ?? 0n) : null,
        };
      });
      return {
        from, to, paidNotOnChain, onChainWithoutLedger, amountMismatches, payoutsDue, failedPayouts, dailyTotals,
        balanced: dailyTotals.every((d) => d.balanced),
      };
    },

    async paymentByReceipt(_: unknown, args: { receipt: string }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const receipt = parse(z.string().trim().regex(/^[A-Za-z0-9]{6,20}$/, 'expected an M-Pesa receipt like QKJ3ABC123').transform((s) => s.toUpperCase()), args.receipt);
      const hash = receiptHash(receipt);
      const [payment, payout, orders] = await Promise.all([
        ctx.deps.ledger.paymentByReceipt(receipt),
        ctx.deps.ledger.payoutByReceipt(receipt),
        ctx.deps.index.ordersByReceiptHash(hash),
      ]);
      const chain = orders[0] ?? null;
      if (!payment && !payout && !chain) return null;
      const orderId = payment?.orderId ?? payout?.orderId ?? chain!.id;
      const order = { id: orderId, chain: chain ?? (await ctx.loaders.order.load(orderId)) };
      if (payment) return { receipt, receiptHash: hash, kind: 'PAYMENT', ledgerStatus: payment.status, amountKes: payment.paidAmount ?? payment.amountKes, phone: payment.phone, at: payment.paidAt, order };
      if (payout) return { receipt, receiptHash: hash, kind: 'PAYOUT', ledgerStatus: payout.status, amountKes: payout.amountKes, phone: payout.phone, at: payout.completedAt, order };
      return { receipt, receiptHash: hash, kind: chain!.paymentReceipt === hash ? 'PAYMENT' : 'PAYOUT', ledgerStatus: null, amountKes: null, phone: null, at: null, order };
    },
  },
};

