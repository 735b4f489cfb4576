/**
 * `npm run bench:oracle`: the oracle as its own process against anvil, the Daraja
 * simulator and Postgres/Redis, measuring
 *  1. callbacks accepted per second — each stored in Postgres before the 200 — with
 *     autocannon (50 connections), then checks that every 200 left a row;
 *  2. callback → on-chain record latency (p50/p99): payments arriving at a steady
 *     rate; from the callback's arrival (callbacks.received_at) to the outbox entry
 *     confirmed on chain (outbox.confirmed_at).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { keccak256, toHex } from 'viem';
import { orderIdFor } from '@descrow/contracts';
import { Pool } from 'pg';
import { DEV_ROLES, ensureDatabase, freePort, startAnvil, startEmbeddedPostgres, withDatabase } from '@descrow/common';
import { deployEscrow } from '../../sandbox/chain/deploy';
import { createDarajaSimulator } from '../../sandbox/daraja/src';
import type { OracleConfig } from '../src/config';
import { callbackSecret } from '../src/context';

const ROOT = resolve(__dirname, '../..');
const ACCEPT_SECONDS = Number(process.env.BENCH_ACCEPT_SECONDS ?? 10);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 200);
const RATE = Number(process.env.BENCH_RATE ?? 10); // payments per second
const say = (l: string) => process.stderr.write(`bench:oracle: ${l}\n`);
const pct = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main() {
  let serverUrl = process.env.DATABASE_URL;
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  if (!serverUrl) {
    say('DATABASE_URL unset: starting embedded Postgres');
    embedded = await startEmbeddedPostgres(join(ROOT, '.data/bench-pg'), 54331);
    serverUrl = embedded.url;
  }
  const dbUrl = withDatabase(serverUrl, `descrow_bench_oracle_${Date.now()}`);
  await ensureDatabase(dbUrl);
  const anvil = await startAnvil();
  const deploymentFile = join(mkdtempSync(join(tmpdir(), 'bench-')), 'deployment.json');
  await deployEscrow({ rpcUrl: anvil.url, deploymentFile });
  const sim = createDarajaSimulator({ LOG_LEVEL: 'silent', DARAJA_SIM_STK_RESOLVE_MS: 50, DARAJA_SIM_LOCK_SUBSCRIBER: false } as never);
  const simUrl = await sim.listen(0);
  const port = await freePort();
  const token = 'bench-callback-token-0123456789';
  const env = {
    ...process.env, TZ: 'UTC', DATABASE_URL: dbUrl, RPC_URL: anvil.url, DEPLOYMENT_FILE: deploymentFile, MPESA_BASE_URL: simUrl,
    ORACLE_PORT: String(port), ORACLE_HOST: '127.0.0.1', ORACLE_PUBLIC_URL: `http://127.0.0.1:${port}`, ORACLE_CALLBACK_TOKEN: token,
    ORACLE_JOB_INTERVAL_MS: '50', ORACLE_STK_FIRST_QUERY_SECONDS: '5', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  const oracle = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'oracle/src/main.ts')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${url}/health`)).ok) break; } catch { /* starting */ }
    if (i > 200) throw new Error('oracle did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const pool = new Pool({ connectionString: dbUrl, max: 2 });
  try {
    // ---- 1. acceptance ------------------------------------------------------------
    say(`phase 1: ${ACCEPT_SECONDS}s of callbacks at 50 connections…`);
    const body = JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'b-1', CheckoutRequestID: 'ws_CO_bench_unknown', ResultCode: 1032, ResultDesc: 'Request cancelled by user' } } });
    const before = (await pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks`)).rows[0].n;
    // One request's callback URL (per-request secret), as Daraja would post it.
    const ref = randomUUID();
    const hook = `/hooks/stk/${callbackSecret({ ORACLE_CALLBACK_TOKEN: token } as OracleConfig, 'stk', ref)}/${ref}`;
    const result = await autocannon({ url: `${url}${hook}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 50, duration: ACCEPT_SECONDS });
    const stored = (await pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks`)).rows[0].n - before;
    const ok = result['2xx'];
    const perSecond = ok / ACCEPT_SECONDS;
    say(`accepted ${ok} callbacks (${perSecond.toFixed(0)}/s), p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}; rows stored ${stored}`);
    if (stored < ok) throw new Error(`${ok - stored} acknowledged callbacks were not stored`);

    // ---- 2. latency ---------------------------------------------------------------
    say(`phase 2: ${PAYMENTS} payments at ${RATE}/s, callback → on-chain record…`);
    const orders: string[] = [];
    const started = Date.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < PAYMENTS; i++) {
      const wait = started + (i * 1000) / RATE - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const salt = keccak256(toHex(`bench-${started}-${i}`));
      const orderId = orderIdFor(DEV_ROLES.oracle.address as `0x${string}`, salt);
      orders.push(orderId);
      sends.push(fetch(`http://127.0.0.1:${port + 1}/internal/stk`, { // the internal listener (ORACLE_PORT + 1)
        method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer dev-service-token-change-me' },
        body: JSON.stringify({ orderId, salt, buyer: DEV_ROLES.buyer.address, seller: DEV_ROLES.seller.address, amountKes: 100 + (i % 50), phone: `2547${String(10000000 + i).slice(-8)}`, sellerPhone: '254711000999' }),
      }).then(async (r) => { if (r.status !== 201) throw new Error(`stk ${r.status} ${await r.text()}`); }));
    }
    await Promise.all(sends);
    for (let i = 0; ; i++) {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM oracle.outbox WHERE status='confirmed' AND order_id = ANY($1)`, [orders]);
      if (i % 10 === 0) say(`  ${rows[0].n}/${PAYMENTS} recorded on chain`);
      if (rows[0].n === PAYMENTS) break;
      if (i > 1200) throw new Error('payments were not all recorded within 2 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
    const { rows } = await pool.query<{ ms: number }>(
      `SELECT extract(epoch FROM (o.confirmed_at - c.received_at)) * 1000 AS ms
         FROM oracle.payment_requests p
         JOIN oracle.callbacks c ON c.correlation_id = p.checkout_request_id AND c.kind='stk'
         JOIN oracle.outbox o ON o.order_id = p.order_id AND o.kind='record_payment'
        WHERE p.order_id = ANY($1)`,
      [orders],
    );
    const ms = rows.map((r) => Number(r.ms));
    const total = (Date.now() - started) / 1000;
    console.log(`\ncallbacks accepted: ${perSecond.toFixed(0)}/s (50 connections, ${ACCEPT_SECONDS}s, every one stored before its 200; p99 ${result.latency.p99} ms)`);
    console.log(`callback → on-chain record: p50 ${pct(ms, 50).toFixed(0)} ms, p99 ${pct(ms, 99).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms over ${ms.length} payments at ${RATE}/s (one transaction each, anvil automine); all recorded in ${total.toFixed(1)} s`);
  } finally {
    oracle.kill('SIGTERM');
    await pool.end();
    await sim.close();
    await anvil.stop();
    await embedded?.stop();
  }
}

main().then(() => process.exit(0)).catch((e) => {
  console.error(e);
  process.exit(1);
});
