/**
 * Before the SubQuery node starts, the runner checks that the index belongs to the chain
 * (indexer/scripts/chainMatch.ts), so `npm start` can say so in one line with the fix instead
 * of the node's "genesis hash does not match … force-clean" and a stack trace. Real anvil, real
 * Postgres; the `_metadata` rows are the node's own keys.
 */
import { jsonRpc, Pool, startAnvil, type AnvilHandle } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { dropIndex, indexMatchesChain } from '../scripts/chainMatch';

const SCHEMA = 'descrow_index';
let anvil: AnvilHandle;
let db: { url: string; drop: () => Promise<void> };
let pool: Pool;

beforeAll(async () => {
  anvil = await startAnvil();
  await jsonRpc(anvil.url, 'anvil_mine', [5]);
  db = await createTestDatabase('chain_match');
  pool = new Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
  await anvil?.stop();
});

async function storedIndex(genesisHash: string, height: number) {
  await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE; CREATE SCHEMA "${SCHEMA}"; CREATE TABLE "${SCHEMA}"._metadata (key text PRIMARY KEY, value jsonb)`);
  await pool.query(`INSERT INTO "${SCHEMA}"._metadata VALUES ('genesisHash', to_jsonb($1::text)), ('lastProcessedHeight', to_jsonb($2::int))`, [genesisHash, height]);
}

test('no index yet, or an index of this chain: it matches', async () => {
  await dropIndex(pool, SCHEMA);
  expect(await indexMatchesChain(pool, SCHEMA, anvil.url, '31337')).toEqual({ ok: true });
  const genesis = await jsonRpc<{ hash: string }>(anvil.url, 'eth_getBlockByNumber', ['0x0', false]);
  await storedIndex(genesis.hash, 3);
  expect(await indexMatchesChain(pool, SCHEMA, anvil.url, '31337')).toEqual({ ok: true });
});

test('an index built from another dev chain is named, with both genesis blocks', async () => {
  await storedIndex(`0x${'ab'.repeat(32)}`, 3);
  const genesis = await jsonRpc<{ hash: string }>(anvil.url, 'eth_getBlockByNumber', ['0x0', false]);
  expect(await indexMatchesChain(pool, SCHEMA, anvil.url, '31337')).toEqual({
    ok: false,
    problem: `was built from another chain than the one at ${anvil.url} (its genesis block 0xabababab… is not the chain's ${genesis.hash.slice(0, 10)}…)`,
  });
});

test('an index ahead of the chain (the chain lost its last blocks) is named; dropIndex leaves nothing to mismatch', async () => {
  const genesis = await jsonRpc<{ hash: string }>(anvil.url, 'eth_getBlockByNumber', ['0x0', false]);
  const head = Number(BigInt(await jsonRpc<string>(anvil.url, 'eth_blockNumber')));
  await storedIndex(genesis.hash, head + 40);
  expect(await indexMatchesChain(pool, SCHEMA, anvil.url, '31337')).toEqual({
    ok: false,
    problem: `is at block ${head + 40} but the chain at ${anvil.url} only has ${head} (the chain lost its last blocks)`,
  });
  await dropIndex(pool, SCHEMA);
  expect(await indexMatchesChain(pool, SCHEMA, anvil.url, '31337')).toEqual({ ok: true });
});
