/**
 * A hostile seller contract: refusing payment, burning gas, or re-entering the escrow
 * cannot block an order, move money twice or drain other orders.
 */
import { parseEther, type Address } from 'viem';
import { buyer, compileFixture, FEE_BPS, NATIVE, newOrder, owner, startHarness, Status, stranger, type Harness, type OrderView } from './harness';

let h: Harness;
let attacker: Address;
let attackerAbi: readonly unknown[];
beforeAll(async () => {
  h = await startHarness();
  const fixture = compileFixture('MaliciousSeller.sol', 'MaliciousSeller');
  attackerAbi = fixture.abi;
  attacker = await h.deployRaw(fixture.abi, fixture.bytecode, [h.escrow]);
});
afterAll(async () => { await h?.stop(); });

const amount = parseEther('2');
const net = amount - (amount * BigInt(FEE_BPS)) / 10_000n;
enum Mode { Accept, Refuse, ReenterWithdraw, ReenterClaim, BurnGas }

async function attackerCall(fn: string, args: readonly unknown[]) {
  const { createWalletClient, http } = await import('viem');
  const w = createWalletClient({ account: owner, transport: http(h.anvil.url), chain: h.pub.chain });
  const hash = await w.writeContract({ address: attacker, abi: attackerAbi as never, functionName: fn as never, args: args as never, gas: 1_000_000n } as never);
  const r = await h.pub.waitForTransactionReceipt({ hash });
  if (r.status !== 'success') throw new Error(`${fn} reverted`);
}
const readAttacker = (fn: string) => h.pub.readContract({ address: attacker, abi: attackerAbi as never, functionName: fn as never }) as Promise<bigint>;

async function shippedOrderWithAttackerSeller() {
  const { salt, id } = newOrder(buyer);
  await h.send(buyer, 'createOrder', [salt, attacker, amount, NATIVE, ''], amount);
  await attackerCall('ship', [id]);
  return id;
}

test.each([['refuses payment', Mode.Refuse], ['burns all gas', Mode.BurnGas]])(
  'a seller that %s cannot block delivery: the payout is credited for withdraw()',
  async (_label, mode) => {
    const id = await shippedOrderWithAttackerSeller();
    await attackerCall('setMode', [mode, id]);
    const creditBefore = await h.read<bigint>('credits', [attacker]);
    const { events } = await h.send(buyer, 'confirmDelivery', [id]);
    expect(events.at(-1)).toEqual({ eventName: 'PayoutSent', args: { orderId: id, recipient: attacker, amount: net, credited: true } });
    expect((await h.read<OrderView>('getOrder', [id])).status).toBe(Status.Completed);
    expect(await h.read<bigint>('credits', [attacker])).toBe(creditBefore + net);
  },
);

test('re-entering withdraw() during a withdrawal pays the credit exactly once', async () => {
  const credit = await h.read<bigint>('credits', [attacker]);
  expect(credit).toBe(2n * net);
  await attackerCall('setMode', [Mode.ReenterWithdraw, '0x' + '00'.repeat(32)]);
  const escrowBefore = await h.balance(h.escrow);
  const receivedBefore = await readAttacker('received');
  await attackerCall('pull', []);
  expect(await readAttacker('reentryAttempts')).toBe(1n);
  expect(await readAttacker('reentrySuccesses')).toBe(0n);
  expect((await readAttacker('received')) - receivedBefore).toBe(credit);
  expect(await h.balance(h.escrow)).toBe(escrowBefore - credit);
  expect(await h.read('credits', [attacker])).toBe(0n);
  expect(await h.read('totalCredits')).toBe(0n);
});

test('re-entering claimTimeout on another order while being paid fails; both orders settle once', async () => {
  // Order B: funded to the attacker, its shipping deadline will pass.
  const { salt: bSalt, id: b } = newOrder(buyer);
  await h.send(buyer, 'createOrder', [bSalt, attacker, amount, NATIVE, ''], amount);
  // Order A: shipped by the attacker; the confirmation window will pass.
  const a = await shippedOrderWithAttackerSeller();
  await attackerCall('setMode', [Mode.ReenterClaim, b]);
  await h.advance(7 * 24 * 3600 + 1);
  const received = await readAttacker('received');
  await h.send(stranger, 'claimTimeout', [a]);
  expect(await readAttacker('reentrySuccesses')).toBe(0n);
  // Whether the re-entry ran out of stipend or hit the guard, A is paid once (or credited), B untouched.
  const paid = (await readAttacker('received')) - received + (await h.read<bigint>('credits', [attacker]));
  expect(paid).toBe(net);
  expect((await h.read<OrderView>('getOrder', [b])).status).toBe(Status.Funded);
  await h.send(stranger, 'claimTimeout', [b]);
  expect((await h.read<OrderView>('getOrder', [b])).status).toBe(Status.Refunded);
});
