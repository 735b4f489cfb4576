/**
 * End to end, every service as its own process: `scripts/start.ts` brings up the chain,
 * the Daraja simulator, the oracle, the SubQuery node and query service and the API on
 * a fresh database and free ports; the tests act as buyer, seller and arbiter through
 * the API and their wallets, and check the money where it lands.
 */
import { payoutSplit } from '@descrow/contracts';
import { actors, BUYER_PHONE, disputeWithSplit, fundedMpesaOrder, fundedNativeOrder, seedSeller, SELLER_PHONE, shipAndConfirm, type Stack } from '../journeys';
import { startStack, type RunningStack } from './stack';

const log = (l: string) => process.env.E2E_VERBOSE && process.stdout.write(`${l}\n`);
let stack: RunningStack;
let s: Stack;
let productId: string;
const FEE_BPS = 250;

beforeAll(async () => {
  stack = await startStack('e2e', { ADMIN_ADDRESSES: actors().owner.address }, log);
  s = stack.s;
  await s.sim('PUT', `/ledger/accounts/customer:${SELLER_PHONE}`, { balance: 0 });
  ({ productId } = await seedSeller(s, log, 10n ** 18n, 2_000));
}, 240_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

test('native journey: the buyer funds from the wallet, ship, confirm; the seller receives amount minus fee; full history', async () => {
  const { seller } = actors();
  const { orderId, amount } = await fundedNativeOrder(s, productId, log);
  const before = await s.balance(seller.address);
  const done = await shipAndConfirm(s, orderId, log);
  const { sellerAmount, fee } = payoutSplit(amount, FEE_BPS);
  // The seller paid gas for markShipped, so compare with what the contract sent: the chain's payout event.
  expect(done).toMatchObject({ status: 'COMPLETED', paymentMode: 'NATIVE', fee: fee.toString(), paidToSeller: sellerAmount.toString() });
  expect(done.events.map((e) => e.kind)).toEqual(['OrderCreated', 'OrderFunded', 'OrderShipped', 'OrderDelivered', 'OrderCompleted', 'PayoutSent']);
  const after = await s.balance(seller.address);
  expect(after - before).toBeGreaterThan(sellerAmount - 10n ** 15n); // minus markShipped's gas
  expect(after - before).toBeLessThanOrEqual(sellerAmount);
}, 120_000);

test('M-Pesa journey: STK paid, recorded, indexed FUNDED, ship, confirm, B2C payout recorded, COMPLETED; the seller\'s phone holds amount minus fee', async () => {
  const { orderId, amount } = await fundedMpesaOrder(s, productId, log);
  const walletBefore = await s.wallet(SELLER_PHONE);
  const done = await shipAndConfirm(s, orderId, log);
  const { sellerAmount, fee } = payoutSplit(BigInt(amount), FEE_BPS);
  expect(done).toMatchObject({ status: 'COMPLETED', paymentMode: 'MPESA', fee: fee.toString(), paidToSeller: sellerAmount.toString() });
  expect(done.mpesaPayment).toMatchObject({ status: 'paid', receipt: expect.stringMatching(/^[A-Z0-9]{10}$/) });
  expect(done.mpesaPayouts).toEqual([expect.objectContaining({ role: 'seller', status: 'succeeded', amountKes: Number(sellerAmount) })]);
  expect(done.events.map((e) => e.kind)).toEqual(['OrderCreated', 'OffchainPaymentRecorded', 'OrderShipped', 'OrderDelivered', 'PayoutRecorded', 'OrderCompleted']);
  expect((await s.wallet(SELLER_PHONE)) - walletBefore).toBe(Number(sellerAmount));
}, 120_000);

test('a native dispute resolved 40/60: the buyer gets 40 %, the seller 60 % minus fee', async () => {
  const { buyer } = actors();
  const { orderId, amount } = await fundedNativeOrder(s, productId, log);
  const buyerBefore = await s.balance(buyer.address);
  const done = await disputeWithSplit(s, orderId, 4_000, log);
  const split = payoutSplit(amount, FEE_BPS, 4_000);
  expect(done).toMatchObject({ status: 'RESOLVED', refundedToBuyer: split.buyerAmount.toString(), paidToSeller: split.sellerAmount.toString(), fee: split.fee.toString() });
  const gained = (await s.balance(buyer.address)) - buyerBefore;
  expect(gained).toBeGreaterThan(split.buyerAmount - 10n ** 15n); // minus raiseDispute's gas
}, 120_000);

test('an M-Pesa dispute resolved 40/60: B2C refund to the paying phone and payout to the seller, both recorded', async () => {
  const { orderId, amount } = await fundedMpesaOrder(s, productId, log);
  const [buyerBefore, sellerBefore] = [await s.wallet(BUYER_PHONE), await s.wallet(SELLER_PHONE)];
  const done = await disputeWithSplit(s, orderId, 4_000, log);
  const split = payoutSplit(BigInt(amount), FEE_BPS, 4_000);
  expect(done.mpesaPayouts.map((p) => [p.role, p.status, p.amountKes]).sort()).toEqual([
    ['buyer', 'succeeded', Number(split.buyerAmount)],
    ['seller', 'succeeded', Number(split.sellerAmount)],
  ]);
  expect((await s.wallet(BUYER_PHONE)) - buyerBefore).toBe(Number(split.buyerAmount));
  expect((await s.wallet(SELLER_PHONE)) - sellerBefore).toBe(Number(split.sellerAmount));
}, 120_000);

test('a missed shipping deadline: anyone claims the timeout and the buyer is refunded in full, no fee', async () => {
  const { buyer, owner } = actors();
  const { orderId, amount } = await fundedNativeOrder(s, productId, log);
  await s.advanceTime(7 * 24 * 3600 + 60);
  const before = await s.balance(buyer.address);
  await s.call(owner, 'claimTimeout', [orderId]); // a third party pays the gas
  const done = await s.waitForOrder(orderId, buyer, (o) => o.status === 'REFUNDED', 'REFUNDED');
  expect(done.refundedToBuyer).toBe(amount.toString());
  expect((await s.balance(buyer.address)) - before).toBe(amount);
}, 120_000);

test('the admin reconciliation shows no discrepancy, and its totals equal the simulator ledger and the chain', async () => {
  const { owner } = actors();
  // Let the index and the oracle settle the last records.
  await new Promise((r) => setTimeout(r, 8_000));
  const from = new Date(Date.now() - 30 * 24 * 3600_000).toISOString();
  const to = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
  const { reconciliation: r } = await s.gql<{ reconciliation: any }>(`query($f: DateTime!, $t: DateTime!) { reconciliation(from: $f, to: $t) {
    paidNotOnChain { orderId } onChainWithoutLedger { orderId } amountMismatches { orderId } payoutsDue { orderId role } failedPayouts { orderId }
    dailyTotals { date paymentMode opening collected paidOut refunded fees held balanced ledgerCollected } balanced } }`, { f: from, t: to }, owner);
  expect(r.paidNotOnChain).toEqual([]);
  expect(r.onChainWithoutLedger).toEqual([]);
  expect(r.amountMismatches).toEqual([]);
  expect(r.payoutsDue).toEqual([]);
  expect(r.failedPayouts).toEqual([]);
  expect(r.balanced).toBe(true);
  const sum = (mode: string, k: string) => r.dailyTotals.filter((d: any) => d.paymentMode === mode).reduce((a: bigint, d: any) => a + BigInt(d[k] ?? 0), 0n);
  // M-Pesa: collected = the paybill's takings; paid out = what left the B2C utility account.
  const ledger = await s.sim<{ accounts: { id: string; kind: string; balance: number }[] }>('GET', '/ledger');
  const paybill = ledger.accounts.filter((a) => a.kind === 'paybill').reduce((a, b) => a + b.balance, 0);
  const utility = ledger.accounts.filter((a) => a.kind === 'utility').reduce((a, b) => a + b.balance, 0);
  expect(sum('MPESA', 'collected')).toBe(BigInt(paybill));
  expect(sum('MPESA', 'ledgerCollected')).toBe(BigInt(paybill));
  // paidOut counts every shilling that left (seller payouts and buyer refunds; `refunded` is the part that went back to buyers).
  expect(sum('MPESA', 'paidOut')).toBe(BigInt(1_000_000 - utility));
  expect(sum('MPESA', 'refunded')).toBe(BigInt(Number(payoutSplit(2_000n, FEE_BPS, 4_000).buyerAmount)));
  // Native: what the contract holds = escrow still held + fees not yet withdrawn.
  const escrowBalance = await s.balance(s.deployment.address);
  const lastNative = r.dailyTotals.filter((d: any) => d.paymentMode === 'NATIVE').at(-1);
  expect(BigInt(lastNative.held) + sum('NATIVE', 'fees')).toBe(escrowBalance);
}, 60_000);
