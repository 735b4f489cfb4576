/**
 * orderUpdated(id): the current state first, then every change the watcher sees.
 * indexAdvanced: every step of the index the watcher sees (../data/orderWatcher).
 *
 * Each stream holds a lease (../limits/streams): capped per client IP and per user, and a
 * stream opened with a token ends at its expiry or its session's revocation, checked again
 * before every event is resolved and once more before it is sent (useStreamSessionCheck),
 * so nothing private is sent to a session that has ended.
 */
import { Repeater } from 'graphql-yoga';
import type { Ctx } from '../context';
import type { IndexAdvance, OrderChange } from '../data/orderWatcher';
import { bytes32, parse } from '../validate';
import { loadOrder } from './orders';

/** Relays `source` while the caller's lease holds; `first` (if given) is sent before it. */
function leased<T>(ctx: Ctx, source: AsyncIterable<T>, first?: () => Promise<T>): AsyncIterableIterator<T> {
  const lease = ctx.deps.streams.lease(ctx.ip, ctx.session);
  ctx.stream = lease; // checked again once each event is resolved (useStreamSessionCheck)
  // A client that hangs up ends its stream, whenever it does: even before the stream started
  // (the server may never pull from it, nor return it), its place is freed.
  const signal = (ctx as { request?: Request }).request?.signal;
  const hungUp = () => {
    lease.close();
    lease.release();
  };
  if (signal?.aborted) hungUp();
  else signal?.addEventListener('abort', hungUp, { once: true });
  const stream = new Repeater<T>(async (push, stop) => {
    const it = source[Symbol.asyncIterator]();
    void stop.then(() => {
      lease.release();
      void it.return?.();
    });
    void lease.ended.then((why) => (why ? stop(why) : stop()));
    const send = async (v: T) => {
      const why = await lease.check();
      if (why) {
        stop(why);
        return false;
      }
      await push(v);
      return true;
    };
    try {
      if (first && !(await send(await first()))) return;
      for (;;) {
        const next = await Promise.race([it.next(), stop.then(() => ({ done: true as const, value: undefined }))]);
        if (next.done || !(await send(next.value as T))) break;
      }
    } finally {
      lease.release();
    }
  });
  // A client that leaves before the first event is pulled: the Repeater never starts, so the
  // cleanup above never runs, and the lease would count against the caps for good.
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => stream.next(),
    return: (value?: T) => {
      lease.release();
      return stream.return(value);
    },
    throw: (err?: unknown) => {
      lease.release();
      return stream.throw(err);
    },
  };
}

export const subscriptionResolvers = {
  Subscription: {
    orderUpdated: {
      subscribe: (_: unknown, args: { id: string }, ctx: Ctx) => {
        const id = parse(bytes32, args.id);
        return leased<OrderChange | null>(ctx, ctx.deps.watcher.pubsub.subscribe('orderUpdated', id), async () => {
          const current = await ctx.loaders.order.load(id);
          return current ? { id, status: current.status, updatedBlock: current.updatedBlock } : null;
        });
      },
      resolve: async (change: OrderChange | null, args: { id: string }, ctx: Ctx) => {
        const id = parse(bytes32, args.id);
        ctx.budget.reset(); // each event is an answer of its own
        ctx.loaders.order.clear(id);
        const view = await loadOrder(ctx, id);
        return { id, status: change?.status ?? view?.chain?.status ?? 'DRAFT', updatedBlock: change?.updatedBlock ?? view?.chain?.updatedBlock ?? null, order: view };
      },
    },
    indexAdvanced: {
      subscribe: (_: unknown, _args: unknown, ctx: Ctx) => leased(ctx, ctx.deps.watcher.pubsub.subscribe('indexAdvanced')),
      resolve: (advance: IndexAdvance, _: unknown, ctx: Ctx) => {
        ctx.budget.reset();
        return { lastProcessedHeight: advance.lastProcessedHeight, changedOrderIds: advance.changes.map((c) => c.id) };
      },
    },
  },
};
