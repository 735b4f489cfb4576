/**
 * One poisoned item never stops the others (issue 24, point 4). Before, the job pass ran
 * every flow in one go: one stored callback its processor could not handle threw on every
 * pass, so STK polling, payout queueing and sending, refund sweeps and reconciliation all
 * stopped behind it, and the give-up timer then exited the oracle — which met the same
 * callback after each restart. Now each callback and each job item runs on its own; the
 * error is recorded with the item, retried with backoff, counted, and the pass goes on.
 */
import { payoutSplit } from '@descrow/contracts';
import { forEachItem, runItem } from '../src/jobs/isolation';
import { eventually, OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest & { oracle: any };
let gaveUp: string | null = null;
beforeAll(async () => {
  await h.start('isolation', {}, {
    ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0',
    // Would exit the process two seconds into a failing job pass (main.ts exits on onUnrecoverable).
    ORACLE_DB_GIVE_UP_SECONDS: '2',
    ORACLE_JOB_RETRY_FIRST_SECONDS: '1', ORACLE_JOB_RETRY_MAX_SECONDS: '4',
  });
  oracle = await h.oracleInProcess();
  oracle.oracle.jobs.onUnrecoverable = (reason: string) => (gaveUp = reason);
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const metric = async (name: string, labels: string) => {
  const text = await (await fetch(`${h.internalUrl(oracle.url)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : NaN;
};

test('a stored callback that always throws: ten orders are still collected and paid out on time, and the oracle does not give up', async () => {
  // A stored STK callback its processor cannot handle: its path ref is no request id (a row
  // from an old version, or written by hand). Deciding it throws, every time.
  const poison = (
    await h.pool.query<{ id: string }>(
      `INSERT INTO oracle.callbacks (kind, raw, source_ip, correlation_id, received_at) VALUES ('stk', $1, '196.201.214.200', 'ws_CO_poison', now() - interval '1 minute') RETURNING id`,
      [JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'ws_CO_poison', ResultCode: 1032, ResultDesc: 'Request cancelled by user' } }, __ref: '-'.repeat(36) })],
    )
  ).rows[0]!.id;

  const ORDERS = 10;
  const AMOUNT = 1_000;
  const sellerPhone = '254711000944';
  await h.control('PUT', `/ledger/accounts/customer:${sellerPhone}`, { balance: 0 });
  const started = Date.now();
  const orderIds: `0x${string}`[] = [];
  for (let i = 0; i < ORDERS; i++) orderIds.push(await h.deliveredOrder(oracle.url, sellerPhone, AMOUNT, 30_000));
  const delivered = Date.now();
  for (const orderId of orderIds) await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, `order ${orderId} completed`);
  const completed = Date.now();
  process.stdout.write(`isolation: ${ORDERS} orders collected in ${delivered - started} ms, all paid out ${completed - delivered} ms after the last delivery\n`);

  // Every seller payout went out once, for the right amount.
  expect(await h.control('GET', `/b2c?phone=${sellerPhone}`)).toHaveLength(ORDERS);
  const ledger = await h.simLedger();
  expect(ledger.accounts.find((a: { id: string }) => a.id === `customer:${sellerPhone}`).balance).toBe(ORDERS * Number(payoutSplit(BigInt(AMOUNT), 250).sellerAmount));
  for (const orderId of orderIds) expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder', 'recordPayout']);

  // The poisoned callback was tried again and again, and each failure is on record with it.
  const failure = await eventually(
    async () => (await h.pool.query(`SELECT attempts, last_error, run_at > last_failed_at AS backs_off FROM oracle.job_item_failures WHERE job='callback' AND item=$1`, [poison])).rows[0],
    (r) => r?.attempts >= 2, 15_000, 'the poisoned callback retried',
  );
  expect(failure.last_error).toMatch(/uuid/);
  expect(failure.backs_off).toBe(true);
  expect((await h.pool.query(`SELECT processed_at FROM oracle.callbacks WHERE id=$1`, [poison])).rows[0].processed_at).toBeNull();
  // Operators see it: in the metrics (and so the alert), and on the internal API.
  expect(await metric('descrow_oracle_job_item_failures_total', 'job="callback"')).toBeGreaterThanOrEqual(2);
  expect(await metric('descrow_oracle_job_items_failing', 'job="callback"')).toBe(1);
  const listed = await (await fetch(`${h.internalUrl(oracle.url)}/internal/job-failures`, { headers: { authorization: `Bearer ${h.env.ORACLE_SERVICE_TOKEN ?? 'dev-service-token-change-me'}` } })).json();
  expect(listed.failures).toEqual([expect.objectContaining({ job: 'callback', item: poison, attempts: expect.any(Number), lastError: expect.stringMatching(/uuid/) })]);
  // The database was reachable all along: the give-up timer never fired.
  expect(gaveUp).toBeNull();
}, 180_000);

test('each item runs on its own: a throwing one is recorded and backed off, the rest run, a success clears it; a lost database stops the pass', async () => {
  const ctx = oracle.oracle.ctx;
  const ran: string[] = [];
  let poisoned = true;
  const work = async (item: string) => {
    ran.push(item);
    if (item === 'b' && poisoned) throw new Error('cannot handle b');
  };
  await forEachItem(ctx, 'payout_check', ['a', 'b', 'c'], (x) => x, work);
  expect(ran).toEqual(['a', 'b', 'c']);
  const row = async () => (await h.pool.query(`SELECT attempts, last_error, run_at > now() AS waiting FROM oracle.job_item_failures WHERE job='payout_check' AND item='b'`)).rows[0];
  expect(await row()).toEqual({ attempts: 1, last_error: 'cannot handle b', waiting: true });

  // While it waits out its backoff, the next pass skips it and runs the others.
  ran.length = 0;
  await forEachItem(ctx, 'payout_check', ['a', 'b', 'c'], (x) => x, work);
  expect(ran).toEqual(['a', 'c']);

  // Once the backoff is over it is tried again; a success clears its record.
  poisoned = false;
  await eventually(async () => {
    ran.length = 0;
    await forEachItem(ctx, 'payout_check', ['a', 'b', 'c'], (x) => x, work);
    return ran.includes('b');
  }, (tried) => tried, 15_000, 'b tried again after its backoff');
  expect(await row()).toBeUndefined();

  // An error saying the database is out of reach is not the item's fault: it stops the pass (the give-up timer decides).
  const lost = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
  await expect(runItem(ctx, 'payout_check', 'd', async () => { throw lost; })).rejects.toBe(lost);
  expect((await h.pool.query(`SELECT 1 FROM oracle.job_item_failures WHERE item='d'`)).rowCount).toBe(0);
}, 60_000);

