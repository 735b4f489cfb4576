/**
 * Outsider's attack on job isolation (issue 24, point 4): one poisoned item must never stop
 * the others — not even twenty of them. The payout steps list their work with a LIMIT
 * (20 per pass) and used to skip items waiting out a backoff only AFTER the query: twenty
 * payouts whose send (or whose Transaction Status check) throws every time filled every
 * batch, so no other payout was ever sent or confirmed. Here twenty queued payouts whose
 * B2C call throws and twenty sent ones whose Transaction Status call throws (a bug that
 * hits one kind of payee; injected into the oracle's Daraja client) sit ahead of a real
 * order's payout: it must still be sent, confirmed, paid and recorded on chain.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { payoutSplit } from '@descrow/contracts';
import { eventually, OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest & { oracle: any };
beforeAll(async () => {
  await h.start('atk-starvation', {}, {
    ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0',
    ORACLE_JOB_RETRY_FIRST_SECONDS: '30', ORACLE_JOB_RETRY_MAX_SECONDS: '60',
  });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const POISONED_PHONE = '254711000666';
const BATCH = 20; // sendQueuedPayouts' and checkUnansweredPayouts' LIMIT

test('twenty payouts that throw on every pass do not starve a healthy payout behind them: it is sent, confirmed and recorded on chain', async () => {
  const daraja = oracle.oracle.ctx.daraja;
  const b2c = daraja.b2c.bind(daraja);
  const status = daraja.transactionStatus.bind(daraja);
  const poisonedIds = new Set<string>();
  daraja.b2c = async (req: { phone: string }) => {
    if (req.phone === POISONED_PHONE) throw new TypeError('poisoned payee: the client cannot build this request');
    return b2c(req);
  };
  daraja.transactionStatus = async (req: { originatorConversationId: string }) => {
    if (poisonedIds.has(req.originatorConversationId)) throw new TypeError('poisoned payee: the client cannot build this query');
    return status(req);
  };

  // Forty payouts ahead of the real one: twenty queued (send throws), twenty sent (check throws).
  for (let i = 0; i < 2 * BATCH; i++) {
    const orderId = `0x${randomBytes(32).toString('hex')}`;
    const ocid = `DSC-${orderId.slice(2, 26)}-S1`;
    poisonedIds.add(ocid);
    const sent = i >= BATCH;
    await h.pool.query(
      `INSERT INTO oracle.payouts (id, order_id, beneficiary, role, phone, amount_kes, attempt, originator_conversation_id, status, b2c_calls, conversation_id, next_check_at, created_at)
       VALUES ($1,$2,$3,'seller',$4,975,1,$5,$6,$7,$8, now() - interval '1 hour', now() - interval '1 hour')`,
      [randomUUID(), orderId, `0x${randomBytes(20).toString('hex')}`, POISONED_PHONE, ocid, sent ? 'sent' : 'queued', sent ? 1 : 0, sent ? `AG_poison_${i}` : null],
    );
  }

  const sellerPhone = '254711000667';
  await h.control('PUT', `/ledger/accounts/customer:${sellerPhone}`, { balance: 0 });
  const orderId = await h.deliveredOrder(oracle.url, sellerPhone, 1_000);
  await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 45_000, 'the healthy order completed');
  const ledger = await h.simLedger();
  expect(ledger.accounts.find((a: { id: string }) => a.id === `customer:${sellerPhone}`).balance).toBe(Number(payoutSplit(1_000n, 250).sellerAmount));

  // The poisoned payouts are on record and waiting out their backoff, not forgotten.
  const failing = await h.pool.query(`SELECT job, count(*)::int AS n FROM oracle.job_item_failures WHERE item <> '*' GROUP BY job ORDER BY job`);
  expect(failing.rows).toEqual([{ job: 'payout_check', n: BATCH }, { job: 'payout_send', n: BATCH }]);
}, 120_000);
