/**
 * The double payment of issue 24 with no attacker: the oracle dies right after Daraja
 * accepted payout attempt 1, so it never stores the ConversationID; the re-send is refused
 * as a duplicate; Transaction Status keeps answering "Initiated" and the payout waits for a
 * person. "No stored ConversationID" is not proof that Daraja never took it: an admin's
 * retry (or settlement) must wait until Transaction Status, asked by our
 * OriginatorConversationID, has settled attempt 1's fate — here, that it paid.
 */
import { payoutSplit } from '@descrow/contracts';
import { eventually, OracleHarness, sleep, type OracleUnderTest } from './harness';

const h = new OracleHarness();
const TOKEN = 'dev-service-token-change-me';
let oracle: OracleUnderTest | undefined;
beforeAll(async () => {
  // Two unanswered checks (instead of ten) before the payout also waits for a person, so the test is quick.
  await h.start('payout-crash-retry', { DARAJA_SIM_STK_RESOLVE_MS: 500 }, { ORACLE_B2C_STATUS_CHECKS_BEFORE_PERSON: '2', ORACLE_B2C_FAILURE_CONFIRM_SECONDS: '4', ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0' });
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const act = async (payoutId: string, action: 'retry' | 'settle', extra: Record<string, unknown> = {}) => {
  const res = await fetch(`${h.internalUrl(oracle!.url)}/internal/payouts/${payoutId}/${action}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ actor: '0xadmin', reason: 'the seller says nothing arrived', ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

test('killed after Daraja accepted attempt 1, then an admin retry and a settlement: nothing more is paid until Transaction Status settles attempt 1, which paid', async () => {
  const phone = '254711000801';
  const amount = 2_400;
  const sellerGets = Number(payoutSplit(BigInt(amount), 250).sellerAmount);
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' }); // queued at Safaricom ("Initiated")
  await h.control('PUT', `/ledger/accounts/customer:${phone}`, { balance: 0 });
  const orderId = h.newOrderId();
  const funding = await h.oracleProcess();
  try {
    expect((await h.requestStk(funding.url, { ...h.stkBody(orderId, amount), sellerPhone: phone })).status).toBe(201);
    await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 20_000, 'order funded');
  } finally {
    await funding.stop(); // before the delivery: the payout is the next oracle's
  }
  await h.act('seller', 'markShipped', [orderId, '']);
  await h.act('buyer', 'confirmDelivery', [orderId]);
  await h.mine(2);

  // The oracle dies right after Daraja's acknowledgement of attempt 1.
  const doomed = await h.oracleProcess({ ORACLE_FAILPOINTS: 'payout:after-b2c-ack' }, 'payout:after-b2c-ack');
  expect(await Promise.race([doomed.exited, sleep(20_000).then(() => 'still running')])).not.toBe('still running');
  oracle = await h.oracleInProcess();
  const payouts = async () => (await h.pool.query(`SELECT id, attempt, status, conversation_id, mpesa_receipt, originator_conversation_id FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt`, [orderId])).rows;
  const [p] = await eventually(payouts, (r) => r[0]?.status === 'needs_attention', 30_000, 'attempt 1 waits for a person');
  expect(p).toMatchObject({ attempt: 1, conversation_id: null, mpesa_receipt: null }); // the re-send was refused as a duplicate

  // The admin retries, then tries to settle it by hand: neither may pay a second time yet.
  expect(await act(p.id, 'retry')).toEqual({ status: 202, body: { outcome: 'verifying', reason: expect.stringContaining('Daraja may have accepted attempt 1') } });
  await eventually(payouts, (r) => r[0].status === 'needs_attention', 30_000, 'still no answer: waiting for a person again');
  const settle = await act(p.id, 'settle', { reference: 'BANK-801' });
  expect(settle).toMatchObject({ status: 409, body: { error: { code: 'NOT_PROVEN' } } });
  const asked = (await h.control('GET', '/status-queries')).length;
  await eventually(async () => (await h.control('GET', '/status-queries')).length, (n) => n > asked, 20_000, 'attempt 1 checked again (a queued attempt 2 would have been sent by now)');
  expect(await h.control('GET', `/b2c?phone=${phone}`)).toHaveLength(1);

  // M-Pesa completes attempt 1: it is the payout, with its receipt, recorded on chain once.
  await h.control('POST', `/b2c/${p.originator_conversation_id}/resolve`, {});
  await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'order completed');
  expect(await payouts()).toEqual([expect.objectContaining({ attempt: 1, status: 'succeeded', mpesa_receipt: expect.stringMatching(/^[A-Z0-9]{10}$/) })]);
  expect(await h.control('GET', `/b2c?phone=${phone}`)).toHaveLength(1);
  const wallet = (await h.simLedger()).accounts.find((a: { id: string }) => a.id === `customer:${phone}`)?.balance;
  expect(wallet).toBe(sellerGets);
  expect((await h.oracleCalls(orderId)).filter((c) => c === 'recordPayout')).toHaveLength(1);
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE idempotency_key LIKE 'payout:MANUAL:%' AND order_id=$1`, [orderId])).rows[0].n).toBe(0);
}, 150_000);
