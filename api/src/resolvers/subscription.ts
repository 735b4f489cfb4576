/**
 * orderUpdated(id): the current state first, then every change the watcher sees.
 * indexAdvanced: every step of the index the watcher sees (../data/orderWatcher).
 */
import { Repeater } from 'graphql-yoga';
import type { Ctx } from '../context';
import type { IndexAdvance, OrderChange } from '../data/orderWatcher';
import { bytes32, parse } from '../validate';
import { loadOrder } from './orders';

export const subscriptionResolvers = {
  Subscription: {
    orderUpdated: {
      subscribe: (_: unknown, args: { id: string }, ctx: Ctx) => {
        const id = parse(bytes32, args.id);
        return new Repeater<OrderChange | null>(async (push, stop) => {
          const it = ctx.deps.watcher.pubsub.subscribe('orderUpdated', id)[Symbol.asyncIterator]();
          void stop.then(() => it.return?.());
          const current = await ctx.loaders.order.load(id);
          if (current) await push({ id, status: current.status, updatedBlock: current.updatedBlock });
          else await push(null);
          for (;;) {
            const next = await Promise.race([it.next(), stop.then(() => ({ done: true as const, value: undefined }))]);
            if (next.done) break;
            await push(next.value);
          }
        });
      },
      resolve: async (change: OrderChange | null, args: { id: string }, ctx: Ctx) => {
        const id = parse(bytes32, args.id);
        ctx.loaders.order.clear(id);
        const view = await loadOrder(ctx, id);
        return { id, status: change?.status ?? view?.chain?.status ?? 'DRAFT', updatedBlock: change?.updatedBlock ?? view?.chain?.updatedBlock ?? null, order: view };
      },
    },
    indexAdvanced: {
      subscribe: (_: unknown, _args: unknown, ctx: Ctx) => ctx.deps.watcher.pubsub.subscribe('indexAdvanced'),
      resolve: (advance: IndexAdvance) => ({ lastProcessedHeight: advance.lastProcessedHeight, changedOrderIds: advance.changes.map((c) => c.id) }),
    },
  },
};
