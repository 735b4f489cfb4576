/**
 * The real world: callbacks delivered five times or never, Daraja answering 500 or
 * spike arrest, the chain unreachable for a while, two oracle instances at once.
 * In each case nothing is lost and nothing doubled.
 */
import { payoutSplit } from '@descrow/contracts';
import { freePortPair } from '@descrow/common';
import { eventually, OracleHarness, sleep, stkSuccessCallback, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
beforeAll(async () => {
  await h.start('adversity');
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const funded = (orderId: `0x${string}`, timeoutMs = 20_000) => eventually(() => h.getOrder(orderId), (o) => o.status === 2, timeoutMs, 'funded on chain');

test('the same callback delivered five times: one payment, one on-chain record', async () => {
  await h.control('POST', '/rules', { product: 'stk', phone: '254711000501', outcome: 'success', delivery: { mode: 'duplicated', copies: 5 } });
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, 600, '254711000501'));
  await funded(orderId);
  const outcomes = await eventually(
    async () => (await h.pool.query(`SELECT outcome FROM oracle.callbacks WHERE correlation_id=$1 AND processed_at IS NOT NULL`, [res.body.checkoutRequestId])).rows.map((r) => r.outcome),
    (o) => o.length === 5, 10_000, 'five callbacks processed',
  );
  expect(outcomes.filter((o) => o === 'paid')).toHaveLength(1);
  expect(outcomes.filter((o) => o === 'already_final')).toHaveLength(4);
  expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
});

test('copies of one callback arriving a millisecond apart: one payment, the rest duplicates, none taken for a reused receipt', async () => {
  // Copies race inside the oracle: one may store the receipt while another is still
  // checking it. A copy of the same callback must never look like fraud (receipt_reused).
  const phone = '254711000507';
  await h.control('POST', '/rules', { product: 'stk', phone, outcome: 'success', delivery: { mode: 'never' } });
  const orderId = h.newOrderId();
  const { checkoutRequestId } = (await h.requestStk(oracle.url, h.stkBody(orderId, 610, phone))).body;
  const tx = await eventually(() => h.control('GET', `/stk/${checkoutRequestId}`), (t) => !!t.MpesaReceiptNumber, 5_000, 'customer paid');
  const body = stkSuccessCallback(checkoutRequestId, 610, Number(phone), tx.MpesaReceiptNumber, tx.MerchantRequestID);
  const hook = h.hook('stk', await h.requestIdOf(orderId));
  const copies = 30;
  const answers = await Promise.all(
    // Staggered by a millisecond each so some copies start while others are mid-verification.
    Array.from({ length: copies }, (_, i) => sleep(i).then(() => fetch(`${oracle.url}${hook}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }))),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(copies).fill(200));
  const outcomes = await eventually(
    async () => (await h.pool.query(`SELECT outcome FROM oracle.callbacks WHERE correlation_id=$1 AND processed_at IS NOT NULL`, [checkoutRequestId])).rows.map((r) => r.outcome),
    (o) => o.length === copies, 10_000, 'every copy processed',
  );
  // The poller may have found the payment first; then every copy is a duplicate.
  const paid = outcomes.filter((o) => o === 'paid').length;
  expect(paid).toBeLessThanOrEqual(1);
  expect(outcomes.filter((o) => o !== 'paid')).toEqual(Array(copies - paid).fill('already_final'));
  await funded(orderId);
  expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
});

test('a callback that never comes: STK Query finds the payment and it is recorded, keyed by the CheckoutRequestID', async () => {
  await h.control('POST', '/rules', { product: 'stk', phone: '254711000502', outcome: 'success', delivery: { mode: 'never' } });
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, 650, '254711000502'));
  await funded(orderId);
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks WHERE correlation_id=$1`, [res.body.checkoutRequestId])).rows[0].n).toBe(0);
  const row = (await h.pool.query(`SELECT status, mpesa_receipt FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0];
  expect(row).toEqual({ status: 'paid', mpesa_receipt: null });
  expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
});

test('a push nobody answers expires; nothing is recorded', async () => {
  const short = await h.oracleInProcess({ ORACLE_PORT: String(await freePortPair()), ORACLE_STK_EXPIRY_SECONDS: '10', ORACLE_RUN_JOBS: 'false' });
  try {
    await h.control('POST', '/rules', { product: 'stk', phone: '254711000503', outcome: 'pending' });
    const orderId = h.newOrderId();
    await h.requestStk(short.url, h.stkBody(orderId, 700, '254711000503'));
    await eventually(async () => (await h.pool.query(`SELECT status, failure_reason FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0], (r) => r.status === 'expired', 20_000, 'expired');
    expect((await h.getOrder(orderId)).status).toBe(0);
  } finally {
    await short.stop();
  }
}, 30_000);

test('spike arrest and 500s on STK Push: retried and accepted; if Daraja keeps failing, a clean 503 and nothing pending', async () => {
  await h.control('POST', '/faults', { errorCode: '500.003.02', count: 2, path: '/mpesa/stkpush/v1/processrequest' });
  const a = h.newOrderId();
  const ok = await h.requestStk(oracle.url, h.stkBody(a, 750, '254711000504'));
  expect(ok.status).toBe(201);
  await funded(a);

  await h.control('POST', '/faults', { errorCode: '500.003.1001', count: 5, path: '/mpesa/stkpush/v1/processrequest' });
  const b = h.newOrderId();
  const busy = await h.requestStk(oracle.url, h.stkBody(b, 760, '254711000505'));
  expect(busy).toMatchObject({ status: 503, body: { error: { code: 'DARAJA_UNAVAILABLE' } } });
  expect((await h.pool.query(`SELECT status FROM oracle.payment_requests WHERE order_id=$1`, [b])).rows).toEqual([{ status: 'failed' }]);
  await h.control('DELETE', '/faults');
  // A failed request does not block a new one for the same order.
  expect((await h.requestStk(oracle.url, h.stkBody(b, 760, '254711000505'))).status).toBe(201);
  await funded(b);
});

test('Daraja failing B2C for a while: the payout waits and is paid once', async () => {
  const orderId = h.newOrderId();
  await h.requestStk(oracle.url, { ...h.stkBody(orderId, 1_100, '254711000506'), sellerPhone: '254711000596' });
  await funded(orderId);
  await h.control('POST', '/faults', { errorCode: '500.003.02', count: 3, path: '/mpesa/b2c/v3/paymentrequest' });
  await h.act('seller', 'markShipped', [orderId, '']);
  await h.act('buyer', 'confirmDelivery', [orderId]);
  await h.mine(2);
  await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'completed');
  const b2c = (await h.control('GET', '/b2c?phone=254711000596')).filter((t: { ResultCode?: number }) => t.ResultCode === 0);
  expect(b2c.map((t: { Amount: number }) => t.Amount)).toEqual([Number(payoutSplit(1_100n, 250).sellerAmount)]);
}, 40_000);

