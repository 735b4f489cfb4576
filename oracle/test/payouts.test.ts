/**
 * A payout leaves `sent` only on a verified outcome (issue 15, point 1). Each test is what
 * a bad day at Safaricom, or an attacker with a callback URL, would do; each failed on the
 * oracle before this change (the seller was paid twice, or a forged answer was believed).
 * The simulator plays the faults itself: a failure result for a payment that completes,
 * "no record" from Transaction Status while a payment is still queued.
 */
import type { Hex } from 'viem';
import { payoutSplit } from '@descrow/contracts';
import { eventually, OracleHarness, sleep, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
const CONFIRM_SECONDS = 4;
beforeAll(async () => {
  await h.start('payouts', {}, { ORACLE_B2C_FAILURE_CONFIRM_SECONDS: String(CONFIRM_SECONDS), ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0' });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const AMOUNT = 1_000;
const SELLER_GETS = Number(payoutSplit(BigInt(AMOUNT), 250).sellerAmount);
const wallet = (phone: string) => h.wallet(phone);
const b2cAt = (phone: string) => h.b2cAt(phone);
const payouts = async (orderId: Hex) =>
  (await h.pool.query(`SELECT id, status, attempt, mpesa_receipt, originator_conversation_id, conversation_id FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt`, [orderId])).rows;

/** An M-Pesa order paid, shipped and delivered, its seller's wallet empty before: the seller's payout is due. */
async function deliveredOrder(sellerPhone: string): Promise<Hex> {
  await h.control('PUT', `/ledger/accounts/customer:${sellerPhone}`, { balance: 0 });
  return h.deliveredOrder(oracle.url, sellerPhone, AMOUNT);
}

const postHook = (path: string, body: unknown) =>
  fetch(`${oracle.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const outcomesOf = async (kind: string) => (await h.pool.query(`SELECT outcome FROM oracle.callbacks WHERE kind=$1 AND processed_at IS NOT NULL ORDER BY id`, [kind])).rows.map((r) => r.outcome);

test('a B2C failure result for a payment that then completes: the seller is paid once, the success is recorded', async () => {
  const phone = '254711000601';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'success', delivery: { mode: 'failure_then_success', delayMs: 2_500 } });
  const orderId = await deliveredOrder(phone);
  const done = await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
  expect(done.sellerPayoutDue).toBe(false);
  // Long enough for a wrongly queued second attempt to have been sent and paid.
  await sleep(2_000);
  expect(await b2cAt(phone)).toHaveLength(1);
  expect(await wallet(phone)).toBe(SELLER_GETS);
  expect(await payouts(orderId)).toEqual([expect.objectContaining({ status: 'succeeded', attempt: 1, mpesa_receipt: expect.stringMatching(/^[A-Z0-9]{10}$/) })]);
}, 60_000);

test('Transaction Status says "no record" while the payment is still queued: no second attempt; the late success is recorded', async () => {
  const phone = '254711000602';
  await h.control('PATCH', '/settings', { statusWhileQueued: 'no_record' });
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' }); // queued at Safaricom until we say so
  try {
    const orderId = await deliveredOrder(phone);
    const [tx] = await eventually(() => b2cAt(phone), (t) => t.length === 1, 20_000, 'b2c sent');
    // The oracle asks; M-Pesa has no record yet.
    await eventually(
      async () => (await h.control('GET', '/status-queries')).filter((q: { request: { OriginalConversationID?: string }; ResultCode?: string }) => q.request.OriginalConversationID === tx!.OriginatorConversationID && q.ResultCode === 'R000002'),
      (qs) => qs.length >= 1, 20_000, 'a "no record" answer',
    );
    await h.control('POST', `/b2c/${tx!.OriginatorConversationID}/resolve`, {}); // now it completes
    await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
    await sleep(2_000);
    expect(await b2cAt(phone)).toHaveLength(1);
    expect(await wallet(phone)).toBe(SELLER_GETS);
    expect(await payouts(orderId)).toEqual([expect.objectContaining({ status: 'succeeded', attempt: 1 })]);
  } finally {
    await h.control('PATCH', '/settings', { statusWhileQueued: 'initiated' });
  }
}, 60_000);

test('a forged Transaction Status result carrying an id the oracle never issued is ignored, even with a valid URL', async () => {
  const phone = '254711000603';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  const orderId = await deliveredOrder(phone);
  const [p] = await eventually(() => payouts(orderId), (r) => r[0]?.status === 'sent', 20_000, 'payout sent');
  // The attacker knows the payout's OriginatorConversationID (derived from the public order id)
  // and, worst case, holds the leaked status URL of this very payout.
  const forged = (status: string) => ({
    Result: {
      ResultType: 0, ResultCode: 0, ResultDesc: 'The service request is processed successfully.', OriginatorConversationID: 'AG_20261202_forged', ConversationID: 'AG_20261202_forged2', TransactionID: 'TKF0FORGED',
      ResultParameters: { ResultParameter: [{ Key: 'OriginatorConversationID', Value: p.originator_conversation_id }, { Key: 'TransactionStatus', Value: status }, { Key: 'ReceiptNo', Value: 'TKF0FORGED' }, { Key: 'Amount', Value: SELLER_GETS }] },
    },
  });
  expect((await postHook(h.hook('status/result', p.id), forged('Completed'))).status).toBe(200);
  expect((await postHook(h.hook('status/result', p.id), forged('Failed'))).status).toBe(200);
  // A forged B2C result with the right OriginatorConversationID but not Daraja's ConversationID.
  const b2cForged = { Result: { ResultType: 0, ResultCode: 2001, ResultDesc: 'The initiator information is invalid.', OriginatorConversationID: p.originator_conversation_id, ConversationID: 'AG_20261202_guess', TransactionID: 'TKF0FORGE2' } };
  expect((await postHook(h.hook('b2c/result', p.id), b2cForged)).status).toBe(200);
  await eventually(() => outcomesOf('status_result'), (o) => o.filter((x) => x === 'unknown_status_query').length >= 2, 10_000, 'forged status results processed');
  await eventually(() => outcomesOf('b2c_result'), (o) => o.includes('conversation_mismatch'), 10_000, 'forged b2c result processed');
  expect((await payouts(orderId))[0]).toMatchObject({ status: 'sent', mpesa_receipt: null });
  expect((await h.getOrder(orderId)).sellerPayoutDue).toBe(true);
  // The real payment still lands, once.
  await h.control('POST', `/b2c/${p.originator_conversation_id}/resolve`, {});
  await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
  expect(await b2cAt(phone)).toHaveLength(1);
  expect(await wallet(phone)).toBe(SELLER_GETS);
}, 60_000);

test('a success for a payout already given up is recorded, never dropped; a second payment goes to a person and breaks the invariant', async () => {
  const phone = '254711000604';
  await h.control('PATCH', '/settings', { statusWhileQueued: 'no_record' });
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  try {
    const orderId = await deliveredOrder(phone);
    // "No record" twice, CONFIRM_SECONDS apart: verified, so a second attempt is queued and sent.
    const rows = await eventually(() => payouts(orderId), (r) => r.length === 2 && r[1].status === 'sent', 40_000, 'a second attempt sent');
    expect(rows[0].status).toBe('failed');
    // Safaricom then processes both (it had the first all along).
    await h.control('POST', `/b2c/${rows[0].originator_conversation_id}/resolve`, {});
    await eventually(() => payouts(orderId), (r) => r[0].status === 'overpaid', 20_000, 'late success recorded as an over-payment');
    await h.control('POST', `/b2c/${rows[1].originator_conversation_id}/resolve`, {});
    await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
    expect(await wallet(phone)).toBe(2 * SELLER_GETS); // what really happened at M-Pesa
    const final = await payouts(orderId);
    expect(final.map((r) => [r.attempt, r.status, !!r.mpesa_receipt])).toEqual([[1, 'overpaid', true], [2, 'succeeded', true]]);
    // Reconciliation sees it, once: paid out more than the contract owes, with both receipts.
    const run = await (await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation`, { method: 'POST', headers: { authorization: 'Bearer dev-service-token-change-me' } })).json();
    expect(run.discrepancies.filter((d: { orderId: string }) => d.orderId === orderId)).toEqual([
      { kind: 'payout_exceeds_owed', orderId, role: 'seller', detail: expect.stringContaining(`paid ${2 * SELLER_GETS} KES (${final[0].mpesa_receipt}, ${final[1].mpesa_receipt})`) },
    ]);
    // No third attempt, ever: a person owns it now.
    await sleep(1_500);
    expect(await b2cAt(phone)).toHaveLength(2);
  } finally {
    await h.control('PATCH', '/settings', { statusWhileQueued: 'initiated' });
  }
}, 90_000);
