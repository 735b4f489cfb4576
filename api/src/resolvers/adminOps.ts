/**
 * Admin operations beyond reconciliation: the user list (by role and KYC state), the
 * dispute queue with both parties' evidence, and platform analytics read from the index's
 * daily rollups and the ledger's figures (never by scanning events).
 */
import { z } from 'zod';
import { hasRole, requireRole } from '../auth/guards';
import type { Ctx } from '../context';
import type { Prisma } from '../generated/prisma/client';
import type { IndexDispute } from '../data/indexReader';
import type { EvidenceRow } from '../data/loaders';
import { readOrderDocument } from '../data/orderDocuments';
import { date, parse } from '../validate';
import { KYC_STATES } from './kyc';
import { connection, decodeCursor, encodeCursor, pageSize } from './pagination';
import { userRef } from './identity';
import { audit } from '../data/audit';
import { OracleUnavailable } from '../data/oracleClient';
import { refundCase } from './admin';
import { fail } from '../errors';

const userFilter = z
  .object({
    role: z.enum(['BUYER', 'SELLER', 'ARBITER', 'ADMIN']).nullish(),
    kycState: z.enum(KYC_STATES).nullish(),
    text: z.string().trim().max(100).nullish(),
  })
  .nullish();

const analyticsRange = z
  .object({ from: date, to: date })
  .refine((r) => r.from < r.to, { message: 'from must be before to', path: ['to'] })
  .refine((r) => r.to.getTime() - r.from.getTime() <= 366 * 86_400_000, { message: 'at most 366 days at a time', path: ['to'] });

type DisputeRow = IndexDispute & { orderId: string };

const payoutReason = z.string().trim().min(3, 'say why (at least 3 characters)').max(500);
const payoutId = z.string().uuid('expected a payout id');
const refundCaseId = z.string().regex(/^[1-9][0-9]{0,17}$/, 'expected a refund case id');
const refundNote = z.string().trim().min(3, 'say how it was refunded, or why it is dismissed (at least 3 characters)').max(500);
const settlement = z.object({ reference: z.string().trim().regex(/^[A-Za-z0-9-]{4,40}$/, 'a payment reference: 4–40 letters, digits or dashes'), reason: payoutReason });

/** Ask the oracle, mapping its being down to SERVICE_UNAVAILABLE. */
async function oracle<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof OracleUnavailable) fail('SERVICE_UNAVAILABLE', 'the payment service is not answering: try again shortly');
    throw e;
  }
}

