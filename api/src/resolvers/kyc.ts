/**
 * KYC: a seller submits identity documents (sealed in the content store: readable by the
 * seller and admins only), an admin approves or rejects with a reason, and listing a
 * product above the configured price needs an approved seller. Every admin decision is
 * written to the append-only audit log, which admins can read.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { hasRole, requireRole } from '../auth/guards';
import { audit } from '../data/audit';
import { fail, forbidden } from '../errors';
import { decodeUpload } from '../files';
import { address, parse } from '../validate';
import type { Ctx } from '../context';
import { connection, decodeCursor, encodeCursor, pageSize } from './pagination';
import { userRef, type UserRef } from './identity';

export const KYC_STATES = ['NONE', 'PENDING', 'APPROVED', 'REJECTED'] as const;
export const KYC_DOCUMENT_KINDS = ['NATIONAL_ID', 'PASSPORT', 'BUSINESS_REGISTRATION', 'KRA_PIN', 'OTHER'] as const;
const DOCUMENT_TYPES = ['image/png', 'image/jpeg', 'application/pdf'];

const documentInput = z.object({
  kind: z.enum(KYC_DOCUMENT_KINDS),
  filename: z.string().trim().min(1).max(200).regex(/^[^/\\\0]+$/, 'a file name, not a path'),
  mimeType: z.string().max(100),
  contentBase64: z.string().min(1),
});
const reviewInput = z
  .object({ decision: z.enum(['APPROVE', 'REJECT']), reason: z.string().trim().max(1_000).nullish() })
  .refine((r) => r.decision === 'APPROVE' || !!r.reason, { message: 'say why the documents are rejected', path: ['reason'] });

interface KycView { address: string }

/** Whether an amount in KES or in the chain's smallest unit is over the KYC limits. */
function overLimit(ctx: Ctx, kes: number | bigint | null | undefined, native: string | bigint | null | undefined): boolean {
  const { KYC_REQUIRED_ABOVE_KES: kesLimit, KYC_REQUIRED_ABOVE_NATIVE: nativeLimit } = ctx.deps.config;
  return (kes != null && BigInt(kes) > BigInt(kesLimit)) || (native != null && BigInt(native) > BigInt(nativeLimit));
}

async function kycApproved(ctx: Ctx, seller: string): Promise<{ ok: boolean; state: string }> {
  const user = await ctx.deps.prisma.user.findUnique({ where: { address: seller }, select: { kycState: true } });
  return { ok: user?.kycState === 'APPROVED', state: user?.kycState ?? 'NONE' };
}

/** Whether `seller` may list at these prices (above the configured limits only once approved). */
export async function requireKycForPrice(ctx: Ctx, seller: string, priceKes: number | null | undefined, priceNative: string | bigint | null | undefined): Promise<void> {
  if (!overLimit(ctx, priceKes, priceNative)) return;
  const { ok, state } = await kycApproved(ctx, seller);
  if (!ok) {
    const { KYC_REQUIRED_ABOVE_KES: kesLimit, KYC_REQUIRED_ABOVE_NATIVE: nativeLimit } = ctx.deps.config;
    fail('FORBIDDEN', `listing above KES ${kesLimit} (or ${nativeLimit} in the chain's smallest unit) needs approved KYC: submit your documents with submitKycDocument`, { kycState: state });
  }
}

/**
 * Whether `seller` may take an order worth `amount` (price × quantity, what the escrow will
 * hold): the KYC limit is on the order's value, not on the listing's price, so five of a
 * product priced at the limit need an approved seller as much as one product priced at five times it.
 */
export async function requireKycForOrder(ctx: Ctx, seller: string, paymentMode: 'NATIVE' | 'MPESA', amount: bigint): Promise<void> {
  if (!overLimit(ctx, paymentMode === 'MPESA' ? amount : null, paymentMode === 'NATIVE' ? amount : null)) return;
  const { ok, state } = await kycApproved(ctx, seller);
  if (!ok) {
    const { KYC_REQUIRED_ABOVE_KES: kesLimit, KYC_REQUIRED_ABOVE_NATIVE: nativeLimit } = ctx.deps.config;
    const limit = paymentMode === 'MPESA' ? `KES ${kesLimit}` : `${nativeLimit} in the chain's smallest unit`;
    fail('FORBIDDEN', `this seller can take orders worth at most ${limit} until their identity is checked (KYC): order a smaller quantity`, { kycState: state, reason: 'SELLER_KYC_REQUIRED' });
  }
}

