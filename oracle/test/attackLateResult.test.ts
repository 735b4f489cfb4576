/**
 * Outsider's attack on "every result is processed, whatever state its attempt is in"
 * (issue 24, point 2), past the verification window. Transaction Status is asked about a
 * given-up or waiting attempt only for ORACLE_B2C_VERIFY_SECONDS after it was created.
 * Before, a result arriving later (M-Pesa paid the attempt after all) or an admin's settle
 * ("the oracle is verifying") only marked the attempt to be checked — and the checker, which
 * skips attempts older than the window, never asked. The late money out was recorded
 * nowhere: the seller was paid by bank and by M-Pesa, and nothing said so; the settle was
 * refused forever with a promise of a check that never came.
 */
import type { Hex } from 'viem';
import { payoutSplit } from '@descrow/contracts';
import { eventually, OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
const CONFIRM_SECONDS = 3;
const VERIFY_SECONDS = 12;
const TOKEN = 'dev-service-token-change-me';
beforeAll(async () => {
  await h.start('atk-late', {}, {
    ORACLE_B2C_FAILURE_CONFIRM_SECONDS: String(CONFIRM_SECONDS), ORACLE_B2C_VERIFY_SECONDS: String(VERIFY_SECONDS),
    ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0',
  });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const AMOUNT = 1_000;
const SELLER_GETS = Number(payoutSplit(BigInt(AMOUNT), 250).sellerAmount);
const wallet = (phone: string) => h.wallet(phone);
const payouts = async (orderId: Hex) =>
  (await h.pool.query(
    `SELECT id, status, attempt, mpesa_receipt, reason, originator_conversation_id, extract(epoch FROM now() - created_at)::float AS age
       FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt`, [orderId])).rows;
const statusQueriesAbout = async (ocid: string): Promise<number> =>
  (await h.control('GET', '/status-queries')).filter((q: { request: { OriginalConversationID?: string } }) => q.request.OriginalConversationID === ocid).length;

async function act(payoutId: string, action: 'retry' | 'settle', extra: Record<string, unknown> = {}) {
  const res = await fetch(`${h.internalUrl(oracle.url)}/internal/payouts/${payoutId}/${action}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ actor: '0xadmin', reason: 'the seller called support', ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

test('M-Pesa pays a given-up attempt after the verification window, after a settlement by bank: recorded as an over-payment with both receipts', async () => {
  const phone = '254711000801';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  await h.control('PUT', `/ledger/accounts/customer:${phone}`, { balance: 0 });
  await h.control('PATCH', '/settings', { statusWhileQueued: 'no_record' });
  const orderId = await h.deliveredOrder(oracle.url, phone, AMOUNT);
  await eventually(() => payouts(orderId), (r) => r[0]?.status === 'sent', 20_000, 'attempt 1 sent');
  // A restore lost the seller's number: attempt 2 waits for a person, who pays by bank.
  await h.pool.query(`UPDATE oracle.payment_requests SET seller_phone=NULL WHERE order_id=$1`, [orderId]);
  await eventually(() => payouts(orderId), (r) => r[0].status === 'failed' && r[1]?.status === 'needs_attention', 40_000, 'attempt 1 given up');
  await h.control('PATCH', '/settings', { statusWhileQueued: 'initiated' });
  const [first, second] = await payouts(orderId);
  expect(await act(second.id, 'settle', { reference: 'BANK-801' })).toMatchObject({ status: 200, body: { outcome: 'settled' } });
  await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'the settlement recorded on chain');
  // The verification window of attempt 1 passes.
  await eventually(() => payouts(orderId), (r) => r[0].age > VERIFY_SECONDS + 1, (VERIFY_SECONDS + 10) * 1000, 'attempt 1 past the window');

  // M-Pesa had attempt 1 all along, and pays it now: its B2C result reaches the oracle.
  await h.control('POST', `/b2c/${first.originator_conversation_id}/resolve`, {});
  await eventually(() => wallet(phone), (w) => w === SELLER_GETS, 10_000, 'M-Pesa paid attempt 1');
  const rows = await eventually(() => payouts(orderId), (r) => r[0].status === 'overpaid', 30_000, 'the late success recorded');
  expect(rows[0].mpesa_receipt).toMatch(/^[A-Z0-9]{10}$/);
  expect(rows[0].reason).toEqual(expect.stringContaining('MANUAL:BANK-801'));
  const run = await (await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).json();
  expect(run.discrepancies.filter((d: { orderId: string }) => d.orderId === orderId)).toEqual([
    expect.objectContaining({ kind: 'payout_exceeds_owed', detail: expect.stringContaining(rows[0].mpesa_receipt) }),
  ]);
}, 150_000);

test('an admin settles an attempt still moving at M-Pesa, past the verification window: told "verifying", the oracle asks Transaction Status at once', async () => {
  const phone = '254711000802';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  await h.control('PATCH', '/settings', { statusWhileQueued: 'no_record' });
  const orderId = await h.deliveredOrder(oracle.url, phone, AMOUNT);
  await eventually(() => payouts(orderId), (r) => r[0]?.status === 'sent', 20_000, 'attempt 1 sent');
  await h.pool.query(`UPDATE oracle.payment_requests SET seller_phone=NULL WHERE order_id=$1`, [orderId]);
  await eventually(() => payouts(orderId), (r) => r[0].status === 'failed' && r[1]?.status === 'needs_attention', 40_000, 'attempt 1 given up');
  // M-Pesa now says "Initiated": attempt 1 was queued all along, not proven unpaid any more.
  await h.control('PATCH', '/settings', { statusWhileQueued: 'initiated' });
  await eventually(async () => (await h.pool.query(`SELECT not_completed_answers FROM oracle.payouts WHERE order_id=$1 AND attempt=1`, [orderId])).rows[0],
    (r) => r.not_completed_answers === 0, 40_000, 'attempt 1 seen still moving');
  await eventually(() => payouts(orderId), (r) => r[0].age > VERIFY_SECONDS + 1, (VERIFY_SECONDS + 10) * 1000, 'attempt 1 past the window');
  const [first, second] = await payouts(orderId);
  const asked = await statusQueriesAbout(first.originator_conversation_id);
  const settle = await act(second.id, 'settle', { reference: 'BANK-802' });
  expect(settle).toMatchObject({ status: 409, body: { error: { code: 'NOT_PROVEN', message: expect.stringContaining('verifying') } } });
  await eventually(() => statusQueriesAbout(first.originator_conversation_id), (n) => n > asked, 10_000, 'Transaction Status asked about attempt 1 again');
  // And what it learns counts: attempt 1 completes, it is the payout, recorded once.
  await h.control('POST', `/b2c/${first.originator_conversation_id}/resolve`, {});
  await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
  expect((await payouts(orderId)).map((r) => [r.attempt, r.status])).toEqual([[1, 'succeeded'], [2, 'failed']]);
}, 150_000);
