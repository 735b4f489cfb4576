/**
 * Cache-aside in Redis for products and profiles: read many keys with one MGET, load
 * the misses from Postgres in one query, write them back with a TTL. Absent rows are
 * cached too (as a marker), so looking up an address without a profile costs one query
 * per TTL, not one per request. Writers call `invalidate` after changing a row.
 */
import type Redis from 'ioredis';
import { redisReady } from './redis';

const NONE = '{"__none":true}';

export class Cache {
  hits = 0;
  misses = 0;
  constructor(private readonly redis: Redis, private readonly ttlSeconds: number, private readonly prefix = 'descrow:api:') {}

  async getMany<T>(kind: string, ids: readonly string[], load: (missing: string[]) => Promise<Map<string, T>>): Promise<(T | null)[]> {
    if (!ids.length) return [];
    const keys = ids.map((id) => `${this.prefix}${kind}:${id}`);
    let cached: (string | null)[] = ids.map(() => null); // Redis down: serve from Postgres, without waiting for it
    const ready = redisReady(this.redis);
    if (ready) cached = await this.redis.mget(...keys).catch(() => cached);
    const out: (T | null)[] = new Array(ids.length).fill(null);
    const missing: string[] = [];
    cached.forEach((v, i) => {
      if (v === null) missing.push(ids[i]!);
      else if (v !== NONE) out[i] = JSON.parse(v, reviveDates) as T;
    });
    this.hits += ids.length - missing.length;
    this.misses += missing.length;
    if (missing.length) {
      const loaded = await load([...new Set(missing)]);
      if (!ready) return ids.map((id) => loaded.get(id) ?? null);
      const multi = this.redis.multi();
      for (const id of new Set(missing)) {
        const v = loaded.get(id);
        multi.set(`${this.prefix}${kind}:${id}`, v === undefined ? NONE : JSON.stringify(v), 'EX', this.ttlSeconds);
      }
      await multi.exec().catch(() => undefined);
      ids.forEach((id, i) => {
        if (out[i] === null) out[i] = loaded.get(id) ?? null;
      });
    }
    return out;
  }

  async invalidate(kind: string, ...ids: string[]): Promise<void> {
    if (ids.length) await this.redis.del(...ids.map((id) => `${this.prefix}${kind}:${id}`)).catch(() => undefined);
  }
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
function reviveDates(_k: string, v: unknown): unknown {
  return typeof v === 'string' && ISO.test(v) ? new Date(v) : v;
}
