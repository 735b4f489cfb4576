/** Products: sellers manage their own; everyone can browse. Cached in Redis by id. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { requireRole } from '../auth/guards';
import { badInput, forbidden, notFound } from '../errors';
import { address, kes, parse, positiveBigint, uuid } from '../validate';
import type { Ctx } from '../context';
import { toProductRow, type ProductRow } from '../data/loaders';
import type { Prisma } from '../generated/prisma/client';
import { connection, decodeCursor, encodeCursor, pageSize } from './pagination';
import { userRef } from './identity';
import { decodeUpload } from '../files';
import { requireKycForPrice } from './kyc';

/** Product images: what a browser shows inline. */
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];


const fields = {
  title: z.string().trim().min(1, 'must not be empty').max(120, 'at most 120 characters'),
  description: z.string().max(5_000, 'at most 5000 characters'),
  priceNative: positiveBigint,
  priceKes: kes,
  imageCid: z.string().regex(/^b[a-z2-7]{20,}$|^Qm[1-9A-HJ-NP-Za-km-z]{44}$/, 'expected an IPFS CID'),
  active: z.boolean(),
};
const productInput = z
  .object({
    title: fields.title,
    description: fields.description.nullish(),
    priceNative: fields.priceNative.nullish(),
    priceKes: fields.priceKes.nullish(),
    imageCid: fields.imageCid.nullish(),
    active: fields.active.nullish(),
  })
  .refine((p) => p.priceNative != null || p.priceKes != null, { message: 'give priceNative, priceKes or both', path: ['priceKes'] });
const productPatch = z.object({
  title: fields.title.nullish(),
  description: fields.description.nullish(),
  priceNative: fields.priceNative.nullish(),
  priceKes: fields.priceKes.nullish(),
  imageCid: fields.imageCid.nullish(),
  active: fields.active.nullish(),
});
const productFilter = z
  .object({
    seller: address.nullish(),
    paymentMode: z.enum(['NATIVE', 'MPESA']).nullish(),
    text: z.string().trim().min(1).max(100).nullish(),
    maxPriceKes: kes.nullish(),
  })
  .nullish();

/** A live product or NOT_FOUND. */
export async function loadProduct(ctx: Ctx, id: string): Promise<ProductRow> {
  const p = await ctx.loaders.product.load(parse(uuid, id));
  if (!p || p.deletedAt) return notFound('product');
  return p;
}

async function ownProduct(ctx: Ctx, id: string): Promise<ProductRow> {
  const s = requireRole(ctx, 'SELLER');
  const p = await loadProduct(ctx, id);
  if (p.sellerId !== s.address) forbidden('this product belongs to another seller');
  return p;
}

async function changed(ctx: Ctx, id: string): Promise<void> {
  await ctx.deps.cache.invalidate('product', id);
  ctx.loaders.product.clear(id);
}

export async function listProducts(ctx: Ctx, rawFilter: unknown, first?: number | null, after?: string | null) {
  const f = parse(productFilter, rawFilter) ?? {};
  const limit = pageSize(ctx, first);
  const cursor = decodeCursor<[string, string]>(after, (v) => v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string');
  const where: Prisma.ProductWhereInput = { deletedAt: null, active: true };
  if (f.seller) where.sellerId = f.seller;
  if (f.paymentMode === 'NATIVE') where.priceNative = { not: null };
  if (f.paymentMode === 'MPESA') where.priceKes = { not: null };
  if (f.maxPriceKes) where.priceKes = { lte: f.maxPriceKes };
  if (f.text) where.OR = [{ title: { contains: f.text, mode: 'insensitive' } }, { description: { contains: f.text, mode: 'insensitive' } }];
  if (cursor) {
    const at = new Date(cursor[0]);
    where.AND = [{ OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: cursor[1] } }] }];
  }
  const rows = (await ctx.deps.prisma.product.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit + 1 })).map(toProductRow);
  for (const r of rows) ctx.loaders.product.prime(r.id, r);
  return connection(rows, limit, (r) => encodeCursor(r.createdAt.toISOString(), r.id));
}

