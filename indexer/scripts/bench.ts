/**
 * `npm run bench:indexer`: index ≥ 5,000 contract events with the real node twice —
 * one event per block, and 100 events per block — check the index against the chain,
 * and print events/s. Each run: a fresh anvil + contract, a fresh schema.
 *
 * Reported rate = events / (time from the node's first processed block to the head),
 * so the node's fixed start-up (schema creation, ~3 s) is shown separately.
 *
 * BENCH_EVENTS (default 5000), BENCH_FLAGS (space-separated node flags, replacing the
 * tuned defaults) and DATABASE_URL (default: local Postgres) can be set.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { Hex } from 'viem';
import { Pool, withDatabase } from '@descrow/common';
import { DEFAULT_NODE_FLAGS, startIndexerNode } from './node';
import { PARTIES, orderId, startDevChain, type Call, type DevChain } from './chain';
import { compareWithChain } from './verify';
import { prepareIndexer } from './prepare';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const FLAGS = process.env.BENCH_FLAGS ? process.env.BENCH_FLAGS.split(/\s+/).filter(Boolean) : DEFAULT_NODE_FLAGS;
const NODE_ARGS = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : undefined;
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const say = (line: string) => process.stdout.write(`[bench] ${line}\n`);

/** Each call emits exactly one event: create, fund, ship, dispute for a quarter of the events each. */
function workload(label: string, events: number): { calls: Call[]; ids: Hex[] } {
  const n = Math.ceil(events / 4);
  const ids = Array.from({ length: n }, (_, i) => orderId(`bench-${label}-${i}`));
  const party = (i: number): [Hex, Hex] => [PARTIES[i % PARTIES.length] as Hex, PARTIES[(i + 1) % PARTIES.length] as Hex];
  const calls: Call[] = [
    ...ids.map((id, i): Call => ({ from: party(i)[0], fn: 'createOrder', args: [id, party(i)[1], BigInt(1_000 + i), 0, `bafy-${i}`] })),
    ...ids.map((id, i): Call => ({ from: party(i)[0], fn: 'fundOrder', args: [id], value: BigInt(1_000 + i) })),
    ...ids.map((id, i): Call => ({ from: party(i)[1], fn: 'markShipped', args: [id, `bafy-track-${i}`] })),
    ...ids.map((id, i): Call => ({ from: i % 2 ? party(i)[1] : party(i)[0], fn: 'raiseDispute', args: [id, `bafy-evidence-${i}`] })),
  ];
  return { calls, ids };
}

async function runMode(perBlock: number): Promise<{ perBlock: number; events: number; blocks: number; rate: number; startup: number; wall: number }> {
  const chain = await startDevChain();
  try {
    return await indexOnce(chain, perBlock);
  } finally {
    await chain.stop();
  }
}

async function indexOnce(chain: DevChain, perBlock: number): Promise<{ perBlock: number; events: number; blocks: number; rate: number; startup: number; wall: number }> {
  const label = `b${perBlock}`;
  const { calls, ids } = workload(label, EVENTS);
  const t0 = Date.now();
  if (perBlock === 1) await chain.mineEach(calls, (d) => say(`  chain: ${d}/${calls.length} blocks mined`));
  else await chain.mine(calls, perBlock);
  const head = await chain.head();
  say(`${perBlock} event(s)/block: ${calls.length} events in ${head - chain.deployment.deployBlock} blocks mined in ${Date.now() - t0} ms`);

  const dbName = `descrow_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: withDatabase(SERVER, 'postgres'), max: 1 });
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const databaseUrl = withDatabase(SERVER, dbName);
  const schema = `bench_${label}`;
  try {
    const started = Date.now();
    const node = await startIndexerNode({
      databaseUrl,
      schema,
      flags: FLAGS,
      execArgv: NODE_ARGS,
      target: { chainId: '31337', rpcUrl: chain.url, contractAddress: chain.deployment.address, startBlock: chain.deployment.deployBlock },
    });
    let first = 0;
    let lastReport = 0;
    try {
      await node.waitForHeight(head, 600_000, (h) => {
        if (h > chain.deployment.deployBlock && !first) first = Date.now();
        if (Date.now() - lastReport > 2_000) {
          lastReport = Date.now();
          say(`  indexed block ${h}/${head}`);
        }
      });
      const done = Date.now();
      const r = await compareWithChain({ chain, pool: node.pool, schema }, ids);
      const events = r.logs;
      if (r.diffs.length || r.events !== r.logs || r.orders !== ids.length) {
        throw new Error(`index differs from the chain: ${r.events} events for ${r.logs} logs, ${r.orders}/${ids.length} orders, ${r.diffs.length} orders differ, e.g. ${r.diffs.slice(0, 3).join('; ')}`);
      }
      const rate = events / ((done - first) / 1000);
      say(`  correct: ${r.orders} orders equal getOrder/payoutSplit, ${r.events} OrderEvents = ${r.logs} logs`);
      return { perBlock, events, blocks: head - chain.deployment.deployBlock, rate, startup: first - started, wall: done - started };
    } finally {
      await node.stop();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

async function main() {
  await prepareIndexer(say);
  say(`node flags: ${FLAGS.join(' ') || '(none)'}; ${cpus().length} cores, Node ${process.versions.node}`);
  const results = [];
  for (const perBlock of (process.env.BENCH_MODES ?? '1,100').split(',').map(Number)) results.push(await runMode(perBlock));
  say('');
  say('| events/block | events | blocks | events/s | node start-up | wall (incl. start-up) |');
  say('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    say(`| ${r.perBlock} | ${r.events} | ${r.blocks} | **${Math.round(r.rate)}** | ${(r.startup / 1000).toFixed(1)} s | ${(r.wall / 1000).toFixed(1)} s |`);
  }
}

main().catch((e: Error) => {
  console.error(`[bench] ${e.stack ?? e.message}`);
  process.exit(1);
});
