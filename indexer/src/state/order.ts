/**
 * The order state machine of the Escrow contract, as pure functions:
 * (indexed order, decoded event, block context) → next order | impossible.
 *
 * Dependency-free on purpose: the SubQuery handlers (bundled into the node's sandbox)
 * and jest both import it. It mirrors contracts/src/Escrow.sol; the unit tests check
 * the enums and the split against @descrow/contracts so the two cannot drift.
 */

/** `Escrow.Status` in declaration order. */
export const STATUSES = [
  'NONE', 'CREATED', 'FUNDED', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'DISPUTED', 'RESOLVED', 'CANCELLED', 'REFUNDED',
] as const;
export type Status = (typeof STATUSES)[number];

/** `Escrow.PaymentMode` in declaration order. */
export const MODES = ['NATIVE', 'MPESA'] as const;
export type Mode = (typeof MODES)[number];

export const BPS = 10_000n;

/** The contract's `_split`: the buyer's share carries no fee; the fee is floored on the seller's part. */
export function split(amount: bigint, feeBps: number, buyerShareBps: number): { buyerAmount: bigint; sellerAmount: bigint; fee: bigint } {
  const buyerAmount = (amount * BigInt(buyerShareBps)) / BPS;
  const sellerGross = amount - buyerAmount;
  const fee = (sellerGross * BigInt(feeBps)) / BPS;
  return { buyerAmount, sellerAmount: sellerGross - fee, fee };
}

export function currencyOf(mode: Mode): 'DOT' | 'KES' {
  return mode === 'NATIVE' ? 'DOT' : 'KES';
}

/** The indexed order, field for field the `Order` entity of schema.graphql. */
export interface OrderRecord {
  id: string;
  buyerId: string;
  sellerId: string;
  amount: bigint;
  currency: string;
  paymentMode: Mode;
  status: Status;
  feeBps: number;
  buyerShareBps: number;
  buyerAmount: bigint;
  sellerAmount: bigint;
  fee: bigint;
  feeCharged: bigint;
  paidToSeller: bigint;
  refundedToBuyer: bigint;
  credited: bigint;
  deadline: bigint;
  clockDeadline: bigint;
  shippingWindow: number;
  confirmationWindow: number;
  sellerPayoutDue: boolean;
  buyerRefundDue: boolean;
  metadataCid: string;
  trackingCid?: string;
  evidenceCid?: string;
  paymentReceipt?: string;
  sellerPayoutReceipt?: string;
  buyerRefundReceipt?: string;
  deliveredByTimeout?: boolean;
  disputeId?: string;
  createdBlock: number;
  createdAt: Date;
  fundedBlock?: number;
  fundedAt?: Date;
  shippedBlock?: number;
  shippedAt?: Date;
  deliveredBlock?: number;
  deliveredAt?: Date;
  completedBlock?: number;
  completedAt?: Date;
  disputedBlock?: number;
  disputedAt?: Date;
  resolvedBlock?: number;
  resolvedAt?: Date;
  cancelledBlock?: number;
  cancelledAt?: Date;
  refundedBlock?: number;
  refundedAt?: Date;
  updatedBlock: number;
  updatedAt: Date;
  eventCount: number;
}

/** Decoded order events (addresses and hashes lower-case hex, amounts bigint). */
export type OrderEventData =
  | {
      kind: 'OrderCreated'; orderId: string; buyer: string; seller: string; amount: bigint; mode: number; feeBps: number; metadataCid: string;
      shippingWindow: number; confirmationWindow: number;
    }
  | { kind: 'OrderFunded'; orderId: string; payer: string; amount: bigint; shippingDeadline: bigint }
  | { kind: 'OffchainPaymentRecorded'; orderId: string; receiptHash: string; amountKes: bigint; shippingDeadline: bigint }
  | { kind: 'OrderShipped'; orderId: string; trackingCid: string; confirmationDeadline: bigint }
  | { kind: 'OrderDelivered'; orderId: string; byTimeout: boolean }
  | { kind: 'OrderCompleted'; orderId: string; sellerAmount: bigint; fee: bigint }
  | { kind: 'DisputeRaised'; orderId: string; raisedBy: string; evidenceCid: string }
  | { kind: 'DisputeResolved'; orderId: string; buyerShareBps: number; buyerAmount: bigint; sellerAmount: bigint; fee: bigint }
  | { kind: 'OrderCancelled'; orderId: string; cancelledBy: string }
  | { kind: 'OrderRefunded'; orderId: string; amount: bigint }
  | { kind: 'PayoutSent'; orderId: string; recipient: string; amount: bigint; credited: boolean }
  | { kind: 'PayoutRecorded'; orderId: string; beneficiary: string; receiptHash: string; amountKes: bigint };

