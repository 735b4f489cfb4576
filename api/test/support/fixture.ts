/**
 * The API's test world, built once per test file: a fresh Postgres database, a real
 * anvil with the real Escrow, orders driven through every path of both payment modes,
 * the real SubQuery node indexing it (kept running, so new activity is indexed live),
 * the real oracle in-process with the Daraja simulator, and the API itself
 * (called through `yoga.fetch`, no port).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { createPublicClient, createWalletClient, http, keccak256, toHex, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { chainFor, DEV_ROLES, freePort, freePortPair, migrate, parseEnv } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { escrowAbi, orderIdFor, receiptHash } from '@descrow/contracts';
import { driveOrders, startDevChain, type DevChain } from '../../../indexer/scripts/chain';
import { startIndexerNode, type IndexerNode } from '../../../indexer/scripts/node';
import { createDarajaSimulator, type DarajaSimulator } from '../../../sandbox/daraja/src';
import { oracleEnvShape } from '../../../oracle/src/config';
import { createOracle } from '../../../oracle/src/main';
import { apiEnvShape, type ApiConfig } from '../../src/config';
import { createApi, MIGRATIONS_DIR, ROOT, type Api } from '../../src/app';

export const BUYER = DEV_ROLES.buyer;
export const SELLER = DEV_ROLES.seller;
export const ADMIN = DEV_ROLES.owner;
export const STRANGER = { address: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720', privateKey: '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6' } as const;
export const SELLER_PHONE = '254711000222';
export const BUYER_PHONE = '0708374149';
/** An order recorded on chain by the oracle key whose ledger row disagrees on the amount. */
const MISMATCH_SALT = keccak256(toHex('api-test-mismatch'));
export const MISMATCH = { salt: MISMATCH_SALT, orderId: orderIdFor(DEV_ROLES.oracle.address as Hex, MISMATCH_SALT), receipt: 'RCPTMISMATCH', chainAmount: 1_000n, ledgerAmount: 999 };
/**
 * A payment confirmed by STK Query polling (no callback, so no receipt then): the oracle
 * records it on chain under CHECKOUT:<CheckoutRequestID>. Issue 15: the API once hashed the
 * plain receipt and listed it both as paid-not-on-chain and on-chain-without-ledger.
 */
const QUERY_PAID_SALT = keccak256(toHex('api-test-query-paid'));
export const QUERY_PAID = { salt: QUERY_PAID_SALT, orderId: orderIdFor(DEV_ROLES.oracle.address as Hex, QUERY_PAID_SALT), checkoutRequestId: 'ws_CO_0212202600000000000708374149', amount: 1_234n };
/** A ledger payment the chain never saw. */
export const UNRECORDED = { orderId: keccak256(toHex('api-test-unrecorded')), receipt: 'RCPTNOCHAIN1', amount: 777 };

export interface Fixture {
  api: Api;
  config: ApiConfig;
  chain: DevChain;
  node: IndexerNode;
  pool: Pool;
  sim: DarajaSimulator;
  dbUrl: string;
  /** The index's Postgres schema: unique per run, because the indexer names its run manifest after it. */
  schema: string;
  orderIds: Hex[];
  /** Build another API on the same world (e.g. with other limits). */
  makeApi(overrides?: Record<string, string>): Promise<Api>;
  /** Wait until the index has processed the chain head. */
  catchUp(): Promise<number>;
  sendAs(key: Hex, tx: { to: Hex; data: Hex; value?: bigint }): Promise<Hex>;
  stop(): Promise<void>;
}

