/**
 * `npm run bench:api`: read throughput of the API against @subql/query on the same index,
 * in the same run, on realistic traffic. A fresh anvil + Escrow, BENCH_ORDERS orders through
 * every path of both payment modes, the real SubQuery node to head (then stopped, so both
 * services read the same still rows), then autocannon (BENCH_CONNECTIONS connections,
 * BENCH_SECONDS each) on three cases, each request drawn at random:
 *
 * - `order(id)` over random order ids;
 * - a signed-in buyer's own orders: a random buyer's JWT per request (the API checks the
 *   token, its revocation and the rate limits on every request);
 * - the public feed: the newest orders, `orders(first: 20)`.
 *
 * Each case runs against the API with its response cache off and on, and against
 * @subql/query. Prints req/s, p99 and the API / query-service ratio per case.
 */
import { cpus, loadavg } from 'node:os';
import { privateKeyToAccount } from 'viem/accounts';
import { freePort } from '@descrow/common';
import { PARTIES, driveOrders } from '../../indexer/scripts/chain';
import { startIndexerNode } from '../../indexer/scripts/node';
import { startQueryService } from '../../indexer/scripts/query';
import { ANVIL_ACCOUNTS } from '@descrow/common';
import type { Api } from '../src/app';
import { benchWorld, startBenchApi } from './benchApi';

interface Result { requests: { average: number }; latency: { p99: number; p50: number; average: number }; non2xx: number; errors: number }
interface Req { method: string; path: string; headers: Record<string, string>; body: string }
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (o: Record<string, unknown>) => Promise<Result>;

const ORDERS = Number(process.env.BENCH_ORDERS ?? 680);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const say = (l: string) => process.stdout.write(`[bench:api] ${l}\n`);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

