/**
 * What the API benchmarks share (bench:api and bench:indexer's freshness modes): a scratch
 * database on the server and a dev chain to index, and the API as deployed — production mode, Node HTTP server,
 * rate limits out of the way — on a free port.
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Pool, freePort, migrate, parseEnv, withDatabase } from '@descrow/common';
import { startDevChain, type DevChain } from '../../indexer/scripts/chain';
import { apiEnvShape } from '../src/config';
import { createApi, MIGRATIONS_DIR, ROOT, type Api } from '../src/app';

/**
 * What a benchmark runs in: a scratch database `descrow_<prefix>_…`, a schema name for its
 * index `<prefix>_…`, and a fresh dev chain. `close()` stops what the run pushed on `stops`
 * (last started, first stopped), then the chain, then drops the database.
 */
export async function benchWorld(server: string, prefix: string): Promise<{ schema: string; url: string; chain: DevChain; stops: (() => Promise<unknown>)[]; close: () => Promise<void> }> {
  const schema = `${prefix}_${randomBytes(3).toString('hex')}`;
  const db = await scratchDatabase(server, `descrow_${prefix}`);
  const chain = await startDevChain();
  const stops: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await chain.stop();
    await db.drop();
  };
  return { schema, url: db.url, chain, stops, close };
}

/** A fresh database named `<prefix>_<random>`; `drop()` removes it whatever holds it open. */
export async function scratchDatabase(server: string, prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(3).toString('hex')}`;
  const admin = new Pool({ connectionString: withDatabase(server, 'postgres'), max: 1 });
  await admin.query(`CREATE DATABASE "${name}"`);
  return {
    url: withDatabase(server, name),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    },
  };
}

/** The API over HTTP on `databaseUrl` reading index `schema`, with the app schema migrated. `env` adds or overrides settings. */
export async function startBenchApi(opts: {
  databaseUrl: string; schema: string; rpcUrl: string; escrow: string; oracle: string; arbiter: string; env?: Record<string, string>;
}): Promise<{ api: Api; url: string; stop: () => Promise<void> }> {
  const pool = new Pool({ connectionString: opts.databaseUrl, max: 1 });
  await migrate(pool, 'app', MIGRATIONS_DIR);
  await pool.end();
  const api = createApi(parseEnv(apiEnvShape, {
    NODE_ENV: 'production', LOG_LEVEL: 'warn', DATABASE_URL: opts.databaseUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    RPC_URL: opts.rpcUrl, ESCROW_ADDRESS: opts.escrow, ORACLE_ADDRESS: opts.oracle, ARBITER_ADDRESS: opts.arbiter, INDEX_SCHEMA: opts.schema,
    RATE_LIMIT_PER_IP: '100000000', RATE_LIMIT_PER_USER: '100000000', ...opts.env,
  }), { root: ROOT });
  await api.start();
  const server = createServer(api.yoga);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    api,
    url: `http://127.0.0.1:${port}/graphql`,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await api.stop();
    },
  };
}
