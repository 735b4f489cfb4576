/**
 * A payout is paid once even when a person steps in (issue 24, points 1–3). Each test is
 * what a bad day, an admin or an attacker with a payout's ConversationID did to the oracle
 * before this change, against the real oracle, the Daraja simulator and the chain: the
 * seller paid twice, a forged success recorded on chain, or the job pass stopped.
 */
import type { Hex } from 'viem';
import { payoutSplit } from '@descrow/contracts';
import { eventually, OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
const CONFIRM_SECONDS = 20;
const TOKEN = 'dev-service-token-change-me';
beforeAll(async () => {
  await h.start('payout-people', {}, { ORACLE_B2C_FAILURE_CONFIRM_SECONDS: String(CONFIRM_SECONDS), ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0' });
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
const statusQueriesAbout = async (originatorConversationId: string): Promise<number> =>
  (await h.control('GET', '/status-queries')).filter((q: { request: { OriginalConversationID?: string } }) => q.request.OriginalConversationID === originatorConversationId).length;
const payouts = async (orderId: Hex) =>
  (await h.pool.query(
    `SELECT id, status, attempt, mpesa_receipt, reason, hint, originator_conversation_id, conversation_id, not_completed_answers,
            extract(epoch FROM now() - first_not_completed_at)::float AS seconds_since_first_answer
       FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt`, [orderId])).rows;

async function deliveredOrder(sellerPhone: string): Promise<Hex> {
  await h.control('PUT', `/ledger/accounts/customer:${sellerPhone}`, { balance: 0 });
  return h.deliveredOrder(oracle.url, sellerPhone, AMOUNT);
}

/** An admin's action through the oracle's internal API (what the API's retryPayout / settlePayout call). */
async function act(payoutId: string, action: 'retry' | 'settle', extra: Record<string, unknown> = {}) {
  const res = await fetch(`${h.internalUrl(oracle.url)}/internal/payouts/${payoutId}/${action}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ actor: '0xadmin', reason: 'the seller called support', ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const postHook = (path: string, body: unknown) =>
  fetch(`${oracle.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A B2C result as Daraja posts it, for a payout whose ids the attacker learnt (both of them). */
const b2cResult = (p: { originator_conversation_id: string; conversation_id: string }, code: number, receipt?: string) => ({
  Result: {
    ResultType: 0, ResultCode: code, ResultDesc: code === 0 ? 'The service request is processed successfully.' : 'The recipient is not a registered M-Pesa customer',
    OriginatorConversationID: p.originator_conversation_id, ConversationID: p.conversation_id, TransactionID: receipt ?? 'NLJ0000000',
    ...(code === 0 && { ResultParameters: { ResultParameter: [{ Key: 'TransactionAmount', Value: SELLER_GETS }, { Key: 'TransactionReceipt', Value: receipt }, { Key: 'TransactionCompletedDateTime', Value: '02.12.2026 10:10:10' }] } }),
  },
});

async function withSettings(settings: Record<string, unknown>, fn: () => Promise<void>) {
  await h.control('PATCH', '/settings', settings);
  try {
    await fn();
  } finally {
    await h.control('PATCH', '/settings', { statusWhileQueued: 'initiated' });
  }
}

test('a forged "needs a person" result and an admin retry cannot turn two close "not completed" answers into a second payment', async () => {
  const phone = '254711000701';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' }); // queued at Safaricom
  await withSettings({ statusWhileQueued: 'no_record' }, async () => {
    const orderId = await deliveredOrder(phone);
    // The oracle asks on its own schedule: "no record" (the payment is still queued).
    let [p] = await eventually(() => payouts(orderId), (r) => r[0]?.not_completed_answers >= 1, 30_000, 'a first "not completed" answer');
    // The attacker, knowing the ConversationID, says "2040: needs a person"; the admin retries.
    await postHook(h.hook('b2c/result', p.id), b2cResult(p, 2040));
    await eventually(() => payouts(orderId), (r) => r[0].status === 'needs_attention', 10_000, 'waiting for a person');
    expect((await act(p.id, 'retry')).body.outcome).toBe('verifying');
    // The retry asks again at once: a second "not completed", seconds after the first.
    [p] = await eventually(() => payouts(orderId), (r) => r[0].not_completed_answers >= 2, 15_000, 'a second answer');
    expect(p.seconds_since_first_answer).toBeLessThan(CONFIRM_SECONDS); // so the two answers are closer than that
    await postHook(h.hook('b2c/result', p.id), b2cResult(p, 2040));
    await eventually(() => payouts(orderId), (r) => r[0].status === 'needs_attention', 10_000, 'waiting for a person again');
    // Two answers, too close together: no proof. Verified again, not retried; settling is refused too.
    const retry = await act(p.id, 'retry');
    expect(retry).toEqual({ status: 202, body: { outcome: 'verifying', reason: expect.stringContaining(`not yet twice ${CONFIRM_SECONDS}s apart`) } });
    const asked = await statusQueriesAbout(p.originator_conversation_id);
    await eventually(() => statusQueriesAbout(p.originator_conversation_id), (n) => n > asked, 15_000, 'the oracle checked again (a queued second attempt would have been sent by now)');
    expect(await b2cAt(phone)).toHaveLength(1);
    // The payment was only queued: it completes, once.
    await h.control('POST', `/b2c/${p.originator_conversation_id}/resolve`, {});
    await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
    expect(await b2cAt(phone)).toHaveLength(1);
    expect(await wallet(phone)).toBe(SELLER_GETS);
    expect(await payouts(orderId)).toEqual([expect.objectContaining({ attempt: 1, status: 'succeeded', mpesa_receipt: expect.stringMatching(/^[A-Z0-9]{10}$/) })]);
  });
}, 90_000);

test('settling by hand is refused while an earlier attempt is not proven unpaid (Transaction Status says it is still moving)', async () => {
  const phone = '254711000702';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  let orderId!: Hex;
  await withSettings({ statusWhileQueued: 'no_record' }, async () => {
    orderId = await deliveredOrder(phone);
    await eventually(() => payouts(orderId), (r) => r[0]?.status === 'sent', 20_000, 'attempt 1 sent');
    // A restore lost the seller's number: the next attempt must be paid and settled by hand.
    await h.pool.query(`UPDATE oracle.payment_requests SET seller_phone=NULL WHERE order_id=$1`, [orderId]);
    // "No record" twice, CONFIRM_SECONDS apart: attempt 1 is given up, attempt 2 waits for a person.
    await eventually(() => payouts(orderId), (r) => r[0].status === 'failed' && r[1]?.status === 'needs_attention', 40_000, 'attempt 1 given up');
  });
  // M-Pesa now answers "Initiated" for attempt 1: it was queued all along. The oracle keeps verifying failed attempts.
  await eventually(() => payouts(orderId), (r) => r[0].not_completed_answers === 0, 40_000, 'attempt 1 seen still moving');
  const [first, second] = await payouts(orderId);
  const settle = await act(second.id, 'settle', { reference: 'BANK-702' });
  expect(settle.status).toBe(409);
  expect(settle.body.error).toMatchObject({ code: 'NOT_PROVEN', message: expect.stringContaining('attempt 1') });
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE idempotency_key='payout:MANUAL:BANK-702'`)).rows[0].n).toBe(0);
  // Attempt 1 completes: it is the payout, recorded on chain once; nobody paid twice.
  await h.control('POST', `/b2c/${first.originator_conversation_id}/resolve`, {});
  await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
  expect(await wallet(phone)).toBe(SELLER_GETS);
  expect((await payouts(orderId)).map((r) => [r.attempt, r.status])).toEqual([[1, 'succeeded'], [2, 'failed']]);
  expect((await h.oracleCalls(orderId)).filter((c) => c === 'recordPayout')).toHaveLength(1);
}, 120_000);

test('a late success after a manual settlement is recorded as an over-payment with both receipts, once in reconciliation; the job pass goes on', async () => {
  const phone = '254711000703';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  let orderId!: Hex;
  await withSettings({ statusWhileQueued: 'no_record' }, async () => {
    orderId = await deliveredOrder(phone);
    await eventually(() => payouts(orderId), (r) => r[0]?.status === 'sent', 20_000, 'attempt 1 sent');
    await h.pool.query(`UPDATE oracle.payment_requests SET seller_phone=NULL WHERE order_id=$1`, [orderId]);
    await eventually(() => payouts(orderId), (r) => r[0].status === 'failed' && r[1]?.status === 'needs_attention', 40_000, 'attempt 1 given up');
    // Proven: "no record" twice, far enough apart, and attempt 2 never reached Daraja. The admin pays by bank.
    const [, second] = await payouts(orderId);
    expect(await act(second.id, 'settle', { reference: 'BANK-703' })).toMatchObject({ status: 200, body: { outcome: 'settled' } });
    await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'the settlement recorded on chain');
    // M-Pesa had attempt 1 all along, and pays it now.
    await h.control('POST', `/b2c/${(await payouts(orderId))[0].originator_conversation_id}/resolve`, {});
  });
  const rows = await eventually(() => payouts(orderId), (r) => r[0].status === 'overpaid', 30_000, 'the late success recorded');
  expect(rows[0].mpesa_receipt).toMatch(/^[A-Z0-9]{10}$/);
  expect(rows[0].reason).toEqual(expect.stringContaining('MANUAL:BANK-703'));
  expect(rows[1]).toMatchObject({ status: 'settled' });
  expect(await wallet(phone)).toBe(SELLER_GETS); // paid by M-Pesa (and by bank, outside it)
  // The job pass did not stop on it: the next seller is paid as usual.
  const next = await deliveredOrder('254711000704');
  await eventually(() => h.getOrder(next), (o) => o.status === 5, 30_000, 'the next order paid out');
  // Reconciliation shows the problem once, with both receipts.
  const run = await (await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).json();
  const mine = run.discrepancies.filter((d: { orderId: string }) => d.orderId === orderId);
  expect(mine).toEqual([{ kind: 'payout_exceeds_owed', orderId, role: 'seller', detail: expect.stringMatching(new RegExp(`paid ${2 * SELLER_GETS} KES .*${rows[0].mpesa_receipt}.*MANUAL:BANK-703|MANUAL:BANK-703.*${rows[0].mpesa_receipt}`)) }]);
}, 150_000);

test('a success result forged with the right ConversationID, then M-Pesa\'s genuine failure: never recorded on chain as paid', async () => {
  const phone = '254711000705';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  const orderId = await deliveredOrder(phone);
  const [p] = await eventually(() => payouts(orderId), (r) => r[0]?.status === 'sent', 20_000, 'payout sent');
  expect((await postHook(h.hook('b2c/result', p.id), b2cResult(p, 0, 'TKF0FORGED'))).status).toBe(200);
  // M-Pesa's real answer: the payment failed (no money moved).
  await h.control('POST', `/b2c/${p.originator_conversation_id}/resolve`, { outcome: '17' });
  await eventually(async () => (await payouts(orderId))[0], (r) => /Declined/.test(r.hint ?? ''), 30_000, 'Transaction Status said Declined');
  expect((await payouts(orderId))[0]).toMatchObject({ mpesa_receipt: null });
  expect((await payouts(orderId))[0].status).not.toBe('succeeded');
  expect(await h.oracleCalls(orderId)).not.toContain('recordPayout');
  expect(await h.getOrder(orderId)).toMatchObject({ status: 4, sellerPayoutDue: true });
  expect(await wallet(phone)).toBe(0);
}, 90_000);