export async function startFixture(label: string, orders = 68): Promise<Fixture> {
  const db = await createTestDatabase(`api_${label}`);
  const INDEX_SCHEMA = `idx_api_${label}_${randomBytes(3).toString('hex')}`;
  const pool = new Pool({ connectionString: db.url, max: 3 });
  pool.on('error', () => undefined); // the database is dropped with FORCE at the end: idle clients die with it
  const chain = await startDevChain();
  const orderIds = await driveOrders(chain, orders, { label: `api-${label}` });
  // The reconciliation fixtures: a real on-chain M-Pesa funding the ledger will misreport.
  await chain.mine([
    { from: DEV_ROLES.oracle.address, fn: 'createOffchainOrder', args: [MISMATCH.salt, BUYER.address, SELLER.address, MISMATCH.chainAmount, 'bafy-mismatch'] },
    { from: DEV_ROLES.oracle.address, fn: 'recordOffchainPayment', args: [MISMATCH.orderId, receiptHash(MISMATCH.receipt), MISMATCH.chainAmount] },
    { from: DEV_ROLES.oracle.address, fn: 'createOffchainOrder', args: [QUERY_PAID.salt, BUYER.address, SELLER.address, QUERY_PAID.amount, 'bafy-query-paid'] },
    { from: DEV_ROLES.oracle.address, fn: 'recordOffchainPayment', args: [QUERY_PAID.orderId, receiptHash(`CHECKOUT:${QUERY_PAID.checkoutRequestId}`), QUERY_PAID.amount] },
  ], 1);
  await chain.rpc('evm_setAutomine', [true]);
  const dir = mkdtempSync(join(tmpdir(), 'api-test-'));
  const deploymentFile = join(dir, 'deployment.json');
  writeFileSync(deploymentFile, JSON.stringify(chain.deployment));

  const node = await startIndexerNode({
    databaseUrl: db.url,
    schema: INDEX_SCHEMA,
    target: chain.target,
  });

  const sim = createDarajaSimulator({ LOG_LEVEL: 'silent', DARAJA_SIM_STK_RESOLVE_MS: 150, DARAJA_SIM_B2C_RESOLVE_MS: 150 } as never);
  const simUrl = await sim.listen(0);
  const oraclePort = await freePortPair(); // the oracle's internal listener is ORACLE_PORT + 1
  const serviceToken = `svc-${label}-token-0123456789`;
  const oracle = await createOracle(parseEnv(oracleEnvShape, {
    DATABASE_URL: db.url,
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    RPC_URL: chain.url,
    DEPLOYMENT_FILE: deploymentFile,
    ORACLE_PORT: String(oraclePort),
    ORACLE_HOST: '127.0.0.1',
    ORACLE_PUBLIC_URL: `http://127.0.0.1:${oraclePort}`,
    ORACLE_CALLBACK_TOKEN: `cb-${label}-${Math.random().toString(36).slice(2)}-token`,
    ORACLE_SERVICE_TOKEN: serviceToken,
    MPESA_BASE_URL: simUrl,
    ORACLE_CONFIRMATION_DEPTH: '1',
    ORACLE_JOB_INTERVAL_MS: '100',
    ORACLE_STK_FIRST_QUERY_SECONDS: '1',
    ORACLE_STK_QUERY_MAX_BACKOFF_SECONDS: '1',
    ORACLE_B2C_STATUS_DELAY_SECONDS: '1',
    LOG_LEVEL: process.env.ORACLE_TEST_LOG ?? 'silent',
  }), ROOT);
  await oracle.start();

  // The ledger rows the reconciliation must flag (the oracle's schema exists now).
  await pool.query(
    `INSERT INTO oracle.payment_requests (id, order_id, buyer, seller, amount_kes, phone, seller_phone, account_reference, status, checkout_request_id, mpesa_receipt, paid_amount, expires_at, paid_at)
     VALUES (gen_random_uuid(), $1, $2, $3, $4, '254708374149', $5, 'DSMISMATCH', 'paid', 'ws_CO_mismatch', $6, $4, now(), now()),
            (gen_random_uuid(), $7, $2, $3, $8, '254708374149', $5, 'DSNOCHAIN', 'paid', 'ws_CO_nochain', $9, $8, now(), now() - interval '10 minutes'),
            (gen_random_uuid(), $10, $2, $3, $11, '254708374149', $5, 'DSQUERYPAID', 'paid', $12, NULL, $11, now(), now())`,
    [MISMATCH.orderId, BUYER.address.toLowerCase(), SELLER.address.toLowerCase(), MISMATCH.ledgerAmount, SELLER_PHONE, MISMATCH.receipt, UNRECORDED.orderId, UNRECORDED.amount, UNRECORDED.receipt,
      QUERY_PAID.orderId, Number(QUERY_PAID.amount), QUERY_PAID.checkoutRequestId],
  );
  await pool.query(
    `INSERT INTO oracle.payouts (id, order_id, beneficiary, role, phone, amount_kes, originator_conversation_id, status, result_code, reason, attempt)
     VALUES (gen_random_uuid(), $1, $2, 'seller', $3, 500, 'api-test-failed-payout', 'needs_attention', '2040', 'Credit party customer type (Unregistered or Registered Customer) can''t be supported by the service.', 2)`,
    [UNRECORDED.orderId, SELLER.address.toLowerCase(), SELLER_PHONE],
  );

  await pool.query(
    `INSERT INTO oracle.refund_cases (kind, dedupe_key, order_id, receipt, phone, amount_kes, reason)
     VALUES ('paid_twice', 'RCPTTWICE1', $1, 'RCPTTWICE1', '254708374149', 777, 'a second payment for an order another payment already holds')`,
    [UNRECORDED.orderId],
  );

  await migrate(pool, 'app', MIGRATIONS_DIR);
  const baseEnv: Record<string, string> = {
    NODE_ENV: 'test',
    API_CACHE_METADATA: 'true', // the cache tests read extensions.responseCache
    LOG_LEVEL: process.env.API_TEST_LOG ?? 'silent',
    DATABASE_URL: db.url,
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    RPC_URL: chain.url,
    DEPLOYMENT_FILE: deploymentFile,
    ORACLE_URL: `http://127.0.0.1:${oraclePort + 1}`, // the oracle's internal listener (ORACLE_PORT + 1)
    ORACLE_SERVICE_TOKEN: serviceToken,
    INDEX_SCHEMA,
    ADMIN_ADDRESSES: ADMIN.address,
    CORS_ORIGINS: 'https://app.descrow.test',
    EVIDENCE_STORE: join(dir, 'evidence'),
    // In-process calls carry their client's address as the socket's peer (support/client.ts, `peer`).
    API_TRUST_PROXY: 'loopback',
    JWT_SECRET: `test-secret-${label}-0123456789abcdef0123456789`,
    ORDER_WATCH_INTERVAL_MS: '100',
    REDIS_PREFIX: `descrow:apitest:${label}:${randomBytes(4).toString('hex')}:`,
  };
  const apis: Api[] = [];
  const makeApi = async (overrides: Record<string, string> = {}) => {
    const api = createApi(parseEnv(apiEnvShape, { ...baseEnv, ...overrides }), { root: ROOT });
    await api.start();
    apis.push(api);
    return api;
  };
  const api = await makeApi();
  const config = api.deps.config;

  const catchUp = async () => {
    const head = await chain.head();
    await node.waitForHeight(head, 60_000);
    return head;
  };
  await catchUp();

  const chainDef = chainFor(chain.url);
  const pub = createPublicClient({ chain: chainDef, transport: http(chain.url), cacheTime: 0, pollingInterval: 50 });
  const sendAs = async (key: Hex, tx: { to: Hex; data: Hex; value?: bigint }) => {
    const wallet = createWalletClient({ account: privateKeyToAccount(key), chain: chainDef, transport: http(chain.url) });
    const hash = await wallet.sendTransaction({ to: tx.to, data: tx.data, value: tx.value ?? 0n });
    const r = await pub.waitForTransactionReceipt({ hash });
    if (r.status !== 'success') throw new Error(`transaction ${hash} reverted`);
    return hash;
  };

  return {
    api, config, chain, node, pool, sim, dbUrl: db.url, schema: INDEX_SCHEMA, orderIds, makeApi, catchUp, sendAs,
    async stop() {
      for (const a of apis) await a.stop().catch(() => undefined);
      await oracle.stop().catch(() => undefined);
      await sim.close().catch(() => undefined);
      await node.stop().catch(() => undefined);
      await chain.stop().catch(() => undefined);
      await pool.end().catch(() => undefined);
      await db.drop().catch(() => undefined);
    },
  };
}

export { escrowAbi };
