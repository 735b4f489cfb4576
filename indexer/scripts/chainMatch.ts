/**
 * Does the index in Postgres belong to the chain at RPC_URL? Checked before the SubQuery node
 * starts, so a mismatch is one line with the fix instead of the node's assertion ("genesis
 * hash does not match … force-clean") and a stack trace.
 *
 * Two ways a dev index stops matching its dev chain: a new chain (`.data/anvil` deleted, or
 * a state file from before the genesis block was pinned, see common/src/anvilState.ts), or a
 * chain that lost its last seconds (anvil killed before it saved). Either way the fix loses
 * nothing: orders and payments are on the chain, the oracle's ledger and the API's data are
 * in their own schemas, and the index is rebuilt from the chain.
 */
import { jsonRpc, type Pool } from '@descrow/common';

export type ChainMatch = { ok: true } | { ok: false; problem: string };

/** SubQuery's node reads the genesis from block `earliest` on chains it has no special height for, as on anvil. */
const DEV_CHAIN_ID = '31337';

async function stored(pool: Pool, schema: string): Promise<{ genesisHash?: string; lastProcessedHeight?: number }> {
  try {
    const { rows } = await pool.query<{ key: string; value: unknown }>(
      `SELECT key, value FROM "${schema}"._metadata WHERE key IN ('genesisHash', 'lastProcessedHeight')`,
    );
    const m = new Map(rows.map((r) => [r.key, r.value]));
    const height = m.get('lastProcessedHeight');
    return { genesisHash: m.get('genesisHash') as string | undefined, lastProcessedHeight: height === undefined ? undefined : Number(height) };
  } catch (e) {
    if ((e as { code?: string }).code === '42P01' || (e as { code?: string }).code === '3F000') return {}; // no index yet
    throw e;
  }
}

export async function indexMatchesChain(pool: Pool, schema: string, rpcUrl: string, chainId: string): Promise<ChainMatch> {
  const index = await stored(pool, schema);
  if (!index.genesisHash && index.lastProcessedHeight === undefined) return { ok: true };
  if (index.genesisHash && chainId === DEV_CHAIN_ID) {
    const genesis = await jsonRpc<{ hash: string } | null>(rpcUrl, 'eth_getBlockByNumber', ['earliest', false]);
    if (genesis && genesis.hash.toLowerCase() !== index.genesisHash.toLowerCase()) {
      return { ok: false, problem: `was built from another chain than the one at ${rpcUrl} (its genesis block ${index.genesisHash.slice(0, 10)}… is not the chain's ${genesis.hash.slice(0, 10)}…)` };
    }
  }
  if (index.lastProcessedHeight !== undefined) {
    const head = Number(BigInt(await jsonRpc<string>(rpcUrl, 'eth_blockNumber')));
    if (index.lastProcessedHeight > head) {
      return { ok: false, problem: `is at block ${index.lastProcessedHeight} but the chain at ${rpcUrl} only has ${head} (the chain lost its last blocks)` };
    }
  }
  return { ok: true };
}

/** Drops the index schema, so the node rebuilds it from the start block (what SubQuery's force-clean does, without booting the node). */
export async function dropIndex(pool: Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