export const adminOpsResolvers = {
  Mutation: {
    /** A new attempt — only when the oracle's ledger proves the last one did not pay (else it verifies first). */
    async retryPayout(_: unknown, args: { id: string; reason: string }, ctx: Ctx) {
      const admin = requireRole(ctx, 'ADMIN');
      const id = parse(payoutId, args.id);
      const reason = parse(payoutReason, args.reason);
      const r = await oracle(() => ctx.deps.oracle.payoutAction(id, 'retry', { actor: admin.address, reason }));
      if (!r.ok) return fail(r.status === 404 ? 'NOT_FOUND' : 'CONFLICT', r.message, { reason: r.code });
      await audit(ctx.deps.prisma, { actor: admin.address, action: `payout.retry.${r.result.outcome}`, subject: id, details: { reason, ...r.result } });
      return { outcome: r.result.outcome.toUpperCase(), message: r.result.reason ?? null, payoutId: r.result.payoutId ?? id, receiptHash: null };
    },

    /** Paid outside M-Pesa (bank transfer, cash): recorded in the ledger and on chain under MANUAL:<reference>. */
    async settlePayout(_: unknown, args: { id: string; reference: string; reason: string }, ctx: Ctx) {
      const admin = requireRole(ctx, 'ADMIN');
      const id = parse(payoutId, args.id);
      const input = parse(settlement, { reference: args.reference, reason: args.reason });
      const r = await oracle(() => ctx.deps.oracle.payoutAction(id, 'settle', { actor: admin.address, ...input }));
      if (!r.ok) return fail(r.status === 404 ? 'NOT_FOUND' : 'CONFLICT', r.message, { reason: r.code });
      await audit(ctx.deps.prisma, { actor: admin.address, action: 'payout.settle', subject: id, details: { ...input, ...r.result } });
      return { outcome: 'SETTLED', message: null, payoutId: id, receiptHash: r.result.receiptHash ?? null };
    },

    /** Money a customer paid that funds no order, given back (or found not owed) by a person: closed in the oracle's ledger. */
    async closeRefundCase(_: unknown, args: { id: string; outcome: 'REFUNDED' | 'DISMISSED'; note: string }, ctx: Ctx) {
      const admin = requireRole(ctx, 'ADMIN');
      const id = parse(refundCaseId, args.id);
      const note = parse(refundNote, args.note);
      const status = args.outcome === 'REFUNDED' ? 'refunded' : 'dismissed';
      const r = await oracle(() => ctx.deps.oracle.closeRefundCase(id, status, `${note} (by ${admin.address})`));
      if (!r.ok) return fail(r.status === 409 ? 'CONFLICT' : r.status === 404 ? 'NOT_FOUND' : 'BAD_USER_INPUT', r.status === 409 ? 'this refund case is not open (already closed, or no such case)' : r.message, { reason: r.code });
      await audit(ctx.deps.prisma, { actor: admin.address, action: `refund_case.${status}`, subject: id, details: { note } });
      const closed = (await oracle(() => ctx.deps.oracle.refundCases('all'))).find((c) => c.id === id)!;
      return refundCase(closed);
    },
  },
  Query: {
    async payoutsNeedingAttention(_: unknown, __: unknown, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      return oracle(() => ctx.deps.oracle.attentionPayouts());
    },

    async users(_: unknown, args: { filter?: unknown; first?: number | null; after?: string | null }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const f = parse(userFilter, args.filter) ?? {};
      const first = pageSize(ctx, args.first);
      const cursor = decodeCursor<[string, string]>(args.after, (v) => v.length === 2 && v.every((x) => typeof x === 'string'));
      const where: Prisma.UserWhereInput = {};
      if (f.kycState) where.kycState = f.kycState;
      if (f.role === 'ADMIN') where.address = { in: [...ctx.deps.admins] };
      if (f.role === 'ARBITER') where.address = ctx.deps.arbiterAddress;
      // A seller is someone who lists products or asked to be checked; everyone can buy.
      if (f.role === 'SELLER') where.OR = [{ products: { some: {} } }, { kycDocuments: { some: {} } }];
      if (f.text) where.AND = [{ OR: [{ address: { contains: f.text.toLowerCase() } }, { displayName: { contains: f.text, mode: 'insensitive' } }] }];
      if (cursor) {
        const at = new Date(cursor[0]);
        where.AND = [...((where.AND as Prisma.UserWhereInput[]) ?? []), { OR: [{ createdAt: { lt: at } }, { createdAt: at, address: { lt: cursor[1] } }] }];
      }
      const rows = await ctx.deps.prisma.user.findMany({ where, orderBy: [{ createdAt: 'desc' }, { address: 'desc' }], take: first + 1 });
      return connection(rows, first, (r) => encodeCursor(r.createdAt.toISOString(), r.address), (r) => ({ address: r.address, row: { ...r } }));
    },

    async disputes(_: unknown, args: { open?: boolean | null; first?: number | null; after?: string | null }, ctx: Ctx) {
      // The arbiter works the queue it resolves (both parties' evidence); admins oversee it.
      if (!hasRole(ctx, 'ARBITER')) requireRole(ctx, 'ADMIN');
      const first = pageSize(ctx, args.first);
      const cursor = decodeCursor<[number]>(args.after, (v) => v.length === 1 && Number.isInteger(v[0]) && (v[0] as number) >= 0);
      const offset = cursor?.[0] ?? 0;
      const rows = await ctx.deps.index.listDisputes(args.open ?? undefined, first + 1, offset);
      return connection(rows.map((r, i) => ({ ...r, position: offset + i + 1 })), first, (r) => encodeCursor(r.position));
    },

    async analytics(_: unknown, args: { from: Date; to: Date }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const { from, to } = parse(analyticsRange, args);
      const day = (d: Date) => d.toISOString().slice(0, 10);
      const last = new Date(to.getTime() - 1);
      const [rollups, days, median, payouts] = await Promise.all([
        ctx.deps.index.dailyStats(day(from), day(last)),
        ctx.deps.index.dayFigures(from, to),
        ctx.deps.index.medianSecondsToComplete(from, to),
        // The ledger's figures come from the oracle; without it the rest still answers.
        ctx.deps.oracle.payoutStats(from, to).catch((e: Error) => {
          ctx.log.warn({ err: e.message }, 'payout figures unavailable');
          return null;
        }),
      ]);
      const byDay = new Map(days.map((d) => [d.day, d]));
      const total = (mode: string, k: 'volumeFunded' | 'fees' | 'paidOut' | 'refunded') =>
        rollups.filter((r) => r.paymentMode === mode).reduce((a, r) => a + BigInt(r[k]), 0n).toString();
      return {
        from, to,
        days: days.map((d) => ({
          date: d.day,
          modes: rollups.filter((r) => r.date === d.day).map((r) => ({ paymentMode: r.paymentMode, volumeFunded: r.volumeFunded, fees: r.fees, paidOut: r.paidOut, refunded: r.refunded })),
          disputesOpened: byDay.get(d.day)!.disputesOpened,
          disputesResolved: byDay.get(d.day)!.disputesResolved,
          ordersCompleted: byDay.get(d.day)!.completed,
          medianSecondsToComplete: byDay.get(d.day)!.medianSecondsToComplete,
        })),
        totals: ['NATIVE', 'MPESA'].map((mode) => ({ paymentMode: mode, volumeFunded: total(mode, 'volumeFunded'), fees: total(mode, 'fees'), paidOut: total(mode, 'paidOut'), refunded: total(mode, 'refunded') })),
        disputesOpened: days.reduce((a, d) => a + d.disputesOpened, 0),
        disputesResolved: days.reduce((a, d) => a + d.disputesResolved, 0),
        medianSecondsToComplete: median,
        mpesaPayouts: payouts ? { attempts: payouts.attempts, paid: payouts.paid, finished: payouts.finished, successRate: payouts.successRate } : null,
      };
    },
  },
  DisputeCase: {
    id: (d: DisputeRow) => d.id,
    dispute: (d: DisputeRow) => d,
    order: async (d: DisputeRow, _: unknown, ctx: Ctx) => ({ id: d.orderId, chain: await ctx.loaders.order.load(d.orderId) }),
    ageSeconds: (d: DisputeRow) => Math.max(0, Math.floor(((d.resolvedAt ?? new Date()).getTime() - d.raisedAt.getTime()) / 1000)),
    amountAtStake: async (d: DisputeRow, _: unknown, ctx: Ctx) => (await ctx.loaders.order.load(d.orderId))?.amount ?? '0',
    currency: async (d: DisputeRow, _: unknown, ctx: Ctx) => (await ctx.loaders.order.load(d.orderId))?.currency ?? null,
    raisedBy: (d: DisputeRow) => userRef(d.raisedBy),
    buyerEvidence: async (d: DisputeRow, _: unknown, ctx: Ctx) => evidenceBy(ctx, d, 'buyer'),
    sellerEvidence: async (d: DisputeRow, _: unknown, ctx: Ctx) => evidenceBy(ctx, d, 'seller'),
    statement: async (d: DisputeRow, _: unknown, ctx: Ctx) => {
      if (!d.evidenceCid) return null;
      // Only a statement the API stored for THIS order (the CID on chain is public: anyone can copy it).
      const doc = await readOrderDocument(ctx, d.orderId, 'dispute', d.evidenceCid);
      return typeof doc?.statement === 'string' ? doc.statement : null;
    },
  },
};

async function evidenceBy(ctx: Ctx, d: DisputeRow, party: 'buyer' | 'seller'): Promise<EvidenceRow[]> {
  const order = await ctx.loaders.order.load(d.orderId);
  if (!order) return [];
  const who = party === 'buyer' ? order.buyer : order.seller;
  return (await ctx.loaders.evidence.load(d.orderId)).filter((e) => e.uploader === who);
}
