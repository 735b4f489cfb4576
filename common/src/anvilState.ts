/**
 * The dev chain's state across restarts, with a genesis block that never changes.
 *
 * anvil's `--state <file>` loads the saved chain and dumps it again on exit, but every start
 * first builds a fresh genesis block stamped with the current time and adds it to the saved
 * blocks: after three starts the file holds three blocks numbered 0. Which of them
 * `eth_getBlockByNumber(0)` answers depends on the order anvil reads them back, so sooner or
 * later the genesis hash changes and SubQuery's node refuses the index it built ("genesis
 * hash does not match"). Pinning the genesis timestamp (`--timestamp`) to the saved
 * genesis makes each start build the very same block (same hash, stored once); stale
 * duplicates an older version left in the file are dropped before anvil reads it.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { jsonRpc } from './rpc';

interface SavedBlock { header: { number: string; timestamp: string } }
interface SavedState { blocks?: SavedBlock[] }

export interface PreparedState {
  /** anvil flags: load and dump `file`, every `intervalSeconds` and on exit, genesis pinned. */
  args: string[];
  /** The saved genesis block's timestamp (unix seconds); undefined for a new chain. */
  genesisTimestamp?: number;
  /** Stale genesis blocks removed from the file (left by starts before the genesis was pinned). */
  dropped: number;
}

const isGenesis = (b: SavedBlock) => BigInt(b.header.number) === 0n;

/**
 * Reads the saved state (if any), keeps its first genesis block only, and returns the flags
 * that make anvil rebuild exactly that genesis. The chain's first genesis is the oldest one:
 * later starts added theirs with later times, and block 1 was mined on top of the first.
 */
export function prepareAnvilState(file: string, intervalSeconds = 5): PreparedState {
  const args = ['--state', file, '--state-interval', String(intervalSeconds)];
  if (!existsSync(file)) return { args, dropped: 0 };
  const state = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
  const genesis = (state.blocks ?? []).filter(isGenesis);
  if (!genesis.length) return { args, dropped: 0 };
  const first = Math.min(...genesis.map((b) => Number(BigInt(b.header.timestamp))));
  const stale = genesis.filter((b) => Number(BigInt(b.header.timestamp)) !== first);
  if (stale.length) {
    state.blocks = state.blocks!.filter((b) => !stale.includes(b));
    // Written beside the file and renamed over it: a crash here leaves the old file whole.
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
  }
  return { args: [...args, '--timestamp', String(first)], genesisTimestamp: first, dropped: stale.length };
}

/**
 * With a pinned genesis timestamp anvil's clock starts at that old time; put it back on
 * the wall clock (never behind the last saved block), as an unpinned start would be.
 */
export async function resumeClock(url: string, now = Math.floor(Date.now() / 1000)): Promise<void> {
  const latest = await jsonRpc<{ timestamp: string }>(url, 'eth_getBlockByNumber', ['latest', false]);
  await jsonRpc(url, 'evm_setTime', [Math.max(now, Number(BigInt(latest.timestamp)) + 1)]);
}
