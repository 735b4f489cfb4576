/**
 * Issue 14's attacks, run the way an attacker would through the contract's public
 * interface: front-running an order id, squatting a draft's id, cutting the windows of an
 * order already funded, and letting a pause run a deadline out. Each of these succeeded on
 * the first contract (any caller could take any unused id; windows and deadlines were the
 * contract's current ones; the clock ran through a pause).
 */
import { createWalletClient, http, parseEther, parseEventLogs, parseGwei, type Hex } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import { escrowAbi, orderIdFor } from '../index';
import { buyer, MPESA, NATIVE, newOrder, oracle, owner, receipt, seller, startHarness, Status, stranger, THREE_DAYS, WEEK, type Harness, type OrderView } from './harness';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.stop(); });

const attacker = stranger;
const amount = parseEther('10');
const order = (id: Hex) => h.read<OrderView>('getOrder', [id]);

/** Send without waiting (automine is off): the attacker's copy of a pending transaction. */
async function submit(from: PrivateKeyAccount, functionName: string, args: readonly unknown[], opts: { value?: bigint; tip: bigint }): Promise<Hex> {
  const w = createWalletClient({ account: from, chain: h.pub.chain, transport: http(h.anvil.url) });
  return w.writeContract({
    address: h.escrow, abi: escrowAbi, functionName, args, value: opts.value, gas: 1_000_000n,
    maxFeePerGas: parseGwei('100'), maxPriorityFeePerGas: opts.tip,
  } as never);
}

describe('ids no one else can occupy', () => {
  test('front-running the oracle: a copy of its pending createPaidOffchainOrder with a higher tip cannot take the order', async () => {
    const { salt, id } = newOrder(oracle);
    await h.test.setAutomine(false);
    try {
      // The oracle's transaction is in the pool; the attacker copies its first argument, pays more and goes first
      // (Sent first as well, so it is ahead whatever order the node's pool uses.)
      const attackTx = await submit(attacker, 'createOrder', [salt, seller.address, 1n, NATIVE, 'bafy-squat'], { value: 1n, tip: parseGwei('50') });
      const victimTx = await submit(oracle, 'createPaidOffchainOrder', [salt, buyer.address, seller.address, 2_500n, 'bafy-victim', receipt(`victim-${salt}`)], { tip: parseGwei('1') });
      await h.test.mine({ blocks: 1 });
      const [attack, victim] = await Promise.all([attackTx, victimTx].map((hash) => h.pub.getTransactionReceipt({ hash })));
      expect(attack!.transactionIndex).toBeLessThan(victim!.transactionIndex); // the attacker really went first
      expect(victim!.status).toBe('success');
      const created = parseEventLogs({ abi: escrowAbi, logs: attack!.logs, eventName: 'OrderCreated' })[0]!;
      expect(created.args.orderId).toBe(orderIdFor(attacker.address, salt));
      expect(created.args.orderId).not.toBe(id);
    } finally {
      await h.test.setAutomine(true);
    }
    // The customer's order is theirs: M-Pesa, their amount, funded; the attacker is no party to it.
    expect(await order(id)).toMatchObject({ buyer: buyer.address, seller: seller.address, amount: 2_500n, mode: MPESA, status: Status.Funded });
  });

  test("front-running a buyer: the same salt from another account is another order; the buyer's id stays theirs", async () => {
    const { salt, id } = newOrder(buyer);
    await h.send(attacker, 'createOrder', [salt, seller.address, 1n, NATIVE, ''], 1n);
    expect((await order(id)).status).toBe(Status.None);
    await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, ''], amount);
    expect(await order(id)).toMatchObject({ buyer: buyer.address, amount, status: Status.Funded });
  });

  test('nobody but the oracle can create an order under an id derived from the oracle', async () => {
    const { salt, id } = newOrder(oracle);
    // Whatever the attacker passes, their order lands under their own id.
    const { events } = await h.send(attacker, 'createOrder', [salt, seller.address, 1n, NATIVE, '']);
    expect(events[0]!.args.orderId).toBe(orderIdFor(attacker.address, salt));
    expect((await order(id)).status).toBe(Status.None);
    expect((await h.revertName(attacker, 'createOffchainOrder', [salt, buyer.address, seller.address, 1n, ''])).name).toBe('NotOracle');
  });

  test('orderIdFor on chain equals the off-chain derivation every part uses', async () => {
    const { salt } = newOrder(buyer);
    expect(await h.read('orderIdFor', [buyer.address, salt])).toBe(orderIdFor(buyer.address, salt));
  });
});