async function signIn(api: Api, privateKey: `0x${string}`): Promise<string> {
  const account = privateKeyToAccount(privateKey);
  const call = async (query: string, variables: Record<string, unknown>) =>
    (await (await api.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json()) as { data: any };
  const c = await call(`mutation($a: String!) { requestLoginChallenge(address: $a) { message } }`, { a: account.address });
  const signature = await account.signMessage({ message: c.data.requestLoginChallenge.message });
  return (await call(`mutation($a: String!, $s: String!) { login(address: $a, signature: $s) { token } }`, { a: account.address, s: signature })).data.login.token;
}

async function main() {
  const { schema, url, chain, stops, close } = await benchWorld(SERVER, 'bench_api');
  try {
    const ids = (await driveOrders(chain, ORDERS, { label: 'bench-api' })).map((i) => i.toLowerCase());
    say(`${ids.length} orders on chain; indexing…`);
    const node = await startIndexerNode({ databaseUrl: url, schema, target: chain.target });
    stops.push(() => node.stop());
    await node.waitForHeight(await chain.head(), 300_000);
    await node.stop(); // a still index: both services read the same rows
    stops.pop();

    const query = await startQueryService({ databaseUrl: url, schema, port: await freePort() });
    stops.push(() => query.stop());

    /** One API process per cache setting. */
    const startApi = async (cacheMs: number) => {
      const served = await startBenchApi({
        databaseUrl: url, schema, rpcUrl: chain.url, escrow: chain.deployment.address, oracle: chain.deployment.roles.oracle, arbiter: chain.deployment.roles.arbiter,
        env: { API_CACHE_TTL_MS: String(cacheMs), REDIS_PREFIX: `descrow:bench:${schema}:${cacheMs}:` },
      });
      stops.push(served.stop);
      return served;
    };
    const uncached = await startApi(0);
    const cached = await startApi(1_000);

    // Signed-in buyers: the accounts driveOrders buys with, a token each (valid on both APIs: same secret).
    const buyers = PARTIES.map((a) => a.toLowerCase());
    const keys = ANVIL_ACCOUNTS.filter((a) => buyers.includes(a.address.toLowerCase())).map((a) => a.privateKey as `0x${string}`);
    const tokens = await Promise.all(keys.map((k) => signIn(uncached.api, k)));
    const tokenOf = new Map(keys.map((k, i) => [privateKeyToAccount(k).address.toLowerCase(), tokens[i]!]));

    const json = { 'content-type': 'application/json' };
    const post = (body: unknown, headers: Record<string, string> = {}): Req => ({ method: 'POST', path: '/graphql', headers: { ...json, ...headers }, body: JSON.stringify(body) });
    const API_ORDER = `query($id: ID!) { order(id: $id) { id status amount paymentMode buyer { address } seller { address } events { kind blockNumber transactionHash } } }`;
    const QS_ORDER = `query($id: String!) { order(id: $id) { id status amount paymentMode buyerId sellerId events(orderBy: [BLOCK_NUMBER_ASC, LOG_INDEX_ASC]) { nodes { kind blockNumber transactionHash } } } }`;
    const API_MINE = `{ orders(first: 20, filter: { role: BUYER }) { nodes { id status amount paymentMode createdBlock } pageInfo { hasNextPage endCursor } } }`;
    const QS_MINE = `query($b: String!) { orders(first: 20, filter: { buyerId: { equalTo: $b } }, orderBy: [CREATED_BLOCK_DESC, ID_DESC]) { nodes { id status amount paymentMode createdBlock } pageInfo { hasNextPage endCursor } } }`;
    const API_FEED = `{ orders(first: 20) { nodes { id status amount paymentMode createdBlock } pageInfo { hasNextPage endCursor } } }`;
    const QS_FEED = `{ orders(first: 20, orderBy: [CREATED_BLOCK_DESC, ID_DESC]) { nodes { id status amount paymentMode createdBlock } pageInfo { hasNextPage endCursor } } }`;

    const cases: { name: string; api: () => Req; qs: () => Req }[] = [
      { name: 'order(id), random ids', api: () => post({ query: API_ORDER, variables: { id: pick(ids) } }), qs: () => post({ query: QS_ORDER, variables: { id: pick(ids) } }) },
      {
        name: "a signed-in buyer's orders",
        api: () => post({ query: API_MINE }, { authorization: `Bearer ${pick(tokens)}` }),
        qs: () => post({ query: QS_MINE, variables: { b: pick([...tokenOf.keys()]) } }),
      },
      { name: 'public feed, orders(first: 20)', api: () => post({ query: API_FEED }), qs: () => post({ query: QS_FEED }) },
    ];

    const run = async (target: string, next: () => Req): Promise<Result> => {
      const probe = next();
      const check = (await (await fetch(target, { method: 'POST', headers: probe.headers, body: probe.body })).json()) as { errors?: unknown; data?: unknown };
      if (check.errors || !check.data) throw new Error(`${target}: ${JSON.stringify(check).slice(0, 300)}`);
      let refused = '';
      const opts = {
        url: target, connections: CONNECTIONS,
        requests: [{ setupRequest: (req: Req) => { const n = next(); return { ...req, ...n, headers: { ...req.headers, ...n.headers } }; }, onResponse: (status: number, body: string) => { if (status >= 300 && !refused) refused = `${status} ${body.slice(0, 300)}`; } }],
      };
      await autocannon({ ...opts, duration: 2 }); // warm-up
      const r = await autocannon({ ...opts, duration: SECONDS });
      if (r.non2xx || r.errors) throw new Error(`${target}: ${r.non2xx} non-2xx, ${r.errors} errors; first refusal: ${refused}`);
      return r;
    };

    const rows: string[] = [];
    for (const c of cases) {
      const qs = await run(query.url, c.qs);
      const off = await run(uncached.url, c.api);
      const on = await run(cached.url, c.api);
      const fmt = (r: Result) => `${Math.round(r.requests.average)} req/s, p99 ${r.latency.p99} ms`;
      say(`${c.name}: API cache off ${fmt(off)}; cache on ${fmt(on)}; @subql/query ${fmt(qs)}`);
      rows.push(`| ${c.name} | ${Math.round(off.requests.average).toLocaleString('en-US')} | ${off.latency.p99} ms | ${Math.round(on.requests.average).toLocaleString('en-US')} | ${on.latency.p99} ms | ${Math.round(qs.requests.average).toLocaleString('en-US')} | ${qs.latency.p99} ms | ${(off.requests.average / qs.requests.average).toFixed(1)}× |`);
    }
    say(`machine: ${cpus().length} cores, Node ${process.versions.node}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${ids.length} orders, ${CONNECTIONS} connections, ${SECONDS} s per run`);
    process.stdout.write(['', '| case | API, cache off | p99 | API, cache on | p99 | @subql/query | p99 | off / query |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |', ...rows, ''].join('\n'));
  } finally {
    await close();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench:api failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
