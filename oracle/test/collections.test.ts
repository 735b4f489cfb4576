/**
 * A paid collection is never lost (issue 15, point 2): a paid callback that arrives while
 * STK Query is down is re-verified until the query answers, past the request's expiry; a
 * customer who pays twice is a refund case an admin sees; a crash between Daraja's
 * acknowledgement and our write, with the customer paying while the oracle is down, is
 * recovered from the paybill's transaction pull. Each failed on the oracle before.
 */
import { createPublicClient, createWalletClient, http, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { chainFor, DEV_ROLES } from '@descrow/common';
import { escrowAbi, receiptHash } from '@descrow/contracts';
import { eventually, OracleHarness, sleep, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest | undefined;
const EXPIRY = 10;
beforeAll(async () => {
  await h.start('collections', { DARAJA_SIM_STK_RESOLVE_MS: 300 }, {
    ORACLE_STK_EXPIRY_SECONDS: String(EXPIRY), ORACLE_STK_VERIFY_MAX_BACKOFF_SECONDS: '2', ORACLE_PULL_INTERVAL_SECONDS: '1', ORACLE_RECONCILE_INTERVAL_SECONDS: '0',
  });
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const SERVICE = { authorization: 'Bearer dev-service-token-change-me' };
const request = async (orderId: Hex) => (await h.pool.query(`SELECT * FROM oracle.payment_requests WHERE order_id=$1 ORDER BY created_at`, [orderId])).rows;
/** Daraja's transaction pull is down too (it would otherwise find these payments on its own). */
const pullDown = () => h.control('POST', '/faults', { errorCode: '500.003.1001', path: '/pulltransactions', forMs: 120_000 });
const history = async (requestId: string) => (await h.pool.query(`SELECT kind FROM oracle.payment_events WHERE request_id=$1 ORDER BY id`, [requestId])).rows.map((r) => r.kind);

describe('oracle in-process', () => {
  beforeAll(async () => {
    oracle = await h.oracleInProcess();
  });
  afterAll(async () => {
    await oracle?.stop();
    oracle = undefined;
  });
  afterEach(async () => {
    await h.control('DELETE', '/faults');
    await h.control('DELETE', '/rules');
  });

  test('a paid callback while STK Query is down never expires: re-verified past expiry until the query recovers, then recorded', async () => {
    const phone = '254711000701';
    // STK Query answers spike arrest for longer than the request lives; the callback comes at once.
    await pullDown();
    await h.control('POST', '/faults', { errorCode: '500.003.02', path: '/mpesa/stkpushquery', forMs: (EXPIRY + 4) * 1000 });
    const orderId = h.newOrderId();
    const res = await h.requestStk(oracle!.url, h.stkBody(orderId, 1_100, phone));
    expect(res.status).toBe(201);
    const [tx] = await eventually(() => h.control('GET', `/stk?phone=${phone}`), (t) => t[0]?.MpesaReceiptNumber, 5_000, 'customer paid');
    // Past the expiry, the request is still open and holds what the callback said.
    await sleep((EXPIRY + 1) * 1000);
    const [open] = await request(orderId);
    expect(open).toMatchObject({ status: 'pending', callback_receipt: tx.MpesaReceiptNumber });
    // The query recovers: the payment is verified and recorded under the M-Pesa receipt.
    const order = await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded on chain');
    expect(order.paymentReceipt).toBe(receiptHash(tx.MpesaReceiptNumber));
    // Its history is kept, not overwritten.
    const kinds = await history(open.id);
    expect(kinds[0]).toBe('callback_paid');
    expect(kinds).toContain('query_pending');
    expect(kinds.at(-1)).toBe('paid');
  }, 60_000);

  test('a customer who pays an expired request after paying its replacement: a refund case with receipt, phone, amount and reason', async () => {
    const phone = '254711000702';
    // The first push is paid, but its callback is late and STK Query is down until it has
    // expired in our ledger; the customer is asked again and pays again.
    await pullDown();
    await h.control('POST', '/faults', { errorCode: '500.003.02', path: '/mpesa/stkpushquery', forMs: (EXPIRY + 2) * 1000 });
    await h.control('POST', '/rules', { product: 'stk', phone, outcome: 'success', delivery: { mode: 'delayed', delayMs: (EXPIRY + 6) * 1000 } });
    const orderId = h.newOrderId();
    const first = await h.requestStk(oracle!.url, h.stkBody(orderId, 1_200, phone));
    expect(first.status).toBe(201);
    await eventually(() => request(orderId), (r) => r[0]?.status === 'expired', (EXPIRY + 10) * 1000, 'first request expired');
    await h.control('DELETE', '/rules');
    const second = await h.requestStk(oracle!.url, h.stkBody(orderId, 1_200, phone));
    expect(second.status).toBe(201);
    await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded by the second payment');
    // Then the first payment's callback arrives.
    const late = await h.control('GET', `/stk/${first.body.checkoutRequestId}`);
    const cases = await eventually(
      async () => (await fetch(`${h.internalUrl(oracle!.url)}/internal/refund-cases`, { headers: SERVICE })).json(),
      (c: { cases: unknown[] }) => c.cases.some((x: any) => x.orderId === orderId), 30_000, 'refund case visible',
    );
    expect(cases.cases.filter((x: any) => x.orderId === orderId)).toEqual([
      expect.objectContaining({ kind: 'paid_twice', receipt: late.MpesaReceiptNumber, phone, amountKes: 1_200, reason: expect.stringMatching(/second payment/), status: 'open' }),
    ]);
    expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
    const run = await (await fetch(`${h.internalUrl(oracle!.url)}/internal/reconciliation`, { method: 'POST', headers: SERVICE })).json();
    expect(run.discrepancies).toContainEqual(expect.objectContaining({ kind: 'refund_needed:paid_twice', orderId }));
  }, 60_000);

  test('a payment that cannot be recorded on chain (the order exists with another amount): a cannot_record refund case', async () => {
    const phone = '254711000704';
    await h.control('POST', '/rules', { product: 'stk', phone, outcome: 'pending' });
    const orderId = h.newOrderId();
    const body = h.stkBody(orderId, 1_500, phone);
    const res = await h.requestStk(oracle!.url, body);
    expect(res.status).toBe(201);
    // Meanwhile the order appears on chain under the same id with another amount (say, an
    // operator's manual repair with the oracle key): this payment cannot fund it.
    const chain = chainFor(h.anvil.url);
    const wallet = createWalletClient({ account: privateKeyToAccount(DEV_ROLES.oracle.privateKey), chain, transport: http(h.anvil.url) });
    const pub = createPublicClient({ chain, transport: http(h.anvil.url) });
    const hash = await wallet.writeContract({ address: h.deployment.address, abi: escrowAbi, functionName: 'createOffchainOrder', args: [body.salt!, DEV_ROLES.buyer.address, DEV_ROLES.seller.address, 999n, 'bafy-other'] } as never);
    await pub.waitForTransactionReceipt({ hash });
    const paid = await h.control('POST', `/stk/${res.body.checkoutRequestId}/resolve`, { outcome: 'success' });
    await eventually(async () => (await h.pool.query(`SELECT status FROM oracle.outbox WHERE order_id=$1`, [orderId])).rows[0]?.status, (st) => st === 'failed', 20_000, 'on-chain record failed');
    const run = await (await fetch(`${h.internalUrl(oracle!.url)}/internal/reconciliation`, { method: 'POST', headers: SERVICE })).json();
    expect(run.discrepancies).toContainEqual(expect.objectContaining({ kind: 'refund_needed:cannot_record', orderId }));
    const cases = (await (await fetch(`${h.internalUrl(oracle!.url)}/internal/refund-cases`, { headers: SERVICE })).json()).cases.filter((c: any) => c.orderId === orderId);
    expect(cases).toEqual([expect.objectContaining({ kind: 'cannot_record', receipt: paid.MpesaReceiptNumber, phone, amountKes: 1_500, reason: expect.stringMatching(/cannot be recorded on chain/) })]);
    // A person refunds it and closes the case; a bad resolution is a clear 400 and changes nothing.
    const bad = await fetch(`${h.internalUrl(oracle!.url)}/internal/refund-cases/${cases[0].id}`, { method: 'POST', headers: { ...SERVICE, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'lost' }) });
    expect(bad.status).toBe(400);
    const done = await fetch(`${h.internalUrl(oracle!.url)}/internal/refund-cases/${cases[0].id}`, { method: 'POST', headers: { ...SERVICE, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'refunded', note: 'reversed on the portal' }) });
    expect(await done.json()).toEqual({ id: cases[0].id, status: 'refunded' });
    expect((await (await fetch(`${h.internalUrl(oracle!.url)}/internal/refund-cases`, { headers: SERVICE })).json()).cases.filter((c: any) => c.orderId === orderId)).toEqual([]);
  }, 60_000);
});

test('killed between Daraja\'s acknowledgement and our write, customer pays while the oracle is down: the transaction pull recovers it', async () => {
  const phone = '254711000703';
  const orderId = h.newOrderId();
  // The callback finds nobody home (the oracle is dead), so Daraja's only trace is the paybill.
  await h.control('POST', '/rules', { product: 'stk', phone, outcome: 'success', delivery: { mode: 'delayed', delayMs: 500 } });
  const doomed = await h.oracleProcess({ ORACLE_FAILPOINTS: 'stk:after-daraja-ack' }, 'stk:after-daraja-ack');
  await h.requestStk(doomed.url, h.stkBody(orderId, 1_300, phone)).catch(() => undefined);
  expect(await Promise.race([doomed.exited, sleep(20_000).then(() => 'still running')])).not.toBe('still running');
  const [tx] = await eventually(() => h.control('GET', `/stk?phone=${phone}`), (t) => t[0]?.MpesaReceiptNumber, 5_000, 'customer paid');
  await eventually(() => h.control('GET', `/callbacks?ref=${tx.CheckoutRequestID}`), (c) => c.length === 1 && !!c[0].error, 5_000, 'callback lost');
  expect((await request(orderId))[0]).toMatchObject({ status: 'creating', checkout_request_id: null });
  // Let the request expire before the oracle comes back: nothing else could find it now.
  await sleep(EXPIRY * 1000);
  const back = await h.oracleProcess();
  try {
    const order = await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 30_000, 'funded on chain from the pull');
    expect(order.paymentReceipt).toBe(receiptHash(tx.MpesaReceiptNumber));
    expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
    const [row] = await request(orderId);
    expect(row).toMatchObject({ status: 'paid', mpesa_receipt: tx.MpesaReceiptNumber });
    expect(await history(row.id)).toEqual(expect.arrayContaining(['pulled', 'paid']));
  } finally {
    await back.stop();
  }
}, 90_000);
