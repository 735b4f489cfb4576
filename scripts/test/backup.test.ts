/**
 * Backups (issue 19): `npm run backup` taken while native orders and M-Pesa payments are
 * in flight, more money moving after it, then the database lost. The backup is restored
 * into a fresh database (`npm run restore`), and the real SubQuery node and the real oracle
 * are started on it against the same chain and Daraja simulator. The test proves the way
 * back: the index re-indexes to the chain's head and equals the chain; the oracle's ledger
 * gets back every payment made after the backup — one still pending at the backup (its
 * callback was lost with the database) and one whose request the backup predates — exactly
 * once, with nothing sent to the chain or to M-Pesa twice; reconciliation finds nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPublicClient, createWalletClient, http, keccak256, toHex, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { chainFor, DEV_ROLES, freePortPair, migrate, Pool } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { escrowAbi, orderIdFor, receiptHash } from '@descrow/contracts';
import { startIndexerNode, type IndexerNode } from '../../indexer/scripts/node';
import { compareWithChain } from '../../indexer/scripts/verify';
import type { DevChain } from '../../indexer/scripts/chain';
import { eventually, OracleHarness, ROOT, SELLER_PHONE, type OracleUnderTest } from '../../oracle/test/harness';
import { readManifest } from '../backup/restore';

jest.setTimeout(180_000);

const INDEX_SCHEMA = 'descrow_index';
const SERVICE = { authorization: 'Bearer dev-service-token-change-me' };
const tsx = join(ROOT, 'node_modules/.bin/tsx');
const runScript = promisify(execFile);

const h = new OracleHarness();
const nodes: IndexerNode[] = [];
const oracles: OracleUnderTest[] = [];
let restored: { url: string; drop: () => Promise<void> } | undefined;
const backupRoot = mkdtempSync(join(tmpdir(), 'descrow-backup-'));

const target = () => ({ chainId: '31337', rpcUrl: h.anvil.url, contractAddress: h.deployment.address, startBlock: h.deployment.deployBlock });
const startNode = async (databaseUrl: string) => {
  const node = await startIndexerNode({ databaseUrl, schema: INDEX_SCHEMA, target: target() });
  nodes.push(node);
  return node;
};
const startOracle = async (databaseUrl: string) => {
  const port = await freePortPair();
  const o = await h.oracleInProcess({ DATABASE_URL: databaseUrl, ORACLE_PORT: String(port), ORACLE_PUBLIC_URL: `http://127.0.0.1:${port}` });
  oracles.push(o);
  return o;
};

const head = async () => Number(await createPublicClient({ chain: chainFor(h.anvil.url), transport: http(h.anvil.url) }).getBlockNumber());

// ---- native orders, from the buyer's wallet ---------------------------------------------
let nativeCount = 0;
async function nativeOrder(): Promise<Hex> {
  const chain = chainFor(h.anvil.url);
  const transport = http(h.anvil.url);
  const pub = createPublicClient({ chain, transport, cacheTime: 0, pollingInterval: 20 });
  const wallet = createWalletClient({ account: privateKeyToAccount(DEV_ROLES.buyer.privateKey), chain, transport });
  const salt = keccak256(toHex(`backup-native-${process.pid}-${nativeCount++}`));
  const id = orderIdFor(DEV_ROLES.buyer.address as Hex, salt);
  for (const [functionName, args, value] of [['createOrder', [salt, DEV_ROLES.seller.address, 10_000n, 0, 'bafy-native'], 0n], ['fundOrder', [id], 10_000n]] as const) {
    const hash = await wallet.writeContract({ address: h.deployment.address, abi: escrowAbi, functionName, args, value } as never);
    if ((await pub.waitForTransactionReceipt({ hash })).status !== 'success') throw new Error(`${functionName} reverted`);
  }
  return id;
}

// ---- M-Pesa payments, through the oracle ------------------------------------------------
/** Ask for an STK push of `amount` KES; returns the order id and Daraja's CheckoutRequestID. */
async function stk(oracle: OracleUnderTest, amount: number): Promise<{ orderId: Hex; checkout: string }> {
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, amount));
  expect(res.status).toBe(201);
  return { orderId, checkout: res.body.checkoutRequestId };
}
/** The request is paid and its record confirmed on chain (by the oracle on `pool`). */
async function recorded(pool: Pool, orderId: Hex): Promise<{ receipt: string }> {
  const row = await eventually(
    async () => (await pool.query(`SELECT p.mpesa_receipt, o.status FROM oracle.payment_requests p JOIN oracle.outbox o ON o.idempotency_key = 'payment:' || p.chain_receipt_key WHERE p.order_id=$1 AND p.status='paid'`, [orderId])).rows[0],
    (r) => r?.status === 'confirmed', 30_000, `payment of ${orderId} recorded on chain`,
  );
  return { receipt: row.mpesa_receipt };
}

