/**
 * The pure order state machine, on its own: every path of the contract's life cycle,
 * the split arithmetic against @descrow/contracts, and events that cannot happen.
 */
import { ORDER_STATUSES, PAYMENT_MODES, payoutSplit } from '@descrow/contracts';
import {
  MODES,
  STATUSES,
  applyOrderEvent,
  emptyDelta,
  split,
  utcDay,
  type OrderEventData,
  type OrderRecord,
  type RollupDelta,
  type Transition,
} from '../src/state/order';

const ID = '0x' + 'ab'.repeat(32);
const BUYER = '0x' + '11'.repeat(20);
const SELLER = '0x' + '22'.repeat(20);
const T0 = 1_800_000_000n;

/** Apply events in order, each in its own block; fail loudly on an impossible one. */
function run(events: OrderEventData[], start?: OrderRecord): { order: OrderRecord; rollup: RollupDelta; results: Transition[] } {
  let order = start;
  const rollup = emptyDelta();
  const results: Transition[] = [];
  events.forEach((ev, i) => {
    const t = applyOrderEvent(order, ev, { blockNumber: 10 + i, timestamp: T0 + BigInt(i) * 60n });
    results.push(t);
    if (!t.ok) throw new Error(`step ${i} (${ev.kind}) impossible: ${t.reason}`);
    order = t.order;
    for (const k of Object.keys(rollup) as (keyof RollupDelta)[]) (rollup[k] as bigint | number) = (rollup[k] as never) + (t.rollup[k] as never);
  });
  return { order: order!, rollup, results };
}

const created = (mode: 0 | 1, amount = 10_000n, feeBps = 250): OrderEventData => ({
  kind: 'OrderCreated', orderId: ID, buyer: BUYER, seller: SELLER, amount, mode, feeBps, metadataCid: 'bafy-meta',
  shippingWindow: 604_800, confirmationWindow: 259_200,
});

describe('enums and arithmetic match the contract package', () => {
  test('status and payment-mode names are the contract enums in order', () => {
    expect([...STATUSES]).toEqual([...ORDER_STATUSES]);
    expect([...MODES]).toEqual([...PAYMENT_MODES]);
  });

  test('split equals payoutSplit for edge and pseudo-random amounts, fees and shares', () => {
    let seed = 12345n;
    const rnd = (mod: bigint) => ((seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n), seed % mod);
    const cases: [bigint, number, number][] = [[1n, 250, 0], [1n, 1000, 5000], [3n, 333, 3333], [2n ** 128n - 1n, 1000, 10_000], [10_001n, 1, 9_999]];
    for (let i = 0; i < 500; i++) cases.push([rnd(10n ** 24n) + 1n, Number(rnd(1001n)), Number(rnd(10_001n))]);
    for (const [amount, fee, share] of cases) expect(split(amount, fee, share)).toEqual(payoutSplit(amount, fee, share));
  });

  test('utcDay is the UTC calendar day of the block', () => {
    expect(utcDay(1_700_000_000n)).toBe('2023-11-14');
    expect(utcDay(1_699_999_999n - 79_200n)).toBe('2023-11-14');
  });
});