export type OrderEventKind = OrderEventData['kind'];

/** Where an event happened. */
export interface BlockContext {
  blockNumber: number;
  /** Block timestamp in unix seconds. */
  timestamp: bigint;
  /** The same as a Date, if the caller has one to share. */
  date?: Date;
  /** Seconds the contract had spent paused before this block (turns deadlines into clock deadlines). */
  pausedSeconds?: bigint;
}

/** Changes to the rollups (per payment mode) an event causes. */
export interface RollupDelta {
  ordersCreated: number;
  ordersFunded: number;
  volumeFunded: bigint;
  fees: bigint;
  paidOut: bigint;
  refunded: bigint;
  /** Change of the amount held in escrow (funded minus paid out minus fees earned). */
  held: bigint;
}

/** Changes to an account's totals an event causes. */
export interface AccountDelta {
  address: string;
  buyerOrders?: number;
  sellerOrders?: number;
  bought?: bigint;
  sold?: bigint;
  received?: bigint;
}

export interface PayoutInfo {
  recipient: string;
  kind: 'SELLER_PAYOUT' | 'BUYER_REFUND';
  amount: bigint;
  receiptHash?: string;
  credited: boolean;
}

export type Transition =
  | { ok: true; order: OrderRecord; rollup: RollupDelta; accounts: AccountDelta[]; payout?: PayoutInfo }
  | { ok: false; reason: string };

export function emptyDelta(): RollupDelta {
  return { ordersCreated: 0, ordersFunded: 0, volumeFunded: 0n, fees: 0n, paidOut: 0n, refunded: 0n, held: 0n };
}

export function toDate(seconds: bigint): Date {
  return new Date(Number(seconds) * 1000);
}

const impossible = (reason: string): Transition => ({ ok: false, reason });

/**
 * Apply one order event to the indexed order (undefined when none is indexed yet).
 * Returns the next order and its side effects, or why the event cannot happen in the
 * order's current state (the caller keeps the event and logs it; the order is unchanged).
 */
