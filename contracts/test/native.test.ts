/** Native (DOT) orders on a real anvil chain: every transition, its events and the money moved. */
import { parseEther, zeroHash } from 'viem';
import { arbiter, buyer, FEE_BPS, NATIVE, DEFAULT_WINDOWS, newOrder, owner, seller, startHarness, Status, stranger, treasury, type Harness, type OrderView } from './harness';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.stop(); });

const amount = parseEther('10');
const fee = (amount * BigInt(FEE_BPS)) / 10_000n;
const order = (id: `0x${string}`) => h.read<OrderView>('getOrder', [id]);

async function funded(value = amount) {
  const { salt, id } = newOrder(buyer);
  await h.send(buyer, 'createOrder', [salt, seller.address, value, NATIVE, 'bafymeta'], value);
  return id;
}

test('createOrder without value creates; fundOrder with the exact amount funds, with exact events', async () => {
  const { salt, id } = newOrder(buyer);
  const created = await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, 'bafymeta']);
  expect(created.events).toEqual([
    { eventName: 'OrderCreated', args: { orderId: id, buyer: buyer.address, seller: seller.address, amount, mode: NATIVE, feeBps: FEE_BPS, metadataCid: 'bafymeta', ...DEFAULT_WINDOWS } },
  ]);
  expect((await order(id)).status).toBe(Status.Created);

  const before = await h.balance(h.escrow);
  const fundedTx = await h.send(buyer, 'fundOrder', [id], amount);
  const o = await order(id);
  expect(fundedTx.events).toEqual([{ eventName: 'OrderFunded', args: { orderId: id, payer: buyer.address, amount, shippingDeadline: o.deadline } }]);
  expect(o).toMatchObject({ status: Status.Funded, amount, buyer: buyer.address, seller: seller.address, mode: NATIVE, feeBps: FEE_BPS, paymentReceipt: zeroHash });
  expect(o.deadline - o.fundedAt).toBe(7n * 24n * 3600n);
  expect(await h.balance(h.escrow)).toBe(before + amount);
});

test('payable createOrder creates and funds in one call', async () => {
  const { salt, id } = newOrder(buyer);
  const { events } = await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, ''], amount);
  expect(events.map((e) => e.eventName)).toEqual(['OrderCreated', 'OrderFunded']);
  expect((await order(id)).status).toBe(Status.Funded);
});

test('ship then confirm pays the seller amount minus the floored fee and accrues the fee', async () => {
  const id = await funded();
  const shipped = await h.send(seller, 'markShipped', [id, 'bafytrack']);
  const afterShip = await order(id);
  expect(shipped.events).toEqual([{ eventName: 'OrderShipped', args: { orderId: id, trackingCid: 'bafytrack', confirmationDeadline: afterShip.deadline } }]);
  expect(afterShip.deadline - afterShip.shippedAt).toBe(3n * 24n * 3600n);

  const sellerBefore = await h.balance(seller.address);
  const feesBefore = await h.read<bigint>('accruedFees');
  const confirmed = await h.send(buyer, 'confirmDelivery', [id]);
  expect(confirmed.events).toEqual([
    { eventName: 'OrderDelivered', args: { orderId: id, byTimeout: false } },
    { eventName: 'OrderCompleted', args: { orderId: id, sellerAmount: amount - fee, fee } },
    { eventName: 'PayoutSent', args: { orderId: id, recipient: seller.address, amount: amount - fee, credited: false } },
  ]);
  expect(await h.balance(seller.address)).toBe(sellerBefore + amount - fee);
  expect(await h.read<bigint>('accruedFees')).toBe(feesBefore + fee);
  expect((await order(id)).status).toBe(Status.Completed);
});

test('fee arithmetic floors: 399 wei at 2.5 % pays a fee of 9 and the seller 390', async () => {
  const id = await funded(399n);
  await h.send(seller, 'markShipped', [id, '']);
  const { events } = await h.send(buyer, 'confirmDelivery', [id]);
  expect(events[1]).toEqual({ eventName: 'OrderCompleted', args: { orderId: id, sellerAmount: 390n, fee: 9n } });
});

test('one wei order: the fee rounds to zero and the seller gets everything', async () => {
  const id = await funded(1n);
  await h.send(seller, 'markShipped', [id, '']);
  const { events } = await h.send(buyer, 'confirmDelivery', [id]);
  expect(events[1]!.args).toEqual({ orderId: id, sellerAmount: 1n, fee: 0n });
});

