/**
 * kill -9 mid-flight. The oracle runs as its own process and SIGKILLs itself at a named
 * point (ORACLE_FAILPOINTS); a fresh process takes over. In every case the payment is
 * recorded on chain exactly once and the payout paid exactly once.
 */
import { DEV_ROLES } from '@descrow/common';
import { payoutSplit } from '@descrow/contracts';
import { eventually, OracleHarness, sleep } from './harness';

const h = new OracleHarness();
beforeAll(async () => {
  await h.start('crash', { DARAJA_SIM_STK_RESOLVE_MS: 1_000, DARAJA_SIM_B2C_RESOLVE_MS: 200 });
}, 60_000);
afterAll(async () => h.stop());

const phone = (n: number) => `2547110001${String(n).padStart(2, '0')}`;

async function crashThenRecover(failpoint: string, trigger: (url: string) => Promise<unknown>) {
  const doomed = await h.oracleProcess({ ORACLE_FAILPOINTS: failpoint }, failpoint);
  await trigger(doomed.url).catch(() => undefined); // the connection may die with the process
  const code = await Promise.race([doomed.exited, sleep(20_000).then(() => 'still running')]);
  expect(code).not.toBe('still running'); // it really died at the failpoint
  return h.oracleProcess();
}

test('killed after Daraja accepted the STK push: the callback names our request, so the payment is still recorded once', async () => {
  const orderId = h.newOrderId();
  // The customer takes ~8 s to enter the PIN, as people do: the oracle is back by then.
  await h.control('PATCH', '/settings', { stkResolveMs: 8_000 });
  const oracle = await crashThenRecover('stk:after-daraja-ack', (url) => h.requestStk(url, h.stkBody(orderId, 700, phone(1))));
  try {
    // The row was written before the call; Daraja's answer was lost with the process.
    const rows = (await h.pool.query(`SELECT status, checkout_request_id FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows;
    expect(rows).toHaveLength(1);
    await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded on chain');
    expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
    const stk = await h.control('GET', `/stk?phone=${phone(1)}`);
    expect(stk).toHaveLength(1); // one push, one payment
  } finally {
    await h.control('PATCH', '/settings', { stkResolveMs: 1_000 });
    await oracle.stop();
  }
});

test('killed after the callback was stored but before it was acknowledged or processed: the restart processes it', async () => {
  const orderId = h.newOrderId();
  let doomedUrl = '';
  const oracle = await crashThenRecover('callback:after-store', async (url) => {
    doomedUrl = url;
    const res = await h.requestStk(url, h.stkBody(orderId, 800, phone(2)));
    expect(res.status).toBe(201);
    // Wait for the customer to pay; the callback kills the process after storing it.
    await sleep(3_000);
  });
  expect(doomedUrl).toBeTruthy();
  try {
    const stored = (await h.pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks WHERE kind='stk' AND raw::text LIKE $1`, [`%${(await h.control('GET', `/stk?phone=${phone(2)}`))[0].CheckoutRequestID}%`])).rows[0].n;
    expect(stored).toBe(1);
    await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded on chain');
    expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
  } finally {
    await oracle.stop();
  }
});

test('killed after the chain transaction was broadcast, before its receipt: the same transaction is settled, not a second one', async () => {
  const orderId = h.newOrderId();
  const nonceBefore = await h.oracleNonce();
  const oracle = await crashThenRecover('outbox:after-broadcast', async (url) => {
    await h.requestStk(url, h.stkBody(orderId, 900, phone(3)));
    await sleep(3_000);
  });
  try {
    await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded on chain');
    await eventually(async () => (await h.pool.query(`SELECT status FROM oracle.outbox WHERE order_id=$1`, [orderId])).rows, (r) => r[0]?.status === 'confirmed', 10_000, 'outbox confirmed');
    expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
    expect(await h.oracleNonce()).toBe(nonceBefore + 1); // no extra (reverted) transaction either
  } finally {
    await oracle.stop();
  }
});

test('killed after Daraja accepted the B2C payout: the retry is refused as a duplicate, Transaction Status finds it, paid once', async () => {
  const orderId = h.newOrderId();
  const sellerPhone = '254711000299';
  const oracle1 = await h.oracleProcess();
  await h.requestStk(oracle1.url, { ...h.stkBody(orderId, 3_000, phone(4)), sellerPhone });
  await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded');
  await oracle1.stop();
  await h.act('seller', 'markShipped', [orderId, 'bafy']);
  await h.act('buyer', 'confirmDelivery', [orderId]);
  await h.mine(2);
  const oracle = await crashThenRecover('payout:after-b2c-ack', () => sleep(6_000));
  try {
    await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'completed on chain');
    const b2c = await h.control('GET', `/b2c?phone=${sellerPhone}`);
    const paid = b2c.filter((t: { ResultCode?: number }) => t.ResultCode === 0);
    expect(paid).toHaveLength(1);
    expect(paid[0].Amount).toBe(Number(payoutSplit(3_000n, 250).sellerAmount));
    const payouts = (await h.pool.query(`SELECT status, attempt FROM oracle.payouts WHERE order_id=$1`, [orderId])).rows;
    expect(payouts).toEqual([{ status: 'succeeded', attempt: 1 }]);
    expect((await h.oracleCalls(orderId)).filter((c) => c === 'recordPayout')).toHaveLength(1);
    expect((await h.getOrder(orderId)).seller).toBe(DEV_ROLES.seller.address);
  } finally {
    await oracle.stop();
  }
});

test('afterwards the simulator ledger balances and matches the oracle ledger', async () => {
  const ledger = await h.simLedger();
  expect(ledger.balanced).toBe(true);
  const paid = (await h.pool.query(`SELECT coalesce(sum(paid_amount),0)::int AS t FROM oracle.payment_requests WHERE status='paid'`)).rows[0].t;
  const paybill = ledger.accounts.filter((a: { kind: string }) => a.kind === 'paybill').reduce((s: number, a: { balance: number }) => s + a.balance, 0);
  expect(paybill).toBe(paid);
});