export function applyOrderEvent(order: OrderRecord | undefined, ev: OrderEventData, ctx: BlockContext): Transition {
  const at = ctx.date ?? toDate(ctx.timestamp);
  if (ev.kind === 'OrderCreated') {
    if (order) return impossible(`order ${ev.orderId} already exists (${order.status})`);
    const mode = MODES[ev.mode];
    if (!mode) return impossible(`unknown payment mode ${ev.mode}`);
    if (ev.buyer === ev.seller) return impossible('buyer and seller are the same account');
    const created: OrderRecord = {
      id: ev.orderId,
      buyerId: ev.buyer,
      sellerId: ev.seller,
      amount: ev.amount,
      currency: currencyOf(mode),
      paymentMode: mode,
      status: 'CREATED',
      feeBps: ev.feeBps,
      buyerShareBps: 0,
      ...split(ev.amount, ev.feeBps, 0),
      feeCharged: 0n,
      paidToSeller: 0n,
      refundedToBuyer: 0n,
      credited: 0n,
      deadline: 0n,
      clockDeadline: 0n,
      shippingWindow: ev.shippingWindow,
      confirmationWindow: ev.confirmationWindow,
      sellerPayoutDue: false,
      buyerRefundDue: false,
      metadataCid: ev.metadataCid,
      createdBlock: ctx.blockNumber,
      createdAt: at,
      updatedBlock: ctx.blockNumber,
      updatedAt: at,
      eventCount: 1,
    };
    return {
      ok: true,
      order: created,
      rollup: { ...emptyDelta(), ordersCreated: 1 },
      accounts: [
        { address: ev.buyer, buyerOrders: 1 },
        { address: ev.seller, sellerOrders: 1 },
      ],
    };
  }

  if (!order) return impossible(`${ev.kind} for unknown order ${ev.orderId}`);
  const o: OrderRecord = { ...order, updatedBlock: ctx.blockNumber, updatedAt: at, eventCount: order.eventCount + 1 };
  const expect = (ok: boolean, why: string) => (ok ? undefined : `${ev.kind} impossible for ${order.status} ${order.paymentMode} order ${order.id}: ${why}`);
  const none = emptyDelta();

  switch (ev.kind) {
    case 'OrderFunded':
    case 'OffchainPaymentRecorded': {
      const native = ev.kind === 'OrderFunded';
      const amount = native ? ev.amount : ev.amountKes;
      const bad =
        expect(order.status === 'CREATED', 'not awaiting payment') ??
        expect(order.paymentMode === (native ? 'NATIVE' : 'MPESA'), 'wrong payment mode') ??
        expect(amount === order.amount, `paid ${amount}, order amount ${order.amount}`);
      if (bad) return impossible(bad);
      o.status = 'FUNDED';
      o.deadline = ev.shippingDeadline;
      o.clockDeadline = ev.shippingDeadline - (ctx.pausedSeconds ?? 0n);
      o.fundedBlock = ctx.blockNumber;
      o.fundedAt = at;
      if (!native) o.paymentReceipt = ev.receiptHash;
      return {
        ok: true,
        order: o,
        rollup: { ...none, ordersFunded: 1, volumeFunded: amount, held: amount },
        accounts: [
          { address: order.buyerId, bought: amount },
          { address: order.sellerId, sold: amount },
        ],
      };
    }
    case 'OrderShipped': {
      const bad = expect(order.status === 'FUNDED', 'not funded');
      if (bad) return impossible(bad);
      o.status = 'SHIPPED';
      o.trackingCid = ev.trackingCid;
      o.deadline = ev.confirmationDeadline;
      o.clockDeadline = ev.confirmationDeadline - (ctx.pausedSeconds ?? 0n);
      o.shippedBlock = ctx.blockNumber;
      o.shippedAt = at;
      return { ok: true, order: o, rollup: none, accounts: [] };
    }
    case 'OrderDelivered': {
      const bad =
        expect(order.status === 'SHIPPED' || (order.status === 'FUNDED' && !ev.byTimeout), 'not shipped') ??
        expect(order.buyerShareBps === 0, 'order already settled');
      if (bad) return impossible(bad);
      // Native orders complete in the same transaction (OrderCompleted follows).
      o.status = 'DELIVERED';
      o.deliveredByTimeout = ev.byTimeout;
      o.deliveredBlock = ctx.blockNumber;
      o.deliveredAt = at;
      if (order.paymentMode === 'MPESA') o.sellerPayoutDue = true;
      return { ok: true, order: o, rollup: none, accounts: [] };
    }
    case 'OrderCompleted': {
      const bad =
        expect(order.status === 'DELIVERED', 'not delivered') ??
        expect(order.paymentMode === 'NATIVE' || !order.sellerPayoutDue, 'seller payout not recorded yet') ??
        expect(ev.sellerAmount === order.sellerAmount && ev.fee === order.fee, `split ${ev.sellerAmount}/${ev.fee} differs from ${order.sellerAmount}/${order.fee}`);
      if (bad) return impossible(bad);
      o.status = 'COMPLETED';
      o.feeCharged = ev.fee;
      o.completedBlock = ctx.blockNumber;
      o.completedAt = at;
      return { ok: true, order: o, rollup: { ...none, fees: ev.fee, held: -ev.fee }, accounts: [] };
    }
    case 'DisputeRaised': {
      const bad =
        expect(order.status === 'FUNDED' || order.status === 'SHIPPED', 'not funded or shipped') ??
        expect(ev.raisedBy === order.buyerId || ev.raisedBy === order.sellerId, `${ev.raisedBy} is not a party`);
      if (bad) return impossible(bad);
      o.status = 'DISPUTED';
      o.evidenceCid = ev.evidenceCid;
      o.disputeId = order.id;
      o.disputedBlock = ctx.blockNumber;
      o.disputedAt = at;
      return { ok: true, order: o, rollup: none, accounts: [] };
    }
    case 'DisputeResolved': {
      const s = split(order.amount, order.feeBps, ev.buyerShareBps);
      const bad =
        expect(order.status === 'DISPUTED', 'not disputed') ??
        expect(ev.buyerShareBps <= 10_000, `share ${ev.buyerShareBps} bps`) ??
        expect(
          ev.buyerAmount === s.buyerAmount && ev.sellerAmount === s.sellerAmount && ev.fee === s.fee,
          `split ${ev.buyerAmount}/${ev.sellerAmount}/${ev.fee} differs from ${s.buyerAmount}/${s.sellerAmount}/${s.fee}`,
        );
      if (bad) return impossible(bad);
      Object.assign(o, s);
      o.status = 'RESOLVED';
      o.buyerShareBps = ev.buyerShareBps;
      o.feeCharged = ev.fee;
      o.resolvedBlock = ctx.blockNumber;
      o.resolvedAt = at;
      if (order.paymentMode === 'MPESA') {
        o.buyerRefundDue = s.buyerAmount !== 0n;
        o.sellerPayoutDue = s.sellerAmount !== 0n;
      }
      return { ok: true, order: o, rollup: { ...none, fees: ev.fee, held: -ev.fee }, accounts: [] };
    }
    case 'OrderCancelled': {
      const bad = expect(order.status === 'CREATED', 'already paid');
      if (bad) return impossible(bad);
      o.status = 'CANCELLED';
      o.cancelledBlock = ctx.blockNumber;
      o.cancelledAt = at;
      return { ok: true, order: o, rollup: none, accounts: [] };
    }
    case 'OrderRefunded': {
      const bad =
        expect(order.status === 'FUNDED', 'not funded-and-unshipped') ??
        expect(ev.amount === order.amount, `refund ${ev.amount} differs from amount ${order.amount}`);
      if (bad) return impossible(bad);
      Object.assign(o, split(order.amount, order.feeBps, 10_000));
      o.status = 'REFUNDED';
      o.buyerShareBps = 10_000;
      o.refundedBlock = ctx.blockNumber;
      o.refundedAt = at;
      if (order.paymentMode === 'MPESA') o.buyerRefundDue = true;
      return { ok: true, order: o, rollup: none, accounts: [] };
    }
    case 'PayoutSent': {
      const toSeller = ev.recipient === order.sellerId;
      const toBuyer = ev.recipient === order.buyerId;
      const releasedToSeller = order.status === 'COMPLETED' || order.status === 'RESOLVED';
      const releasedToBuyer = order.status === 'RESOLVED' || order.status === 'REFUNDED';
      const bad =
        expect(order.paymentMode === 'NATIVE', 'M-Pesa orders are paid off-chain') ??
        expect(toSeller || toBuyer, `${ev.recipient} is not a party`) ??
        expect(toSeller ? releasedToSeller : releasedToBuyer, 'nothing released to that party') ??
        (toSeller
          ? expect(order.paidToSeller === 0n && ev.amount === order.sellerAmount, `seller paid ${ev.amount}, owed ${order.sellerAmount - order.paidToSeller}`)
          : expect(order.refundedToBuyer === 0n && ev.amount === order.buyerAmount, `buyer paid ${ev.amount}, owed ${order.buyerAmount - order.refundedToBuyer}`));
      if (bad) return impossible(bad);
      if (toSeller) o.paidToSeller = ev.amount;
      else o.refundedToBuyer = ev.amount;
      if (ev.credited) o.credited = order.credited + ev.amount;
      return {
        ok: true,
        order: o,
        rollup: { ...none, paidOut: ev.amount, refunded: toBuyer ? ev.amount : 0n, held: -ev.amount },
        accounts: [{ address: ev.recipient, received: ev.amount }],
        payout: { recipient: ev.recipient, kind: toSeller ? 'SELLER_PAYOUT' : 'BUYER_REFUND', amount: ev.amount, credited: ev.credited },
      };
    }
    case 'PayoutRecorded': {
      const toSeller = ev.beneficiary === order.sellerId;
      const toBuyer = ev.beneficiary === order.buyerId;
      const bad =
        expect(order.paymentMode === 'MPESA', 'native orders are paid on chain') ??
        expect(toSeller || toBuyer, `${ev.beneficiary} is not a party`) ??
        expect(toSeller ? order.sellerPayoutDue : order.buyerRefundDue, 'no payout due to that party') ??
        expect(ev.amountKes === (toSeller ? order.sellerAmount : order.buyerAmount), `paid ${ev.amountKes}, owed ${toSeller ? order.sellerAmount : order.buyerAmount}`);
      if (bad) return impossible(bad);
      if (toSeller) {
        o.sellerPayoutDue = false;
        o.paidToSeller = ev.amountKes;
        o.sellerPayoutReceipt = ev.receiptHash;
      } else {
        o.buyerRefundDue = false;
        o.refundedToBuyer = ev.amountKes;
        o.buyerRefundReceipt = ev.receiptHash;
      }
      return {
        ok: true,
        order: o,
        rollup: { ...none, paidOut: ev.amountKes, refunded: toBuyer ? ev.amountKes : 0n, held: -ev.amountKes },
        accounts: [{ address: ev.beneficiary, received: ev.amountKes }],
        payout: { recipient: ev.beneficiary, kind: toSeller ? 'SELLER_PAYOUT' : 'BUYER_REFUND', amount: ev.amountKes, receiptHash: ev.receiptHash, credited: false },
      };
    }
  }
}

/** The UTC day (YYYY-MM-DD) of a block timestamp in seconds. */
export function utcDay(timestamp: bigint): string {
  return toDate(timestamp).toISOString().slice(0, 10);
}
