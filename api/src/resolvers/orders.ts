/**
 * Orders: the canonical state from the index, merged with the draft (product, delivery
 * address, phone), profiles, evidence and the oracle's payment and payout records.
 */
import { randomUUID } from 'node:crypto';
import { encodeFunctionData, getAddress, type Hex } from 'viem';
import { z } from 'zod';
import type { GraphQLResolveInfo } from 'graphql';
import { escrowAbi, newOrderSalt, orderIdFor, PaymentModeId } from '@descrow/contracts';
import { hasRole, isPartyOrAdmin, requireRole, requireUser } from '../auth/guards';
import { badInput, fail, forbidden, notFound } from '../errors';
import { address, bytes32, date, parse, phone, uuid } from '../validate';
import type { Ctx } from '../context';
import type { DraftRow, EvidenceRow } from '../data/loaders';
import { deadlineInForce, type IndexEvent, type IndexOrder, type IndexPayout, type OrderListFilter } from '../data/indexReader';
import type { LedgerPayment, LedgerPayout } from '../data/ledgerReader';
import { toDraftRow } from '../data/loaders';
import { connection, decodeCursor, encodeCursor, pageSize } from './pagination';
import { userRef } from './identity';
import { loadProduct } from './products';
import { requireKycForOrder } from './kyc';

/** Tracking details as prepareMarkShipped stores them (anything else under the CID is not shown). */
const trackingDocument = z.object({ carrier: z.string(), trackingNumber: z.string(), url: z.string().nullish(), note: z.string().nullish() });

/** Whether the field's own selection (not through fragments) asks for `name`. */
function selects(info: GraphQLResolveInfo, name: string): boolean {
  return info.fieldNodes.some((n) => n.selectionSet?.selections.some((s) => s.kind === 'Field' && s.name.value === name));
}

/** One order as the resolvers see it: the index row and/or the draft (loaded lazily). */
export interface OrderView { id: string; chain: IndexOrder | null; draft?: DraftRow | null }

export async function loadOrder(ctx: Ctx, id: string): Promise<OrderView | null> {
  const [chain, draft] = await Promise.all([ctx.loaders.order.load(id), ctx.loaders.draft.load(id)]);
  return chain || draft ? { id, chain, draft: chain && draft && draftMismatch(chain, draft).length ? null : draft } : null;
}

/**
 * Where the chain order differs from the draft with its id. A draft describes one order:
 * its buyer, seller, amount and payment mode. If the chain holds anything else under that
 * id (say the buyer's own 1-wei order on their draft's id), the draft's product, address
 * and phone are not merged into it.
 */
export function draftMismatch(chain: IndexOrder, draft: DraftRow): string[] {
  const out: string[] = [];
  if (chain.buyer !== draft.buyer) out.push(`buyer: chain ${chain.buyer}, draft ${draft.buyer}`);
  if (chain.seller !== draft.seller) out.push(`seller: chain ${chain.seller}, draft ${draft.seller}`);
  if (chain.amount !== draft.amount) out.push(`amount: chain ${chain.amount}, draft ${draft.amount}`);
  if (chain.paymentMode !== draft.paymentMode) out.push(`paymentMode: chain ${chain.paymentMode}, draft ${draft.paymentMode}`);
  return out;
}

/** The draft of an order, only when it matches what the chain holds (see draftMismatch). */
const draftOf = async (ctx: Ctx, o: OrderView): Promise<DraftRow | null> => {
  if (o.draft === undefined) {
    const draft = await ctx.loaders.draft.load(o.id);
    o.draft = o.chain && draft && draftMismatch(o.chain, draft).length ? null : draft;
  }
  return o.draft;
};
const parties = async (ctx: Ctx, o: OrderView): Promise<[string, string]> => {
  if (o.chain) return [o.chain.buyer, o.chain.seller];
  const d = (await draftOf(ctx, o))!;
  return [d.buyer, d.seller];
};
async function requireParty(ctx: Ctx, o: OrderView, what: string): Promise<void> {
  if (!isPartyOrAdmin(ctx, ...(await parties(ctx, o)))) forbidden(`${what} is only for the buyer, the seller and admins`);
}

