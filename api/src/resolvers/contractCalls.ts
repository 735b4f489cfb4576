/**
 * The wallet calls for every party action: ship, confirm, dispute, claim a timeout,
 * resolve (the arbiter) and withdraw. Each checks the caller's role and the order's state
 * as the index shows it, and refuses clearly, so the dApp never builds calldata itself and
 * never sends a transaction the contract would revert. The chain stays the judge: these
 * calls prepare, they do not decide.
 */
import { encodeFunctionData, type Hex } from 'viem';
import { z } from 'zod';
import { escrowAbi, payoutSplit } from '@descrow/contracts';
import { hasRole, requireRole, requireUser } from '../auth/guards';
import { fail, forbidden, notFound } from '../errors';
import { bytes32, parse } from '../validate';
import type { Ctx } from '../context';
import { deadlineInForce, type IndexOrder } from '../data/indexReader';
import { storeOrderDocument } from '../data/orderDocuments';

type EscrowFunction = 'markShipped' | 'confirmDelivery' | 'raiseDispute' | 'claimTimeout' | 'resolveDispute' | 'withdraw';

function call(ctx: Ctx, functionName: EscrowFunction, args: readonly unknown[]) {
  return {
    to: ctx.deps.escrowAddress,
    data: encodeFunctionData({ abi: escrowAbi, functionName, args } as never),
    value: '0',
    chainId: ctx.deps.config.CHAIN_ID,
  };
}

/** The indexed order, when the contract is not paused (a paused contract reverts every order action). */
async function chainOrder(ctx: Ctx, rawId: unknown): Promise<IndexOrder> {
  const id = parse(bytes32, rawId);
  const [order, clock] = await Promise.all([ctx.loaders.order.load(id), ctx.loaders.clock.load('contract')]);
  if (!order) return notFound('order on chain');
  if (clock.paused) fail('CONFLICT', 'the contract is paused: no order action can be sent until it is unpaused (deadlines do not run meanwhile)');
  return order!;
}

const inState = (o: IndexOrder, allowed: string[], action: string) => {
  if (!allowed.includes(o.status)) fail('CONFLICT', `cannot ${action}: the order is ${o.status} (needs ${allowed.join(' or ')})`);
};

const trackingInput = z.object({
  carrier: z.string().trim().min(1).max(80),
  trackingNumber: z.string().trim().min(1).max(120),
  url: z.string().url().max(500).refine((u) => /^https?:/.test(u), 'must be an http(s) link').nullish(),
  note: z.string().max(500).nullish(),
});
const disputeInput = z.object({ statement: z.string().trim().min(1, 'say what went wrong').max(4_000) });
const share = z.number().int().min(0, 'at least 0').max(10_000, 'at most 10000 (basis points: 10000 = full refund)');


