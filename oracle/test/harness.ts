/**
 * Oracle test harness: a real anvil chain with the real contract, a fresh Postgres
 * database, Redis, and the Daraja simulator over real HTTP. The oracle runs either
 * in-process or as its own OS process (for the kill -9 tests). Nothing is mocked:
 * Safaricom is the only outside system, and the simulator stands in for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createPublicClient, createTestClient, createWalletClient, decodeFunctionData, http, keccak256, toHex, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { Pool } from 'pg';
import { chainFor, DEV_ROLES, freePortPair, parseEnv, startAnvil, type AnvilHandle } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { escrowAbi, orderIdFor, type Deployment } from '@descrow/contracts';
import { deployEscrow } from '../../sandbox/chain/deploy';
import { createDarajaSimulator, type DarajaSimulator } from '../../sandbox/daraja/src';
import { oracleEnvShape, type OracleConfig } from '../src/config';
import { callbackSecret, type CallbackPath } from '../src/context';
import { createOracle } from '../src/main';

export const ROOT = resolve(__dirname, '../..');
export const BUYER_PHONE = '254708374149';
export const SELLER_PHONE = '254711000222';

/** A successful STK callback as Daraja posts it (docs/daraja.md §6), for the given push. */
export const stkSuccessCallback = (checkoutRequestId: string, amount: number, phone: number, receipt: string, merchantRequestId = '1-2-3') => ({
  Body: { stkCallback: { MerchantRequestID: merchantRequestId, CheckoutRequestID: checkoutRequestId, ResultCode: 0, ResultDesc: 'The service request is processed successfully.',
    CallbackMetadata: { Item: [{ Name: 'Amount', Value: amount }, { Name: 'MpesaReceiptNumber', Value: receipt }, { Name: 'Balance' }, { Name: 'TransactionDate', Value: 20261123101010 }, { Name: 'PhoneNumber', Value: phone }] } } },
});

export interface OracleUnderTest { url: string; stop: () => Promise<void>; kill?: () => void; exited?: Promise<number | null>; stdout?: () => string }

export class OracleHarness {
  anvil!: AnvilHandle;
  deployment!: Deployment;
  deploymentFile!: string;
  sim!: DarajaSimulator;
  simUrl!: string;
  db!: { url: string; drop: () => Promise<void> };
  pool!: Pool;
  oraclePort!: number;
  env!: Record<string, string>;
  private orderCounter = 0;

  async start(label: string, simOverrides: Record<string, unknown> = {}, extraEnv: Record<string, string> = {}): Promise<this> {
    this.anvil = await startAnvil();
    this.deploymentFile = join(mkdtempSync(join(tmpdir(), 'oracle-')), 'deployment.json');
    this.deployment = (await deployEscrow({ rpcUrl: this.anvil.url, deploymentFile: this.deploymentFile })).deployment;
    this.sim = createDarajaSimulator({ LOG_LEVEL: 'silent', DARAJA_SIM_STK_RESOLVE_MS: 150, DARAJA_SIM_B2C_RESOLVE_MS: 150, ...simOverrides } as never);
    this.simUrl = await this.sim.listen(0);
    this.db = await createTestDatabase(label);
    this.pool = new Pool({ connectionString: this.db.url, max: 3 });
    this.pool.on('error', () => undefined); // the database is dropped with FORCE at the end
    // The internal listener takes ORACLE_PORT + 1: both must be free.
    this.oraclePort = await freePortPair();
    this.env = {
      DATABASE_URL: this.db.url,
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      RPC_URL: this.anvil.url,
      DEPLOYMENT_FILE: this.deploymentFile,
      ORACLE_PORT: String(this.oraclePort),
      ORACLE_HOST: '127.0.0.1',
      ORACLE_PUBLIC_URL: `http://127.0.0.1:${this.oraclePort}`,
      ORACLE_CALLBACK_TOKEN: `cb-${label}-${Math.random().toString(36).slice(2)}-token`,
      MPESA_BASE_URL: this.simUrl,
      ORACLE_CONFIRMATION_DEPTH: '1',
      ORACLE_JOB_INTERVAL_MS: '100',
      ORACLE_STK_FIRST_QUERY_SECONDS: '1',
      ORACLE_STK_QUERY_MAX_BACKOFF_SECONDS: '1',
      ORACLE_B2C_STATUS_DELAY_SECONDS: '1',
      LOG_LEVEL: process.env.ORACLE_TEST_LOG ?? 'silent',
      ...extraEnv,
    };
    return this;
  }

