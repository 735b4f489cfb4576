/**
 * The dev chain kept in a state file keeps one genesis block across restarts (the index
 * SubQuery built stays valid), its history, and a clock on the wall's time.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonRpc } from '../src/rpc';
import { startAnvil } from '../src/anvil';

type Block = { hash: string; parentHash: string; timestamp: string; number: string };
const block = (url: string, tag: string) => jsonRpc<Block>(url, 'eth_getBlockByNumber', [tag, false]);
const savedGenesisCount = (file: string) =>
  (JSON.parse(readFileSync(file, 'utf8')) as { blocks: { header: { number: string } }[] }).blocks.filter((b) => BigInt(b.header.number) === 0n).length;

async function startMineStop(file: string, blocks = 2): Promise<{ genesis: Block; head: number; lagSeconds: number; first: Block }> {
  const anvil = await startAnvil({ stateFile: file });
  try {
    await jsonRpc(anvil.url, 'anvil_mine', [blocks]);
    const latest = await block(anvil.url, 'latest');
    return {
      genesis: await block(anvil.url, '0x0'),
      first: await block(anvil.url, '0x1'),
      head: Number(BigInt(latest.number)),
      lagSeconds: Math.floor(Date.now() / 1000) - Number(BigInt(latest.timestamp)),
    };
  } finally {
    await anvil.stop();
  }
}

test('five restarts over one state file: the same genesis block, stored once, under the chain\'s first block; history kept; the clock on wall time', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'anvil-state-')), 'state.json');
  const first = await startMineStop(file);
  for (let restart = 1; restart <= 5; restart++) {
    // A second apart at least, so an unpinned genesis would differ.
    await new Promise((r) => setTimeout(r, 1_100));
    const now = await startMineStop(file);
    expect([restart, now.genesis.hash]).toEqual([restart, first.genesis.hash]);
    expect([restart, now.first.parentHash]).toEqual([restart, now.genesis.hash]);
    expect([restart, savedGenesisCount(file)]).toEqual([restart, 1]);
    expect(now.head).toBe(first.head + 2 * restart);
    expect(Math.abs(now.lagSeconds)).toBeLessThanOrEqual(2);
  }
}, 120_000);

test('a state file an older start left with several genesis blocks is repaired: the first genesis (the parent of block 1) stays, the others go', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'anvil-state-')), 'state.json');
  const first = await startMineStop(file);
  // What two more starts of the old launcher left behind: genesis blocks stamped later.
  const state = JSON.parse(readFileSync(file, 'utf8')) as { blocks: { header: { number: string; timestamp: string } }[] };
  const genesis = state.blocks.find((b) => BigInt(b.header.number) === 0n)!;
  for (const later of [7, 19]) state.blocks.push({ ...genesis, header: { ...genesis.header, timestamp: `0x${(Number(BigInt(genesis.header.timestamp)) + later).toString(16)}` } });
  writeFileSync(file, JSON.stringify(state));
  expect(savedGenesisCount(file)).toBe(3);

  const anvil = await startAnvil({ stateFile: file });
  try {
    expect(anvil.staleGenesisDropped).toBe(2);
    expect((await block(anvil.url, '0x0')).hash).toBe(first.genesis.hash);
    expect((await block(anvil.url, '0x1')).parentHash).toBe(first.genesis.hash);
  } finally {
    await anvil.stop();
  }
  expect(savedGenesisCount(file)).toBe(1);
}, 60_000);