describe('windows are the order\'s own', () => {
  test('cutting the windows mid-order changes nothing for orders already created; new orders get the new windows', async () => {
    const shipped = newOrder(buyer); // funded before the change, shipped after it
    await h.send(buyer, 'createOrder', [shipped.salt, seller.address, amount, NATIVE, ''], amount);
    const created = newOrder(buyer); // created before the change, funded after it
    await h.send(buyer, 'createOrder', [created.salt, seller.address, amount, NATIVE, '']);

    // The attack on the old contract: one second each, then claim at once.
    expect((await h.revertName(owner, 'setWindows', [1, 1])).name).toBe('InvalidWindow');
    await h.send(owner, 'setWindows', [3_600, 3_600]); // the lowest the owner can go
    try {
      // The old contract gave a shipment after the change the new confirmation window: the
      // seller ships, waits the shortened window out and takes the money before the buyer can dispute.
      await h.send(seller, 'markShipped', [shipped.id, '']);
      await h.send(buyer, 'fundOrder', [created.id], amount);
      await h.advance(3_601);
      expect((await h.revertName(attacker, 'claimTimeout', [shipped.id])).name).toBe('DeadlineNotReached');
      expect((await h.revertName(attacker, 'claimTimeout', [created.id])).name).toBe('DeadlineNotReached');
      const s = await order(shipped.id);
      expect(s.deadline - s.shippedAt).toBe(BigInt(THREE_DAYS));
      const c = await order(created.id);
      expect({ shipping: c.shippingWindow, confirmation: c.confirmationWindow }).toEqual({ shipping: WEEK, confirmation: THREE_DAYS });
      expect(c.deadline - c.fundedAt).toBe(BigInt(WEEK));

      const fresh = newOrder(buyer);
      const { events } = await h.send(buyer, 'createOrder', [fresh.salt, seller.address, amount, NATIVE, ''], amount);
      expect(events[0]!.args).toMatchObject({ shippingWindow: 3_600, confirmationWindow: 3_600 });
      const f = await order(fresh.id);
      expect(f.deadline - f.fundedAt).toBe(3_600n);
    } finally {
      await h.send(owner, 'setWindows', [WEEK, THREE_DAYS]);
    }
  });
});

describe('a pause stops the clock', () => {
  test('a pause across a shipping deadline: the seller keeps every second of the window', async () => {
    const { salt, id } = newOrder(buyer);
    await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, ''], amount);
    const before = await order(id);
    await h.advance(WEEK - 3_600); // an hour of the window left
    await h.send(owner, 'pause', []);
    const frozen = await h.read<bigint>('clock');
    await h.advance(2 * 86_400); // two days, well past the original deadline: the clock stands still
    expect(await h.read<bigint>('clock')).toBe(frozen);
    const { events } = await h.send(owner, 'unpause', []);
    const pausedFor = events[0]!.args.pausedFor as bigint;
    expect(pausedFor).toBeGreaterThanOrEqual(2n * 86_400n);

    // The attack on the old contract: claim the refund the moment the contract is unpaused.
    expect((await h.revertName(attacker, 'claimTimeout', [id])).name).toBe('DeadlineNotReached');
    const after = await order(id);
    expect(after.deadline).toBe(before.deadline + pausedFor);
    await h.send(seller, 'markShipped', [id, 'bafy-track']); // the hour that was left is still there
    expect((await order(id)).status).toBe(Status.Shipped);
  });

  test('a pause across a confirmation deadline: the buyer can still dispute afterwards', async () => {
    const { salt, id } = newOrder(buyer);
    await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, ''], amount);
    await h.send(seller, 'markShipped', [id, '']);
    await h.advance(THREE_DAYS - 600);
    await h.send(owner, 'pause', []);
    await h.advance(86_400);
    // While paused, getOrder's wall-clock deadline keeps moving with the pause.
    const during = await order(id);
    expect(during.deadline).toBeGreaterThan(during.shippedAt + BigInt(THREE_DAYS) + 86_000n);
    await h.send(owner, 'unpause', []);
    expect((await h.revertName(attacker, 'claimTimeout', [id])).name).toBe('DeadlineNotReached');
    await h.send(buyer, 'raiseDispute', [id, 'bafy-evidence']);
    expect((await order(id)).status).toBe(Status.Disputed);
  });

  test('after the paused time is made up, the timeout can be claimed as usual', async () => {
    const { salt, id } = newOrder(buyer);
    await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, ''], amount);
    await h.send(owner, 'pause', []);
    await h.advance(86_400);
    await h.send(owner, 'unpause', []);
    const o = await order(id);
    const now = (await h.pub.getBlock()).timestamp;
    await h.advance(Number(o.deadline - now) + 1);
    const { events } = await h.send(attacker, 'claimTimeout', [id]);
    expect(events[0]).toEqual({ eventName: 'OrderRefunded', args: { orderId: id, amount } });
  });
});