const STATUSES = ['CREATED', 'FUNDED', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'DISPUTED', 'RESOLVED', 'CANCELLED', 'REFUNDED'] as const;
const orderFilter = z
  .object({
    role: z.enum(['BUYER', 'SELLER', 'ANY']).nullish(),
    party: address.nullish(),
    status: z.array(z.enum(STATUSES, { message: 'drafts are not listed (they are not on chain yet): use order(id)' })).max(10).nullish(),
    paymentMode: z.enum(['NATIVE', 'MPESA']).nullish(),
    createdFrom: date.nullish(),
    createdTo: date.nullish(),
  })
  .nullish();

export async function listOrders(ctx: Ctx, rawFilter: unknown, first?: number | null, after?: string | null, fixed: OrderListFilter = {}) {
  const f = parse(orderFilter, rawFilter) ?? {};
  const limit = pageSize(ctx, first);
  const cursor = decodeCursor<[number, string]>(after, (v) => v.length === 2 && Number.isInteger(v[0]) && typeof v[1] === 'string');
  const q: OrderListFilter = { ...fixed };
  if (f.role) {
    const me = requireUser(ctx).address;
    if (f.role === 'BUYER') q.buyer = me;
    else if (f.role === 'SELLER') q.seller = me;
    else q.party = me;
  }
  if (f.party) q.party = q.party && q.party !== f.party ? '0x' : f.party;
  if (f.status?.length) q.statuses = f.status;
  if (f.paymentMode) q.paymentMode = f.paymentMode;
  if (f.createdFrom) q.createdFrom = f.createdFrom;
  if (f.createdTo) q.createdTo = f.createdTo;
  const rows = await ctx.deps.index.listOrders(q, limit + 1, cursor ? { block: cursor[0], id: cursor[1] } : undefined);
  for (const r of rows) ctx.loaders.order.prime(r.id, r);
  return connection(rows, limit, (r) => encodeCursor(r.createdBlock, r.id), (r): OrderView => ({ id: r.id, chain: r }));
}

const createOrderInput = z.object({
  productId: uuid,
  quantity: z.number().int().min(1).max(1_000).nullish(),
  paymentMode: z.enum(['NATIVE', 'MPESA']),
  deliveryAddress: z.string().trim().min(5, 'at least 5 characters').max(500, 'at most 500 characters'),
});
const evidenceInput = z.object({
  filename: z.string().trim().min(1).max(200).regex(/^[^/\\\0]+$/, 'a file name, not a path'),
  mimeType: z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/i, 'expected a MIME type like image/jpeg'),
  contentBase64: z.string().min(1).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64'),
  note: z.string().max(2_000).nullish(),
});

const ev = (e: IndexEvent) => e;

