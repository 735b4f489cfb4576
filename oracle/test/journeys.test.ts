/**
 * Both M-Pesa journeys end to end, oracle in-process: STK paid → recorded on chain once;
 * delivered → B2C → payout recorded → COMPLETED; a split dispute pays both sides. At the
 * end the simulator's ledger, the oracle's ledger and the chain agree.
 */
import { DEV_ROLES } from '@descrow/common';
import { payoutSplit, receiptHash } from '@descrow/contracts';
import { BUYER_PHONE, eventually, OracleHarness, SELLER_PHONE, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
beforeAll(async () => {
  await h.start('journeys');
  // Open the seller's wallet up front so the test sees only what the payouts add.
  await fetch(`${h.simUrl}/__sim/ledger/accounts/customer:${SELLER_PHONE}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ balance: 0 }) });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const balance = async (id: string) => ((await h.simLedger()).accounts.find((a: { id: string }) => a.id === id)?.balance ?? 0) as number;

test('STK paid → order created and funded on chain once, keyed by the M-Pesa receipt', async () => {
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, 1_500));
  expect(res.status).toBe(201);
  expect(res.body.checkoutRequestId).toMatch(/^ws_CO_/);

  const order = await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 15_000, 'order funded on chain');
  const { rows } = await h.pool.query(`SELECT status, mpesa_receipt, paid_amount FROM oracle.payment_requests WHERE order_id=$1`, [orderId]);
  expect(rows).toEqual([{ status: 'paid', mpesa_receipt: expect.stringMatching(/^[A-Z0-9]{10}$/), paid_amount: 1500 }]);
  expect(order).toMatchObject({ amount: 1500n, mode: 1, buyer: DEV_ROLES.buyer.address, seller: DEV_ROLES.seller.address, paymentReceipt: receiptHash(rows[0].mpesa_receipt) });
  expect(await h.events(orderId)).toEqual(['OrderCreated', 'OffchainPaymentRecorded']);

  // Asking again for the same order is refused: it is on chain now.
  const again = await h.requestStk(oracle.url, h.stkBody(orderId, 1_500));
  expect(again).toMatchObject({ status: 409, body: { error: { code: 'ORDER_EXISTS' } } });
});

test('delivered → B2C to the seller for amount minus fee → payout recorded → COMPLETED', async () => {
  const orderId = h.newOrderId();
  const sellerBefore = await balance(`customer:${SELLER_PHONE}`);
  await h.requestStk(oracle.url, h.stkBody(orderId, 2_000));
  await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 15_000, 'funded');
  await h.act('seller', 'markShipped', [orderId, 'bafy-track']);
  await h.act('buyer', 'confirmDelivery', [orderId]);
  await h.mine(2); // past the confirmation depth
  const done = await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 20_000, 'order completed');
  expect(done.sellerPayoutDue).toBe(false);
  const { sellerAmount } = payoutSplit(2_000n, 250);
  expect(await balance(`customer:${SELLER_PHONE}`)).toBe(sellerBefore + Number(sellerAmount));
  const payouts = await h.pool.query(`SELECT role, status, amount_kes FROM oracle.payouts WHERE order_id=$1`, [orderId]);
  expect(payouts.rows).toEqual([{ role: 'seller', status: 'succeeded', amount_kes: Number(sellerAmount) }]);
  expect(await h.events(orderId)).toEqual(['OrderCreated', 'OffchainPaymentRecorded', 'OrderShipped', 'OrderDelivered', 'PayoutRecorded', 'OrderCompleted']);
});

test('a split dispute pays the buyer back to the paying phone and the seller the rest minus fee', async () => {
  const orderId = h.newOrderId();
  const [buyerBefore, sellerBefore] = [await balance(`customer:${BUYER_PHONE}`), await balance(`customer:${SELLER_PHONE}`)];
  await h.requestStk(oracle.url, h.stkBody(orderId, 1_000));
  await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 15_000, 'funded');
  await h.act('buyer', 'raiseDispute', [orderId, 'bafy-evidence']);
  await h.act('arbiter', 'resolveDispute', [orderId, 4_000]);
  await h.mine(2);
  await eventually(() => h.getOrder(orderId), (o) => o.status === 7 && !o.sellerPayoutDue && !o.buyerRefundDue, 20_000, 'both payouts recorded');
  const split = payoutSplit(1_000n, 250, 4_000);
  expect(await balance(`customer:${BUYER_PHONE}`)).toBe(buyerBefore - 1_000 + Number(split.buyerAmount));
  expect(await balance(`customer:${SELLER_PHONE}`)).toBe(sellerBefore + Number(split.sellerAmount));
  const events = await h.events(orderId);
  expect(events.filter((e) => e === 'PayoutRecorded')).toHaveLength(2);
});

test('the simulator, the oracle ledger and the chain agree', async () => {
  const ledger = await h.simLedger();
  expect(ledger.balanced).toBe(true);
  const paid = await h.pool.query(`SELECT coalesce(sum(paid_amount),0)::int AS total FROM oracle.payment_requests WHERE status='paid'`);
  const out = await h.pool.query(`SELECT coalesce(sum(amount_kes),0)::int AS total FROM oracle.payouts WHERE status='succeeded'`);
  const paybill = ledger.accounts.filter((a: { kind: string }) => a.kind === 'paybill').reduce((s: number, a: { balance: number }) => s + a.balance, 0);
  expect(paybill).toBe(paid.rows[0].total);
  const utilityStart = 1_000_000;
  const utility = ledger.accounts.filter((a: { kind: string }) => a.kind === 'utility').reduce((s: number, a: { balance: number }) => s + a.balance, 0);
  expect(utilityStart - utility).toBe(out.rows[0].total);
  // The chain already shows every record; the worker marks its last entry confirmed right after.
  const outbox = await eventually(
    async () => (await h.pool.query(`SELECT status, count(*)::int AS n FROM oracle.outbox GROUP BY status`)).rows,
    (rows) => rows.length === 1,
    5_000,
    'outbox settled',
  );
  expect(outbox).toEqual([{ status: 'confirmed', n: 3 + 1 + 2 }]);
});

test('a reconciliation run finds the ledger and the chain in agreement and stores itself', async () => {
  const res = await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation`, { method: 'POST', headers: { authorization: 'Bearer dev-service-token-change-me' } });
  expect(res.status).toBe(200);
  const run = await res.json();
  expect(run.checked).toBeGreaterThanOrEqual(3 + 3);
  expect(run.discrepancies).toEqual([]);
  const latest = await (await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation/latest`, { headers: { authorization: 'Bearer dev-service-token-change-me' } })).json();
  expect(latest).toMatchObject({ checked: run.checked, discrepancies: [] });
});

test('a payout M-Pesa refuses for a reason a person must fix (2040) is surfaced with the reason, not retried', async () => {
  const orderId = h.newOrderId();
  await h.requestStk(oracle.url, { ...h.stkBody(orderId, 900), phone: '254711000777', sellerPhone: '254700002040' }); // magic: recipient not registered
  await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 15_000, 'funded');
  await h.act('seller', 'markShipped', [orderId, '']);
  await h.act('buyer', 'confirmDelivery', [orderId]);
  await h.mine(2);
  const payout = await eventually(
    async () => (await h.pool.query(`SELECT status, reason, attempt FROM oracle.payouts WHERE order_id=$1`, [orderId])).rows,
    (rows) => rows[0]?.status === 'needs_attention', 20_000, 'payout needs attention',
  );
  expect(payout).toEqual([{ status: 'needs_attention', attempt: 1, reason: expect.stringMatching(/^2040: .*not a registered M-Pesa customer/) }]);
  await new Promise((r) => setTimeout(r, 1_000)); // more job ticks: still no second attempt
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.payouts WHERE order_id=$1`, [orderId])).rows[0].n).toBe(1);
  expect((await h.getOrder(orderId)).sellerPayoutDue).toBe(true); // still owed on chain
  const run = await (await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation`, { method: 'POST', headers: { authorization: 'Bearer dev-service-token-change-me' } })).json();
  expect(run.discrepancies).toContainEqual({ kind: 'payout_needs_attention', orderId, role: 'seller', detail: expect.stringContaining('2040') });
});
