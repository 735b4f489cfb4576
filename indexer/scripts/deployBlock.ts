import { jsonRpc } from '@descrow/common';

/**
 * The block a contract was deployed in, found from the chain alone: the first block at
 * which `eth_getCode` returns code, by binary search (about log2(head) calls — 23 for
 * Polkadot Hub's 5 million blocks). Used when the indexer is given a contract address
 * but no start block, so it neither starts at block 1 nor needs the deployer's file.
 * Block 0 is never asked about (Polkadot Hub's RPC answers null for it).
 */
export async function findDeployBlock(rpcUrl: string, address: string): Promise<number> {
  const rpc = <T>(method: string, params: unknown[]) => jsonRpc<T>(rpcUrl, method, params);
  const hasCode = async (block: number) => {
    const code = await rpc<string | null>('eth_getCode', [address, `0x${block.toString(16)}`]).catch((e: Error) => {
      throw new Error(`${e.message} (the RPC cannot answer for old blocks: set INDEXER_START_BLOCK to the deploy block)`);
    });
    return !!code && code !== '0x';
  };
  const head = Number(await rpc<string>('eth_blockNumber', []));
  if (!(await hasCode(head))) throw new Error(`no contract at ${address} at the head (block ${head}) of ${rpcUrl}`);
  // Invariant: no code at lo − 1 (or lo = 1), code at hi.
  let lo = 1;
  let hi = head;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await hasCode(mid)) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}
