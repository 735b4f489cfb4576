/**
 * Daraja callbacks are unsigned, so anyone who learns the URL can post one. Forged or
 * wrong callbacks are refused or ignored, logged with an outcome, and record nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Hex } from 'viem';
import { DEV_ROLES } from '@descrow/common';
import { orderIdFor, receiptHash } from '@descrow/contracts';
import { eventually, OracleHarness, stkSuccessCallback, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
beforeAll(async () => {
  await h.start('forgery', {}, { ORACLE_CALLBACK_ALLOWED_IPS: '', ORACLE_CALLBACK_BODY_LIMIT: '4096', ORACLE_PULL_INTERVAL_SECONDS: '1' });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${oracle.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const stkHook = (ref: string = randomUUID()) => h.hook('stk', ref);
const forgedSuccess = (checkoutRequestId: string, amount: number, phone: number, receipt = 'TKN0FORGED') => stkSuccessCallback(checkoutRequestId, amount, phone, receipt);
const outcomeOf = async (checkoutRequestId: string) =>
  eventually(async () => (await h.pool.query(`SELECT outcome FROM oracle.callbacks WHERE correlation_id=$1 ORDER BY id DESC LIMIT 1`, [checkoutRequestId])).rows[0]?.outcome, (o) => !!o, 10_000, 'callback processed');

/** A real push the simulator holds open until we resolve it. */
async function pendingPush(phone: string, amount: number) {
  await h.control('POST', '/rules', { product: 'stk', phone, outcome: 'pending' });
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, amount, phone));
  expect(res.status).toBe(201);
  return { orderId, checkoutRequestId: res.body.checkoutRequestId as string, requestId: res.body.requestId as string };
}

test('a wrong path token gets a 404 and nothing is stored', async () => {
  const before = (await h.pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks`)).rows[0].n;
  const ref = randomUUID();
  const res = await post(`/hooks/stk/not-the-token/${ref}`, forgedSuccess('ws_CO_x', 10, 254708374149));
  expect(res.status).toBe(404);
  const [, , kind, secret] = stkHook(ref).split('/');
  const almost = await post(`/hooks/${kind}/${secret!.slice(0, -1)}${secret!.endsWith('x') ? 'y' : 'x'}/${ref}`, forgedSuccess('ws_CO_x', 10, 254708374149));
  expect(almost.status).toBe(404);
  // The global key itself is no path secret any more.
  expect((await post(`/hooks/stk/${h.env.ORACLE_CALLBACK_TOKEN}/${ref}`, forgedSuccess('ws_CO_x', 10, 254708374149))).status).toBe(404);
  expect((await post(`/hooks/stk/${h.env.ORACLE_CALLBACK_TOKEN}`, forgedSuccess('ws_CO_x', 10, 254708374149))).status).toBe(404);
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks`)).rows[0].n).toBe(before);
});

test('an unknown CheckoutRequestID is stored for the record and ignored', async () => {
  const res = await post(stkHook(), forgedSuccess('ws_CO_2311202610101000000708374149', 500, 254708374149));
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ResultCode: 0, ResultDesc: 'Accepted' });
  expect(await outcomeOf('ws_CO_2311202610101000000708374149')).toBe('unknown_request');
});

