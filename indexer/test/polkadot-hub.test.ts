/**
 * Polkadot Hub's RPC, where it differs from anvil, under the real node (the RPC stand-in
 * is anvil behind ./hub-rpc): block 0 answers null, the `finalized` tag is refused, and
 * the index still equals the chain; the node counts a block final at the configured
 * confirmation depth (not SubQuery's default of 200); the start block is the contract's
 * deploy block, found on chain from the address alone; and the node fetches only the
 * blocks with the contract's events through the dictionary served from eth_getLogs.
 */
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { findDeployBlock } from '../scripts/deployBlock';
import { driveOrders, startDevChain, type DevChain } from '../scripts/chain';
import { startIndexerNode, type IndexerNode } from '../scripts/node';
import { compareWithChain } from './support';
import { startHubRpc, type HubRpc } from './hub-rpc';

jest.setTimeout(180_000);

const DEPTH = 3;
let chain: DevChain;
let hub: HubRpc;
let node: IndexerNode | undefined;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  db = await createTestDatabase('idx_hub');
  chain = await startDevChain();
  hub = await startHubRpc(chain.url);
});
afterAll(async () => {
  await node?.stop().catch(() => undefined);
  await hub?.stop();
  await chain?.stop();
  await db?.drop().catch(() => undefined);
});

async function metadata(key: string): Promise<unknown> {
  const { rows } = await node!.pool.query<{ value: unknown }>(`SELECT value FROM "${node!.schema}"._metadata WHERE key = $1`, [key]);
  return rows[0]?.value;
}

test('on an RPC without block 0 or a finalized tag the index equals the chain, final at the configured depth, from the deploy block found on chain', async () => {
  // The deploy block, from the address alone (anvil keeps the state of recent blocks only,
  // so this is asked while the deployment is recent; Polkadot Hub's RPC is an archive).
  await chain.mineEmpty(50);
  const startBlock = await findDeployBlock(hub.url, chain.deployment.address);
  expect(startBlock).toBe(chain.deployment.deployBlock);

  // A quiet stretch, orders, and another quiet stretch longer than a node batch: the
  // dictionary has blocks to skip.
  await chain.mineEmpty(700);
  const ids = await driveOrders(chain, 34, { label: 'hub', perBlock: 10 });
  await chain.mineEmpty(700);

  node = await startIndexerNode({
    databaseUrl: db.url,
    schema: 'idx_hub',
    target: { ...chain.target, rpcUrl: hub.url, startBlock },
    blockConfirmations: DEPTH,
    logsDictionary: true,
  });
  const head = await chain.head();
  await node.waitForHeight(head, 120_000);
  // The node met both differences and carried on.
  expect(hub.counts.block0).toBeGreaterThan(0);
  expect(hub.counts.tagRefused).toBeGreaterThan(0);
  // It asked the dictionary for blocks, rather than fetching all of the quiet stretch.
  expect(node.dictionary!.calls.subql_filterBlocks).toBeGreaterThan(0);

  const r = await compareWithChain({ chain, pool: node.pool, schema: 'idx_hub' }, ids);
  expect(r.diffs).toEqual([]);
  expect(r.orders).toBe(ids.length);
  expect(r.events).toBe(r.logs);

  // Finality: new blocks come; the node counts final exactly DEPTH blocks behind the head
  // it knows (SubQuery's default would leave every block of this chain unfinalized).
  let finalized = -1;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await chain.mineEmpty(1);
    const h = await chain.head();
    await node.waitForHeight(h, 30_000);
    finalized = Number((await metadata('lastFinalizedVerifiedHeight')) ?? -1);
    expect(finalized).toBeLessThanOrEqual(h - DEPTH);
    if (finalized >= head) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  expect(finalized).toBeGreaterThanOrEqual(head);
  const unfinalized = JSON.parse(String((await metadata('unfinalizedBlocks')) ?? '[]')) as { blockHeight: number }[];
  for (const b of unfinalized) expect(b.blockHeight).toBeGreaterThan(finalized);
});
