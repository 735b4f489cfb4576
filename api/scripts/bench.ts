/**
 * `npm run bench:api`: read throughput of the API against @subql/query on the same index,
 * in the same run. A fresh anvil + Escrow, BENCH_ORDERS orders through every path of both
 * payment modes, the real SubQuery node to head, then autocannon (50 connections,
 * BENCH_SECONDS each) on `order(id)` and `orders(first: 20)` through both services.
 * Prints req/s and p99 latency per query and the API/query ratio.
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Pool, freePort, migrate, parseEnv, withDatabase } from '@descrow/common';
import { driveOrders, startDevChain } from '../../indexer/scripts/chain';
import { startIndexerNode } from '../../indexer/scripts/node';
import { startQueryService } from '../../indexer/scripts/query';
import { apiEnvShape } from '../src/config';
import { createApi, MIGRATIONS_DIR, ROOT } from '../src/app';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (o: Record<string, unknown>) => Promise<{ requests: { average: number }; latency: { p99: number; average: number }; non2xx: number; errors: number }>;

const ORDERS = Number(process.env.BENCH_ORDERS ?? 680);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const say = (l: string) => process.stdout.write(`[bench:api] ${l}\n`);

async function main() {
  const dbName = `descrow_bench_api_${randomBytes(3).toString('hex')}`;
  const schema = `bench_api_${randomBytes(3).toString('hex')}`;
  const admin = new Pool({ connectionString: withDatabase(SERVER, 'postgres'), max: 1 });
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const url = withDatabase(SERVER, dbName);
  const chain = await startDevChain();
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const ids = await driveOrders(chain, ORDERS, { label: 'bench-api' });
    say(`${ids.length} orders on chain; indexing…`);
    const node = await startIndexerNode({ databaseUrl: url, schema, target: chain.target });
    stops.push(() => node.stop());
    await node.waitForHeight(await chain.head(), 300_000);
    await node.stop(); // a still index: both services read the same rows
    stops.pop();

    const query = await startQueryService({ databaseUrl: url, schema, port: await freePort() });
    stops.push(() => query.stop());
    const pool = new Pool({ connectionString: url, max: 1 });
    await migrate(pool, 'app', MIGRATIONS_DIR);
    await pool.end();
    const api = createApi(parseEnv(apiEnvShape, {
      NODE_ENV: 'production', LOG_LEVEL: 'warn', DATABASE_URL: url, REDIS_URL: process.env.REDIS_URL ?? '', RPC_URL: chain.url,
      ESCROW_ADDRESS: chain.deployment.address, INDEX_SCHEMA: schema, RATE_LIMIT_PER_IP: '100000000', RATE_LIMIT_PER_USER: '100000000',
      REDIS_PREFIX: `descrow:bench:${schema}:`,
    }), { root: ROOT });
    const server = createServer(api.yoga);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    stops.push(async () => {
      server.close();
      await api.stop();
    });
    const apiUrl = `http://127.0.0.1:${port}/graphql`;

    const id = ids[Math.floor(ids.length / 2)]!.toLowerCase();
    const cases = [
      { name: 'order(id)', url: apiUrl, query: `query($id: ID!) { order(id: $id) { id status amount paymentMode buyer { address } seller { address } events { kind blockNumber transactionHash } } }` },
      { name: 'order(id)', url: query.url, query: `query($id: String!) { order(id: $id) { id status amount paymentMode buyerId sellerId events(orderBy: [BLOCK_NUMBER_ASC, LOG_INDEX_ASC]) { nodes { kind blockNumber transactionHash } } } }` },
      { name: 'orders(first: 20)', url: apiUrl, query: `{ orders(first: 20) { nodes { id status amount paymentMode createdBlock } pageInfo { hasNextPage endCursor } } }` },
      { name: 'orders(first: 20)', url: query.url, query: `{ orders(first: 20, orderBy: [CREATED_BLOCK_DESC, ID_DESC]) { nodes { id status amount paymentMode createdBlock } pageInfo { hasNextPage endCursor } } }` },
    ];
    const results: { name: string; service: string; rps: number; p99: number }[] = [];
    for (const c of cases) {
      const body = JSON.stringify({ query: c.query, variables: { id } });
      const check = await fetch(c.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const json = (await check.json()) as { errors?: unknown; data?: unknown };
      if (json.errors || !json.data) throw new Error(`${c.name} on ${c.url}: ${JSON.stringify(json).slice(0, 300)}`);
      await autocannon({ url: c.url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 50, duration: 2 }); // warm-up
      const r = await autocannon({ url: c.url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 50, duration: SECONDS });
      if (r.non2xx || r.errors) throw new Error(`${c.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      const service = c.url === apiUrl ? 'api (Yoga)' : '@subql/query';
      results.push({ name: c.name, service, rps: Math.round(r.requests.average), p99: r.latency.p99 });
      say(`${c.name.padEnd(18)} ${service.padEnd(13)} ${Math.round(r.requests.average)} req/s, p99 ${r.latency.p99} ms, mean ${r.latency.average} ms`);
    }
    say(`machine: ${cpus().length} cores, Node ${process.versions.node}; ${ORDERS} orders, 50 connections, ${SECONDS} s per run`);
    for (const name of ['order(id)', 'orders(first: 20)']) {
      const [a, q] = results.filter((r) => r.name === name);
      say(`${name}: API ${a!.rps} req/s (p99 ${a!.p99} ms) vs query service ${q!.rps} req/s (p99 ${q!.p99} ms) → ${(a!.rps / q!.rps).toFixed(2)}×`);
    }
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await chain.stop();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench:api failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
