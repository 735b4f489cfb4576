/** Fixed-window rate limits in Redis (INCR + EXPIRE in one MULTI), per IP and per user, with the token's revocation keys read in the same round trip. */
import type Redis from 'ioredis';

export class RateLimiter {
  constructor(private readonly redis: Redis, private readonly windowSeconds: number, private readonly prefix = 'descrow:api:rl:') {}

  /**
   * Every per-request Redis check in one round trip: count a hit against each limit and read
   * `reads` (the token's revocation keys). `limited` names the first limit exceeded.
   * `values` is undefined when Redis did not answer (limits then fail open; the caller decides
   * revocation from Postgres).
   */
  async check(limits: readonly [string, number][], reads: readonly string[]): Promise<{ limited?: { limit: number; retryAfterSeconds: number }; values?: (string | null)[] }> {
    const window = Math.floor(Date.now() / 1000 / this.windowSeconds);
    const retryAfterSeconds = (window + 1) * this.windowSeconds - Math.floor(Date.now() / 1000);
    try {
      const m = this.redis.multi();
      for (const [key] of limits) {
        const k = `${this.prefix}${key}:${window}`;
        m.incr(k).expire(k, this.windowSeconds + 1);
      }
      if (reads.length) m.mget(...reads);
      const res = (await m.exec()) ?? [];
      let limited: { limit: number; retryAfterSeconds: number } | undefined;
      limits.forEach(([, limit], i) => {
        if (!limited && Number(res[2 * i]?.[1] ?? 0) > limit) limited = { limit, retryAfterSeconds };
      });
      const values = reads.length ? ((res[2 * limits.length]?.[1] as (string | null)[] | undefined) ?? reads.map(() => null)) : [];
      return { limited, values };
    } catch {
      return {};
    }
  }

}
