/**
 * The index as its users see it through @subql/query: a time-travel query returns the
 * state an order had at an earlier block (equal to the contract's view at that block),
 * and a new event becomes queryable within 1 s of its block (the node polls the head every
 * 200 ms and fetches a new block at once; `npm run bench:indexer` with BENCH_MODES=fresh1
 * measures the p99).
 */
import type { Hex } from 'viem';
import { freePort } from '@descrow/common';
import { PARTIES, orderId, saltFor, readOrders, type Call } from '../scripts/chain';
import { startQueryService, type QueryService } from '../scripts/query';
import { startRig, type Rig } from './support';

jest.setTimeout(180_000);

let rig: Rig;
let query: QueryService;
beforeAll(async () => {
  rig = await startRig('live');
  await rig.catchUp();
  query = await startQueryService({ databaseUrl: rig.databaseUrl, schema: rig.schema, port: await freePort() });
});
afterAll(async () => {
  await query?.stop();
  await rig?.stop();
});

const [buyer, seller] = PARTIES as [Hex, Hex];
interface GqlOrder { id: string; status: string; trackingCid: string | null; fundedBlock: number | null; shippedBlock: number | null; paidToSeller: string; eventCount: number }
const ORDER_FIELDS = 'id status trackingCid fundedBlock shippedBlock paidToSeller eventCount';

test('time travel: blockHeight queries return the order as it was at that block', async () => {
  const chain = rig.chain;
  const id = orderId('time-travel');
  await chain.mine([{ from: buyer, fn: 'createOrder', args: [saltFor(id), seller, 5_000n, 0, 'bafy-meta'], value: 5_000n }]);
  const fundedAt = await chain.head();
  await chain.mine([{ from: seller, fn: 'markShipped', args: [id, 'bafy-track'] }]);
  const shippedAt = await chain.head();
  await chain.rpc('evm_mine');
  await chain.mine([{ from: buyer, fn: 'confirmDelivery', args: [id] }]);
  const completedAt = await chain.head();
  await rig.catchUp();

  const at = async (height: number) =>
    (await query.query<{ order: GqlOrder | null }>(`query($id: String!) { order(id: $id, blockHeight: "${height}") { ${ORDER_FIELDS} } }`, { id })).order;

  const early = await at(fundedAt - 1);
  expect(early).toBeNull(); // did not exist yet
  const funded = await at(fundedAt);
  expect(funded).toMatchObject({ status: 'FUNDED', trackingCid: null, fundedBlock: fundedAt, shippedBlock: null, eventCount: 2 });
  const shipped = await at(completedAt - 1);
  expect(shipped).toMatchObject({ status: 'SHIPPED', trackingCid: 'bafy-track', shippedBlock: shippedAt, paidToSeller: '0' });
  const now = (await query.query<{ order: GqlOrder }>(`query($id: String!) { order(id: $id) { ${ORDER_FIELDS} } }`, { id })).order;
  expect(now).toMatchObject({ status: 'COMPLETED', paidToSeller: String(5_000n - (5_000n * 250n) / 10_000n), eventCount: 6 });

  // Each historical answer is what the contract itself said at that block.
  for (const [height, gql] of [[fundedAt, funded], [completedAt - 1, shipped], [completedAt, now]] as const) {
    const view = (await readOrders(chain, [id], height)).get(id)!;
    expect(gql!.status).toBe(view.status);
  }
});

test('freshness: a new event is queryable within 1 s of its block', async () => {
  const samples: number[] = [];
  for (let i = 0; i < 4; i++) {
    const id = orderId(`fresh-${i}`);
    const call: Call = { from: buyer, fn: 'createOrder', args: [saltFor(id), seller, 1_000n, 0, 'bafy-meta'] };
    const mined = Date.now();
    await rig.chain.mine([call]);
    let seen = 0;
    while (!seen && Date.now() - mined < 15_000) {
      const r = await query.query<{ order: { id: string } | null }>(`query($id: String!) { order(id: $id) { id } }`, { id });
      if (r.order) seen = Date.now();
      else await new Promise((res) => setTimeout(res, 50));
    }
    expect(seen).toBeGreaterThan(0);
    samples.push(seen - mined);
    // Land the next block at a different point of the node's polling cycle.
    await new Promise((res) => setTimeout(res, 700 * i));
  }
  const max = Math.max(...samples);
  process.stdout.write(`freshness: block → queryable in ${samples.join(', ')} ms (max ${max} ms)\n`);
  expect(max).toBeLessThan(1_000);
});

test('a quiet start: no dictionary fetched from the internet (no error line), known warnings one line each', () => {
  const lines = rig.node.output();
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.filter((l) => /dictionary|ERROR/i.test(l))).toEqual([]);
  // The two known warnings are each one explaining line, not a block of text.
  expect(lines.filter((l) => /multiple versions|conflicting packages|DeprecationWarning|trace-deprecation/.test(l))).toEqual([]);
});