describe('native (DOT) orders', () => {
  test('create, fund, ship, confirm: seller paid amount minus floored fee, platform keeps the fee', () => {
    const amount = 1_000_003n;
    const fee = (amount * 250n) / 10_000n;
    const { order, rollup } = run([
      created(0, amount),
      { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount, shippingDeadline: T0 + 604_800n },
      { kind: 'OrderShipped', orderId: ID, trackingCid: 'bafy-track', confirmationDeadline: T0 + 999n },
      { kind: 'OrderDelivered', orderId: ID, byTimeout: false },
      { kind: 'OrderCompleted', orderId: ID, sellerAmount: amount - fee, fee },
      { kind: 'PayoutSent', orderId: ID, recipient: SELLER, amount: amount - fee, credited: false },
    ]);
    expect(order).toMatchObject({
      status: 'COMPLETED', paymentMode: 'NATIVE', currency: 'DOT', amount, fee, feeCharged: fee,
      sellerAmount: amount - fee, buyerAmount: 0n, paidToSeller: amount - fee, refundedToBuyer: 0n,
      trackingCid: 'bafy-track', deadline: T0 + 999n, deliveredByTimeout: false, eventCount: 6,
      createdBlock: 10, fundedBlock: 11, shippedBlock: 12, deliveredBlock: 13, completedBlock: 14, updatedBlock: 15,
      sellerPayoutDue: false, buyerRefundDue: false,
    });
    expect(order.createdAt).toEqual(new Date(Number(T0) * 1000));
    expect(order.fundedAt).toEqual(new Date(Number(T0 + 60n) * 1000));
    expect(order).toMatchObject({ shippingWindow: 604_800, confirmationWindow: 259_200, clockDeadline: T0 + 999n });
    expect(rollup).toEqual({ ordersCreated: 1, ordersFunded: 1, volumeFunded: amount, fees: fee, paidOut: amount - fee, refunded: 0n, held: 0n });
  });

  test('a deadline set after pauses is also kept on the contract clock (minus the seconds paused before it)', () => {
    const funded = applyOrderEvent(run([created(0, 400n)]).order, { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 400n, shippingDeadline: T0 + 604_800n }, {
      blockNumber: 20, timestamp: T0, pausedSeconds: 7_200n,
    });
    if (!funded.ok) throw new Error(funded.reason);
    expect(funded.order).toMatchObject({ deadline: T0 + 604_800n, clockDeadline: T0 + 604_800n - 7_200n });
  });

  test('create-and-fund in one call, confirm from FUNDED, a refused push is credited', () => {
    const { order } = run([
      created(0, 400n, 1000),
      { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 400n, shippingDeadline: 5n },
      { kind: 'OrderDelivered', orderId: ID, byTimeout: false },
      { kind: 'OrderCompleted', orderId: ID, sellerAmount: 360n, fee: 40n },
      { kind: 'PayoutSent', orderId: ID, recipient: SELLER, amount: 360n, credited: true },
    ]);
    expect(order).toMatchObject({ status: 'COMPLETED', credited: 360n, paidToSeller: 360n });
    expect(order.shippedBlock).toBeUndefined();
  });

  test('dispute resolved with a split pays both parties; the fee is only on the seller part', () => {
    const s = split(10_000n, 250, 3_000);
    const { order, rollup } = run([
      created(0),
      { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 10_000n, shippingDeadline: 1n },
      { kind: 'DisputeRaised', orderId: ID, raisedBy: SELLER, evidenceCid: 'bafy-evidence' },
      { kind: 'DisputeResolved', orderId: ID, buyerShareBps: 3_000, ...s },
      { kind: 'PayoutSent', orderId: ID, recipient: BUYER, amount: s.buyerAmount, credited: false },
      { kind: 'PayoutSent', orderId: ID, recipient: SELLER, amount: s.sellerAmount, credited: false },
    ]);
    expect(s).toEqual({ buyerAmount: 3_000n, sellerAmount: 6_825n, fee: 175n });
    expect(order).toMatchObject({
      status: 'RESOLVED', buyerShareBps: 3_000, feeCharged: 175n, refundedToBuyer: 3_000n, paidToSeller: 6_825n,
      evidenceCid: 'bafy-evidence', disputeId: ID, disputedBlock: 12, resolvedBlock: 13,
    });
    expect(rollup).toMatchObject({ fees: 175n, paidOut: 9_825n, refunded: 3_000n, held: 0n });
  });

  test('shipping timeout refunds the whole amount with no fee', () => {
    const { order, rollup } = run([
      created(0),
      { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 10_000n, shippingDeadline: 1n },
      { kind: 'OrderRefunded', orderId: ID, amount: 10_000n },
      { kind: 'PayoutSent', orderId: ID, recipient: BUYER, amount: 10_000n, credited: false },
    ]);
    expect(order).toMatchObject({ status: 'REFUNDED', buyerShareBps: 10_000, fee: 0n, buyerAmount: 10_000n, refundedToBuyer: 10_000n, refundedBlock: 12 });
    expect(rollup).toMatchObject({ fees: 0n, paidOut: 10_000n, refunded: 10_000n, held: 0n });
  });

  test('confirmation timeout releases to the seller (byTimeout)', () => {
    const { order } = run([
      created(0),
      { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 10_000n, shippingDeadline: 1n },
      { kind: 'OrderShipped', orderId: ID, trackingCid: 't', confirmationDeadline: 2n },
      { kind: 'OrderDelivered', orderId: ID, byTimeout: true },
      { kind: 'OrderCompleted', orderId: ID, sellerAmount: 9_750n, fee: 250n },
    ]);
    expect(order).toMatchObject({ status: 'COMPLETED', deliveredByTimeout: true });
  });

  test('cancel before funding', () => {
    const { order, rollup } = run([created(0), { kind: 'OrderCancelled', orderId: ID, cancelledBy: BUYER }]);
    expect(order).toMatchObject({ status: 'CANCELLED', cancelledBlock: 11 });
    expect(rollup).toMatchObject({ ordersCreated: 1, ordersFunded: 0, held: 0n });
  });
});