export const orderResolvers = {
  Query: {
    order: async (_: unknown, args: { id: string }, ctx: Ctx, info: GraphQLResolveInfo) => {
      const id = parse(bytes32, args.id);
      // Asked with its events: order and history in one statement, primed into the loaders.
      if (selects(info, 'events')) {
        const both = await ctx.deps.index.orderWithEvents(id);
        if (both) {
          ctx.loaders.order.prime(id, both.order);
          ctx.loaders.events.prime(id, both.events);
        }
      }
      return loadOrder(ctx, id);
    },
    orders: (_: unknown, args: { filter?: unknown; first?: number; after?: string }, ctx: Ctx) => listOrders(ctx, args.filter, args.first, args.after),
  },
  Mutation: {
    async createOrder(_: unknown, args: { input: unknown }, ctx: Ctx) {
      const s = requireRole(ctx, 'BUYER');
      const input = parse(createOrderInput, args.input);
      const product = await loadProduct(ctx, input.productId);
      if (!product.active) fail('CONFLICT', 'this product is not for sale at the moment');
      if (product.sellerId === s.address) badInput('you cannot buy your own product', 'productId');
      const quantity = input.quantity ?? 1;
      let amount: bigint;
      if (input.paymentMode === 'NATIVE') {
        if (product.priceNative === null) badInput('this product is not sold for DOT', 'paymentMode');
        amount = BigInt(product.priceNative!) * BigInt(quantity);
      } else {
        if (product.priceKes === null) badInput('this product is not sold for M-Pesa', 'paymentMode');
        amount = BigInt(product.priceKes!) * BigInt(quantity);
        if (amount > 250_000n) badInput('M-Pesa orders are limited to KES 250,000', 'quantity');
        const seller = await ctx.loaders.user.load(product.sellerId);
        if (!seller?.phone) fail('CONFLICT', 'the seller has no M-Pesa phone on their profile and cannot be paid with M-Pesa yet');
      }
      await requireKycForOrder(ctx, product.sellerId, input.paymentMode, amount);
      // The id is bound to whoever creates the order on chain: the buyer's wallet for DOT, the oracle for M-Pesa.
      const salt = newOrderSalt();
      const orderId = orderIdFor(input.paymentMode === 'NATIVE' ? (s.address as `0x${string}`) : ctx.deps.oracleAddress, salt).toLowerCase();
      // Public order metadata (never the delivery address), stored content-addressed; its CID goes on chain.
      const metadata = { v: 1, orderId, productId: product.id, title: product.title, quantity, paymentMode: input.paymentMode, amount: amount.toString() };
      const metadataCid = await ctx.deps.store.put(Buffer.from(JSON.stringify(metadata)), `${orderId}.json`);
      const draft = await ctx.deps.prisma.orderDraft.create({
        data: {
          orderId, productId: product.id, buyer: s.address, seller: product.sellerId, quantity, amount: amount.toString(),
          paymentMode: input.paymentMode, deliveryAddress: input.deliveryAddress, metadataCid, orderSalt: salt,
        },
      });
      const row = toDraftRow(draft);
      ctx.loaders.draft.prime(orderId, row);
      ctx.log.info({ orderId, paymentMode: input.paymentMode, amount: amount.toString() }, 'order drafted');
      const contractCall =
        input.paymentMode === 'NATIVE'
          ? {
              to: ctx.deps.escrowAddress,
              data: encodeFunctionData({
                abi: escrowAbi,
                functionName: 'createOrder',
                args: [salt, getAddress(product.sellerId), amount, PaymentModeId.NATIVE, metadataCid],
              }),
              value: amount.toString(),
              chainId: ctx.deps.config.CHAIN_ID,
            }
          : null;
      return { orderId, salt, order: { id: orderId, chain: null, draft: row } satisfies OrderView, amount: amount.toString(), paymentMode: input.paymentMode, metadataCid, contractCall };
    },

    async payWithMpesa(_: unknown, args: { orderId: string; phoneNumber: string }, ctx: Ctx) {
      const s = requireRole(ctx, 'BUYER');
      const orderId = parse(bytes32, args.orderId);
      const buyerPhone = parse(phone, args.phoneNumber);
      const draft = await ctx.loaders.draft.load(orderId);
      if (!draft) return notFound('order draft');
      if (draft.buyer !== s.address) forbidden('only the buyer of this order can pay for it');
      if (draft.paymentMode !== 'MPESA') badInput('this order is paid in DOT from the wallet, not with M-Pesa', 'orderId');
      if (await ctx.loaders.order.load(orderId)) fail('CONFLICT', 'this order is already on chain');
      if (!draft.orderSalt) fail('CONFLICT', 'this draft was made before order ids were bound to their creator: draft the order again');
      const seller = await ctx.loaders.user.load(draft.seller);
      if (!seller?.phone) fail('CONFLICT', 'the seller has no M-Pesa phone on their profile');
      // Again at payment: the seller's KYC may have been rejected since the order was drafted.
      await requireKycForOrder(ctx, draft.seller, 'MPESA', BigInt(draft.amount));
      // Each prompt counts against the phone, the order and the user (after validation: a mistake costs nothing).
      const limit = await ctx.deps.pushLimits.take({ PHONE: buyerPhone, ORDER: orderId, USER: s.address });
      if (!limit.ok) {
        const what = limit.kind === 'PHONE' ? 'this phone number' : limit.kind === 'ORDER' ? 'this order' : 'your account';
        ctx.log.warn({ orderId, limit: limit.kind }, 'm-pesa prompt limit reached');
        fail('RATE_LIMITED', `too many M-Pesa prompts for ${what} (at most ${limit.limit} per ${Math.round(ctx.deps.config.MPESA_PUSH_WINDOW_SECONDS / 60)} minutes); try again in ${Math.ceil(limit.retryAfterSeconds / 60)} minute(s)`, { reason: `${limit.kind}_LIMIT`, retryAfterSeconds: limit.retryAfterSeconds });
      }
      const result = await ctx.deps.oracle.requestStk(
        { orderId, salt: draft.orderSalt!, buyer: draft.buyer, seller: draft.seller, amountKes: Number(draft.amount), phone: buyerPhone, sellerPhone: seller!.phone!, metadataCid: draft.metadataCid },
        ctx.requestId,
        ctx.trace,
      );
      if (!result.ok) {
        ctx.log.warn({ orderId, code: result.code, status: result.httpStatus }, 'oracle refused the STK push');
        const code = result.httpStatus === 409 ? 'CONFLICT' : result.httpStatus === 400 || result.httpStatus === 422 ? 'BAD_USER_INPUT' : 'SERVICE_UNAVAILABLE';
        fail(code, result.message, { reason: result.code });
      }
      const ok = result as Extract<typeof result, { ok: true }>;
      await ctx.deps.prisma.orderDraft.update({ where: { orderId }, data: { buyerPhone, checkoutRequestId: ok.checkoutRequestId } });
      ctx.loaders.draft.clear(orderId);
      return { orderId, checkoutRequestId: ok.checkoutRequestId, status: ok.status, requestId: ok.requestId };
    },

    async addEvidence(_: unknown, args: { orderId: string; input: unknown }, ctx: Ctx) {
      const s = requireUser(ctx);
      const orderId = parse(bytes32, args.orderId);
      const input = parse(evidenceInput, args.input);
      const o = await loadOrder(ctx, orderId);
      if (!o) return notFound('order');
      const [buyer, seller] = await parties(ctx, o);
      if (s.address !== buyer && s.address !== seller) forbidden('only the buyer or the seller can add evidence to this order');
      const bytes = Buffer.from(input.contentBase64, 'base64');
      if (bytes.length === 0) badInput('the file is empty', 'contentBase64');
      if (bytes.length > ctx.deps.config.EVIDENCE_MAX_BYTES) badInput(`the file is larger than ${ctx.deps.config.EVIDENCE_MAX_BYTES} bytes`, 'contentBase64');
      const cid = await ctx.deps.store.put(bytes, input.filename);
      const row = await ctx.deps.prisma.evidence.create({
        data: { id: randomUUID(), orderId, uploader: s.address, cid, filename: input.filename, mimeType: input.mimeType.toLowerCase(), size: bytes.length, note: input.note ?? '' },
      });
      ctx.loaders.evidence.clear(orderId);
      return row;
    },
  },
  Order: {
    id: (o: OrderView) => o.id,
    status: (o: OrderView) => o.chain?.status ?? 'DRAFT',
    onChain: (o: OrderView) => o.chain !== null,
    paymentMode: async (o: OrderView, _: unknown, ctx: Ctx) => o.chain?.paymentMode ?? (await draftOf(ctx, o))!.paymentMode,
    currency: async (o: OrderView, _: unknown, ctx: Ctx) => o.chain?.currency ?? ((await draftOf(ctx, o))!.paymentMode === 'NATIVE' ? 'DOT' : 'KES'),
    amount: async (o: OrderView, _: unknown, ctx: Ctx) => o.chain?.amount ?? (await draftOf(ctx, o))!.amount,
    buyer: async (o: OrderView, _: unknown, ctx: Ctx) => userRef((await parties(ctx, o))[0]),
    seller: async (o: OrderView, _: unknown, ctx: Ctx) => userRef((await parties(ctx, o))[1]),
    product: async (o: OrderView, _: unknown, ctx: Ctx) => {
      const d = await draftOf(ctx, o);
      return d?.productId ? ctx.loaders.product.load(d.productId) : null;
    },
    quantity: async (o: OrderView, _: unknown, ctx: Ctx) => (await draftOf(ctx, o))?.quantity ?? null,
    feeBps: (o: OrderView) => o.chain?.feeBps ?? null,
    buyerAmount: (o: OrderView) => o.chain?.buyerAmount ?? null,
    sellerAmount: (o: OrderView) => o.chain?.sellerAmount ?? null,
    fee: (o: OrderView) => o.chain?.fee ?? null,
    paidToSeller: (o: OrderView) => o.chain?.paidToSeller ?? null,
    refundedToBuyer: (o: OrderView) => o.chain?.refundedToBuyer ?? null,
    deadline: async (o: OrderView, _: unknown, ctx: Ctx) => (o.chain ? deadlineInForce(o.chain, await ctx.loaders.clock.load('contract')) : null),
    shippingWindow: (o: OrderView) => o.chain?.shippingWindow ?? null,
    confirmationWindow: (o: OrderView) => o.chain?.confirmationWindow ?? null,
    draftMismatch: async (o: OrderView, _: unknown, ctx: Ctx) => {
      if (!hasRole(ctx, 'ADMIN') || !o.chain) return null;
      const draft = await ctx.loaders.draft.load(o.id);
      const diff = draft ? draftMismatch(o.chain, draft) : [];
      return diff.length ? diff : null;
    },
    sellerPayoutDue: (o: OrderView) => o.chain?.sellerPayoutDue ?? false,
    buyerRefundDue: (o: OrderView) => o.chain?.buyerRefundDue ?? false,
    metadataCid: async (o: OrderView, _: unknown, ctx: Ctx) => o.chain?.metadataCid ?? (await draftOf(ctx, o))?.metadataCid ?? null,
    trackingCid: (o: OrderView) => o.chain?.trackingCid ?? null,
    tracking: async (o: OrderView, _: unknown, ctx: Ctx) => {
      const cid = o.chain?.trackingCid;
      if (!cid) return null;
      if (!isPartyOrAdmin(ctx, ...(await parties(ctx, o)))) return null;
      const bytes = await ctx.deps.store.get(cid);
      let json: unknown = null;
      try {
        json = bytes ? JSON.parse(Buffer.from(bytes).toString('utf8')) : null;
      } catch {
        return null; // not a tracking document (a CID some other client put on chain)
      }
      const doc = trackingDocument.safeParse(json);
      return doc.success ? { cid, ...doc.data } : null;
    },
    evidenceCid: (o: OrderView) => o.chain?.evidenceCid ?? null,
    paymentReceiptHash: (o: OrderView) => o.chain?.paymentReceipt ?? null,
    deliveryAddress: async (o: OrderView, _: unknown, ctx: Ctx) => {
      await requireParty(ctx, o, 'the delivery address');
      return (await draftOf(ctx, o))?.deliveryAddress ?? null;
    },
    buyerPhone: async (o: OrderView, _: unknown, ctx: Ctx) => {
      await requireParty(ctx, o, "the buyer's phone");
      const d = await draftOf(ctx, o);
      if (d?.buyerPhone) return d.buyerPhone;
      return (await ctx.loaders.ledgerPayments.load(o.id)).at(-1)?.phone ?? null;
    },
    dispute: (o: OrderView, _: unknown, ctx: Ctx) => (o.chain?.disputeId ? ctx.loaders.dispute.load(o.chain.disputeId) : null),
    evidence: async (o: OrderView, _: unknown, ctx: Ctx): Promise<EvidenceRow[]> => {
      if (!isPartyOrAdmin(ctx, ...(await parties(ctx, o)))) return [];
      return ctx.loaders.evidence.load(o.id);
    },
    mpesaPayment: async (o: OrderView, _: unknown, ctx: Ctx) => {
      const p = (await ctx.loaders.ledgerPayments.load(o.id)).at(-1);
      if (!p) return null;
      if (isPartyOrAdmin(ctx, ...(await parties(ctx, o)))) return p;
      // Public: that it was paid, how much, when. Private: the receipt, the CheckoutRequestID
      // (Daraja's end in the payer's subscriber digits) and why a payment failed.
      return { ...p, receipt: null, checkoutRequestId: null, failureReason: null } satisfies LedgerPayment;
    },
    mpesaPayouts: async (o: OrderView, _: unknown, ctx: Ctx) => {
      const rows = await ctx.loaders.ledgerPayouts.load(o.id);
      if (isPartyOrAdmin(ctx, ...(await parties(ctx, o)))) return rows;
      // The reason is Daraja's result text, which can name the recipient.
      return rows.map((p): LedgerPayout => ({ ...p, receipt: null, reason: null }));
    },
    payouts: (o: OrderView, _: unknown, ctx: Ctx): Promise<IndexPayout[]> | IndexPayout[] => (o.chain ? ctx.loaders.chainPayouts.load(o.id) : []),
    events: async (o: OrderView, _: unknown, ctx: Ctx) => (o.chain ? (await ctx.loaders.events.load(o.id)).map(ev) : []),
    createdBlock: (o: OrderView) => o.chain?.createdBlock ?? null,
    createdAt: async (o: OrderView, _: unknown, ctx: Ctx) => o.chain?.createdAt ?? (await draftOf(ctx, o))!.createdAt,
    fundedAt: (o: OrderView) => o.chain?.fundedAt ?? null,
    shippedAt: (o: OrderView) => o.chain?.shippedAt ?? null,
    deliveredAt: (o: OrderView) => o.chain?.deliveredAt ?? null,
    completedAt: (o: OrderView) => o.chain?.completedAt ?? null,
    updatedBlock: (o: OrderView) => o.chain?.updatedBlock ?? null,
    updatedAt: async (o: OrderView, _: unknown, ctx: Ctx) => o.chain?.updatedAt ?? (await draftOf(ctx, o))!.createdAt,
  },
  ContractEvent: {
    args: (e: IndexEvent) => eventArgs(e.kind, e.args),
  },
};

/** ABI argument names per event, in declaration order. */
const EVENT_INPUTS = new Map<string, string[]>(escrowAbi.filter((i) => i.type === 'event').map((e) => [e.name, e.inputs.map((x) => x.name)]));

/**
 * The index stores an event's arguments as one JSON object by name (jsonb keeps no key
 * order); the API's public shape is a list of {name, value} in the ABI's order.
 */
export function eventArgs(kind: string, args: unknown): { name: string; value: string }[] {
  if (Array.isArray(args)) return args as { name: string; value: string }[];
  const obj = (args ?? {}) as Record<string, unknown>;
  const order = EVENT_INPUTS.get(kind) ?? Object.keys(obj);
  const names = [...order, ...Object.keys(obj).filter((k) => !order.includes(k))];
  return names.filter((n) => obj[n] !== undefined && obj[n] !== null).map((name) => ({ name, value: String(obj[name]) }));
}