export const kycResolvers = {
  Query: {
    async auditLog(_: unknown, args: { first?: number | null; after?: string | null; action?: string | null }, ctx: Ctx) {
      requireRole(ctx, 'ADMIN');
      const first = pageSize(ctx, args.first);
      const cursor = decodeCursor<[string]>(args.after, (v) => v.length === 1 && typeof v[0] === 'string' && /^\d{1,19}$/.test(v[0]));
      const after = cursor ? BigInt(cursor[0]) : undefined;
      const rows = await ctx.deps.prisma.auditEntry.findMany({
        where: { ...(args.action ? { action: args.action } : {}), ...(after !== undefined ? { id: { lt: after } } : {}) },
        orderBy: { id: 'desc' },
        take: first + 1,
      });
      return connection(rows.map((r) => ({ ...r, id: r.id.toString(), details: JSON.parse(r.details) as unknown })), first, (r) => encodeCursor(r.id));
    },
  },
  Mutation: {
    async submitKycDocument(_: unknown, args: { input: unknown }, ctx: Ctx): Promise<KycView> {
      const s = requireRole(ctx, 'SELLER');
      const input = parse(documentInput, args.input);
      const { bytes, mime } = decodeUpload(input.contentBase64, input.mimeType, DOCUMENT_TYPES, ctx.deps.config.KYC_DOCUMENT_MAX_BYTES);
      const cid = await ctx.deps.sealed.put(bytes, input.filename);
      await ctx.deps.prisma.user.upsert({ where: { address: s.address }, create: { address: s.address }, update: {} });
      await ctx.deps.prisma.kycDocument.create({ data: { id: randomUUID(), address: s.address, kind: input.kind, cid, filename: input.filename, mimeType: mime, size: bytes.length } });
      // A new document reopens review unless the seller is already approved.
      await ctx.deps.prisma.user.updateMany({ where: { address: s.address, kycState: { in: ['NONE', 'REJECTED'] } }, data: { kycState: 'PENDING' } });
      await ctx.deps.cache.invalidate('user', s.address);
      ctx.log.info({ address: s.address, kind: input.kind, size: bytes.length }, 'kyc document submitted');
      return { address: s.address };
    },

    async reviewKyc(_: unknown, args: { address: string; input: unknown }, ctx: Ctx): Promise<KycView> {
      const admin = requireRole(ctx, 'ADMIN');
      const who = parse(address, args.address);
      const input = parse(reviewInput, args.input);
      const user = await ctx.deps.prisma.user.findUnique({ where: { address: who }, include: { kycDocuments: { select: { id: true } } } });
      if (!user || !user.kycDocuments.length) fail('CONFLICT', 'this user has submitted no KYC documents');
      const state = input.decision === 'APPROVE' ? 'APPROVED' : 'REJECTED';
      const { KYC_REQUIRED_ABOVE_KES: kesLimit, KYC_REQUIRED_ABOVE_NATIVE: nativeLimit } = ctx.deps.config;
      const offSale = await ctx.deps.prisma.$transaction(async (tx) => {
        await tx.user.update({ where: { address: who }, data: { kycState: state, kycReason: input.reason ?? null, kycDecidedAt: new Date(), kycDecidedBy: admin.address } });
        // A rejected seller's listings above the KYC limits go off sale in the same transaction
        // (they stay theirs: lowering the price, or a later approval, lets them list again).
        const over = state === 'REJECTED'
          ? await tx.product.findMany({ where: { sellerId: who, deletedAt: null, active: true, OR: [{ priceKes: { gt: kesLimit } }, { priceNative: { gt: nativeLimit } }] }, select: { id: true } })
          : [];
        if (over.length) await tx.product.updateMany({ where: { id: { in: over.map((p) => p.id) } }, data: { active: false } });
        await audit(tx, { actor: admin.address, action: `kyc.${input.decision.toLowerCase()}`, subject: who, details: { from: user!.kycState, to: state, reason: input.reason ?? null, documents: user!.kycDocuments.map((d) => d.id), ...(over.length ? { productsOffSale: over.map((p) => p.id) } : {}) } });
        return over.map((p) => p.id);
      });
      await ctx.deps.cache.invalidate('user', who);
      if (offSale.length) {
        await ctx.deps.cache.invalidate('product', ...offSale);
        for (const id of offSale) ctx.loaders.product.clear(id);
      }
      ctx.log.info({ admin: admin.address, address: who, decision: input.decision }, 'kyc reviewed');
      return { address: who };
    },
  },
  User: {
    /** KYC is private: the user and admins only. */
    kyc: (u: UserRef, _: unknown, ctx: Ctx): KycView | null => (ctx.session?.address === u.address || hasRole(ctx, 'ADMIN') ? { address: u.address } : null),
  },
  Kyc: {
    state: async (k: KycView, _: unknown, ctx: Ctx) => (await ctx.deps.prisma.user.findUnique({ where: { address: k.address }, select: { kycState: true } }))?.kycState ?? 'NONE',
    reason: async (k: KycView, _: unknown, ctx: Ctx) => (await ctx.deps.prisma.user.findUnique({ where: { address: k.address }, select: { kycReason: true } }))?.kycReason ?? null,
    decidedAt: async (k: KycView, _: unknown, ctx: Ctx) => (await ctx.deps.prisma.user.findUnique({ where: { address: k.address }, select: { kycDecidedAt: true } }))?.kycDecidedAt ?? null,
    decidedBy: async (k: KycView, _: unknown, ctx: Ctx) => {
      const by = (await ctx.deps.prisma.user.findUnique({ where: { address: k.address }, select: { kycDecidedBy: true } }))?.kycDecidedBy;
      return by ? userRef(by) : null;
    },
    documents: (k: KycView, _: unknown, ctx: Ctx) => ctx.deps.prisma.kycDocument.findMany({ where: { address: k.address }, orderBy: { createdAt: 'asc' } }),
  },
  KycDocument: {
    /** The document itself, decrypted: only its owner and admins reach this field (through User.kyc). */
    contentBase64: async (d: { address: string; cid: string }, _: unknown, ctx: Ctx) => {
      if (ctx.session?.address !== d.address && !hasRole(ctx, 'ADMIN')) forbidden('KYC documents are for their owner and admins');
      const bytes = await ctx.deps.sealed.get(d.cid);
      return bytes ? bytes.toString('base64') : null;
    },
  },
};