describe('M-Pesa orders', () => {
  const RECEIPT = '0x' + 'cc'.repeat(32);
  const PAYOUT = '0x' + 'dd'.repeat(32);

  test('delivered orders wait for the recorded B2C payout, then complete', () => {
    const { order: delivered } = run([
      created(1, 1_500n),
      { kind: 'OffchainPaymentRecorded', orderId: ID, receiptHash: RECEIPT, amountKes: 1_500n, shippingDeadline: 9n },
      { kind: 'OrderShipped', orderId: ID, trackingCid: 't', confirmationDeadline: 10n },
      { kind: 'OrderDelivered', orderId: ID, byTimeout: false },
    ]);
    expect(delivered).toMatchObject({ status: 'DELIVERED', sellerPayoutDue: true, currency: 'KES', paymentReceipt: RECEIPT });
    // Completing before the payout is recorded cannot happen.
    const early = applyOrderEvent(delivered, { kind: 'OrderCompleted', orderId: ID, sellerAmount: 1_463n, fee: 37n }, { blockNumber: 50, timestamp: T0 });
    expect(early).toMatchObject({ ok: false });
    const { order, rollup } = run([
      { kind: 'PayoutRecorded', orderId: ID, beneficiary: SELLER, receiptHash: PAYOUT, amountKes: 1_463n },
      { kind: 'OrderCompleted', orderId: ID, sellerAmount: 1_463n, fee: 37n },
    ], delivered);
    expect(order).toMatchObject({ status: 'COMPLETED', sellerPayoutDue: false, sellerPayoutReceipt: PAYOUT, paidToSeller: 1_463n, feeCharged: 37n });
    expect(rollup).toMatchObject({ paidOut: 1_463n, fees: 37n, held: -1_500n });
  });

  test('resolution owes both parties; each payout clears its flag and keeps its receipt', () => {
    const s = split(1_000n, 250, 5_000);
    const { order } = run([
      created(1, 1_000n),
      { kind: 'OffchainPaymentRecorded', orderId: ID, receiptHash: RECEIPT, amountKes: 1_000n, shippingDeadline: 9n },
      { kind: 'DisputeRaised', orderId: ID, raisedBy: BUYER, evidenceCid: 'e' },
      { kind: 'DisputeResolved', orderId: ID, buyerShareBps: 5_000, ...s },
    ]);
    expect(order).toMatchObject({ status: 'RESOLVED', buyerRefundDue: true, sellerPayoutDue: true });
    const { order: paid } = run([
      { kind: 'PayoutRecorded', orderId: ID, beneficiary: BUYER, receiptHash: PAYOUT, amountKes: s.buyerAmount },
      { kind: 'PayoutRecorded', orderId: ID, beneficiary: SELLER, receiptHash: '0x' + 'ee'.repeat(32), amountKes: s.sellerAmount },
    ], order);
    expect(paid).toMatchObject({ status: 'RESOLVED', buyerRefundDue: false, sellerPayoutDue: false, buyerRefundReceipt: PAYOUT, refundedToBuyer: 500n, paidToSeller: 488n });
  });

  test('a full refund resolution owes the seller nothing', () => {
    const { order } = run([
      created(1, 1_000n),
      { kind: 'OffchainPaymentRecorded', orderId: ID, receiptHash: RECEIPT, amountKes: 1_000n, shippingDeadline: 9n },
      { kind: 'DisputeRaised', orderId: ID, raisedBy: BUYER, evidenceCid: 'e' },
      { kind: 'DisputeResolved', orderId: ID, buyerShareBps: 10_000, buyerAmount: 1_000n, sellerAmount: 0n, fee: 0n },
    ]);
    expect(order).toMatchObject({ buyerRefundDue: true, sellerPayoutDue: false, fee: 0n });
  });
});

describe('impossible events are rejected and leave the order as it was', () => {
  const base = run([created(0), { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 10_000n, shippingDeadline: 1n }]).order;
  const ctx = { blockNumber: 99, timestamp: T0 };
  const cases: [string, OrderEventData, OrderRecord | undefined][] = [
    ['an event for an order never created', { kind: 'OrderShipped', orderId: ID, trackingCid: 't', confirmationDeadline: 1n }, undefined],
    ['a second OrderCreated', created(0), base],
    ['funding twice', { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 10_000n, shippingDeadline: 1n }, base],
    ['an M-Pesa payment on a native order', { kind: 'OffchainPaymentRecorded', orderId: ID, receiptHash: '0x01', amountKes: 10_000n, shippingDeadline: 1n }, base],
    ['resolving without a dispute', { kind: 'DisputeResolved', orderId: ID, buyerShareBps: 0, buyerAmount: 0n, sellerAmount: 9_750n, fee: 250n }, base],
    ['cancelling a paid order', { kind: 'OrderCancelled', orderId: ID, cancelledBy: BUYER }, base],
    ['paying the seller before release', { kind: 'PayoutSent', orderId: ID, recipient: SELLER, amount: 9_750n, credited: false }, base],
    ['a dispute raised by a stranger', { kind: 'DisputeRaised', orderId: ID, raisedBy: '0x' + '99'.repeat(20), evidenceCid: 'e' }, base],
    ['a completion with the wrong fee', { kind: 'OrderCompleted', orderId: ID, sellerAmount: 9_700n, fee: 300n }, { ...base, status: 'DELIVERED' }],
  ];
  test.each(cases)('%s', (_name, ev, order) => {
    const before = order && structuredClone(order);
    const t = applyOrderEvent(order, ev, ctx);
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.reason).toMatch(/\S/);
    expect(order).toEqual(before);
  });

  test('a wrong funding amount is named in the reason', () => {
    const created0 = run([created(0)]).order;
    const t = applyOrderEvent(created0, { kind: 'OrderFunded', orderId: ID, payer: BUYER, amount: 9n, shippingDeadline: 1n }, ctx);
    expect(t).toEqual({ ok: false, reason: expect.stringContaining('paid 9, order amount 10000') });
  });
});
