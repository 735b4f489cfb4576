/**
 * The oracle heals itself (issue 15, point 3). Its Postgres connections are killed over and
 * over (pg_terminate_backend, as a failover or a network cut would) while orders are paid,
 * recorded, delivered and paid out. Dead connections are destroyed and replaced, the two
 * locks held on their own connections are re-taken, and every order finishes — with no
 * restart. Before, the lock connections leaked a dead client per drop until the pool held
 * 10 clients and no live connection, and nothing moved again.
 */
import { Pool } from 'pg';
import { pgUrlParts, withDatabase } from '@descrow/common';
import { payoutSplit } from '@descrow/contracts';
import { eventually, OracleHarness, sleep, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest & { oracle: any };
beforeAll(async () => {
  await h.start('selfheal', {}, { ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0', ORACLE_DB_CONNECT_TIMEOUT_MS: '2000', ORACLE_DB_QUERY_TIMEOUT_MS: '5000' });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const killOracleConnections = async () =>
  (await h.pool.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'descrow-oracle'`)).rows[0].n as number;

test('connections dropped repeatedly mid-traffic: every order is paid, recorded and paid out once, without a restart', async () => {
  const ORDERS = 8;
  const AMOUNT = 800;
  const sellerPhone = '254711000901';
  await h.control('PUT', `/ledger/accounts/customer:${sellerPhone}`, { balance: 0 });
  let stop = false;
  const drops: number[] = [];
  const chaos = (async () => {
    while (!stop && drops.length < 12) {
      await sleep(300);
      drops.push(await killOracleConnections());
    }
  })();

  // The dev buyer and seller send one transaction at a time (one nonce stream each).
  let chainQueue: Promise<unknown> = Promise.resolve();
  const act = (role: 'buyer' | 'seller', fn: 'markShipped' | 'confirmDelivery', args: readonly unknown[]) => {
    const run = chainQueue.then(() => h.act(role, fn, args));
    chainQueue = run.catch(() => undefined);
    return run;
  };
  const orderIds = Array.from({ length: ORDERS }, () => h.newOrderId());
  try {
    await Promise.all(orderIds.map(async (orderId, i) => {
      await sleep(i * 400);
      // The API retries a 5xx with the same order; the oracle answers the same request again,
      // or, when the lost answer's prompt was already paid meanwhile (a slow machine), says so.
      const acceptedEarlier = (r: { status: number; body?: { error?: { code?: string } } }) => r.status === 409 && ['ALREADY_PAID', 'ORDER_EXISTS'].includes(r.body?.error?.code ?? '');
      await eventually(() => h.requestStk(oracle.url, { ...h.stkBody(orderId, AMOUNT, `25471100091${i}`), sellerPhone }).catch(() => ({ status: 599 })), (r) => r.status < 300 || acceptedEarlier(r), 30_000, 'stk accepted');
      await eventually(() => h.getOrder(orderId), (o) => o.status === 2, 60_000, 'funded');
      await act('seller', 'markShipped', [orderId, '']);
      await act('buyer', 'confirmDelivery', [orderId]);
    }));
    await h.mine(2);
    for (const orderId of orderIds) await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 60_000, `order ${orderId} completed`);
    await chaos; // all twelve drops happened while the orders ran
  } finally {
    stop = true;
    await chaos.catch(() => undefined);
  }

  expect(drops.filter((n) => n > 0).length).toBeGreaterThanOrEqual(5); // it really lost its connections, repeatedly
  expect(await h.control('GET', `/b2c?phone=${sellerPhone}`)).toHaveLength(ORDERS); // one payout each
  const ledger = await h.simLedger();
  expect(ledger.accounts.find((a: { id: string }) => a.id === `customer:${sellerPhone}`).balance).toBe(ORDERS * Number(payoutSplit(BigInt(AMOUNT), 250).sellerAmount));
  for (const orderId of orderIds) expect(await h.oracleCalls(orderId)).toEqual(['createPaidOffchainOrder', 'recordPayout']);
  // The pool holds live connections, not dead clients: the oracle still answers at once.
  const pool = oracle.oracle.ctx.pool;
  expect(pool.totalCount).toBeLessThanOrEqual(10);
  const health = await fetch(`${oracle.url}/health`);
  expect(health.status).toBe(200);
}, 180_000);

test('if the database stays unreachable past ORACLE_DB_GIVE_UP_SECONDS, the oracle gives up so its supervisor restarts it', async () => {
  await oracle.stop();
  const fragile = await h.oracleInProcess({ ORACLE_DB_GIVE_UP_SECONDS: '1', ORACLE_DB_CONNECT_TIMEOUT_MS: '500' });
  oracle = fragile as typeof oracle;
  let gaveUp: string | null = null;
  fragile.oracle.jobs.onUnrecoverable = (reason: string) => (gaveUp = reason); // main.ts exits the process here
  // The server refuses every new connection to the oracle's database, and drops the oracle's.
  const admin = new Pool({ connectionString: withDatabase(h.db.url, 'postgres'), max: 1 });
  const db = pgUrlParts(h.db.url).database;
  try {
    await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS false`);
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'descrow-oracle'`, [db]);
      await eventually(async () => gaveUp, (r) => r !== null, 15_000, 'the oracle to give up');
    } finally {
      await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS true`);
    }
  } finally {
    await admin.end();
  }
  expect(gaveUp).toBeTruthy();
}, 60_000);
