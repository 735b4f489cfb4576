/**
 * Every counter the API limits with (requests, sign-in challenges, M-Pesa prompts) is a
 * rate-limiter-flexible limiter: in Redis when there is one, so every instance shares the
 * counts, with an in-memory limiter of the same shape as insurance. While Redis is not
 * ready (down, reconnecting) the insurance answers at once, so a Redis outage neither
 * slows requests down nor lifts the limits (each instance then counts for itself).
 */
import type Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface LimitSpec { points: number; windowSeconds: number; keyPrefix: string }
export type Verdict = { ok: true } | { ok: false; limit: number; retryAfterSeconds: number };

export class Limit {
  private readonly limiter: RateLimiterAbstract;
  constructor(readonly spec: LimitSpec, redis: Redis | null) {
    const opts = { points: spec.points, duration: spec.windowSeconds, keyPrefix: spec.keyPrefix };
    this.limiter = redis
      ? new RateLimiterRedis({ ...opts, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(opts) })
      : new RateLimiterMemory(opts);
  }

  /** Counts one hit against `key`. */
  async take(key: string): Promise<Verdict> {
    try {
      await this.limiter.consume(key);
      return { ok: true };
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      return { ok: false, limit: this.spec.points, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
    }
  }
}

/** Requests per client IP and per signed-in user (checked on every request before it is parsed). */
export class RequestLimits {
  private readonly ip: Limit;
  private readonly user: Limit;
  constructor(s: { perIp: number; perUser: number; windowSeconds: number; prefix: string }, redis: Redis | null) {
    this.ip = new Limit({ points: s.perIp, windowSeconds: s.windowSeconds, keyPrefix: `${s.prefix}rl:ip` }, redis);
    this.user = new Limit({ points: s.perUser, windowSeconds: s.windowSeconds, keyPrefix: `${s.prefix}rl:user` }, redis);
  }

  /** The first limit this request goes over, if any (both are counted in parallel: one Redis round trip with auto-pipelining). */
  async take(ip: string, user: string | null): Promise<Verdict> {
    const [byIp, byUser] = await Promise.all([this.ip.take(ip), user ? this.user.take(user) : Promise.resolve({ ok: true } as Verdict)]);
    return byIp.ok ? byUser : byIp;
  }
}
