/**
 * Feeds the `orderUpdated` and `indexAdvanced` subscriptions. One API instance at a time
 * (a Redis lease) watches the index's progress (`_metadata.lastProcessedHeight`, a one-row
 * read every ORDER_WATCH_INTERVAL_MS); when it moves, the new height and the orders whose
 * current version began after the previous height are published on a Redis channel, which
 * every instance relays to its own subscribers. Without REDIS_URL (single process) it
 * publishes locally.
 */
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { createPubSub } from 'graphql-yoga';
import type { Logger } from '@descrow/common';
import type { IndexReader } from './indexReader';

export interface OrderChange { id: string; status: string; updatedBlock: number }
/** One step of the index: the height it reached and the orders it changed on the way. */
export interface IndexAdvance { lastProcessedHeight: number; changes: OrderChange[] }

export class OrderWatcher {
  readonly pubsub = createPubSub<{ orderUpdated: [id: string, change: OrderChange]; indexAdvanced: [advance: IndexAdvance] }>();
  private timer: NodeJS.Timeout | null = null;
  private subscriber: Redis | null = null;
  private lastHeight: number | null = null;
  private readonly instance = randomUUID();
  private busy = false;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly index: IndexReader,
    private readonly redis: Redis | null,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly prefix = 'descrow:api:',
  ) {}

  private get channel() {
    return `${this.prefix}order-updated`;
  }
  private get lease() {
    return `${this.prefix}order-watcher`;
  }

  private readonly listeners: ((ids: string[]) => void)[] = [];

  /** Called on every instance with the ids of orders the index changed (e.g. to drop cached responses). */
  onChanges(listener: (ids: string[]) => void): void {
    this.listeners.push(listener);
  }

  private deliver(advance: IndexAdvance): void {
    const { changes } = advance;
    if (changes.length) for (const l of this.listeners) l(changes.map((c) => c.id));
    for (const c of changes) this.pubsub.publish('orderUpdated', c.id, c);
    this.pubsub.publish('indexAdvanced', advance);
  }

  async start(): Promise<void> {
    if (this.redis) {
      // A listening connection: its SUBSCRIBE may wait on a busy Redis (no request is held up by it).
      this.subscriber = this.redis.duplicate({ commandTimeout: undefined });
      this.subscriber.on('message', (_ch: string, msg: string) => {
        try {
          const parsed = JSON.parse(msg) as IndexAdvance | OrderChange[];
          // A bare list is what instances of the previous version publish (changes only).
          this.deliver(Array.isArray(parsed) ? { lastProcessedHeight: Math.max(0, ...parsed.map((c) => c.updatedBlock)), changes: parsed } : parsed);
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'bad order-updated message');
        }
      });
      await this.subscriber.subscribe(this.channel);
    }
    this.timer = setInterval(() => void (this.ticking = this.tick()), this.intervalMs);
    this.timer.unref();
  }

  private async isLeader(): Promise<boolean> {
    if (!this.redis) return true;
    const ttl = Math.max(this.intervalMs * 10, 2_000);
    const got = await this.redis.set(this.lease, this.instance, 'PX', ttl, 'NX');
    if (got === 'OK') return true;
    if ((await this.redis.get(this.lease)) === this.instance) {
      await this.redis.pexpire(this.lease, ttl);
      return true;
    }
    this.lastHeight = null; // someone else watches; start afresh if we take over
    return false;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (!(await this.isLeader())) return;
      const { lastProcessedHeight } = await this.index.metadata();
      if (this.lastHeight === null) {
        this.lastHeight = lastProcessedHeight;
        return;
      }
      if (lastProcessedHeight === this.lastHeight) return;
      const changes = await this.index.ordersChangedSince(Math.min(this.lastHeight, lastProcessedHeight));
      this.lastHeight = lastProcessedHeight;
      const advance: IndexAdvance = { lastProcessedHeight, changes };
      if (this.redis) await this.redis.publish(this.channel, JSON.stringify(advance));
      else this.deliver(advance);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== '42P01' && code !== '3F000') this.log.warn({ err: (e as Error).message }, 'order watcher tick failed');
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking; // a tick in flight finishes before the caller closes the pool
    if (this.redis && (await this.redis.get(this.lease).catch(() => null)) === this.instance) await this.redis.del(this.lease).catch(() => undefined);
    this.subscriber?.disconnect();
  }
}
