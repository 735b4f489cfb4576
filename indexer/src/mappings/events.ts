/**
 * One decoder per Escrow event: a raw log (topics + data) → the event's name, its
 * arguments as OrderEvent.args, and for order events the typed data the pure state
 * machine (../state/order) takes. Plain functions of plain values: no node objects, no
 * store, so every one is unit-tested against viem's encoder (test/abi.test.ts).
 */
import { escrowEventTopics } from '../../../contracts/generated/escrow';
import type { OrderEventData, OrderEventKind } from '../state/order';
import type { EventArgs } from '../types';
import { decodeEvent, type DecodedArgs } from './abi';
import { argList, big, bool, hex, num, str } from './decode';

export interface DecodedLog {
  /** The event name, e.g. OrderCreated, FeeChanged. */
  kind: string;
  args: EventArgs;
  /** Set for the events about one order. */
  order?: OrderEventData;
}

type OrderDecoders = { [K in OrderEventKind]: (a: DecodedArgs) => Extract<OrderEventData, { kind: K }> };

/** Decoded arguments → the state machine's input, one function per order event. */
export const orderEvents: OrderDecoders = {
  OrderCreated: (a) => ({
    kind: 'OrderCreated', orderId: hex(a.orderId), buyer: hex(a.buyer), seller: hex(a.seller),
    amount: big(a.amount), mode: num(a.mode), feeBps: num(a.feeBps), metadataCid: str(a.metadataCid),
    shippingWindow: num(a.shippingWindow), confirmationWindow: num(a.confirmationWindow),
  }),
  OrderFunded: (a) => ({ kind: 'OrderFunded', orderId: hex(a.orderId), payer: hex(a.payer), amount: big(a.amount), shippingDeadline: big(a.shippingDeadline) }),
  OffchainPaymentRecorded: (a) => ({
    kind: 'OffchainPaymentRecorded', orderId: hex(a.orderId), receiptHash: hex(a.receiptHash), amountKes: big(a.amountKes), shippingDeadline: big(a.shippingDeadline),
  }),
  OrderShipped: (a) => ({ kind: 'OrderShipped', orderId: hex(a.orderId), trackingCid: str(a.trackingCid), confirmationDeadline: big(a.confirmationDeadline) }),
  OrderDelivered: (a) => ({ kind: 'OrderDelivered', orderId: hex(a.orderId), byTimeout: bool(a.byTimeout) }),
  OrderCompleted: (a) => ({ kind: 'OrderCompleted', orderId: hex(a.orderId), sellerAmount: big(a.sellerAmount), fee: big(a.fee) }),
  DisputeRaised: (a) => ({ kind: 'DisputeRaised', orderId: hex(a.orderId), raisedBy: hex(a.raisedBy), evidenceCid: str(a.evidenceCid) }),
  DisputeResolved: (a) => ({
    kind: 'DisputeResolved', orderId: hex(a.orderId), buyerShareBps: num(a.buyerShareBps),
    buyerAmount: big(a.buyerAmount), sellerAmount: big(a.sellerAmount), fee: big(a.fee),
  }),
  OrderCancelled: (a) => ({ kind: 'OrderCancelled', orderId: hex(a.orderId), cancelledBy: hex(a.cancelledBy) }),
  OrderRefunded: (a) => ({ kind: 'OrderRefunded', orderId: hex(a.orderId), amount: big(a.amount) }),
  PayoutSent: (a) => ({ kind: 'PayoutSent', orderId: hex(a.orderId), recipient: hex(a.recipient), amount: big(a.amount), credited: bool(a.credited) }),
  PayoutRecorded: (a) => ({
    kind: 'PayoutRecorded', orderId: hex(a.orderId), beneficiary: hex(a.beneficiary), receiptHash: hex(a.receiptHash), amountKes: big(a.amountKes),
  }),
};

/** Events about the contract as a whole (roles, fee, windows, pause, withdrawals): kept as OrderEvent rows only. */
export const contractEvents = [
  'OwnerChanged', 'OracleChanged', 'ArbiterChanged', 'TreasuryChanged', 'FeeChanged',
  'WindowsChanged', 'Paused', 'Unpaused', 'Withdrawn', 'FeesWithdrawn',
] as const;

const TOPICS: Readonly<Record<string, string>> = escrowEventTopics;

/** The Escrow event a topic0 names, or undefined. */
export function eventName(topic0: string | undefined): string | undefined {
  return topic0 === undefined ? undefined : TOPICS[topic0.toLowerCase()];
}

/** The state machine's input for an order event's decoded arguments; undefined for contract-wide events. */
export function orderEventData(kind: string, a: DecodedArgs): OrderEventData | undefined {
  return (orderEvents as Record<string, ((a: DecodedArgs) => OrderEventData) | undefined>)[kind]?.(a);
}

/**
 * Decode one log of the Escrow contract. Throws on a log that does not match the ABI
 * (a decoder bug must stop indexing, not write garbage); returns undefined for a topic
 * the ABI does not have (the caller keeps it as an anomaly).
 */
export function decodeLog(topics: readonly string[], data: string): DecodedLog | undefined {
  const kind = eventName(topics[0]);
  if (!kind) return undefined;
  const a = decodeEvent(kind, topics, data);
  return { kind, args: argList(kind, a), order: orderEventData(kind, a) };
}