test('a success for a real pending push with the wrong amount or phone is refused; the push stays open', async () => {
  const { orderId, checkoutRequestId, requestId } = await pendingPush('254711000401', 1_200);
  await post(stkHook(requestId), forgedSuccess(checkoutRequestId, 12, 254711000401));
  expect(await outcomeOf(checkoutRequestId)).toBe('amount_mismatch');
  await post(stkHook(requestId), forgedSuccess(checkoutRequestId, 1_200, 254711000999));
  expect(await outcomeOf(checkoutRequestId)).toBe('phone_mismatch');
  const row = (await h.pool.query(`SELECT status FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0];
  expect(row.status).toBe('pending');
  expect((await h.getOrder(orderId)).status).toBe(0);
});

test('a well-formed success that STK Query does not confirm records nothing', async () => {
  // The customer has not paid: Daraja's query answers "being processed".
  const { orderId, checkoutRequestId, requestId } = await pendingPush('254711000402', 1_300);
  await post(stkHook(requestId), forgedSuccess(checkoutRequestId, 1_300, 254711000402));
  expect(await outcomeOf(checkoutRequestId)).toBe('query_pending');
  expect((await h.pool.query(`SELECT status, mpesa_receipt FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0]).toEqual({ status: 'pending', mpesa_receipt: null });
  // The customer cancels: the query says 1032; the forged success never becomes a payment.
  await h.control('POST', `/stk/${checkoutRequestId}/resolve`, { outcome: 'cancelled' });
  await eventually(async () => (await h.pool.query(`SELECT status FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0].status, (s) => s === 'failed', 10_000, 'request failed');
  expect((await h.getOrder(orderId)).status).toBe(0);
});

test('a forged success through a leaked URL cannot pin its receipt: the real payment is recorded, the real receipt comes from the paybill', async () => {
  const { orderId, checkoutRequestId, requestId } = await pendingPush('254711000404', 1_350);
  await post(stkHook(requestId), forgedSuccess(checkoutRequestId, 1_350, 254711000404, 'TKN0PINNED'));
  expect(await outcomeOf(checkoutRequestId)).toBe('query_pending');
  const real = await h.control('POST', `/stk/${checkoutRequestId}/resolve`, { outcome: 'success' });
  const order = await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded');
  // Never under the forged receipt: under the CheckoutRequestID (neither callback's receipt
  // believed), or under the real receipt if the paybill's pull saw the payment first.
  expect([receiptHash(`CHECKOUT:${checkoutRequestId}`), receiptHash(real.MpesaReceiptNumber)]).toContain(order.paymentReceipt);
  expect(order.paymentReceipt).not.toBe(receiptHash('TKN0PINNED'));
  const row = await eventually(
    async () => (await h.pool.query(`SELECT mpesa_receipt, pulled_receipt FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0],
    (r) => r.mpesa_receipt === real.MpesaReceiptNumber || r.pulled_receipt === real.MpesaReceiptNumber, 10_000, 'the real receipt on the request',
  );
  expect(row.mpesa_receipt).not.toBe('TKN0PINNED');
});

test('a success that STK Query denies (the sandbox disagreeing) is surfaced, not recorded', async () => {
  await h.control('POST', '/rules', { product: 'stk', phone: '254711000403', outcome: 'success', queryDisagrees: true });
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, 1_400, '254711000403'));
  expect(await outcomeOf(res.body.checkoutRequestId)).toBe('query_denied');
  const row = (await h.pool.query(`SELECT status, failure_reason FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0];
  expect(row.status).not.toBe('paid');
  expect(row.failure_reason).toMatch(/STK Query says/);
  expect((await h.getOrder(orderId)).status).toBe(0);
  // …as a refund-needed case with receipt, phone, amount and reason (the payment may be real).
  const cases = (await h.pool.query(`SELECT kind, receipt, phone, amount_kes, reason FROM oracle.refund_cases WHERE order_id=$1`, [orderId])).rows;
  expect(cases).toEqual([{ kind: 'query_denied', receipt: expect.stringMatching(/^[A-Z0-9]{10}$/), phone: '254711000403', amount_kes: 1_400, reason: expect.stringMatching(/STK Query says/) }]);
});

test('a body over the limit is refused with 413 and not stored; bad JSON gets a 400 without a stack trace', async () => {
  const res = await post(stkHook(), { padding: 'x'.repeat(10_000) });
  expect(res.status).toBe(413);
  const bad = await fetch(`${oracle.url}${stkHook()}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"Body":' });
  expect(bad.status).toBe(400);
  const text = await bad.text();
  expect(text).not.toMatch(/at .*\.ts:\d+/);
});

test('the internal API wants the service token and validates its input', async () => {
  const orderId = h.newOrderId();
  expect((await h.requestStk(oracle.url, h.stkBody(orderId), 'wrong-token-wrong-token')).status).toBe(401);
  const badPhone = await h.requestStk(oracle.url, { ...h.stkBody(orderId), phone: '0800123456' });
  expect(badPhone).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT', field: 'phone' } } });
  const decimals = await h.requestStk(oracle.url, { ...h.stkBody(orderId), amountKes: 10.5 });
  expect(decimals).toMatchObject({ status: 400, body: { error: { field: 'amountKes' } } });
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0].n).toBe(0);
});

test('an order id the oracle cannot create (not orderIdFor(oracle, salt)) is refused before any push or ledger row', async () => {
  const orderId = h.newOrderId();
  const body = h.stkBody(orderId, 1_300, '254711000777');
  const before = (await h.pool.query(`SELECT count(*)::int AS n FROM oracle.payment_requests`)).rows[0].n;
  // A buyer-derived id (a native order's), or another salt for this id: the payment could never reach the chain.
  for (const wrong of [{ ...body, orderId: orderIdFor(DEV_ROLES.buyer.address as Hex, body.salt!) }, { ...body, salt: `0x${'11'.repeat(32)}` }]) {
    const res = await h.requestStk(oracle.url, wrong);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('ORDER_ID_MISMATCH');
  }
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.payment_requests`)).rows[0].n).toBe(before);
  expect((await h.requestStk(oracle.url, body)).status).toBe(201);
});
