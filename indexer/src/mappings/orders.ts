/**
 * One thin handler per order event: decode the log (./abi), hand it to recordOrderEvent
 * (which runs the pure transition in ../state/order and writes the result).
 */
import type { EthereumLog } from '@subql/types-ethereum';
import { decodeEvent, type DecodedArgs } from './abi';
import { argList, big, bool, hex, num, str } from './decode';
import { recordOrderEvent } from './write';

const decode = (name: string, log: EthereumLog): DecodedArgs => decodeEvent(name, log.topics, log.data);

export async function handleOrderCreated(log: EthereumLog): Promise<void> {
  const a = decode('OrderCreated', log);
  await recordOrderEvent(log, {
    kind: 'OrderCreated', orderId: hex(a.orderId), buyer: hex(a.buyer), seller: hex(a.seller),
    amount: big(a.amount), mode: num(a.mode), feeBps: num(a.feeBps), metadataCid: str(a.metadataCid),
  }, argList('OrderCreated', a));
}

export async function handleOrderFunded(log: EthereumLog): Promise<void> {
  const a = decode('OrderFunded', log);
  await recordOrderEvent(log, {
    kind: 'OrderFunded', orderId: hex(a.orderId), payer: hex(a.payer), amount: big(a.amount), shippingDeadline: big(a.shippingDeadline),
  }, argList('OrderFunded', a));
}

export async function handleOffchainPaymentRecorded(log: EthereumLog): Promise<void> {
  const a = decode('OffchainPaymentRecorded', log);
  await recordOrderEvent(log, {
    kind: 'OffchainPaymentRecorded', orderId: hex(a.orderId), receiptHash: hex(a.receiptHash),
    amountKes: big(a.amountKes), shippingDeadline: big(a.shippingDeadline),
  }, argList('OffchainPaymentRecorded', a));
}

export async function handleOrderShipped(log: EthereumLog): Promise<void> {
  const a = decode('OrderShipped', log);
  await recordOrderEvent(log, {
    kind: 'OrderShipped', orderId: hex(a.orderId), trackingCid: str(a.trackingCid), confirmationDeadline: big(a.confirmationDeadline),
  }, argList('OrderShipped', a));
}

export async function handleOrderDelivered(log: EthereumLog): Promise<void> {
  const a = decode('OrderDelivered', log);
  await recordOrderEvent(log, { kind: 'OrderDelivered', orderId: hex(a.orderId), byTimeout: bool(a.byTimeout) }, argList('OrderDelivered', a));
}

export async function handleOrderCompleted(log: EthereumLog): Promise<void> {
  const a = decode('OrderCompleted', log);
  await recordOrderEvent(log, {
    kind: 'OrderCompleted', orderId: hex(a.orderId), sellerAmount: big(a.sellerAmount), fee: big(a.fee),
  }, argList('OrderCompleted', a));
}

export async function handleDisputeRaised(log: EthereumLog): Promise<void> {
  const a = decode('DisputeRaised', log);
  await recordOrderEvent(log, {
    kind: 'DisputeRaised', orderId: hex(a.orderId), raisedBy: hex(a.raisedBy), evidenceCid: str(a.evidenceCid),
  }, argList('DisputeRaised', a));
}

export async function handleDisputeResolved(log: EthereumLog): Promise<void> {
  const a = decode('DisputeResolved', log);
  await recordOrderEvent(log, {
    kind: 'DisputeResolved', orderId: hex(a.orderId), buyerShareBps: num(a.buyerShareBps),
    buyerAmount: big(a.buyerAmount), sellerAmount: big(a.sellerAmount), fee: big(a.fee),
  }, argList('DisputeResolved', a));
}

export async function handleOrderCancelled(log: EthereumLog): Promise<void> {
  const a = decode('OrderCancelled', log);
  await recordOrderEvent(log, { kind: 'OrderCancelled', orderId: hex(a.orderId), cancelledBy: hex(a.cancelledBy) }, argList('OrderCancelled', a));
}

export async function handleOrderRefunded(log: EthereumLog): Promise<void> {
  const a = decode('OrderRefunded', log);
  await recordOrderEvent(log, { kind: 'OrderRefunded', orderId: hex(a.orderId), amount: big(a.amount) }, argList('OrderRefunded', a));
}

export async function handlePayoutSent(log: EthereumLog): Promise<void> {
  const a = decode('PayoutSent', log);
  await recordOrderEvent(log, {
    kind: 'PayoutSent', orderId: hex(a.orderId), recipient: hex(a.recipient), amount: big(a.amount), credited: bool(a.credited),
  }, argList('PayoutSent', a));
}

export async function handlePayoutRecorded(log: EthereumLog): Promise<void> {
  const a = decode('PayoutRecorded', log);
  await recordOrderEvent(log, {
    kind: 'PayoutRecorded', orderId: hex(a.orderId), beneficiary: hex(a.beneficiary), receiptHash: hex(a.receiptHash), amountKes: big(a.amountKes),
  }, argList('PayoutRecorded', a));
}
