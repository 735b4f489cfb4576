/**
 * Pay Bill payments and the transaction pull (issue 24, point 5). Customers can pay the
 * paybill from the M-Pesa menu (C2B) typing any account reference; the simulator's Pay
 * Bill makes such payments for real (money moves, the paybill's pull lists them). Before,
 * the pull took a payment naming a request's reference and amount as that request's
 * payment from any phone — and the order's refund then went to that phone — and a customer
 * who paid by Pay Bill while the prompt hung and then entered the PIN was charged twice
 * with no refund case (`receipt_disputed` and nothing more).
 */
import type { Hex } from 'viem';
import { receiptHash } from '@descrow/contracts';
import { eventually, OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
beforeAll(async () => {
  // Prompts hang until the test resolves them (the customer has not entered the PIN yet).
  await h.start('paybill', { DARAJA_SIM_STK_RESOLVE_MS: 0 }, { ORACLE_PULL_INTERVAL_SECONDS: '1', ORACLE_RECONCILE_INTERVAL_SECONDS: '0' });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const AMOUNT = 1_200;
/** A customer at the M-Pesa menu: Lipa na M-Pesa → Pay Bill → our shortcode, an account number, the amount, the PIN. */
const payBill = (phone: string, billRefNumber: string, amount = AMOUNT) => h.control('POST', '/c2b/pay', { phone, amount, billRefNumber });
const cases = async (receipt: string) => (await h.pool.query(`SELECT kind, receipt, phone, amount_kes, order_id, status FROM oracle.refund_cases WHERE receipt=$1`, [receipt])).rows;
/** An order whose STK prompt is showing on `phone`: its CheckoutRequestID and the account reference it shows. */
async function prompted(phone: string): Promise<{ orderId: Hex; checkout: string; reference: string }> {
  const orderId = h.newOrderId();
  expect((await h.requestStk(oracle.url, h.stkBody(orderId, AMOUNT, phone))).status).toBe(201);
  const push = (await h.control('GET', `/stk?phone=${phone}&status=pending`)).at(-1);
  return { orderId, checkout: push.CheckoutRequestID, reference: push.AccountReference };
}

test("a Pay Bill payment from another phone with an open request's reference and amount pays nothing: a refund case for that payer; the order's refund goes to the phone the request prompted", async () => {
  const buyer = '254711000501';
  const stranger = '254722000502';
  const { orderId, checkout, reference } = await prompted(buyer);

  const foreign = await payBill(stranger, reference);
  expect(foreign.status).toBe('completed'); // the stranger's money did reach the paybill
  const [c] = await eventually(() => cases(foreign.TransID), (r) => r.length === 1, 15_000, 'a refund case for the stranger');
  expect(c).toMatchObject({ kind: 'unmatched_payment', phone: stranger, amount_kes: AMOUNT, status: 'open' });
  // The request is still open for its own customer, and the order is not funded.
  const req = (await h.pool.query(`SELECT status, mpesa_receipt FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0];
  expect(req).toEqual({ status: 'pending', mpesa_receipt: null });
  expect((await h.getOrder(orderId)).status).toBe(0);

  // A payment naming no request of ours at all: a case with the payer's phone and receipt.
  const stray = await payBill(stranger, 'NOSUCHREF', 777);
  const [s] = await eventually(() => cases(stray.TransID), (r) => r.length === 1, 15_000, 'a refund case for the stray payment');
  expect(s).toMatchObject({ kind: 'unmatched_payment', phone: stranger, amount_kes: 777 });

  // The customer enters the PIN: the order is funded by their payment.
  await h.control('POST', `/stk/${checkout}/resolve`, { outcome: 'success' });
  await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded by the prompted phone');
  // The arbiter refunds the buyer in full: the B2C refund goes to the prompted phone, never the stranger's.
  await h.act('buyer', 'raiseDispute', [orderId, 'never arrived']);
  await h.act('arbiter', 'resolveDispute', [orderId, 10_000]);
  await h.mine(2);
  await eventually(() => h.control('GET', `/b2c?phone=${buyer}`), (b: unknown[]) => b.length === 1, 30_000, 'the refund to the buyer');
  expect(await h.control('GET', `/b2c?phone=${stranger}`)).toEqual([]);
}, 120_000);

test('paid by Pay Bill while the prompt hangs, then the PIN: the order is funded once and the second payment is a refund case to the same phone', async () => {
  const phone = '254711000601';
  const { orderId, checkout, reference } = await prompted(phone);
  const first = await payBill(phone, reference);
  // The pull finds the Pay Bill payment and funds the order with it.
  await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded from the pull');
  expect((await h.getOrder(orderId)).paymentReceipt).toBe(receiptHash(first.TransID));

  // The prompt was still on the phone: the customer enters the PIN and is charged again.
  const stk = await h.control('POST', `/stk/${checkout}/resolve`, { outcome: 'success' });
  const [c] = await eventually(() => cases(stk.MpesaReceiptNumber), (r) => r.length === 1, 20_000, 'a refund case for the second payment');
  expect(c).toMatchObject({ kind: 'paid_twice', phone, amount_kes: AMOUNT, order_id: orderId, status: 'open' });
  // Both payments left the customer's wallet; the chain holds one, under the first receipt.
  const paid = (await h.simLedger()).entries.filter((e: { from: string }) => e.from === `customer:${phone}`);
  expect(paid.map((e: { amount: number }) => e.amount)).toEqual([AMOUNT, AMOUNT]);
  expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder']);
  expect((await h.getOrder(orderId)).paymentReceipt).toBe(receiptHash(first.TransID));
}, 90_000);

test('the PIN first, then a Pay Bill payment for the same request: the second is a refund case, not a dispute', async () => {
  const phone = '254711000701';
  const { orderId, checkout, reference } = await prompted(phone);
  const stk = await h.control('POST', `/stk/${checkout}/resolve`, { outcome: 'success' });
  await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'funded by the STK payment');
  const second = await payBill(phone, reference);
  const [c] = await eventually(() => cases(second.TransID), (r) => r.length === 1, 20_000, 'a refund case for the Pay Bill payment');
  expect(c).toMatchObject({ kind: 'paid_twice', phone, amount_kes: AMOUNT, order_id: orderId });
  const req = (await h.pool.query(`SELECT mpesa_receipt, pulled_receipt FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0];
  expect(req.mpesa_receipt).toBe(stk.MpesaReceiptNumber);
  expect(req.pulled_receipt).toBeNull(); // no dispute: the paybill shows the recorded receipt too
}, 90_000);
