/**
 * The oracle service: `tsx oracle/src/main.ts` (or `npm run oracle`). Applies its
 * migrations, serves callbacks and the internal API, and runs the background jobs.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Redis from 'ioredis';
import type { Hex } from 'viem';
import { createLogger, createPool, loadConfigOrExit, migrate, startTracing } from '@descrow/common';
import { EscrowChain } from './chain/escrow';
import { internalPort, oracleEnvShape, oracleSafety, type OracleConfig } from './config';
import type { OracleContext } from './context';
import { DarajaClient } from './daraja/client';
import { securityCredential } from './daraja/credential';
import { buildServers } from './http/server';
import { JobRunner } from './jobs/runner';
import { OracleMetrics } from './metrics';

export const MIGRATIONS_DIR = resolve(__dirname, '../migrations');

/** Redis from REDIS_URL, or an in-memory stand-in (one process only) when unset. */
export function createRedis(url: string | undefined): Redis {
  if (url) return new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: false });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RedisMock = require('ioredis-mock') as typeof Redis;
  return new RedisMock();
}

async function certificate(config: OracleConfig): Promise<string> {
  if (config.MPESA_CERTIFICATE_PATH) return readFileSync(config.MPESA_CERTIFICATE_PATH, 'utf8');
  // Only the simulator serves its certificate; production configures Safaricom's file.
  const res = await fetch(`${config.MPESA_BASE_URL}/__sim/certificate`);
  if (!res.ok) throw new Error(`MPESA_CERTIFICATE_PATH is unset and ${config.MPESA_BASE_URL}/__sim/certificate answered ${res.status}`);
  return res.text();
}

export async function createOracle(config: OracleConfig, root = resolve(__dirname, '../..')) {
  const log = createLogger('oracle', config.LOG_LEVEL);
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required (npm start provides the embedded Postgres)');
  // Every query has a connection timeout and a query timeout; a dead idle connection is dropped and replaced.
  const pool = createPool(
    config.DATABASE_URL, 'descrow-oracle',
    { connectionTimeoutMillis: config.ORACLE_DB_CONNECT_TIMEOUT_MS, query_timeout: config.ORACLE_DB_QUERY_TIMEOUT_MS, keepAlive: true },
    (err) => log.warn({ err: err.message }, 'idle Postgres connection lost; it will be replaced'),
  );
  // A checked-out client whose connection dies emits 'error' even when its query already
  // failed; without a listener that would crash the process. The query's caller handles it.
  pool.on('connect', (client) => client.on('error', (err) => log.warn({ err: err.message }, 'Postgres connection lost while in use; it will be replaced')));
  await migrate(pool, 'oracle', MIGRATIONS_DIR);
  const redis = createRedis(config.REDIS_URL);
  const address = EscrowChain.addressFrom(config.ESCROW_ADDRESS, resolve(root, config.DEPLOYMENT_FILE));
  const chain = new EscrowChain(config.RPC_URL, address, config.ORACLE_PRIVATE_KEY as Hex, config.CHAIN_ID);
  const daraja = new DarajaClient(
    {
      baseUrl: config.MPESA_BASE_URL, consumerKey: config.MPESA_CONSUMER_KEY, consumerSecret: config.MPESA_CONSUMER_SECRET,
      shortcode: config.MPESA_SHORTCODE, passkey: config.MPESA_PASSKEY, b2cShortcode: config.MPESA_B2C_SHORTCODE,
      initiatorName: config.MPESA_INITIATOR_NAME, securityCredential: securityCredential(config.MPESA_INITIATOR_PASSWORD, await certificate(config)),
      timeoutMs: config.MPESA_TIMEOUT_MS,
    },
    redis,
    log.child({ part: 'daraja' }),
  );
  const metrics = new OracleMetrics();
  metrics.attach(pool, chain, log.child({ part: 'metrics' }));
  daraja.observe = (endpoint, result) => metrics.daraja.inc({ endpoint, result });
  const ctx: OracleContext = { config, pool, redis, daraja, chain, log, metrics };
  // Daraja's hooks and /health on the public listener; /internal/*, /metrics and the detailed
  // /health on a listener of its own (never published): two servers, two route tables.
  const { publicApp: app, internalApp } = buildServers(ctx);
  const jobs = new JobRunner(ctx);
  return {
    ctx, app, internalApp, jobs,
    async start() {
      await app.listen({ port: config.ORACLE_PORT, host: config.ORACLE_HOST });
      await internalApp.listen({ port: internalPort(config), host: config.ORACLE_INTERNAL_HOST });
      if (config.ORACLE_RUN_JOBS) jobs.start();
      log.info({ port: config.ORACLE_PORT, internal: `${config.ORACLE_INTERNAL_HOST}:${internalPort(config)}`, metrics: `http://${config.ORACLE_INTERNAL_HOST}:${internalPort(config)}/metrics`, escrow: address, oracle: chain.account.address }, 'oracle ready');
    },
    async stop() {
      await jobs.stop();
      internalApp.server.closeAllConnections();
      await internalApp.close();
      await app.close();
      await pool.end();
      redis.disconnect();
    },
  };
}

if (require.main === module) {
  const config = loadConfigOrExit(oracleEnvShape, process.env, oracleSafety);
  // Spans always get ids and travel in traceparent headers; they are exported only with an OTLP endpoint.
  const tracing = startTracing('descrow-oracle', { endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  createOracle(config)
    .then(async (oracle) => {
      oracle.jobs.onUnrecoverable = () => {
        process.exitCode = 1;
        void oracle.stop().finally(() => process.exit(1));
        setTimeout(() => process.exit(1), 5_000).unref();
      };
      await oracle.start();
      const shutdown = async () => {
        await oracle.stop();
        await tracing.shutdown();
        process.exit(0);
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    })
    .catch((err: Error) => {
      process.stderr.write(`oracle: ${err.message}\n`);
      process.exit(1);
    });
}