afterAll(async () => {
  for (const o of oracles) await o.stop().catch(() => undefined);
  for (const n of nodes) await n.stop().catch(() => undefined);
  await restored?.drop().catch(() => undefined);
  await h.stop();
  rmSync(backupRoot, { recursive: true, force: true });
});

test('a backup taken mid-traffic, restored into a fresh database: the index and the ledger come back to the chain and the paybill, exactly once, reconciliation at zero', async () => {
  await h.start('backup');
  // The API's schema too: the backup holds all three.
  const migrated = await migrate(h.pool, 'app', join(ROOT, 'api/migrations'));
  const node1 = await startNode(h.db.url);
  const oracle1 = await startOracle(h.db.url);

  // Before the backup: native orders, and M-Pesa payments A (paid, recorded) and B (the
  // customer has not answered the prompt yet: the simulator holds it).
  for (let i = 0; i < 3; i++) await nativeOrder();
  const a = await stk(oracle1, 1_500);
  const aPaid = await recorded(h.pool, a.orderId);
  await h.control('POST', '/rules', { product: 'stk', amount: 1_702, outcome: 'pending' });
  const b = await stk(oracle1, 1_702);
  await node1.waitForHeight(await head(), 60_000);

  // The backup, with native orders being mined while pg_dump runs.
  let busy = true;
  const traffic = (async () => { while (busy) await nativeOrder(); })();
  const backupDir = join(backupRoot, 'b1');
  const backupEnv = { ...process.env, DATABASE_URL: h.db.url, RPC_URL: h.anvil.url, DEPLOYMENT_FILE: h.deploymentFile, INDEXER_DB_SCHEMA: INDEX_SCHEMA };
  const backup = await runScript(tsx, [join(ROOT, 'scripts/backup/backup.ts'), '--out', backupDir], { cwd: ROOT, env: backupEnv }).finally(() => (busy = false));
  await traffic;
  expect(backup.stdout).toContain(`backup written to ${backupDir}`);
  const manifest = readManifest(backupDir);
  expect(manifest.chain).toMatchObject({ contractAddress: h.deployment.address, chainId: 31337 });
  expect(manifest.migrations.app).toEqual(migrated.applied);
  expect(manifest.index.lastProcessedHeight).toBeGreaterThanOrEqual(h.deployment.deployBlock);
  expect(manifest.oracle.paymentRequests).toMatchObject({ paid: 1, pending: 1 });
  // The manifest describes the dump truly: the chain's head then (between the index's height
  // and the head now), and the index's orders as they stood (each once, not once per version).
  expect(manifest.chain.headAtBackup).toBeGreaterThanOrEqual(manifest.index.lastProcessedHeight!);
  expect(manifest.chain.headAtBackup).toBeLessThanOrEqual(await head());
  expect(manifest.index.orders).toBeGreaterThanOrEqual(3 + 1 + 1);
  expect(backup.stdout).toContain(`${manifest.index.orders} orders and ${manifest.index.orderEvents} order events in the index`);

  // After the backup: B is paid (its callback reaches the ledger the backup does not hold),
  // C is asked for and paid, A's seller is paid out (B2C), more native orders.
  await h.control('DELETE', '/rules');
  await h.control('POST', `/stk/${b.checkout}/resolve`, { outcome: 'success' });
  const bPaid = await recorded(h.pool, b.orderId);
  const c = await stk(oracle1, 1_803);
  const cPaid = await recorded(h.pool, c.orderId);
  await h.act('seller', 'markShipped', [a.orderId, 'bafy-tracking']);
  await h.act('buyer', 'confirmDelivery', [a.orderId]);
  await h.mine(2);
  await eventually(async () => (await h.pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE kind='record_payout' AND order_id=$1 AND status='confirmed'`, [a.orderId])).rows[0].n, (n) => n === 1, 30_000, 'A\'s payout recorded');
  for (let i = 0; i < 2; i++) await nativeOrder();
  const nonceBefore = await h.oracleNonce();
  const utilityBefore = (await h.simLedger()).accounts.filter((x: any) => x.kind === 'utility').map((x: any) => x.balance);

  // The database is lost: both services stop; a fresh database gets the backup.
  await oracle1.stop();
  await node1.stop();
  restored = await createTestDatabase('backup_restored');
  const t0 = Date.now();
  const restore = await runScript(tsx, [join(ROOT, 'scripts/backup/restore.ts'), backupDir, '--to', restored.url], { cwd: ROOT, env: { ...process.env } });
  const restoreMs = Date.now() - t0;
  expect(restore.stdout).toMatch(/restored app, oracle, descrow_index into descrow_t_backup_restored_\w+ from the backup of/);
  expect(restore.stdout).toContain(`the index stops at block ${manifest.index.lastProcessedHeight}`);
  // The summary counts what came back: each order once (the index also keeps past versions of rows).
  const restoredCounts = new Pool({ connectionString: restored.url, max: 1 });
  const current = await restoredCounts.query<{ orders: number; events: number; versions: number; requests: number }>(
    `SELECT (SELECT count(*)::int FROM "${INDEX_SCHEMA}".orders WHERE upper_inf(_block_range)) AS orders, (SELECT count(*)::int FROM "${INDEX_SCHEMA}".orders) AS versions,
            (SELECT count(*)::int FROM "${INDEX_SCHEMA}".order_events WHERE upper_inf(_block_range)) AS events, (SELECT count(*)::int FROM oracle.payment_requests) AS requests`,
  ).finally(() => restoredCounts.end());
  const { orders, events, versions, requests } = current.rows[0]!;
  expect(versions).toBeGreaterThan(orders); // the trap the summary must not fall into
  expect([orders, events]).toEqual([manifest.index.orders, manifest.index.orderEvents]);
  expect(restore.stdout).toContain(`${requests} payment requests`);
  expect(restore.stdout).toContain(`${orders} orders and ${events} order events in the index`);
  // A second restore onto it is refused (one line) unless forced.
  const again = await runScript(tsx, [join(ROOT, 'scripts/backup/restore.ts'), backupDir, '--to', restored.url], { cwd: ROOT }).catch((e: { stderr: string; code: number }) => e);
  expect(again).toMatchObject({ code: 1, stderr: expect.stringMatching(/^restore failed: database \S+ already has schema app, descrow_index, oracle: restore into an empty database, or pass --force to replace them\n$/) });

  // The services on the restored database, against the same chain and simulator.
  const pool = new Pool({ connectionString: restored.url, max: 3 });
  try {
    const t1 = Date.now();
    const node2 = await startNode(restored.url);
    const oracle2 = await startOracle(restored.url);
    await node2.waitForHeight(await head(), 60_000);
    const reindexMs = Date.now() - t1;
    // B and C come back from the paybill's record (the transaction pull of the first job pass).
    const bBack = await recorded(pool, b.orderId);
    const cBack = await recorded(pool, c.orderId);
    const recoveredMs = Date.now() - t1;
    process.stdout.write(`backup restore: pg_restore ${restoreMs} ms (${manifest.dump.bytes} B dump); index at head ${reindexMs} ms and ledger recovered ${recoveredMs} ms after the services started\n`);

    expect([bBack.receipt, cBack.receipt]).toEqual([bPaid.receipt, cPaid.receipt]);
    const ledger = await pool.query(`SELECT order_id, status, mpesa_receipt, seller_phone FROM oracle.payment_requests WHERE order_id = ANY($1) ORDER BY amount_kes`, [[a.orderId, b.orderId, c.orderId]]);
    expect(ledger.rows).toEqual([
      { order_id: a.orderId, status: 'paid', mpesa_receipt: aPaid.receipt, seller_phone: SELLER_PHONE },
      { order_id: b.orderId, status: 'paid', mpesa_receipt: bPaid.receipt, seller_phone: SELLER_PHONE },
      // C's request was made after the backup: rebuilt from the chain's record of its receipt.
      { order_id: c.orderId, status: 'paid', mpesa_receipt: cPaid.receipt, seller_phone: SELLER_PHONE },
    ]);
    const cEvents = await pool.query(`SELECT e.kind FROM oracle.payment_events e JOIN oracle.payment_requests p ON p.id = e.request_id WHERE p.order_id=$1`, [c.orderId]);
    expect(cEvents.rows.map((r) => r.kind)).toEqual(['rebuilt_from_chain']);

    // Exactly once: the oracle sent nothing to the chain, M-Pesa paid nobody again, and each
    // order holds one payment record, under the receipt the paybill shows.
    await eventually(async () => (await pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE status <> 'confirmed'`)).rows[0].n, (n) => n === 0, 20_000, 'outbox settled');
    await eventually(async () => (await pool.query(`SELECT settled_at FROM oracle.payment_requests WHERE order_id=$1`, [a.orderId])).rows[0].settled_at, (s) => s !== null, 20_000, 'A settled from the chain');
    expect(await h.oracleNonce()).toBe(nonceBefore);
    expect((await h.simLedger()).accounts.filter((x: any) => x.kind === 'utility').map((x: any) => x.balance)).toEqual(utilityBefore);
    for (const o of [a, b, c]) {
      expect((await h.events(o.orderId)).filter((e) => e === 'OffchainPaymentRecorded')).toHaveLength(1);
    }
    expect((await h.getOrder(c.orderId)).paymentReceipt).toBe(receiptHash(cPaid.receipt));

    // The index equals the chain: every order, and one payment event per M-Pesa order.
    const chainView = { deployment: h.deployment, rpc: async (method: string, params: unknown[] = []) => {
      const res = await fetch(h.anvil.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
      return ((await res.json()) as { result: unknown }).result;
    } } as unknown as DevChain;
    const ids = (await pool.query<{ id: string }>(`SELECT id FROM "${INDEX_SCHEMA}".orders WHERE upper_inf(_block_range)`)).rows.map((r) => r.id);
    expect(ids.length).toBeGreaterThanOrEqual(3 + 5 + 3);
    const cmp = await compareWithChain({ chain: chainView, pool, schema: INDEX_SCHEMA }, ids);
    expect(cmp.diffs).toEqual([]);
    expect(cmp.events).toBe(cmp.logs);
    const payments = await pool.query(`SELECT order_id, count(*)::int AS n FROM "${INDEX_SCHEMA}".order_events WHERE kind='OffchainPaymentRecorded' AND upper_inf(_block_range) GROUP BY order_id ORDER BY order_id`);
    expect(payments.rows).toEqual([a, b, c].map((o) => ({ order_id: o.orderId, n: 1 })).sort((x, y) => x.order_id.localeCompare(y.order_id)));

    // Reconciliation (what an admin runs) finds nothing, and no refund case is open.
    const run = await (await fetch(`${h.internalUrl(oracle2.url)}/internal/reconciliation`, { method: 'POST', headers: SERVICE })).json();
    expect(run.discrepancies).toEqual([]);
    expect((await pool.query(`SELECT count(*)::int AS n FROM oracle.refund_cases`)).rows[0].n).toBe(0);
    // The API's schema came back with its migrations.
    expect((await pool.query(`SELECT name FROM app.schema_migrations ORDER BY name`)).rows.map((r) => r.name)).toEqual(migrated.applied);
    expect(readFileSync(join(backupDir, 'manifest.json'), 'utf8')).not.toContain('postgres:'); // no credentials in the manifest
  } finally {
    await pool.end();
  }
});