  /** The oracle in this process (fast; used by most tests). */
  async oracleInProcess(extraEnv: Record<string, string> = {}): Promise<OracleUnderTest & { oracle: Awaited<ReturnType<typeof createOracle>> }> {
    const config = parseEnv(oracleEnvShape, { ...this.env, ...extraEnv });
    const oracle = await createOracle(config, ROOT);
    await oracle.start();
    return { url: `http://127.0.0.1:${config.ORACLE_PORT}`, oracle, stop: () => oracle.stop() };
  }

  /**
   * The oracle as its own OS process, so a test can SIGKILL it mid-flight. `diesAt`: the
   * failpoint it is set to kill itself at — work it finds at start-up (a payout due) can
   * reach it before its health endpoint has answered, which is then no error.
   */
  async oracleProcess(extraEnv: Record<string, string> = {}, diesAt?: string, captureStdout = false): Promise<OracleUnderTest & { child: ChildProcess }> {
    const port = extraEnv.ORACLE_PORT ?? this.env.ORACLE_PORT!;
    // node itself with tsx's hooks (what the tsx binary runs in a child of its own), so that
    // kill() reaches the oracle and not just a wrapper that leaves it running.
    const tsx = (f: string) => join(ROOT, 'node_modules/tsx/dist', f);
    const child = spawn(process.execPath, ['--require', tsx('preflight.cjs'), '--import', pathToFileURL(tsx('loader.mjs')).href, join(ROOT, 'oracle/src/main.ts')], {
      cwd: ROOT, env: { ...process.env, ...this.env, ...extraEnv, TZ: 'UTC' }, stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    const url = `http://127.0.0.1:${port}`;
    const until = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await Promise.race([closed, sleep(1_000)]); // its last stderr may still be in the pipe
        if (diesAt && stderr.includes(`failpoint ${diesAt}`)) break;
        throw new Error(`oracle exited ${child.exitCode ?? child.signalCode}: ${stderr}`);
      }
      try {
        if ((await fetch(`${url}/health`)).status < 500) break;
      } catch { /* not up yet */ }
      if (Date.now() > until) {
        child.kill('SIGKILL'); // never leave a half-started oracle holding the port
        throw new Error(`oracle did not start: ${stderr}`);
      }
      await sleep(100);
    }
    return {
      url, child, exited, stdout: () => stdout,
      kill: () => child.kill('SIGKILL'),
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        await exited;
      },
    };
  }

  /** The path Daraja is given for one callback of one request (payment request or payout id). */
  hook(kind: CallbackPath, ref: string): string {
    return `/hooks/${kind}/${callbackSecret({ ORACLE_CALLBACK_TOKEN: this.env.ORACLE_CALLBACK_TOKEN } as OracleConfig, kind, ref)}/${ref}`;
  }

  /** Our payment request id for an order (the latest one). */
  async requestIdOf(orderId: Hex): Promise<string> {
    return (await this.pool.query(`SELECT id FROM oracle.payment_requests WHERE order_id=$1 ORDER BY created_at DESC LIMIT 1`, [orderId])).rows[0].id;
  }

  /** A new M-Pesa order id: the oracle's orderIdFor(salt); stkBody sends the salt with it. */
  newOrderId(): Hex {
    const salt = keccak256(toHex(`oracle-order-${process.pid}-${Date.now()}-${this.orderCounter++}`));
    const id = orderIdFor(DEV_ROLES.oracle.address as Hex, salt);
    this.salts.set(id, salt);
    return id;
  }
  private salts = new Map<Hex, Hex>();

  /** The internal listener of the oracle at `publicUrl` (ORACLE_INTERNAL_PORT is unset here: ORACLE_PORT + 1). */
  internalUrl(publicUrl: string): string {
    const u = new URL(publicUrl);
    u.port = String(Number(u.port) + 1);
    return u.origin;
  }

  /** An M-Pesa order paid through the oracle at `oracleUrl`, shipped and delivered: its seller's payout is due. */
  async deliveredOrder(oracleUrl: string, sellerPhone: string, amountKes = 1_000, fundedWithinMs = 15_000): Promise<Hex> {
    const orderId = this.newOrderId();
    expect((await this.requestStk(oracleUrl, { ...this.stkBody(orderId, amountKes), sellerPhone })).status).toBe(201);
    await eventually(() => this.getOrder(orderId), (o) => o.status === 2, fundedWithinMs, 'order funded');
    await this.act('seller', 'markShipped', [orderId, '']);
    await this.act('buyer', 'confirmDelivery', [orderId]);
    await this.mine(2);
    return orderId;
  }

  async requestStk(oracleUrl: string, body: Record<string, unknown>, token = this.env.ORACLE_SERVICE_TOKEN ?? 'dev-service-token-change-me') {
    const res = await fetch(`${this.internalUrl(oracleUrl)}/internal/stk`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  stkBody(orderId: Hex, amountKes = 1_500, phone = BUYER_PHONE) {
    return { orderId, salt: this.salts.get(orderId), buyer: DEV_ROLES.buyer.address, seller: DEV_ROLES.seller.address, amountKes, phone, sellerPhone: SELLER_PHONE, metadataCid: 'bafy-test' };
  }

  // ---- chain ---------------------------------------------------------------------------
  private clients() {
    const chain = chainFor(this.anvil.url);
    const transport = http(this.anvil.url);
    return { chain, transport, pub: createPublicClient({ chain, transport, cacheTime: 0, pollingInterval: 20 }) };
  }

  async getOrder(orderId: Hex) {
    const { pub } = this.clients();
    return pub.readContract({ address: this.deployment.address, abi: escrowAbi, functionName: 'getOrder', args: [orderId] });
  }

  async act(role: 'buyer' | 'seller' | 'arbiter', functionName: 'markShipped' | 'confirmDelivery' | 'raiseDispute' | 'resolveDispute', args: readonly unknown[]) {
    const { chain, transport, pub } = this.clients();
    const w = createWalletClient({ account: privateKeyToAccount(DEV_ROLES[role].privateKey), chain, transport });
    const hash = await w.writeContract({ address: this.deployment.address, abi: escrowAbi, functionName, args } as never);
    const r = await pub.waitForTransactionReceipt({ hash });
    if (r.status !== 'success') throw new Error(`${functionName} reverted`);
  }

  async mine(blocks = 2) {
    const { chain, transport } = this.clients();
    await createTestClient({ chain, mode: 'anvil', transport }).mine({ blocks });
  }

  /** Every escrow event for an order, by name. */
  async events(orderId: Hex): Promise<string[]> {
    const { pub } = this.clients();
    const logs = await pub.getContractEvents({ address: this.deployment.address, abi: escrowAbi, fromBlock: 0n, args: { orderId } as never });
    return logs.map((l) => l.eventName);
  }

  /** The simulator's control API (/__sim/...), as a test would drive a real sandbox by hand. */
  async control(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${this.simUrl}/__sim${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`sim ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /** Transactions the oracle's key has sent for one order, by function name. */
  async oracleCalls(orderId: Hex): Promise<string[]> {
    const { pub } = this.clients();
    const logs = await pub.getContractEvents({ address: this.deployment.address, abi: escrowAbi, fromBlock: 0n, args: { orderId } as never });
    const hashes = [...new Set(logs.map((l) => l.transactionHash))];
    const calls: string[] = [];
    for (const hash of hashes) {
      const tx = await pub.getTransaction({ hash });
      if (tx.from.toLowerCase() !== DEV_ROLES.oracle.address.toLowerCase()) continue;
      calls.push(decodeFunctionData({ abi: escrowAbi, data: tx.input }).functionName);
    }
    return calls;
  }

  /** Every transaction the oracle key ever sent (reverted ones included). */
  async oracleNonce(): Promise<number> {
    return this.clients().pub.getTransactionCount({ address: DEV_ROLES.oracle.address });
  }

  async simLedger(): Promise<any> {
    return (await fetch(`${this.simUrl}/__sim/ledger`)).json();
  }

  /** What this phone's M-Pesa wallet holds at the simulator (KES). */
  async wallet(phone: string): Promise<number> {
    return ((await this.simLedger()).accounts.find((a: { id: string }) => a.id === `customer:${phone}`)?.balance ?? 0) as number;
  }

  /** The B2C payments the simulator accepted for this phone. */
  async b2cAt(phone: string): Promise<{ OriginatorConversationID: string; ConversationID: string; status: string; ResultCode?: number }[]> {
    return this.control('GET', `/b2c?phone=${phone}`);
  }

  async stop() {
    await this.pool?.end();
    await this.sim?.close();
    await this.anvil?.stop();
    await this.db?.drop().catch(() => undefined);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await fn();
    if (ok(last)) return last;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
    await sleep(100);
  }
}