export const contractCallResolvers = {
  Mutation: {
    /** Seller: ship a funded order. Tracking details are sealed off chain, bound to this order; their CID goes into markShipped. */
    async prepareMarkShipped(_: unknown, args: { orderId: string; tracking?: unknown }, ctx: Ctx) {
      const s = requireUser(ctx);
      const o = await chainOrder(ctx, args.orderId);
      if (s.address !== o.seller) forbidden('only the seller ships this order');
      inState(o, ['FUNDED'], 'mark as shipped');
      const tracking = args.tracking == null ? null : parse(trackingInput, args.tracking);
      const trackingCid = tracking ? await storeOrderDocument(ctx, o.id, 'tracking', s.address, tracking) : '';
      return { orderId: o.id, action: 'markShipped', call: call(ctx, 'markShipped', [o.id as Hex, trackingCid]), trackingCid: trackingCid || null };
    },

    /** Buyer: confirm delivery (funded or shipped). Native orders pay the seller in the same transaction. */
    async prepareConfirmDelivery(_: unknown, args: { orderId: string }, ctx: Ctx) {
      const s = requireUser(ctx);
      const o = await chainOrder(ctx, args.orderId);
      if (s.address !== o.buyer) forbidden('only the buyer confirms delivery');
      inState(o, ['FUNDED', 'SHIPPED'], 'confirm delivery');
      return { orderId: o.id, action: 'confirmDelivery', call: call(ctx, 'confirmDelivery', [o.id as Hex]) };
    },

    /** Buyer or seller: raise a dispute; the statement is sealed off chain, bound to this order, and its CID goes on chain. */
    async prepareRaiseDispute(_: unknown, args: { orderId: string; input: unknown }, ctx: Ctx) {
      const s = requireUser(ctx);
      const o = await chainOrder(ctx, args.orderId);
      if (s.address !== o.buyer && s.address !== o.seller) forbidden('only the buyer or the seller can dispute this order');
      inState(o, ['FUNDED', 'SHIPPED'], 'raise a dispute');
      const input = parse(disputeInput, args.input);
      const evidenceCid = await storeOrderDocument(ctx, o.id, 'dispute', s.address, { by: s.address, statement: input.statement });
      return { orderId: o.id, action: 'raiseDispute', call: call(ctx, 'raiseDispute', [o.id as Hex, evidenceCid]), evidenceCid };
    },

    /** Anyone signed in: enforce a passed deadline (refund an unshipped order, release an unconfirmed one). */
    async prepareClaimTimeout(_: unknown, args: { orderId: string }, ctx: Ctx) {
      requireUser(ctx);
      const o = await chainOrder(ctx, args.orderId);
      inState(o, ['FUNDED', 'SHIPPED'], 'claim a timeout');
      const deadline = deadlineInForce(o, await ctx.loaders.clock.load('contract'));
      if (deadline !== null && BigInt(Math.floor(Date.now() / 1000)) <= BigInt(deadline)) {
        fail('CONFLICT', `the deadline has not passed: ${new Date(Number(deadline) * 1000).toISOString()}`, { deadline });
      }
      const outcome = o.status === 'FUNDED' ? 'refund to the buyer (not shipped in time)' : 'release to the seller (not confirmed in time)';
      return { orderId: o.id, action: 'claimTimeout', call: call(ctx, 'claimTimeout', [o.id as Hex]), summary: outcome };
    },

    /** Arbiter: settle a dispute; the exact amounts are returned before the wallet signs. */
    async prepareResolveDispute(_: unknown, args: { orderId: string; buyerShareBps: number }, ctx: Ctx) {
      requireRole(ctx, 'ARBITER');
      const bps = parse(share, args.buyerShareBps);
      const o = await chainOrder(ctx, args.orderId);
      inState(o, ['DISPUTED'], 'resolve');
      const split = payoutSplit(BigInt(o.amount), o.feeBps, bps);
      return {
        orderId: o.id, action: 'resolveDispute', call: call(ctx, 'resolveDispute', [o.id as Hex, bps]),
        buyerAmount: split.buyerAmount.toString(), sellerAmount: split.sellerAmount.toString(), fee: split.fee.toString(), currency: o.currency,
      };
    },

    /** Anyone with native payouts credited (a push they could not take): withdraw them. */
    async prepareWithdraw(_: unknown, __: unknown, ctx: Ctx) {
      const s = requireUser(ctx);
      const owed = await ctx.deps.index.creditsOwed(s.address);
      if (owed <= 0n) fail('CONFLICT', 'nothing to withdraw: no payout to this address is waiting');
      return { action: 'withdraw', call: call(ctx, 'withdraw', []), amount: owed.toString() };
    },
  },
  Query: {
    /** What a wallet could withdraw (native payouts it refused, credited by the contract). */
    async withdrawable(_: unknown, args: { address?: string | null }, ctx: Ctx) {
      const s = requireUser(ctx);
      const who = args.address ? parse(z.string().regex(/^0x[0-9a-fA-F]{40}$/), args.address).toLowerCase() : s.address;
      if (who !== s.address && !hasRole(ctx, 'ADMIN')) forbidden("only admins can see another address's credits");
      return (await ctx.deps.index.creditsOwed(who)).toString();
    },
  },
};
