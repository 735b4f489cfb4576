/**
 * The node's entry point: the project's log handlers (one per event, filtered by topic and
 * address, project.ts) all call `handleLog`. On the first of a block's logs it copies the
 * Escrow contract's logs of that block (and their transactions) out of the node's objects
 * into plain records and ./write handles them together; the block's further logs return at
 * once. One pass per block instead of one per log, because each call into the sandbox
 * costs more than handling a log, and a block's rows are written once (docs/benchmarks.md,
 * "Indexer").
 *
 * The contract address comes from the project's `.env` (ESCROW_ADDRESS), which the
 * runner writes next to each manifest (indexer/scripts/prepare.ts).
 */
import type { EthereumBlock, EthereumLog } from '@subql/types-ethereum';
import { indexBlock, settled, type LogInput } from './write';

let escrow: string | undefined;

function escrowAddress(): string {
  if (escrow) return escrow;
  const configured = typeof process === 'undefined' ? undefined : process.env?.ESCROW_ADDRESS;
  if (!configured || !/^0x[0-9a-fA-F]{40}$/.test(configured)) {
    throw new Error(`ESCROW_ADDRESS in the project's .env is ${configured ? `not an address: ${configured}` : 'missing'}`);
  }
  return (escrow = configured.toLowerCase());
}

/**
 * The block whose logs were handled last: its further logs need nothing. The node handles a
 * block again only after a rewind, and then in a new sandbox (./write), where this is unset.
 */
let handled: string | undefined;

export function handleLog(log: EthereumLog): Promise<void> {
  const hash = log.blockHash;
  if (handled === hash) return settled();
  handled = hash;
  return handleBlock(log.block);
}

/** Handle all of the contract's logs in one block. */
export function handleBlock(block: EthereumBlock): Promise<void> {
  const address = escrowAddress();
  // Every property read below crosses the sandbox bridge: read each once.
  const all = block.logs;
  const count = all?.length ?? 0;
  const logs: LogInput[] = [];
  let tx: { hash: string; from: string; to?: string; value: bigint } | undefined;
  for (let i = 0; i < count; i++) {
    const log = all[i]!;
    if (log.address.toLowerCase() !== address) continue;
    const txHash = log.transactionHash;
    if (tx?.hash !== txHash) {
      const t = log.transaction;
      tx = { hash: txHash, from: (t?.from ?? '').toLowerCase(), to: t?.to?.toLowerCase() ?? undefined, value: t?.value ?? 0n };
    }
    // Indexed reads, not the spread: iterating a node array from here crosses the bridge
    // for the iterator and for every step's result object.
    const nodeTopics = log.topics;
    const topics: string[] = [];
    for (let t = 0, n = nodeTopics.length; t < n; t++) topics.push(nodeTopics[t]!);
    logs.push({
      logIndex: log.logIndex,
      topics,
      data: log.data,
      txHash,
      txIndex: log.transactionIndex,
      from: tx.from,
      to: tx.to,
      value: tx.value,
    });
  }
  return indexBlock({ number: block.number, hash: block.hash, parentHash: block.parentHash, timestamp: block.timestamp }, logs, address);
}
