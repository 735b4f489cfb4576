/**
 * A real reorg (anvil_reorg) under the real node: orders that only existed in orphaned
 * blocks disappear from the index, changes made in orphaned blocks are undone, orders
 * in the replacement blocks appear, and the index equals the chain again.
 */
import type { Hex } from 'viem';
import { PARTIES, orderId, saltFor, type Call } from '../scripts/chain';
import { at, compareWithChain, startRig, type Rig } from './support';

jest.setTimeout(180_000);

let rig: Rig;
beforeAll(async () => {
  rig = await startRig('reorg');
});
afterAll(async () => {
  await rig?.stop();
});

const [buyer, seller] = PARTIES as [Hex, Hex];
const create = (id: Hex): Call => ({ from: buyer, fn: 'createOrder', args: [saltFor(id), seller, 1_000_000n, 0, 'bafy-meta'], value: 1_000_000n });
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => orderId(`reorg-${prefix}-${i}`));

async function indexedIds(): Promise<Set<string>> {
  const { rows } = await rig.node.pool.query<{ id: string }>(`SELECT id FROM "${rig.schema}".orders WHERE ${at()}`);
  return new Set(rows.map((r) => r.id));
}

test('orders in orphaned blocks disappear from the index and the rest still equals the chain', async () => {
  const kept = ids('kept', 8);
  const orphanCreated = ids('orphan', 6);
  const replacement = ids('replacement', 4);
  const chain = rig.chain;

  // Canonical for good: created and shipped.
  await chain.mine(kept.map(create));
  await chain.mine(kept.map((id): Call => ({ from: seller, fn: 'markShipped', args: [id, 'bafy-track'] })));
  // About to be orphaned: new orders, and deliveries of half the kept orders.
  await chain.mine(orphanCreated.map(create));
  await chain.mine(kept.slice(0, 4).map((id): Call => ({ from: buyer, fn: 'confirmDelivery', args: [id] })));
  await chain.mine([{ from: seller, fn: 'raiseDispute', args: [kept[5]!, 'bafy-evidence'] }]);
  const orphanHead = await rig.catchUp();

  // The index saw the soon-orphaned state.
  const before = await indexedIds();
  for (const id of orphanCreated) expect(before.has(id)).toBe(true);
  const { rows: delivered } = await rig.node.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${rig.schema}".orders WHERE ${at()} AND status = 'COMPLETED'`);
  expect(Number(delivered[0]!.n)).toBe(4);

  // Replace the last 3 blocks; the first replacement block creates other orders.
  await chain.rpc('anvil_reorg', [3, replacement.map((id) => [chain.txFor(create(id)), 0])]);
  chain.resetNonces();
  expect(await chain.head()).toBe(orphanHead);
  // New blocks on top, so the node meets a parent hash it does not know.
  await chain.mine([{ from: seller, fn: 'markShipped', args: [replacement[0]!, 'bafy-after-reorg'] }]);
  await chain.rpc('evm_mine');

  const all = [...kept, ...orphanCreated, ...replacement];
  const deadline = Date.now() + 60_000;
  let r = await compareWithChain(rig, all);
  while ((r.diffs.length || r.events !== r.logs) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 250));
    r = await compareWithChain(rig, all);
  }
  expect(r.diffs).toEqual([]);
  expect(r.events).toBe(r.logs);
  expect(r.orders).toBe(kept.length + replacement.length);

  const after = await indexedIds();
  for (const id of orphanCreated) expect(after.has(id)).toBe(false);
  for (const id of replacement) expect(after.has(id)).toBe(true);
  // The orphaned deliveries and dispute are undone: every kept order is shipped again.
  const { rows } = await rig.node.pool.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM "${rig.schema}".orders WHERE ${at()} AND id = ANY($1) GROUP BY 1`, [kept]);
  expect(rows).toEqual([{ status: 'SHIPPED', n: '8' }]);
  // And the explorer/rollup entities followed: no event, payout or block of an orphaned block is left.
  const { rows: orphanEvents } = await rig.node.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${rig.schema}".payouts WHERE ${at()}`);
  expect(orphanEvents[0]!.n).toBe('0');
  const { rows: totals } = await rig.node.pool.query<{ orders_created: number; held_in_escrow: string }>(
    `SELECT orders_created, held_in_escrow FROM "${rig.schema}".mode_totals WHERE ${at()} AND id = 'NATIVE'`);
  expect(totals[0]).toEqual({ orders_created: kept.length + replacement.length, held_in_escrow: String(1_000_000n * BigInt(kept.length + replacement.length)) });
});
