/** M-Pesa orders: the oracle creates them, records receipts once, and records B2C payouts. */
import { zeroHash } from 'viem';
import { arbiter, buyer, DEFAULT_WINDOWS, FEE_BPS, MPESA, newOrder, oracle, receipt, seller, startHarness, Status, stranger, type Harness, type OrderView } from './harness';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.stop(); });

const kes = 1_999n;
const fee = (kes * BigInt(FEE_BPS)) / 10_000n; // 49 KES
const order = (id: `0x${string}`) => h.read<OrderView>('getOrder', [id]);

async function paid(amount = kes) {
  const { salt, id } = newOrder(oracle);
  const r = receipt(`PAY-${id}`);
  await h.send(oracle, 'createOffchainOrder', [salt, buyer.address, seller.address, amount, 'bafymeta']);
  await h.send(oracle, 'recordOffchainPayment', [id, r, amount]);
  return { id, r };
}

test('oracle creates an M-Pesa order and records its payment: FUNDED with the receipt, no DOT held', async () => {
  const { salt, id } = newOrder(oracle);
  const created = await h.send(oracle, 'createOffchainOrder', [salt, buyer.address, seller.address, kes, 'bafymeta']);
  expect(created.events).toEqual([
    { eventName: 'OrderCreated', args: { orderId: id, buyer: buyer.address, seller: seller.address, amount: kes, mode: MPESA, feeBps: FEE_BPS, metadataCid: 'bafymeta', ...DEFAULT_WINDOWS } },
  ]);
  const r = receipt('TKL7RT61SV');
  const balance = await h.balance(h.escrow);
  const rec = await h.send(oracle, 'recordOffchainPayment', [id, r, kes]);
  const o = await order(id);
  expect(rec.events).toEqual([{ eventName: 'OffchainPaymentRecorded', args: { orderId: id, receiptHash: r, amountKes: kes, shippingDeadline: o.deadline } }]);
  expect(o).toMatchObject({ status: Status.Funded, mode: MPESA, paymentReceipt: r, sellerPayoutDue: false, buyerRefundDue: false });
  expect(await h.read('receiptOrder', [r])).toBe(id);
  expect(await h.balance(h.escrow)).toBe(balance);
});

test('createPaidOffchainOrder creates and funds in one call with the same events as the two-step path', async () => {
  const { salt, id } = newOrder(oracle);
  const r = receipt(`one-call-${id}`);
  const { events } = await h.send(oracle, 'createPaidOffchainOrder', [salt, buyer.address, seller.address, kes, 'bafymeta', r]);
  const o = await order(id);
  expect(events).toEqual([
    { eventName: 'OrderCreated', args: { orderId: id, buyer: buyer.address, seller: seller.address, amount: kes, mode: MPESA, feeBps: FEE_BPS, metadataCid: 'bafymeta', ...DEFAULT_WINDOWS } },
    { eventName: 'OffchainPaymentRecorded', args: { orderId: id, receiptHash: r, amountKes: kes, shippingDeadline: o.deadline } },
  ]);
  expect(o).toMatchObject({ status: Status.Funded, paymentReceipt: r });
  // Replaying it (an oracle retry) or reusing the receipt for another order is refused.
  expect((await h.revertName(oracle, 'createPaidOffchainOrder', [salt, buyer.address, seller.address, kes, '', r])).name).toBe('ReceiptAlreadyUsed');
  expect((await h.revertName(oracle, 'createPaidOffchainOrder', [salt, buyer.address, seller.address, kes, '', receipt('new')])).name).toBe('OrderExists');
  expect((await h.revertName(oracle, 'createPaidOffchainOrder', [newOrder(oracle).salt, buyer.address, seller.address, kes, '', r])).name).toBe('ReceiptAlreadyUsed');
  expect((await h.revertName(buyer, 'createPaidOffchainOrder', [newOrder(buyer).salt, buyer.address, seller.address, kes, '', receipt('x')])).name).toBe('NotOracle');
});

test('a receipt can fund one order once: the same receipt again, or on another order, reverts', async () => {
  const { id, r } = await paid();
  expect(await h.revertName(oracle, 'recordOffchainPayment', [id, r, kes])).toEqual({ name: 'ReceiptAlreadyUsed', args: [r] });
  const { salt: otherSalt, id: other } = newOrder(oracle);
  await h.send(oracle, 'createOffchainOrder', [otherSalt, buyer.address, seller.address, kes, '']);
  expect((await h.revertName(oracle, 'recordOffchainPayment', [other, r, kes])).name).toBe('ReceiptAlreadyUsed');
  expect((await h.revertName(oracle, 'recordOffchainPayment', [id, receipt('second'), kes])).name).toBe('InvalidStatus');
});

test('the recorded amount must equal the order amount, and a zero receipt is refused', async () => {
  const { salt, id } = newOrder(oracle);
  await h.send(oracle, 'createOffchainOrder', [salt, buyer.address, seller.address, kes, '']);
  expect(await h.revertName(oracle, 'recordOffchainPayment', [id, receipt('x'), kes - 1n])).toEqual({ name: 'WrongAmount', args: [kes, kes - 1n] });
  expect((await h.revertName(oracle, 'recordOffchainPayment', [id, zeroHash, kes])).name).toBe('InvalidReceipt');
});

