/**
 * An RPC in front of anvil that answers like Polkadot Hub's eth-rpc where it differs from
 * anvil, for the tests of those facts: block 0 (and `earliest`) answers null, and, unless
 * told otherwise, the `finalized` and `safe` block tags are refused. Everything else is
 * anvil's own answer. Counts what it changed, so a test can tell the node met it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRpc {
  url: string;
  /** How often it answered null for block 0, and refused a block tag. */
  counts: { block0: number; tagRefused: number };
  stop(): Promise<void>;
}

type Req = { jsonrpc: string; id: unknown; method: string; params?: unknown[] };

export async function startHubRpc(upstream: string, opts: { finalizedTag?: boolean } = {}): Promise<HubRpc> {
  const counts = { block0: 0, tagRefused: 0 };
  const answer = async (req: Req): Promise<unknown> => {
    if (req.method === 'eth_getBlockByNumber') {
      const tag = req.params?.[0];
      if (tag === '0x0' || tag === 'earliest') {
        counts.block0++;
        return { jsonrpc: '2.0', id: req.id, result: null };
      }
      if (!opts.finalizedTag && (tag === 'finalized' || tag === 'safe')) {
        counts.tagRefused++;
        return { jsonrpc: '2.0', id: req.id, error: { code: -32602, message: `block tag ${String(tag)} is not supported` } };
      }
    }
    const res = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
    return res.json();
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      void (async () => {
        const msg = JSON.parse(body) as Req | Req[];
        const out = Array.isArray(msg) ? await Promise.all(msg.map(answer)) : await answer(msg);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(out));
      })().catch((e: Error) => {
        res.statusCode = 502;
        res.end(e.message);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    stop: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