export const productResolvers = {
  Query: {
    product: async (_: unknown, args: { id: string }, ctx: Ctx) => {
      const p = await ctx.loaders.product.load(parse(uuid, args.id));
      return p && !p.deletedAt ? p : null;
    },
    products: (_: unknown, args: { filter?: unknown; first?: number; after?: string }, ctx: Ctx) => listProducts(ctx, args.filter, args.first, args.after),
  },
  Mutation: {
    async createProduct(_: unknown, args: { input: unknown }, ctx: Ctx) {
      const s = requireRole(ctx, 'SELLER');
      const input = parse(productInput, args.input);
      await requireKycForPrice(ctx, s.address, input.priceKes, input.priceNative);
      await ctx.deps.prisma.user.upsert({ where: { address: s.address }, create: { address: s.address }, update: {} });
      const created = await ctx.deps.prisma.product.create({
        data: {
          id: randomUUID(),
          sellerId: s.address,
          title: input.title,
          description: input.description ?? '',
          priceNative: input.priceNative?.toString() ?? null,
          priceKes: input.priceKes ?? null,
          imageCid: input.imageCid ?? null,
          active: input.active ?? true,
        },
      });
      return toProductRow(created);
    },
    async updateProduct(_: unknown, args: { id: string; input: unknown }, ctx: Ctx) {
      const p = await ownProduct(ctx, args.id);
      const patch = parse(productPatch, args.input);
      const data: Prisma.ProductUpdateInput = {};
      if (patch.title != null) data.title = patch.title;
      if (patch.description != null) data.description = patch.description;
      if (patch.priceNative !== undefined) data.priceNative = patch.priceNative === null ? null : patch.priceNative.toString();
      if (patch.priceKes !== undefined) data.priceKes = patch.priceKes;
      if (patch.imageCid !== undefined) data.imageCid = patch.imageCid;
      if (patch.active != null) data.active = patch.active;
      const nextNative = data.priceNative === undefined ? p.priceNative : data.priceNative;
      const nextKes = data.priceKes === undefined ? p.priceKes : data.priceKes;
      if (nextNative == null && nextKes == null) badInput('a product needs priceNative, priceKes or both', 'priceKes');
      await requireKycForPrice(ctx, p.sellerId, nextKes as number | null, nextNative as string | null);
      const updated = await ctx.deps.prisma.product.update({ where: { id: p.id }, data });
      await changed(ctx, p.id);
      return toProductRow(updated);
    },
    async uploadProductImage(_: unknown, args: { productId: string; input: unknown }, ctx: Ctx) {
      const p = await ownProduct(ctx, args.productId);
      const input = parse(z.object({ mimeType: z.string().max(100), contentBase64: z.string().min(1) }), args.input);
      const { bytes, mime } = decodeUpload(input.contentBase64, input.mimeType, IMAGE_TYPES, ctx.deps.config.PRODUCT_IMAGE_MAX_BYTES);
      const imageCid = await ctx.deps.store.put(bytes, `${p.id}.${mime.split('/')[1]}`);
      const updated = await ctx.deps.prisma.product.update({ where: { id: p.id }, data: { imageCid } });
      await changed(ctx, p.id);
      ctx.log.info({ productId: p.id, size: bytes.length, mime }, 'product image uploaded');
      return toProductRow(updated);
    },
    async deleteProduct(_: unknown, args: { id: string }, ctx: Ctx) {
      const p = await ownProduct(ctx, args.id);
      // Soft delete: drafted orders keep pointing at it.
      await ctx.deps.prisma.product.update({ where: { id: p.id }, data: { deletedAt: new Date(), active: false } });
      await changed(ctx, p.id);
      return true;
    },
  },
  Product: {
    seller: (p: ProductRow) => userRef(p.sellerId),
    paymentModes: (p: ProductRow) => [...(p.priceNative !== null ? ['NATIVE'] : []), ...(p.priceKes !== null ? ['MPESA'] : [])],
  },
};
