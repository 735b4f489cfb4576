/** Fixed-window rate limits in Redis (INCR + EXPIRE in one MULTI), per IP and per user. */
import type Redis from 'ioredis';

export class RateLimiter {
  constructor(private readonly redis: Redis, private readonly windowSeconds: number, private readonly prefix = 'descrow:api:rl:') {}

  async hit(key: string, limit: number): Promise<{ allowed: boolean; count: number; retryAfterSeconds: number }> {
    const window = Math.floor(Date.now() / 1000 / this.windowSeconds);
    const k = `${this.prefix}${key}:${window}`;
    try {
      const res = await this.redis.multi().incr(k).expire(k, this.windowSeconds + 1).exec();
      const count = Number(res?.[0]?.[1] ?? 0);
      const retryAfterSeconds = (window + 1) * this.windowSeconds - Math.floor(Date.now() / 1000);
      return { allowed: count <= limit, count, retryAfterSeconds };
    } catch {
      return { allowed: true, count: 0, retryAfterSeconds: 0 }; // Redis down: fail open, Postgres still protects itself
    }
  }
}
