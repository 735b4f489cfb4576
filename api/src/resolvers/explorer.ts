/** Public explorer views over the index: blocks, transactions, events, accounts, search. */
import { z } from 'zod';
import { receiptHash } from '@descrow/contracts';
import type { Ctx } from '../context';
import type { IndexAccount, IndexBlock, IndexTransaction } from '../data/indexReader';
import { address, bytes32, parse } from '../validate';
import { connection, decodeCursor, encodeCursor, pageSize } from './pagination';
import { userRef } from './identity';
import { listOrders, loadOrder } from './orders';

const hash32 = bytes32;
const eventFilter = z
  .object({
    kind: z.string().regex(/^[A-Za-z]{1,64}$/, 'expected an event name like OrderFunded').nullish(),
    orderId: bytes32.nullish(),
    sender: address.nullish(),
    fromBlock: z.number().int().min(0).nullish(),
    toBlock: z.number().int().min(0).nullish(),
  })
  .nullish();

const tagged = <T extends object>(typename: string, v: T) => ({ __typename: typename, ...v });
const accountView = (a: IndexAccount) => a;

export const explorerResolvers = {
  Query: {
    latestBlocks: (_: unknown, args: { first?: number }, ctx: Ctx) => ctx.deps.index.latestBlocks(pageSize(ctx, args.first)),
    async block(_: unknown, args: { numberOrHash: string }, ctx: Ctx) {
      const v = parse(z.union([hash32, z.string().regex(/^\d{1,12}$/, 'expected a block number or a 32-byte hash').transform(Number)]), args.numberOrHash.trim());
      return typeof v === 'number' ? ctx.deps.index.blockByNumber(v) : ctx.loaders.block.load(v);
    },
    transaction: (_: unknown, args: { hash: string }, ctx: Ctx) => ctx.loaders.transaction.load(parse(hash32, args.hash)),
    async contractEvents(_: unknown, args: { filter?: unknown; first?: number; after?: string }, ctx: Ctx) {
      const f = parse(eventFilter, args.filter) ?? {};
      const limit = pageSize(ctx, args.first);
      const cursor = decodeCursor<[number, number]>(args.after, (v) => v.length === 2 && Number.isInteger(v[0]) && Number.isInteger(v[1]));
      const rows = await ctx.deps.index.listEvents(
        { kind: f.kind ?? undefined, orderId: f.orderId ?? undefined, sender: f.sender ?? undefined, fromBlock: f.fromBlock ?? undefined, toBlock: f.toBlock ?? undefined },
        limit + 1,
        cursor ? { block: cursor[0], logIndex: cursor[1] } : undefined,
      );
      return connection(rows, limit, (r) => encodeCursor(r.blockNumber, r.logIndex));
    },
    async account(_: unknown, args: { address: string }, ctx: Ctx) {
      const a = parse(address, args.address);
      const row = await ctx.loaders.account.load(a);
      return row ? accountView(row) : null;
    },
    async search(_: unknown, args: { text: string }, ctx: Ctx) {
      const text = parse(z.string().trim().min(1, 'type something to search for').max(100), args.text);
      const hits: object[] = [];
      if (/^0x[0-9a-fA-F]{64}$/.test(text)) {
        const id = text.toLowerCase();
        const [order, tx, block] = await Promise.all([loadOrder(ctx, id), ctx.loaders.transaction.load(id), ctx.loaders.block.load(id)]);
        if (order && (order.chain || ctx.session)) hits.push(tagged('Order', order));
        if (tx) hits.push(tagged('Transaction', tx));
        if (block) hits.push(tagged('Block', block));
      } else if (/^0x[0-9a-fA-F]{40}$/.test(text)) {
        const acc = await ctx.loaders.account.load(text.toLowerCase());
        if (acc) hits.push(tagged('Account', acc));
      } else if (/^\d{1,12}$/.test(text)) {
        const block = await ctx.deps.index.blockByNumber(Number(text));
        if (block) hits.push(tagged('Block', block));
      } else if (/^[A-Za-z0-9]{8,12}$/.test(text)) {
        // An M-Pesa receipt: the chain only knows its hash.
        for (const o of await ctx.deps.index.ordersByReceiptHash(receiptHash(text))) hits.push(tagged('Order', { id: o.id, chain: o }));
      }
      return hits;
    },
    async indexStatus(_: unknown, __: unknown, ctx: Ctx) {
      const m = await ctx.deps.index.metadata();
      const head = m.targetHeight;
      return { lastProcessedHeight: m.lastProcessedHeight, chainHead: head, lagBlocks: head === null ? null : Math.max(0, head - m.lastProcessedHeight) };
    },
  },
  Block: {
    transactions: (b: IndexBlock, _: unknown, ctx: Ctx) => ctx.loaders.blockTransactions.load(b.hash),
    events: (b: IndexBlock, _: unknown, ctx: Ctx) => ctx.loaders.blockEvents.load(b.hash),
  },
  Transaction: {
    events: (t: IndexTransaction, _: unknown, ctx: Ctx) => ctx.loaders.txEvents.load(t.hash),
  },
  Account: {
    profile: async (a: IndexAccount, _: unknown, ctx: Ctx) => ((await ctx.loaders.user.load(a.address)) ? userRef(a.address) : null),
    orders: (a: IndexAccount, args: { first?: number; after?: string }, ctx: Ctx) => listOrders(ctx, null, args.first, args.after, { party: a.address }),
  },
};