test.each([
  [0, 0n],
  [10_000, 0n],
  [3_333, 0n],
])('dispute resolved with buyer share %i bps splits exactly, fee only on the seller part', async (share) => {
  const value = 1_000_003n; // odd amount to exercise rounding dust
  const id = await funded(value);
  await h.send(seller, 'markShipped', [id, '']);
  const raised = await h.send(buyer, 'raiseDispute', [id, 'bafyevidence']);
  expect(raised.events).toEqual([{ eventName: 'DisputeRaised', args: { orderId: id, raisedBy: buyer.address, evidenceCid: 'bafyevidence' } }]);
  const buyerAmount = (value * BigInt(share)) / 10_000n;
  const sellerGross = value - buyerAmount;
  const f = (sellerGross * BigInt(FEE_BPS)) / 10_000n;
  const sellerAmount = sellerGross - f;
  const [b0, s0, e0] = await Promise.all([h.balance(buyer.address), h.balance(seller.address), h.balance(h.escrow)]);
  const { events } = await h.send(arbiter, 'resolveDispute', [id, share]);
  expect(events[0]).toEqual({ eventName: 'DisputeResolved', args: { orderId: id, buyerShareBps: share, buyerAmount, sellerAmount, fee: f } });
  expect(buyerAmount + sellerAmount + f).toBe(value); // no dust lost or created
  expect(await h.balance(buyer.address)).toBe(b0 + buyerAmount);
  expect(await h.balance(seller.address)).toBe(s0 + sellerAmount);
  expect(await h.balance(h.escrow)).toBe(e0 - buyerAmount - sellerAmount);
  const payouts = events.filter((e) => e.eventName === 'PayoutSent').map((e) => e.args.recipient);
  expect(payouts).toEqual([...(buyerAmount ? [buyer.address] : []), ...(sellerAmount ? [seller.address] : [])]);
  const o = await order(id);
  expect(o.status).toBe(Status.Resolved);
  expect(o.buyerShareBps).toBe(share);
});

test('the seller can raise a dispute on a funded order', async () => {
  const id = await funded();
  await h.send(seller, 'raiseDispute', [id, 'bafy-seller']);
  expect((await order(id)).status).toBe(Status.Disputed);
});

test('cancel before funding by buyer or seller; nothing moves', async () => {
  const { salt: aSalt, id: a } = newOrder(buyer);
  await h.send(buyer, 'createOrder', [aSalt, seller.address, amount, NATIVE, '']);
  expect((await h.send(buyer, 'cancelOrder', [a])).events).toEqual([{ eventName: 'OrderCancelled', args: { orderId: a, cancelledBy: buyer.address } }]);
  const { salt: bSalt, id: b } = newOrder(buyer);
  await h.send(buyer, 'createOrder', [bSalt, seller.address, amount, NATIVE, '']);
  await h.send(seller, 'cancelOrder', [b]);
  expect((await order(a)).status).toBe(Status.Cancelled);
  expect((await order(b)).status).toBe(Status.Cancelled);
});

test('shipping timeout: after the deadline anyone refunds the buyer in full, no fee', async () => {
  const id = await funded();
  expect((await h.revertName(stranger, 'claimTimeout', [id])).name).toBe('DeadlineNotReached');
  await h.advance(7 * 24 * 3600 + 1);
  const b0 = await h.balance(buyer.address);
  const { events } = await h.send(stranger, 'claimTimeout', [id]);
  expect(events).toEqual([
    { eventName: 'OrderRefunded', args: { orderId: id, amount } },
    { eventName: 'PayoutSent', args: { orderId: id, recipient: buyer.address, amount, credited: false } },
  ]);
  expect(await h.balance(buyer.address)).toBe(b0 + amount);
  expect((await order(id)).status).toBe(Status.Refunded);
});

test('confirmation timeout: after the window anyone releases to the seller minus the fee', async () => {
  const id = await funded();
  await h.send(seller, 'markShipped', [id, '']);
  await h.advance(3 * 24 * 3600 - 10);
  expect((await h.revertName(stranger, 'claimTimeout', [id])).name).toBe('DeadlineNotReached');
  await h.advance(20);
  const s0 = await h.balance(seller.address);
  const { events } = await h.send(stranger, 'claimTimeout', [id]);
  expect(events.map((e) => e.eventName)).toEqual(['OrderDelivered', 'OrderCompleted', 'PayoutSent']);
  expect(events[0]!.args.byTimeout).toBe(true);
  expect(await h.balance(seller.address)).toBe(s0 + amount - fee);
});

test('owner withdraws accrued fees to the treasury', async () => {
  await h.send(owner, 'setTreasury', [treasury.address]);
  const accrued = await h.read<bigint>('accruedFees');
  expect(accrued).toBeGreaterThan(0n);
  const t0 = await h.balance(treasury.address);
  const { events } = await h.send(owner, 'withdrawFees', []);
  expect(events).toEqual([{ eventName: 'FeesWithdrawn', args: { treasury: treasury.address, amount: accrued } }]);
  expect(await h.balance(treasury.address)).toBe(t0 + accrued);
  expect(await h.read<bigint>('accruedFees')).toBe(0n);
  expect((await h.revertName(owner, 'withdrawFees', [])).name).toBe('NothingToWithdraw');
});

test('escrow balance always equals funds held + accrued fees + credits', async () => {
  // Every order above is settled except the dispute-raised and still-funded ones: sum what is held.
  const logs = await h.pub.getContractEvents({ address: h.escrow, abi: (await import('../index')).escrowAbi, eventName: 'OrderCreated', fromBlock: 0n });
  let held = 0n;
  for (const l of logs) {
    const o = await order(l.args.orderId!);
    if ([Status.Funded, Status.Shipped, Status.Disputed].includes(o.status as never)) held += o.amount;
  }
  const accrued = await h.read<bigint>('accruedFees');
  const credits = await h.read<bigint>('totalCredits');
  expect(await h.balance(h.escrow)).toBe(held + accrued + credits);
});