test('the chain unreachable for a while: the record waits and lands once when it is back', async () => {
  const orderId = h.newOrderId();
  const nonce = await h.oracleNonce();
  h.anvil.process.kill('SIGSTOP'); // the node hangs: requests time out, like a dead RPC
  try {
    await h.requestStk(oracle.url, h.stkBody(orderId, 1_234, '254711000507')).catch(() => undefined);
  } catch { /* the order-id check reads the chain */ }
  await sleep(3_000);
  h.anvil.process.kill('SIGCONT');
  // If the push itself failed while the chain was down, the dApp asks again.
  const row = (await h.pool.query(`SELECT status FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0];
  if (!row) expect((await h.requestStk(oracle.url, h.stkBody(orderId, 1_234, '254711000507'))).status).toBe(201);
  await funded(orderId, 40_000);
  expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
  expect(await h.oracleNonce()).toBe(nonce + 1);
}, 60_000);

test('a payment made while the chain is down is recorded once the chain is back', async () => {
  await h.control('POST', '/rules', { product: 'stk', phone: '254711000508', outcome: 'pending' });
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, 1_250, '254711000508'));
  expect(res.status).toBe(201);
  const nonce = await h.oracleNonce();
  h.anvil.process.kill('SIGSTOP');
  try {
    await h.control('POST', `/stk/${res.body.checkoutRequestId}/resolve`, { outcome: 'success' });
    await eventually(async () => (await h.pool.query(`SELECT status FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0].status, (s) => s === 'paid', 10_000, 'paid in ledger');
    await sleep(12_000); // the outbox keeps failing against the frozen node meanwhile
    const ob = (await h.pool.query(`SELECT status, attempts, last_error FROM oracle.outbox WHERE order_id=$1`, [orderId])).rows[0];
    expect(ob.status).not.toBe('confirmed');
    expect(ob.attempts).toBeGreaterThan(0);
  } finally {
    h.anvil.process.kill('SIGCONT');
  }
  await funded(orderId, 60_000);
  expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
  expect(await h.oracleNonce()).toBe(nonce + 1);
}, 90_000);

test('two oracle instances at once, callbacks split between them: every order recorded and paid out once', async () => {
  const port = await freePortPair();
  const second = await h.oracleInProcess({ ORACLE_PORT: String(port), ORACLE_PUBLIC_URL: `http://127.0.0.1:${port}` });
  try {
    const orders = Array.from({ length: 8 }, () => h.newOrderId());
    await Promise.all(orders.map((id, i) => h.requestStk(i % 2 ? second.url : oracle.url, { ...h.stkBody(id, 500 + i, `2547110006${String(i).padStart(2, '0')}`), sellerPhone: '254711000699' })));
    for (const id of orders) await funded(id, 30_000);
    for (const id of orders) {
      await h.act('seller', 'markShipped', [id, '']);
      await h.act('buyer', 'confirmDelivery', [id]);
    }
    await h.mine(2);
    for (const id of orders) await eventually(() => h.getOrder(id), (o) => o.status === 5, 40_000, 'completed');
    for (const id of orders) expect(await h.oracleCalls(id)).toEqual(['createPaidOffchainOrder', 'recordPayout']);
    const payouts = (await h.control('GET', '/b2c?phone=254711000699')).filter((t: { ResultCode?: number }) => t.ResultCode === 0);
    expect(payouts).toHaveLength(8);
  } finally {
    await second.stop();
  }
}, 90_000);

test('at the end the simulator ledger balances and equals the oracle ledger', async () => {
  const ledger = await h.simLedger();
  expect(ledger.balanced).toBe(true);
  const paid = (await h.pool.query(`SELECT coalesce(sum(paid_amount),0)::int AS t FROM oracle.payment_requests WHERE status='paid'`)).rows[0].t;
  const out = (await h.pool.query(`SELECT coalesce(sum(amount_kes),0)::int AS t FROM oracle.payouts WHERE status='succeeded'`)).rows[0].t;
  const sum = (kind: string) => ledger.accounts.filter((a: { kind: string }) => a.kind === kind).reduce((s: number, a: { balance: number }) => s + a.balance, 0);
  expect(sum('paybill')).toBe(paid);
  expect(1_000_000 - sum('utility')).toBe(out);
});
