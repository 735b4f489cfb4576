/** Every refusal: wrong caller, wrong state, wrong or zero amount, duplicate id, paused, bad admin input. */
import { parseEther, zeroAddress } from 'viem';
import { arbiter, buyer, MPESA, NATIVE, newOrder, newSalt, oracle, unknownOrderId, owner, receipt, seller, startHarness, Status, stranger, type Harness, type OrderView } from './harness';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.stop(); });

const amount = parseEther('1');
const err = async (...a: Parameters<Harness['revertName']>) => (await h.revertName(...a)).name;

async function create(fund = false) {
  const { salt, id } = newOrder(buyer);
  await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, ''], fund ? amount : undefined);
  return id;
}

describe('creating orders', () => {
  test('zero amount, zero or same parties, M-Pesa mode from a buyer, wrong value', async () => {
    expect(await err(buyer, 'createOrder', [newSalt(), seller.address, 0n, NATIVE, ''])).toBe('ZeroAmount');
    expect(await err(buyer, 'createOrder', [newSalt(), zeroAddress, amount, NATIVE, ''])).toBe('InvalidParties');
    expect(await err(buyer, 'createOrder', [newSalt(), buyer.address, amount, NATIVE, ''])).toBe('InvalidParties');
    expect(await err(buyer, 'createOrder', [newSalt(), seller.address, amount, MPESA, ''])).toBe('WrongPaymentMode');
    expect(await err(buyer, 'createOrder', [newSalt(), seller.address, amount, NATIVE, ''], amount - 1n)).toBe('WrongAmount');
    expect(await err(buyer, 'createOrder', [newSalt(), seller.address, 2n ** 128n, NATIVE, ''])).toBe('AmountTooLarge');
  });

  test('the same salt twice from the same creator is refused; the same salt from another account is another order', async () => {
    const { salt, id } = newOrder(buyer);
    await h.send(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, '']);
    expect(await h.revertName(buyer, 'createOrder', [salt, seller.address, amount, NATIVE, ''])).toEqual({ name: 'OrderExists', args: [id] });
    const other = await h.send(stranger, 'createOrder', [salt, seller.address, 1n, NATIVE, '']);
    expect(other.events[0]!.args.orderId).not.toBe(id);
    expect((await h.read<OrderView>('getOrder', [id])).buyer).toBe(buyer.address);
  });

  test('only the oracle creates M-Pesa orders and records payments and payouts', async () => {
    const { salt, id } = newOrder(oracle);
    expect(await err(buyer, 'createOffchainOrder', [salt, buyer.address, seller.address, 100n, ''])).toBe('NotOracle');
    await h.send(oracle, 'createOffchainOrder', [salt, buyer.address, seller.address, 100n, '']);
    expect(await err(buyer, 'recordOffchainPayment', [id, receipt('r'), 100n])).toBe('NotOracle');
    expect(await err(seller, 'recordPayout', [id, seller.address, receipt('r'), 100n])).toBe('NotOracle');
  });
});

describe('funding', () => {
  test('only the buyer funds, only once, only with the exact amount, only native orders', async () => {
    const id = await create();
    expect(await err(stranger, 'fundOrder', [id], amount)).toBe('NotBuyer');
    expect(await h.revertName(buyer, 'fundOrder', [id], amount + 1n)).toEqual({ name: 'WrongAmount', args: [amount, amount + 1n] });
    expect(await err(buyer, 'fundOrder', [id], 0n)).toBe('WrongAmount');
    await h.send(buyer, 'fundOrder', [id], amount);
    expect(await h.revertName(buyer, 'fundOrder', [id], amount)).toEqual({ name: 'InvalidStatus', args: [id, Status.Funded] });
    expect(await h.revertName(buyer, 'fundOrder', [unknownOrderId()], amount)).toMatchObject({ name: 'OrderNotFound' });
    const { salt: mSalt, id: m } = newOrder(oracle);
    await h.send(oracle, 'createOffchainOrder', [mSalt, buyer.address, seller.address, 100n, '']);
    expect(await err(buyer, 'fundOrder', [m], 100n)).toBe('WrongPaymentMode');
    expect(await err(oracle, 'recordOffchainPayment', [id, receipt('native'), amount])).toBe('WrongPaymentMode');
  });
});

