/**
 * Shared by the integration tests: a fresh database, the real dev chain, the real
 * indexer node, and comparisons of the index against the contract's own views.
 */
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { startIndexerNode, type IndexerNode } from '../scripts/node';
import { startDevChain, type DevChain } from '../scripts/chain';
export { at, compareWithChain } from '../scripts/verify';

export interface Rig {
  chain: DevChain;
  node: IndexerNode;
  pool: IndexerNode['pool'];
  schema: string;
  databaseUrl: string;
  /** Wait until the index has processed the chain's current head. */
  catchUp(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startRig(label: string, opts: { flags?: string[]; startNode?: boolean } = {}): Promise<Rig> {
  const db = await createTestDatabase(`idx_${label}`);
  const chain = await startDevChain();
  const schema = `idx_${label}`;
  const node = await startIndexerNode({
    databaseUrl: db.url,
    schema,
    flags: opts.flags,
    target: chain.target,
    log: (l) => process.stdout.write(`${l}\n`),
  });
  return {
    chain,
    node,
    pool: node.pool,
    schema,
    databaseUrl: db.url,
    async catchUp(timeoutMs = 120_000) {
      const head = await chain.head();
      await node.waitForHeight(head, timeoutMs);
      return head;
    },
    async stop() {
      await node.stop().catch(() => undefined);
      await chain.stop().catch(() => undefined);
      await db.drop().catch(() => undefined);
    },
  };
}

