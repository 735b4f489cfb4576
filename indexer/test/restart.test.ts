/**
 * The node killed (SIGKILL) in the middle of a backlog and started again on the same
 * database: the handlers keep order state in memory, so the restarted node must rebuild
 * it from the store (and must not take the index for empty). Later events on orders the
 * first node created still apply, and the index equals the chain.
 */
import type { Hex } from 'viem';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { startIndexerNode, type IndexerNode } from '../scripts/node';
import { PARTIES, orderId, saltFor, startDevChain, type Call, type DevChain } from '../scripts/chain';
import { at, compareWithChain } from './support';

jest.setTimeout(180_000);

const [buyer, seller] = PARTIES as [Hex, Hex];
const ids = Array.from({ length: 120 }, (_, i) => orderId(`restart-${i}`));

let chain: DevChain;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const schema = 'idx_restart';
const nodes: IndexerNode[] = [];

const start = async () => {
  const node = await startIndexerNode({
    databaseUrl: db.url,
    schema,
    // Small store-cache batches, so some of the backlog is in Postgres when the node dies.
    flags: ['--batch-size=20', '--store-cache-threshold=50'],
    target: chain.target,
  });
  nodes.push(node);
  return node;
};

beforeAll(async () => {
  db = await createTestDatabase('idx_restart');
  chain = await startDevChain();
});
afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await chain?.stop().catch(() => undefined);
  await db?.drop().catch(() => undefined);
});

test('a node killed mid-backlog and restarted indexes on from the store, and the index equals the chain', async () => {
  // A backlog of one event per block, with empty blocks between some of them.
  const backlog: Call[] = [
    ...ids.map((id): Call => ({ from: buyer, fn: 'createOrder', args: [saltFor(id), seller, 10_000n, 0, 'bafy-meta'] })),
    ...ids.map((id): Call => ({ from: buyer, fn: 'fundOrder', args: [id], value: 10_000n })),
  ];
  for (let i = 0; i < backlog.length; i += 40) {
    await chain.mineEach(backlog.slice(i, i + 40));
    await chain.rpc('evm_mine');
  }
  const firstHead = await chain.head();

  const first = await start();
  // Kill it as soon as it is part-way through (or, on a fast machine, at the head).
  const mid = chain.deployment.deployBlock + Math.floor((firstHead - chain.deployment.deployBlock) / 3);
  const deadline = Date.now() + 60_000;
  while ((await first.processingHeight()) < mid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  first.process.kill('SIGKILL');
  await new Promise((r) => first.process.once('exit', r));
  const flushed = await first.processedHeight();
  process.stdout.write(`restart test: node killed while processing, ${flushed} of ${firstHead} flushed\n`);
  expect(flushed).toBeLessThan(firstHead);

  // Meanwhile the orders move on: shipped, some delivered, some disputed, some new.
  const later = ids.slice(0, 60);
  await chain.mine(later.map((id): Call => ({ from: seller, fn: 'markShipped', args: [id, 'bafy-track'] })), 7);
  await chain.mine(later.slice(0, 30).map((id): Call => ({ from: buyer, fn: 'confirmDelivery', args: [id] })), 5);
  await chain.mine(later.slice(30, 40).map((id): Call => ({ from: buyer, fn: 'raiseDispute', args: [id, 'bafy-evidence'] })), 3);
  const extra = Array.from({ length: 5 }, (_, i) => orderId(`restart-extra-${i}`));
  await chain.mine(extra.map((id): Call => ({ from: buyer, fn: 'createOrder', args: [saltFor(id), seller, 5_000n, 0, 'bafy-meta'] })), 2);

  const second = await start();
  await second.waitForHeight(await chain.head(), 120_000);
  const r = await compareWithChain({ chain, pool: second.pool, schema }, [...ids, ...extra]);
  expect(r.diffs).toEqual([]);
  expect(r.events).toBe(r.logs);
  expect(r.orders).toBe(ids.length + extra.length);
  // Nothing was taken for impossible: every event applied to a known order.
  const { rows } = await second.pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".order_events WHERE ${at()} AND anomaly`);
  expect(rows[0]!.n).toBe('0');
});