describe('life cycle callers and states', () => {
  test('only the seller ships, only funded orders', async () => {
    const unfunded = await create();
    expect(await err(seller, 'markShipped', [unfunded, ''])).toBe('InvalidStatus');
    const id = await create(true);
    expect(await err(buyer, 'markShipped', [id, ''])).toBe('NotSeller');
    await h.send(seller, 'markShipped', [id, '']);
    expect(await err(seller, 'markShipped', [id, ''])).toBe('InvalidStatus');
  });

  test('only the buyer confirms; not before funding; not twice', async () => {
    const unfunded = await create();
    expect(await err(buyer, 'confirmDelivery', [unfunded])).toBe('InvalidStatus');
    const id = await create(true);
    expect(await err(seller, 'confirmDelivery', [id])).toBe('NotBuyer');
    await h.send(buyer, 'confirmDelivery', [id]);
    expect(await err(buyer, 'confirmDelivery', [id])).toBe('InvalidStatus');
  });

  test('disputes: only parties, only funded/shipped; only the arbiter resolves, once, with a share ≤ 100 %', async () => {
    const unfunded = await create();
    expect(await err(buyer, 'raiseDispute', [unfunded, ''])).toBe('InvalidStatus');
    const id = await create(true);
    expect(await err(stranger, 'raiseDispute', [id, ''])).toBe('NotParty');
    expect(await err(arbiter, 'resolveDispute', [id, 0])).toBe('InvalidStatus');
    await h.send(buyer, 'raiseDispute', [id, '']);
    expect(await err(buyer, 'raiseDispute', [id, ''])).toBe('InvalidStatus');
    expect(await err(owner, 'resolveDispute', [id, 0])).toBe('NotArbiter');
    expect(await err(arbiter, 'resolveDispute', [id, 10_001])).toBe('InvalidShare');
    await h.send(arbiter, 'resolveDispute', [id, 5_000]);
    expect(await err(arbiter, 'resolveDispute', [id, 5_000])).toBe('InvalidStatus');
    expect(await err(stranger, 'claimTimeout', [id])).toBe('InvalidStatus');
  });

  test('cancel: only parties, only before funding', async () => {
    const id = await create();
    expect(await err(stranger, 'cancelOrder', [id])).toBe('NotParty');
    const funded = await create(true);
    expect(await err(buyer, 'cancelOrder', [funded])).toBe('InvalidStatus');
  });

  test('timeouts cannot be claimed on unfunded, cancelled or completed orders', async () => {
    const id = await create();
    expect(await err(stranger, 'claimTimeout', [id])).toBe('InvalidStatus');
    await h.send(buyer, 'cancelOrder', [id]);
    expect(await err(stranger, 'claimTimeout', [id])).toBe('InvalidStatus');
  });
});

describe('pause', () => {
  test('while paused every order operation reverts; withdraw of credits still works; unpause restores', async () => {
    const id = await create(true);
    expect(await err(stranger, 'pause', [])).toBe('NotOwner');
    await h.send(owner, 'pause', []);
    expect(await h.read('paused')).toBe(true);
    expect(await err(buyer, 'createOrder', [newSalt(), seller.address, amount, NATIVE, ''])).toBe('ContractPaused');
    expect(await err(seller, 'markShipped', [id, ''])).toBe('ContractPaused');
    expect(await err(buyer, 'confirmDelivery', [id])).toBe('ContractPaused');
    expect(await err(buyer, 'raiseDispute', [id, ''])).toBe('ContractPaused');
    expect(await err(oracle, 'createOffchainOrder', [newSalt(), buyer.address, seller.address, 1n, ''])).toBe('ContractPaused');
    expect(await err(stranger, 'claimTimeout', [id])).toBe('ContractPaused');
    expect(await err(buyer, 'withdraw', [])).toBe('NothingToWithdraw'); // not ContractPaused
    expect(await err(stranger, 'unpause', [])).toBe('NotOwner');
    expect(await err(owner, 'pause', [])).toBe('AlreadyPaused');
    await h.send(owner, 'unpause', []);
    expect(await err(owner, 'unpause', [])).toBe('NotPaused');
    await h.send(seller, 'markShipped', [id, '']);
  });
});

describe('administration', () => {
  test('role setters are owner-only, refuse the zero address and emit the change', async () => {
    for (const fn of ['setOracle', 'setArbiter', 'setTreasury', 'setOwner'] as const) {
      expect(await err(stranger, fn, [stranger.address])).toBe('NotOwner');
      expect(await err(owner, fn, [zeroAddress])).toBe('ZeroAddress');
    }
    const { events } = await h.send(owner, 'setArbiter', [stranger.address]);
    expect(events).toEqual([{ eventName: 'ArbiterChanged', args: { previousArbiter: arbiter.address, newArbiter: stranger.address } }]);
    await h.send(owner, 'setArbiter', [arbiter.address]);
  });

  test('fee changes are capped at 10 % and apply to new orders only', async () => {
    const before = await create(true);
    expect(await err(owner, 'setFeeBps', [1_001])).toBe('FeeTooHigh');
    expect(await err(stranger, 'setFeeBps', [100])).toBe('NotOwner');
    const { events } = await h.send(owner, 'setFeeBps', [1_000]);
    expect(events).toEqual([{ eventName: 'FeeChanged', args: { previousFeeBps: 250, newFeeBps: 1_000 } }]);
    const after = await create(true);
    expect((await h.read<OrderView>('getOrder', [before])).feeBps).toBe(250);
    expect((await h.read<OrderView>('getOrder', [after])).feeBps).toBe(1_000);
    await h.send(owner, 'setFeeBps', [250]);
  });

  test('windows are owner-only, at least an hour and at most 90 days', async () => {
    for (const [s, c] of [[0, 3600], [3600, 0], [3599, 3600], [3600, 3599], [90 * 86400 + 1, 3600], [3600, 90 * 86400 + 1]]) {
      expect(await err(owner, 'setWindows', [s, c])).toBe('InvalidWindow');
    }
    expect(await err(stranger, 'setWindows', [3600, 3600])).toBe('NotOwner');
    const { events } = await h.send(owner, 'setWindows', [3600, 7200]);
    expect(events).toEqual([{ eventName: 'WindowsChanged', args: { shippingWindow: 3600, confirmationWindow: 7200 } }]);
    expect(await h.read('shippingWindow')).toBe(3600);
    await h.send(owner, 'setWindows', [7 * 86400, 3 * 86400]);
  });

  test('only the owner withdraws fees', async () => {
    expect(await err(stranger, 'withdrawFees', [])).toBe('NotOwner');
  });
});