test('delivered → seller payout due → recordPayout with the exact amount completes the order', async () => {
  const { id } = await paid();
  await h.send(seller, 'markShipped', [id, 'bafytrack']);
  const delivered = await h.send(buyer, 'confirmDelivery', [id]);
  expect(delivered.events).toEqual([{ eventName: 'OrderDelivered', args: { orderId: id, byTimeout: false } }]);
  expect(await order(id)).toMatchObject({ status: Status.Delivered, sellerPayoutDue: true });
  expect(await h.read('payoutSplit', [id])).toEqual([0n, kes - fee, fee]);

  const payout = receipt('TKL0PAYOUT');
  expect(await h.revertName(oracle, 'recordPayout', [id, seller.address, payout, kes])).toEqual({ name: 'WrongAmount', args: [kes - fee, kes] });
  expect((await h.revertName(oracle, 'recordPayout', [id, buyer.address, payout, kes - fee])).name).toBe('NoPayoutDue');
  const { events } = await h.send(oracle, 'recordPayout', [id, seller.address, payout, kes - fee]);
  expect(events).toEqual([
    { eventName: 'PayoutRecorded', args: { orderId: id, beneficiary: seller.address, receiptHash: payout, amountKes: kes - fee } },
    { eventName: 'OrderCompleted', args: { orderId: id, sellerAmount: kes - fee, fee } },
  ]);
  expect(await order(id)).toMatchObject({ status: Status.Completed, sellerPayoutDue: false });
  // Recording it again (an oracle retry after a lost receipt) reverts: the outbox treats that as done.
  expect((await h.revertName(oracle, 'recordPayout', [id, seller.address, payout, kes - fee])).name).toBe('ReceiptAlreadyUsed');
  expect((await h.revertName(oracle, 'recordPayout', [id, seller.address, receipt('other'), kes - fee])).name).toBe('NoPayoutDue');
});

test('a split dispute leaves both payouts due; each is recorded once; the order stays RESOLVED', async () => {
  const { id } = await paid();
  await h.send(buyer, 'raiseDispute', [id, 'bafyev']);
  const share = 2_500; // buyer gets 25 %
  const buyerAmount = (kes * 2_500n) / 10_000n; // 499
  const sellerGross = kes - buyerAmount; // 1500
  const f = (sellerGross * BigInt(FEE_BPS)) / 10_000n; // 37
  const { events } = await h.send(arbiter, 'resolveDispute', [id, share]);
  expect(events).toEqual([{ eventName: 'DisputeResolved', args: { orderId: id, buyerShareBps: share, buyerAmount, sellerAmount: sellerGross - f, fee: f } }]);
  expect(await order(id)).toMatchObject({ status: Status.Resolved, sellerPayoutDue: true, buyerRefundDue: true, buyerShareBps: share });
  await h.send(oracle, 'recordPayout', [id, buyer.address, receipt(`refund-${id}`), buyerAmount]);
  expect(await order(id)).toMatchObject({ status: Status.Resolved, sellerPayoutDue: true, buyerRefundDue: false });
  await h.send(oracle, 'recordPayout', [id, seller.address, receipt(`payout-${id}`), sellerGross - f]);
  expect(await order(id)).toMatchObject({ status: Status.Resolved, sellerPayoutDue: false, buyerRefundDue: false });
});

test('full refund by the arbiter owes only the buyer', async () => {
  const { id } = await paid();
  await h.send(seller, 'raiseDispute', [id, '']);
  await h.send(arbiter, 'resolveDispute', [id, 10_000]);
  expect(await order(id)).toMatchObject({ sellerPayoutDue: false, buyerRefundDue: true });
  expect(await h.read('payoutSplit', [id])).toEqual([kes, 0n, 0n]);
});

test('shipping timeout on an M-Pesa order: REFUNDED with the full amount owed to the buyer', async () => {
  const { id } = await paid();
  await h.advance(7 * 24 * 3600 + 1);
  const { events } = await h.send(stranger, 'claimTimeout', [id]);
  expect(events).toEqual([{ eventName: 'OrderRefunded', args: { orderId: id, amount: kes } }]);
  expect(await order(id)).toMatchObject({ status: Status.Refunded, buyerRefundDue: true });
  await h.send(oracle, 'recordPayout', [id, buyer.address, receipt(`tr-${id}`), kes]);
  expect(await order(id)).toMatchObject({ status: Status.Refunded, buyerRefundDue: false });
});

test('no dispute once delivery is confirmed: the payout may already be on its way', async () => {
  const { id } = await paid();
  await h.send(buyer, 'confirmDelivery', [id]);
  expect((await h.revertName(buyer, 'raiseDispute', [id, ''])).name).toBe('InvalidStatus');
});

test('the oracle may cancel an unpaid M-Pesa order; a stranger may not', async () => {
  const { salt, id } = newOrder(oracle);
  await h.send(oracle, 'createOffchainOrder', [salt, buyer.address, seller.address, kes, '']);
  expect((await h.revertName(stranger, 'cancelOrder', [id])).name).toBe('NotParty');
  await h.send(oracle, 'cancelOrder', [id]);
  expect((await order(id)).status).toBe(Status.Cancelled);
});
