/**
 * Limits on M-Pesa prompts (payWithMpesa): per phone number, per order and per user, so the
 * API cannot be used to spam a phone with PIN prompts, nor to keep prompting a stranger
 * until they fund someone else's order by reflex. rate-limiter-flexible (Redis when
 * REDIS_URL is set, so every API instance shares the counts; memory otherwise).
 */
import type Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export type PushLimitKind = 'PHONE' | 'ORDER' | 'USER';
export interface PushLimitSettings { perPhone: number; perOrder: number; perUser: number; windowSeconds: number }
export type PushVerdict = { ok: true } | { ok: false; kind: PushLimitKind; limit: number; retryAfterSeconds: number };

export class PushLimits {
  private readonly limiters: Record<PushLimitKind, RateLimiterAbstract>;

  constructor(private readonly s: PushLimitSettings, redis: Redis | null, prefix: string) {
    const make = (kind: PushLimitKind, points: number) => {
      const opts = { points, duration: s.windowSeconds, keyPrefix: `${prefix}mpesa-push:${kind.toLowerCase()}` };
      return redis ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: new RateLimiterMemory(opts) }) : new RateLimiterMemory(opts);
    };
    this.limiters = { PHONE: make('PHONE', s.perPhone), ORDER: make('ORDER', s.perOrder), USER: make('USER', s.perUser) };
  }

  /** Counts one prompt against each limit; the first limit already used up is reported. */
  async take(keys: Record<PushLimitKind, string>): Promise<PushVerdict> {
    for (const kind of ['PHONE', 'ORDER', 'USER'] as const) {
      try {
        await this.limiters[kind].consume(keys[kind]);
      } catch (res) {
        if (!(res instanceof RateLimiterRes)) throw res;
        const limit = kind === 'PHONE' ? this.s.perPhone : kind === 'ORDER' ? this.s.perOrder : this.s.perUser;
        return { ok: false, kind, limit, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
      }
    }
    return { ok: true };
  }
}
