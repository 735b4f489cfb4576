/**
 * Freshness, measured from outside (`npm run bench:indexer` with BENCH_MODES=fresh1,fresh6):
 * anvil producing a block every 1 s (or 6 s) on its own, the real node (run as
 * `npm run indexer` runs it) and the real API over HTTP. For each sample a createOrder is
 * sent at a random moment; the clock starts when its block is at the RPC (its receipt,
 * polled every 10 ms) and stops when the API answers `order(id)` with it (polled every
 * 20 ms, anonymous, so through the API's response cache) and when the API's `orderUpdated`
 * subscription (GraphQL over SSE, opened before the transaction) delivers it. One warm-up
 * sample is taken first and not counted.
 */
import type { Hex } from 'viem';
import { DEV_ROLES } from '@descrow/common';
import { benchWorld, startBenchApi } from '../../api/scripts/benchApi';
import { PARTIES, orderId, saltFor } from './chain';
import { startIndexerNode } from './node';

export interface FreshnessResult { blockTime: number; samples: number; query: number[]; subscription: number[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

export async function measureFreshness(blockTime: number, samples: number, server: string, say: (l: string) => void): Promise<FreshnessResult> {
  const { schema, url, chain, stops, close } = await benchWorld(server, 'fresh');
  try {
    await chain.rpc('evm_setIntervalMining', [blockTime]);
    const node = await startIndexerNode({ databaseUrl: url, schema, target: chain.target, logsDictionary: true, blockConfirmations: 10 });
    stops.push(() => node.stop());
    await node.waitForHeight(await chain.head(), 120_000);
    const served = await startBenchApi({
      databaseUrl: url, schema, rpcUrl: chain.url, escrow: chain.deployment.address, oracle: DEV_ROLES.oracle.address, arbiter: DEV_ROLES.arbiter.address,
      env: { REDIS_URL: process.env.REDIS_URL ?? '', REDIS_PREFIX: `descrow:fresh:${schema}:` },
    });
    stops.push(served.stop);
    const apiUrl = served.url;
    const gql = async (query: string, variables: Record<string, unknown>) => {
      const res = await fetch(apiUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      return (await res.json()) as { data?: { order: { id: string; status: string } | null }; errors?: unknown };
    };

    const [buyer, seller] = PARTIES as [Hex, Hex];
    const query: number[] = [];
    const subscription: number[] = [];
    // One warm-up sample first, not counted: the API's first answers (statements prepared,
    // resolvers compiled) are slower than any later one.
    for (let i = -1; i < samples; i++) {
      const id = orderId(`fresh-${blockTime}-${i}`, buyer).toLowerCase();
      // The subscription first, as a dApp would hold it.
      const abort = new AbortController();
      const res = await fetch(apiUrl, {
        method: 'POST', signal: abort.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'subscription($id: ID!) { orderUpdated(id: $id) { id status } }', variables: { id } }),
      });
      let pushedAt = 0;
      const reading = (async () => {
        const reader = res.body!.getReader();
        let buf = '';
        while (!pushedAt) {
          const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
          if (done) return;
          buf += new TextDecoder().decode(value);
          if (/event: next\ndata:.*"status":"CREATED"/.test(buf)) pushedAt = Date.now();
        }
      })();
      // A random moment within the block interval.
      await sleep(Math.random() * blockTime * 1000);
      const [hash] = await Promise.all([
        chain.rpc<Hex>('eth_sendTransaction', [{ ...chain.txFor({ from: buyer, fn: 'createOrder', args: [saltFor(id as Hex), seller, 1_000n + BigInt(i), 0, 'bafy-fresh'] }) }]),
      ]);
      let minedAt = 0;
      let seenAt = 0;
      // BENCH_TRACE=1: when the node knew the block (its /meta bestHeight) and flushed it.
      let knownAt = 0;
      let processingAt = 0;
      let flushedAt = 0;
      let block = 0;
      const deadline = Date.now() + blockTime * 1000 + 30_000;
      while ((!minedAt || !seenAt) && Date.now() < deadline) {
        if (!minedAt) {
          const receipt = await chain.rpc<{ blockNumber: Hex } | null>('eth_getTransactionReceipt', [hash]);
          if (receipt) {
            minedAt = Date.now();
            block = Number(receipt.blockNumber);
          }
        }
        if (process.env.BENCH_TRACE === '1' && minedAt) {
          const m = await node.meta();
          if (!knownAt && (m?.bestHeight ?? 0) >= block) knownAt = Date.now();
          if (!processingAt && (m?.currentProcessingHeight ?? 0) >= block) processingAt = Date.now();
          if (!flushedAt && (await node.processedHeight()) >= block) flushedAt = Date.now();
        }
        if (minedAt && !seenAt) {
          const r = await gql('query($id: ID!) { order(id: $id) { id status } }', { id });
          if (r.data?.order) seenAt = Date.now();
        }
        await sleep(minedAt ? 20 : 10);
      }
      const pushDeadline = Date.now() + 5_000;
      while (!pushedAt && Date.now() < pushDeadline) await sleep(10);
      abort.abort();
      await reading.catch(() => undefined);
      if (!minedAt || !seenAt || !pushedAt) throw new Error(`sample ${i}: mined ${minedAt}, queried ${seenAt}, pushed ${pushedAt}`);
      if (i >= 0) {
        query.push(seenAt - minedAt);
        subscription.push(pushedAt - minedAt);
      }
      const trace = knownAt ? ` (node knew the block after ${knownAt - minedAt} ms, was processing it after ${processingAt ? processingAt - minedAt : '?'} ms, flushed it after ${flushedAt ? flushedAt - minedAt : '?'} ms)` : '';
      say(`  ${blockTime} s blocks, ${i < 0 ? 'warm-up' : `sample ${i + 1}/${samples}`}: order(id) after ${seenAt - minedAt} ms, orderUpdated after ${pushedAt - minedAt} ms${trace}`);
    }
    return { blockTime, samples, query, subscription };
  } finally {
    await close();
  }
}
