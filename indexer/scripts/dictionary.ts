/**
 * A SubQuery dictionary (the v2 protocol `@subql/node-ethereum` speaks: JSON-RPC
 * `subql_filterBlocksCapabilities` and `subql_filterBlocks`) answered from the chain's own
 * RPC with `eth_getLogs` over block ranges. The node asks it which blocks in a range hold
 * logs its handlers want (our contract's address and event topics) and gets those blocks
 * back — header, the matching logs and their transactions — so it neither fetches nor
 * handles the blocks in between. SubQuery's hosted dictionaries index whole chains; none
 * exists for a dev chain or a new one, and one contract needs nothing more than eth_getLogs.
 *
 * The node uses a dictionary only below `head − batch size`; the blocks near the head are
 * fetched one by one as before, so reorgs are still seen by its unfinalized-blocks service.
 * A filter this service cannot answer (transaction filters) is refused with a JSON-RPC error,
 * and the node then fetches blocks itself.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LogsDictionaryOptions {
  rpcUrl: string;
  /** Decimal chain id: the node checks it against its network's. */
  chainId: string;
  /** First block the dictionary answers for (the data source's start block). */
  startBlock: number;
  /** Largest block range per eth_getLogs call (public RPCs cap it). */
  maxLogRange?: number;
  port?: number;
  /** Address to listen on (default 127.0.0.1: only this machine's node asks). */
  host?: string;
}

export interface LogsDictionary {
  url: string;
  /** Requests answered so far, by method (for tests and the benchmark). */
  calls: Record<string, number>;
  stop(): Promise<void>;
}

interface LogCondition { address?: string[]; topics0?: string[]; topics1?: string[]; topics2?: string[]; topics3?: string[] }
interface FilterParams {
  fromBlock: string;
  toBlock: string;
  limit: string;
  blockFilter: { logs?: LogCondition[]; transactions?: unknown[] };
}
interface RpcLog { blockNumber: string; blockHash: string; transactionHash: string; logIndex: string; [k: string]: unknown }
interface RpcBlock { number: string; hash: string; transactions: { hash: string }[]; [k: string]: unknown }

class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export async function startLogsDictionary(opts: LogsDictionaryOptions): Promise<LogsDictionary> {
  const maxRange = opts.maxLogRange ?? 10_000;
  let id = 0;
  const rpcBatch = async (calls: { method: string; params: unknown[] }[]): Promise<unknown[]> => {
    if (!calls.length) return [];
    const body = calls.map((c) => ({ jsonrpc: '2.0', id: ++id, ...c }));
    const res = await fetch(opts.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`RPC answered ${res.status}`);
    const out = (await res.json()) as { id: number; result?: unknown; error?: { message: string } }[];
    const byId = new Map(out.map((r) => [r.id, r]));
    return body.map((b) => {
      const r = byId.get(b.id);
      if (!r || r.error) throw new Error(`${b.method}: ${r?.error?.message ?? 'no answer'}`);
      return r.result;
    });
  };
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => (await rpcBatch([{ method, params }]))[0] as T;
  const head = async () => Number(await rpc<string>('eth_blockNumber'));
  const hex = (n: number) => `0x${n.toString(16)}`;

  /** The logs one condition matches in [from, to], in ranges of at most maxRange blocks. */
  const logsFor = async (c: LogCondition, from: number, to: number): Promise<RpcLog[]> => {
    const topics = [c.topics0, c.topics1, c.topics2, c.topics3].map((t) => (t?.length ? t : null));
    while (topics.length && topics[topics.length - 1] === null) topics.pop();
    const ranges: [number, number][] = [];
    for (let a = from; a <= to; a += maxRange) ranges.push([a, Math.min(to, a + maxRange - 1)]);
    const results = await rpcBatch(ranges.map(([a, b]) => ({
      method: 'eth_getLogs',
      params: [{ fromBlock: hex(a), toBlock: hex(b), ...(c.address?.length ? { address: c.address } : {}), ...(topics.length ? { topics } : {}) }],
    })));
    return (results as RpcLog[][]).flat();
  };

  const capabilities = async () => ({
    availableBlocks: [{ startHeight: opts.startBlock, endHeight: await head() }],
    genesisHash: '',
    chainId: opts.chainId,
    filters: { logs: ['address', 'topics0', 'topics1', 'topics2', 'topics3'], transactions: [] },
    supportedResponses: ['complete'],
  });

  const filterBlocks = async (p: FilterParams) => {
    if (p.blockFilter.transactions?.length) throw new RpcError(-32602, 'transaction filters are not served by this dictionary');
    const end = await head();
    const from = Math.max(Number(p.fromBlock), opts.startBlock);
    const to = Math.min(Number(p.toBlock), end);
    const limit = Number(p.limit);
    const byBlock = new Map<number, RpcLog[]>();
    if (from <= to) {
      const seen = new Set<string>();
      for (const c of p.blockFilter.logs ?? []) {
        for (const log of await logsFor(c, from, to)) {
          const key = `${log.transactionHash}-${log.logIndex}`;
          if (seen.has(key)) continue; // two conditions matched the same log
          seen.add(key);
          const n = Number(log.blockNumber);
          if (!byBlock.has(n)) byBlock.set(n, []);
          byBlock.get(n)!.push(log);
        }
      }
    }
    const numbers = [...byBlock.keys()].sort((a, b) => a - b).slice(0, limit);
    const full = (await rpcBatch(numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [hex(n), true] })))) as RpcBlock[];
    const blocks = full.map((block, i) => {
      const logs = byBlock.get(numbers[i]!)!.sort((a, b) => Number(a.logIndex) - Number(b.logIndex));
      if (logs.some((l) => l.blockHash.toLowerCase() !== block.hash.toLowerCase())) {
        // The chain moved under us (a reorg between the two calls): let the node fetch blocks itself.
        throw new RpcError(-32000, `block ${numbers[i]} changed while it was read`);
      }
      const txs = new Set(logs.map((l) => l.transactionHash));
      const { transactions, ...header } = block;
      return { header, transactions: transactions.filter((t) => txs.has(t.hash)), logs };
    });
    return { blocks, blockRange: [hex(opts.startBlock), hex(end)], genesisHash: '' };
  };

  const calls: Record<string, number> = {};
  const readBody = (req: IncomingMessage) => new Promise<string>((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (s += d));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
  const server: Server = createServer((req, res) => {
    void (async () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET') {
        // Served as the node's dictionary registry too: no other dictionary for any chain.
        res.end(JSON.stringify({ ethereum: {} }));
        return;
      }
      let msg: { id?: unknown; method?: string; params?: unknown[] } = {};
      try {
        msg = JSON.parse(await readBody(req)) as typeof msg;
        calls[msg.method ?? '?'] = (calls[msg.method ?? '?'] ?? 0) + 1;
        let result: unknown;
        if (msg.method === 'subql_filterBlocksCapabilities') result = await capabilities();
        else if (msg.method === 'subql_filterBlocks') result = await filterBlocks(msg.params?.[0] as FilterParams);
        else throw new RpcError(-32601, `method ${msg.method} not found`);
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, result }));
      } catch (e) {
        const code = e instanceof RpcError ? e.code : -32000;
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, error: { code, message: (e as Error).message } }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
