/**
 * Outsider's attack on a person's actions (issue 24, point 1): admins acting at the same
 * moment on one payout. Retry and settle each lock every attempt of the payout before
 * deciding, so of ten concurrent retries and settlements exactly one acts; the others are
 * told the payout is no longer waiting, and nothing is paid twice.
 */
import type { Hex } from 'viem';
import { eventually, OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
const TOKEN = 'dev-service-token-change-me';
beforeAll(async () => {
  await h.start('atk-admins', {}, { ORACLE_B2C_FAILURE_CONFIRM_SECONDS: '3', ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0' });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const payouts = async (orderId: Hex) =>
  (await h.pool.query(`SELECT id, status, attempt, settled_reference FROM oracle.payouts WHERE order_id=$1 ORDER BY attempt`, [orderId])).rows;
const act = async (payoutId: string, action: 'retry' | 'settle', i: number) => {
  const res = await fetch(`${h.internalUrl(oracle.url)}/internal/payouts/${payoutId}/${action}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ actor: `0xadmin${i}`, reason: 'the seller called support', ...(action === 'settle' && { reference: `BANK-RACE-${i}` }) }),
  });
  return { action, status: res.status, body: (await res.json()) as Record<string, any> };
};

test('ten admins retry and settle one payout at the same moment: exactly one acts, the rest are told it is no longer waiting', async () => {
  const phone = '254711000901';
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'pending' });
  await h.control('PATCH', '/settings', { statusWhileQueued: 'no_record' });
  const orderId = await h.deliveredOrder(oracle.url, phone, 1_000);
  await eventually(() => payouts(orderId), (r) => r[0]?.status === 'sent', 20_000, 'attempt 1 sent');
  await h.pool.query(`UPDATE oracle.payment_requests SET seller_phone=NULL WHERE order_id=$1`, [orderId]);
  // Attempt 1 proven unpaid ("no record" twice, 3 s apart), attempt 2 never sent: both retry and settle are allowed.
  await eventually(() => payouts(orderId), (r) => r[0].status === 'failed' && r[1]?.status === 'needs_attention', 40_000, 'attempt 1 given up');
  await h.control('PATCH', '/settings', { statusWhileQueued: 'initiated' });
  const [, second] = await payouts(orderId);
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => act(second.id, i % 2 ? 'settle' : 'retry', i)));
  const acted = answers.filter((a) => a.status === 200);
  expect(acted).toHaveLength(1);
  expect(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body.error?.code])).toEqual(Array(9).fill([409, 'NOT_WAITING']));
  const rows = await payouts(orderId);
  if (acted[0]!.action === 'settle') {
    expect(rows.map((r) => r.status)).toEqual(['failed', 'settled']);
    expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE idempotency_key LIKE 'payout:MANUAL:%' AND order_id=$1`, [orderId])).rows[0].n).toBe(1);
  } else {
    expect(rows.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(rows[1].status).toBe('failed');
  }
}, 120_000);
